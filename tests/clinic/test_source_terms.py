"""Strava's terms and the patients' consent in a clinic (SQLite, then PostgreSQL, skipped
when it is unreachable): patients on Strava, Garmin and files, their alerts delivered to the
therapist's webhook, the team's webhook and the clinic's mailbox.

No Strava field of a patient (the activity's title, id, distance, start time) appears in any
page or JSON the therapist reads or in anything a clinic channel receives, while the
patient's own page shows them with Strava's attribution; after the retention no raw Strava
record remains and every alert and weekly summary is the same; a withdrawal mid-month stops
the sharing at once and is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trustme
from fastapi.testclient import TestClient

from syncd.alerts.dispatcher import Dispatcher
from syncd.alerts.summary import build_summary, last_finished_week
from syncd.cli.main import main
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.sources.strava.retention import purge_strava_raw
from syncd.store import DbCredentialStore
from syncd.store.consents import consents_of, new_page_key
from syncd.store.export_file import read_export
from syncd.store.retention import raw_count
from syncd.web import create_app
from tests.alerts.support import OTHER_SECRET, SECRET, Receiver, SmtpServer
from tests.e2e.support.servers import FakeStrava, bouts_laps, summary
from tests.support.clock import Clock
from tests.web.support import client_for

from .support import (
    CLINIC_ADDRESS,
    ClinicGarmin,
    Patient,
    Run,
    clinic_config,
    garmin_activity,
    make_patients,
    speeds,
    write_file,
)

PATIENTS = 5  # Strava; Garmin; files; Strava and files; Garmin and Strava
STRAVA_CLOCK = time(6, 47)  # Garmin's and the files' runs start at 07:30


@dataclass
class Clinic5:
    """The clinic's configuration, patients and the receivers of its shared channels."""

    config: Path
    patients: list[Patient]
    receivers: list[Receiver]
    smtp: SmtpServer

    def shared_bodies(self) -> list[str]:
        """Everything the clinic's channels received: webhook bodies, mail to the clinic."""
        bodies = [r.body.decode() for receiver in self.receivers for r in receiver.requests]
        for message in self.smtp.mailbox.messages:
            if CLINIC_ADDRESS in str(message["To"]):
                bodies.append(message.as_string())
        return bodies


def title(run: Run) -> str:
    return f"Riverside tempo {run.source_id}"


def distance_m(run: Run) -> float:
    """A distance no Garmin or file run of the clinic comes near (23.0-23.1 km)."""
    return 23_000.0 + run.source_id % 10 * 7.3


def strava_start(patient: Patient, run: Run) -> datetime:
    return datetime.combine(run.day, STRAVA_CLOCK, ZoneInfo(patient.zone))


def strava_fields(patient: Patient) -> list[str]:
    """What must never reach the therapist of ``patient``'s Strava runs."""
    fields: list[str] = []
    for run in patient.runs:
        if run.source != "strava":
            continue
        start = strava_start(patient, run)
        utc = start.astimezone(ZoneInfo("UTC"))
        fields += [title(run), str(run.source_id), f"{distance_m(run) / 1000:.1f} km",
                   f"{distance_m(run):g}", start.strftime("%H:%M"),
                   utc.strftime("%Y-%m-%dT%H:%M"), "strava.com/activities"]
    return fields


def publish_strava(fake: FakeStrava, patient: Patient, run: Run) -> None:
    local = strava_start(patient, run)
    offset = int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
    elapsed = sum(b.seconds for b in run.bouts)
    item = summary(run.source_id, local, elapsed_s=elapsed, distance_m=distance_m(run),
                   athlete_id=patient.strava_id, name=title(run))
    sign = "+" if offset >= 0 else "-"
    item.update(start_date_local=local.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%SZ"),
                timezone=f"(GMT{sign}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}) "
                         f"{patient.zone}", utc_offset=float(offset))
    fake.add(item, bouts_laps(run.source_id, local, speeds(run.bouts),
                              athlete_id=patient.strava_id))


