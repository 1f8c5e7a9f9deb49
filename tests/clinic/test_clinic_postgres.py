"""A clinic of fifty patients on the local PostgreSQL server, through the ``syncd`` command.

Patients use Strava (each with their own tokens on one fake Strava application), Garmin (each
with their own token folder on one fake Garmin Connect that tells accounts apart), activity
files (each with their own watched folder), or two of these. Their alerts go to a therapist's
webhook (critical only), a team's webhook, the clinic's mailbox and, for some, their own
mailbox. One ``syncd sync`` reads every source of every patient and delivers; pain reports
and ``syncd deliver`` follow. Then every alert must have reached exactly its patient's routes;
one patient's export must import into another clinic's database and export again unchanged;
and one patient's deletion must leave no row of theirs in any table.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from sqlalchemy import func, select, tuple_
from sqlalchemy.sql import ColumnElement

from syncd.cli.main import main
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.store import DbCredentialStore, Store
from syncd.store.athletes import athlete_rows
from syncd.store.export_file import read_export
from syncd.store.tables import AthleteRow, Base
from tests.alerts.support import OTHER_SECRET, SECRET, Receiver, SmtpServer
from tests.e2e.support.servers import FakeStrava

from .support import (
    CLINIC_ADDRESS,
    CLINIC_MAIL,
    TEAM,
    THERAPIST,
    ClinicGarmin,
    Patient,
    clinic_config,
    garmin_activity,
    make_patients,
    publish_strava,
    write_file,
)

pytestmark = pytest.mark.postgres
PATIENTS = 50


@dataclass
class Clinic50:
    """The clinic's configuration, its patients and the servers around it."""

    folder: Path
    config: Path
    patients: list[Patient]
    therapist: Receiver
    team: Receiver
    smtp: SmtpServer
    servers: dict[str, Any]

    def config_for(self, database_url: str, folder: Path) -> Path:
        """The same clinic's configuration on another database (another clinic's syncd)."""
        folder.mkdir()
        return clinic_config(folder, database_url, self.patients, **self.servers)


@pytest.fixture
def clinic(tmp_path: Path, clinic_database: str, ca: trustme.CA, ca_file: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Clinic50]:
    """Fifty patients whose sources hold their histories, with their accounts connected."""
    for name in ("SYNCD_CONFIG", "SYNCD_ATHLETE", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # the SMTP server's STARTTLS
    monkeypatch.chdir(tmp_path)
    patients = make_patients(PATIENTS)
    with ExitStack() as stack:
        strava = FakeStrava()
        # Strava's real limits are the quota tests' subject; here they would only slow down.
        strava.limits.overall = strava.limits.read = (10_000, 100_000)
        stack.callback(strava.start().stop)
        garmin = stack.enter_context(ClinicGarmin().running())
        therapist, team, smtp = Receiver(SECRET), Receiver(OTHER_SECRET), SmtpServer(ca)
        for server in (therapist, team, smtp):
            stack.callback(server.close)
        servers = {"strava_url": strava.url, "garmin_url": garmin.url,
                   "therapist_url": therapist.url, "team_url": team.url,
                   "smtp_port": smtp.port, "therapist_secret": SECRET,
                   "team_secret": OTHER_SECRET}
        config = clinic_config(tmp_path, clinic_database, patients, **servers)
        publish(tmp_path, patients, strava, garmin)
        connect_strava(config, patients, strava)
        yield Clinic50(tmp_path, config, patients, therapist, team, smtp, servers)


def publish(folder: Path, patients: list[Patient], strava: FakeStrava,
            garmin: ClinicGarmin) -> None:
    """Each patient's runs on their sources; Garmin token folders as a login leaves them."""
    for patient in patients:
        if "strava" in patient.sources:
            strava.add_athlete(patient.strava_id, firstname=patient.slug)
        if "garmin" in patient.sources:
            garmin.write_account(folder / "garmin" / "athletes" / patient.name, patient.name)
        for run in patient.runs:
            if run.source == "strava":
                publish_strava(strava, patient, run)
            elif run.source == "garmin":
                entry, splits = garmin_activity(patient, run)
                garmin.accounts[patient.name].append(entry)
                if splits is not None:
                    garmin.typed_splits[str(run.source_id)] = splits
            else:
                write_file(folder / "inbox" / patient.slug, patient, run)


def connect_strava(config: Path, patients: list[Patient], strava: FakeStrava) -> None:
    """Each Strava patient's tokens, stored as an onboarding link stores them."""
    clinic = Clinic(load_settings(config))
    try:
        for patient in patients:
            if "strava" in patient.sources:
                credentials = DbCredentialStore(clinic.store, clinic.app(patient.name).athlete_id,
                                                prefix="strava.")
                credentials.save("tokens", strava.issue_tokens(athlete_id=patient.strava_id))
    finally:
        clinic.close()


def syncd(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> str:
    """``syncd --config CONFIG ARGV``, which must succeed; its standard output."""
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    assert code == 0, f"syncd {' '.join(argv)} exited {code}:\n{out}{err}"
    return out


def test_fifty_patients_on_postgresql(clinic: Clinic50, tmp_path: Path,
                                      other_clinic_database: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = syncd(capsys, clinic.config, "sync")
    troubles = [line for line in out.splitlines() if re.search(
        r": failed:|\b[1-9]\d* (failed|to retry)\b|skipped |error", line)]
    assert not troubles, out
    assert out.count("athlete patient") == PATIENTS
    for patient in clinic.patients:
        if patient.pain is not None:
            syncd(capsys, clinic.config, "--athlete", patient.name, "pain", str(patient.pain))
    syncd(capsys, clinic.config, "deliver")

    alerts = {p.name: json.loads(syncd(capsys, clinic.config, "--athlete", p.name, "alerts",
                                       "--json", "--all")) for p in clinic.patients}
    check_histories(clinic.patients, alerts)
    check_routes(clinic, alerts)
    check_export_round_trip(clinic, other_clinic_database, tmp_path, capsys)
    check_delete(clinic, capsys)


def check_histories(patients: list[Patient], alerts: dict[str, list[dict[str, Any]]]) -> None:
    """Every patient's history raised what it was built to raise, from each of its sources."""
    for patient in patients:
        rules = {(a["rule"], a["severity"]) for a in alerts[patient.name]}
        assert all(a["athlete"] == patient.name for a in alerts[patient.name])
        if patient.plan_start is not None:
            assert ("session_length", "warning") in rules, (patient.name, rules)
        else:
            assert ("session_spike", "critical") in rules, (patient.name, rules)
        if patient.pain is not None:
            assert ("pain_stop", "critical") in rules, (patient.name, rules)


def check_routes(clinic: Clinic50, alerts: dict[str, list[dict[str, Any]]]) -> None:
    """Each route got exactly the alerts of the patients routed to it, at or above its
    severity, and nothing of anyone else's."""
    received = received_by_route(clinic)
    routes = {THERAPIST, TEAM, CLINIC_MAIL} | {f"mail:{p.own_email}" for p in clinic.patients
                                                if p.own_email}
    assert set(received) <= routes, f"unexpected routes: {set(received) - routes}"
    names = {p.name for p in clinic.patients}
    for route, by_patient in received.items():
        assert set(by_patient) <= names, f"{route} got alerts of {set(by_patient) - names}"
    delivered = 0
    for patient in clinic.patients:
        expected = patient.expected(alerts[patient.name])
        for route in routes:
            got = received.get(route, {}).get(patient.name, set())
            assert got == expected.get(route, set()), (patient.name, route)
            delivered += len(got)
    assert delivered > 2 * PATIENTS  # the routes were not all empty
    assert received[THERAPIST] and received[TEAM] and received[CLINIC_MAIL]


def received_by_route(clinic: Clinic50) -> dict[str, dict[str, set[str]]]:
    """Route -> patient -> ids of the alerts that arrived (raised or resolved notices)."""
    received: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for route, receiver in ((THERAPIST, clinic.therapist), (TEAM, clinic.team)):
        requests = list(receiver.requests)
        assert all(r.verified for r in requests), [r.error for r in requests if not r.verified]
        ids = [r.webhook_id for r in requests]
        assert len(ids) == len(set(ids)), f"{route}: an event arrived twice"
        for request in requests:
            payload = request.payload
            assert payload["type"] in ("alert.raised", "alert.resolved"), payload["type"]
            received[route][payload["data"]["athlete"]].add(payload["data"]["id"])
    mailbox = clinic.smtp.mailbox
    assert len(mailbox.messages) == len(mailbox.envelopes)
    sent = [(m["Message-ID"], tuple(e[1])) for m, e in zip(mailbox.messages, mailbox.envelopes,
                                                              strict=True)]
    assert len(sent) == len(set(sent)), "a mail arrived twice at one mailbox"
    for message, (_, recipients, encrypted) in zip(mailbox.messages, mailbox.envelopes,
                                                  strict=True):
        assert encrypted and len(recipients) == 1, recipients
        route = CLINIC_MAIL if recipients == [CLINIC_ADDRESS] else f"mail:{recipients[0]}"
        athlete, alert_id = mail_facts(message)
        received[route][athlete].add(alert_id)
    return received


def mail_facts(message: EmailMessage) -> tuple[str, str]:
    """(athlete, alert id) as an alert mail states them."""
    body = message.get_body(("plain",))
    assert body is not None
    facts = dict(line.split(": ", 1) for line in body.get_content().splitlines()
                 if line.startswith(("Athlete: ", "Alert id: ")))
    return facts["Athlete"], facts["Alert id"]


def check_export_round_trip(clinic: Clinic50, other_database: str, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """A patient exported, imported into another clinic's database under a new name and
    exported again: the same records, but for the name and the tokens (never exported)."""
    patient = next(p for p in clinic.patients
                   if "strava" in p.sources and p.pain is not None and p.own_email)
    first = tmp_path / "exported.zip"
    out = syncd(capsys, clinic.config, "athletes", "export", patient.name, "--output", str(first))
    assert f"exported {patient.name} to {first}" in out
    elsewhere = clinic.config_for(other_database, tmp_path / "elsewhere")
    out = syncd(capsys, elsewhere, "athletes", "import", str(first), "--name", "transferred")
    assert "imported transferred" in out
    second = tmp_path / "again.zip"
    syncd(capsys, elsewhere, "athletes", "export", "transferred", "--output", str(second))

    exported, again = read_export(first), read_export(second)
    assert exported["activities"] and exported["alerts"] and exported["deliveries"]
    assert [c["name"] for c in exported["credentials"]] == ["strava.tokens"]
    assert again["credentials"] == []
    assert (exported["athlete"]["origin"], again["athlete"]["origin"]) == ("config", "cli")
    for data in (exported, again):
        del data["manifest"], data["credentials"], data["athlete"]["origin"]
    assert renamed(again, "transferred") == renamed(exported, patient.name)
    moved = json.loads(syncd(capsys, elsewhere, "--athlete", "transferred", "alerts", "--json",
                             "--all"))
    original = json.loads(syncd(capsys, clinic.config, "--athlete", patient.name, "alerts",
                                "--json", "--all"))
    assert [a["id"] for a in moved] == [a["id"] for a in original]


def renamed(data: dict[str, Any], name: str) -> str:
    """An export as text, the athlete's own name and mail channel written ``NAME``. (The
    alert events keep the name they were raised under.)"""
    text = json.dumps(data, sort_keys=True)
    return text.replace(f'"name": "{name}"', '"name": "NAME"').replace(
        f'"email:{name}"', '"email:NAME"')


def check_delete(clinic: Clinic50, capsys: pytest.CaptureFixture[str]) -> None:
    """A Garmin patient deleted: no row of theirs in any table, their token folder gone, and
    every other patient's rows untouched."""
    patient = next(p for p in clinic.patients if p.sources == ("garmin",))
    folder = clinic.folder / "garmin" / "athletes" / patient.name
    assert (folder / "garmin_tokens.json").is_file()
    store = Store.open(load_settings(clinic.config).database_url)
    try:
        with store.read() as tx:
            ids = {name: athlete for name, athlete in tx.execute(
                select(AthleteRow.name, AthleteRow.id))}
            victim = ids[patient.name]
            keys = {table.name: {tuple(row) for row in tx.execute(
                select(*table.primary_key.columns).where(athlete_rows(table, victim)))}
                for table in Base.metadata.sorted_tables}
            others = {name: rows_of(tx, athlete) for name, athlete in ids.items()
                      if athlete != victim}
        assert keys["activities"] and keys["alerts"] and keys["alert_deliveries"]

        out = syncd(capsys, clinic.config, "athletes", "delete", patient.name, "--yes",
                    "--force")
        assert f"  activities: {len(keys['activities'])}\n" in out
        assert f"removed {folder}" in out and not folder.exists()

        with store.read() as tx:
            for table in Base.metadata.sorted_tables:
                left = tx.scalar(select(func.count()).select_from(table).where(
                    athlete_rows(table, victim)))
                assert left == 0, table.name
                if keys[table.name]:  # nor any row that was theirs, whatever it points at now
                    assert not tx.scalar(select(func.count()).select_from(table).where(
                        primary_key(table).in_(sorted(keys[table.name])))), table.name
            assert {name: rows_of(tx, ids[name]) for name in others} == others
        assert len(others) == PATIENTS - 1
    finally:
        store.close()


def primary_key(table: Any) -> ColumnElement[Any]:
    """The primary key of ``table``, as one (possibly composite) value."""
    return tuple_(*table.primary_key.columns)


def rows_of(tx: Any, athlete_id: int) -> dict[str, int]:
    """How many rows of each table reach athlete ``athlete_id``."""
    return {table.name: tx.scalar(select(func.count()).select_from(table).where(
        athlete_rows(table, athlete_id))) for table in Base.metadata.sorted_tables}