@pytest.fixture
def clinic(tmp_path: Path, db_url: str, ca: trustme.CA, ca_file: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Clinic5]:
    for name in ("SYNCD_CONFIG", "SYNCD_ATHLETE", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.chdir(tmp_path)
    patients = make_patients(PATIENTS)
    with ExitStack() as stack:
        strava = FakeStrava()
        strava.limits.overall = strava.limits.read = (10_000, 100_000)
        stack.callback(strava.start().stop)
        garmin = stack.enter_context(ClinicGarmin().running())
        therapist, team, smtp = Receiver(SECRET), Receiver(OTHER_SECRET), SmtpServer(ca)
        for server in (therapist, team, smtp):
            stack.callback(server.close)
        config = clinic_config(tmp_path, db_url, patients, strava_url=strava.url,
                               garmin_url=garmin.url, therapist_url=therapist.url,
                               team_url=team.url, smtp_port=smtp.port,
                               therapist_secret=SECRET, team_secret=OTHER_SECRET)
        text = config.read_text()
        config.write_text(text.replace("weekly_summary = false", "weekly_summary = true"))
        for patient in patients:
            if "strava" in patient.sources:
                strava.add_athlete(patient.strava_id, firstname=patient.slug)
            if "garmin" in patient.sources:
                garmin.write_account(tmp_path / "garmin" / "athletes" / patient.name,
                                     patient.name)
            for run in patient.runs:
                if run.source == "strava":
                    publish_strava(strava, patient, run)
                elif run.source == "garmin":
                    entry, splits = garmin_activity(patient, run)
                    garmin.accounts[patient.name].append(entry)
                    if splits is not None:
                        garmin.typed_splits[str(run.source_id)] = splits
                else:
                    write_file(tmp_path / "inbox" / patient.slug, patient, run)
        built = Clinic(load_settings(config))
        try:
            for patient in patients:
                if "strava" in patient.sources:
                    DbCredentialStore(built.store, built.app(patient.name).athlete_id,
                                      prefix="strava.").save(
                        "tokens", strava.issue_tokens(athlete_id=patient.strava_id))
        finally:
            built.close()
        yield Clinic5(config, patients, [therapist, team], smtp)


def syncd(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> str:
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    assert code == 0, f"syncd {' '.join(argv)} exited {code}:\n{out}{err}"
    return out


def therapist_bodies(http: TestClient, clinic: Clinic5) -> list[str]:
    """Every page and JSON the therapist reads with the server token."""
    bodies = [http.get(path).text for path in ("/", "/status", "/alerts", "/alerts?all=true")]
    for patient in clinic.patients:
        name = patient.name.replace(" ", "%20")
        bodies += [http.get(f"/athletes/{name}").text]
        bodies += [http.get(f"{path}?athlete={name}").text
                   for path in ("/status", "/alerts", "/weeks")]
    return bodies


def leaks(bodies: list[str], patients: list[Patient]) -> list[tuple[str, str]]:
    """(patient, field) for each Strava field found in ``bodies``."""
    found = []
    for patient in patients:
        for field in strava_fields(patient):
            if any(field in body for body in bodies):
                found.append((patient.name, field))
    return found


def test_the_therapist_sees_findings_only_and_the_patient_sees_everything(
        clinic: Clinic5, capsys: pytest.CaptureFixture[str]) -> None:
    syncd(capsys, clinic.config, "sync")
    syncd(capsys, clinic.config, "deliver")
    strava_patients = [p for p in clinic.patients if "strava" in p.sources]
    assert all(strava_fields(p) for p in strava_patients)

    shared = clinic.shared_bodies()
    assert shared, "the clinic's channels received nothing: nothing was checked"
    settings = load_settings(clinic.config)
    built = Clinic(settings)
    try:
        with client_for(create_app(built.apps()[0])) as http:
            pages = therapist_bodies(http, clinic)
            assert leaks(shared + pages, clinic.patients) == []
            assert "Powered by" not in "".join(pages)
            for patient in strava_patients:
                app = built.app(patient.name)
                with app.store.write() as tx:
                    key = new_page_key(tx, app.athlete_id, app.clock())
                own = http.get(f"/me/{key}").text
                runs = [r for r in patient.runs if r.source == "strava"]
                assert all(title(r) in own for r in runs), patient.name
                assert all(f"{distance_m(r) / 1000:.1f} km" in own for r in runs)
                assert "06:47" in own and 'id="powered-by-strava"' in own
                assert all(f"strava.com/activities/{r.source_id}" in own for r in runs)
    finally:
        built.close()


def alerts_and_summaries(built: Clinic, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for app in built.apps():
        app.evaluate_all()
        alerts = sorted((a.payload_data() for a in app.alerts(include_resolved=True)),
                        key=lambda a: a["id"])
        week = last_finished_week(app, now)
        report = build_summary(app, week, now)
        out[app.profile.name] = (alerts, report and {k: v for k, v in report.items()
                                                     if k != "created_at"})
    return out


def test_after_the_retention_no_raw_strava_record_remains_and_nothing_else_changes(
        clinic: Clinic5, capsys: pytest.CaptureFixture[str]) -> None:
    syncd(capsys, clinic.config, "sync")
    clock = Clock(datetime.now(ZoneInfo("UTC")) + timedelta(days=8))
    built = Clinic(load_settings(clinic.config), clock)
    try:
        home = built.apps()[0]
        with home.store.read() as tx:
            assert raw_count(tx, "strava") == sum(
                r.source == "strava" for p in clinic.patients for r in p.runs)
        before = alerts_and_summaries(built, clock())
        assert any(alerts for alerts, _ in before.values())
        assert any(report for _, report in before.values())

        assert purge_strava_raw(home) > 0

        with home.store.read() as tx:
            assert raw_count(tx, "strava") == 0
        assert alerts_and_summaries(built, clock()) == before
    finally:
        built.close()


def test_a_withdrawal_stops_the_sharing_at_once_and_is_recorded(
        clinic: Clinic5, capsys: pytest.CaptureFixture[str]) -> None:
    syncd(capsys, clinic.config, "sync")
    syncd(capsys, clinic.config, "deliver")
    patient = clinic.patients[0]  # on Strava, with their own mailbox
    built = Clinic(load_settings(clinic.config))
    try:
        app = built.app(patient.name)
        with app.store.write() as tx:
            key = new_page_key(tx, app.athlete_id, app.clock())
        with client_for(create_app(built.apps()[0])) as http:
            assert "Withdraw my consent" in http.get(f"/me/{key}").text
            answer = http.post(f"/me/{key}/consent", data={"action": "withdraw"})
            assert answer.status_code == 303
            seen = len(clinic.shared_bodies())

            stop = app.record_pain(9, note="sharp pain on the outside of the hip")
            assert stop[1].raised
            with Dispatcher(app) as dispatcher:
                dispatcher.run_once()

            assert len(clinic.shared_bodies()) == seen  # nothing new reached the clinic
            own = [m for m in clinic.smtp.mailbox.messages
                   if patient.own_email and patient.own_email in str(m["To"])]
            assert any("sharp pain" in m.as_string() or "pain" in str(m["Subject"])
                       for m in own), "the patient's own mail still gets their alerts"
            overview = http.get("/status").json()
            row = next(r for r in overview["athletes"] if r["athlete"] == patient.name)
            assert row["sharing_withdrawn_at"] and row["week"] is None
            assert all(a["athlete"] != patient.name for a in http.get("/alerts").json())
            page = http.get(f"/athletes/{patient.name.replace(' ', '%20')}").text
            assert "withdrew their consent" in page and "pain" not in page.lower()
            assert "Share with my clinic again" in http.get(f"/me/{key}").text
        with app.store.read() as tx:
            records = consents_of(tx, app.athlete_id)
        assert [r.action for r in records][-1] == "withdrawn"
        assert records[-1].via == "page" and "withdraw" in records[-1].text

        export = Path("export.zip")
        syncd(capsys, clinic.config, "athletes", "export", patient.name, "--output", str(export))
        assert [c["action"] for c in read_export(export)["consents"]] == [
            r.action for r in records]
    finally:
        built.close()

