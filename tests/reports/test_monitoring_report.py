"""The monthly monitoring report for October 2026 (the clocks go back in Berlin on the 25th,
in New York on 1 November): days with data counted in each patient's local days, equal to an
independent count made here from the UTC moments; a patient who joined mid-month; one who
withdrew their consent; the 30-day periods; sessions, pain and acknowledged alerts; the same
figures as JSON, CSV (command line and HTTP) and the print page."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from syncd.app import App
from syncd.cli.main import main
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.models import Activity, Segment
from syncd.pipeline.acks import acknowledge
from syncd.pipeline.monitoring import monitoring_report
from syncd.store.consents import record_consent
from syncd.web import create_app
from tests.alerts.support import finding, raise_alerts
from tests.support.config import write_config

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOKEN = "report-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
ATHLETES = [
    # Joined mid-month: monitored from 14 October.
    {"name": "ana", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
     "plan_start": date(2026, 10, 14)},
    {"name": "ben", "timezone": "America/New_York", "plan": "hip-return-run-walk",
     "plan_start": date(2026, 9, 7)},
    {"name": "chika", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
     "plan_start": date(2026, 9, 28)},
]
WITHDRAWN = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)


# Berlin: Sunday 25 October 00:30 (still summer time) and 23:30 (winter time), both 22:30
# UTC on two UTC days; Sunday 1 November 00:15, still 31 October in UTC.
EDGES = [datetime(2026, 10, 24, 22, 30, tzinfo=UTC), datetime(2026, 10, 25, 22, 30, tzinfo=UTC),
         datetime(2026, 10, 31, 23, 15, tzinfo=UTC)]


def _moments(offset_h: int) -> list[datetime]:
    """Every 31 hours from 25 September (each hour of the day in turn, on both sides of the
    changes of the clocks), and the edges of Berlin's change."""
    first = datetime(2026, 9, 25, 21, 30, tzinfo=UTC) + timedelta(hours=offset_h)
    return sorted([first + timedelta(hours=31 * n) for n in range(45)] + EDGES)


def _activity(app: App, at: datetime, n: int) -> Activity:
    local = at.astimezone(ZoneInfo(app.athlete.timezone)).replace(tzinfo=None)
    sport = "run" if n % 3 else "ride"  # any sport counts
    return Activity(source="file", source_id=f"{app.athlete.name}-{n}", sport=sport,
                    sport_type=sport.title(), start_utc=at, local_start=local, elapsed_s=900,
                    moving_s=900, run_s=600 if sport == "run" else 0, walk_s=300,
                    segments=(Segment("run", 0, 600), Segment("walk", 600, 300)),
                    timezone=app.athlete.timezone, athlete=app.athlete.name)


def _fill(app: App, offset_h: int) -> set[datetime]:
    """Activities at every other moment, pain reports at the rest; the moments used."""
    moments = [m for m in _moments(offset_h) if m < NOW]
    app.ingest([_activity(app, m, n) for n, m in enumerate(moments) if n % 2 == 0])
    for n, moment in enumerate(moments):
        if n % 2:
            app.record_pain(2 + n % 4, moment)
    return set(moments)


def _expected_days(moments: set[datetime], zone: str, first: date, last: date) -> int:
    """The independent count: distinct local dates in [first, last]."""
    days = {m.astimezone(ZoneInfo(zone)).date() for m in moments}
    return sum(1 for d in days if first <= d <= last)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, athletes=ATHLETES, server={"token": TOKEN})


@pytest.fixture
def clinic(config: Path) -> Iterator[tuple[Clinic, dict[str, set[datetime]]]]:
    opened = Clinic(load_settings(config), clock=lambda: NOW)
    data = {"ana": _fill(opened.app("ana"), 0), "ben": _fill(opened.app("ben"), 5),
            "chika": _fill(opened.app("chika"), 11)}
    chika = opened.app("chika")
    with opened.store.write() as tx:
        record_consent(tx, chika.athlete_id, "file", "withdrawn", "I withdraw.", "page",
                       WITHDRAWN)
    ana = opened.app("ana")
    alert = raise_alerts(ana, [finding(1, severity="critical")],
                         datetime(2026, 10, 26, 9, 0, tzinfo=UTC)).raised[0]
    acknowledge(ana, alert.id, "dr-weber", "Phoned; rest two days.")
    yield opened, data
    opened.close()


def test_days_with_data_are_the_patients_local_days(
        clinic: tuple[Clinic, dict[str, set[datetime]]]) -> None:
    opened, data = clinic
    report = monitoring_report(opened.apps(), "2026-10", NOW)
    ana, ben, _ = report["athletes"]

    october = (date(2026, 10, 1), date(2026, 10, 31))
    assert ana["monitoring_start"] == "2026-10-14"
    assert ana["covered"]["from"] == "2026-10-14"
    assert ana["days_with_data"]["month"] == _expected_days(
        data["ana"], "Europe/Berlin", date(2026, 10, 14), october[1])
    assert ben["days_with_data"]["month"] == _expected_days(
        data["ben"], "America/New_York", *october)
    [period] = ana["periods"]
    assert (period["from"], period["to"], period["complete"]) == ("2026-10-14", "2026-11-12",
                                                                   True)
    assert period["days_with_data"] == _expected_days(
        data["ana"], "Europe/Berlin", date(2026, 10, 14), date(2026, 11, 12))
    assert period["band"] == ("16+" if period["days_with_data"] >= 16 else "2-15")
    assert [(p["period"], p["from"], p["to"]) for p in ben["periods"]] == [
        (1, "2026-09-07", "2026-10-06"), (2, "2026-10-07", "2026-11-05")]
    for p in ben["periods"]:
        assert p["days_with_data"] == _expected_days(
            data["ben"], "America/New_York", date.fromisoformat(p["from"]),
            date.fromisoformat(p["to"]))


def test_a_withdrawal_ends_the_period_covered(
        clinic: tuple[Clinic, dict[str, set[datetime]]]) -> None:
    opened, data = clinic
    chika = monitoring_report([opened.app("chika")], "2026-10", NOW)["athletes"][0]

    assert chika["covered"] == {"from": "2026-10-01", "to": "2026-10-20",
                                "sharing_withdrawn_at": "2026-10-20T12:00:00Z"}
    before = {m for m in data["chika"] if m < WITHDRAWN}
    assert chika["days_with_data"]["month"] == _expected_days(
        before, "Europe/Berlin", date(2026, 10, 1), date(2026, 10, 20))
    assert [p["counted_to"] for p in chika["periods"]] == ["2026-10-20"]


def test_pain_sessions_and_acknowledged_alerts(
        clinic: tuple[Clinic, dict[str, set[datetime]]]) -> None:
    opened, _ = clinic
    ana = monitoring_report([opened.app("ana")], "2026-10", NOW)["athletes"][0]

    assert ana["pain"]["reports"] > 2 and ana["pain"]["trend"] in ("rising", "falling",
                                                                   "steady")
    assert 0 <= ana["pain"]["min"] <= ana["pain"]["mean"] <= ana["pain"]["max"]
    assert ana["sessions"]["prescribed"] > 0
    assert ana["sessions"]["weeks"][0]["from"] == "2026-10-14"
    acked = [i for i in ana["alerts"]["items"] if i["acknowledged"]]
    assert [(i["acknowledged"]["by"], i["acknowledged"]["note"]) for i in acked] == [
        ("dr-weber", "Phoned; rest two days.")]
    assert ana["alerts"]["acknowledged"] == 1


def test_csv_and_json_from_the_command_line(
        clinic: tuple[Clinic, dict[str, set[datetime]]], config: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    opened, _ = clinic
    expected = monitoring_report(opened.apps(), "2026-10", NOW)

    assert main(["--config", str(config), "report", "monitoring", "--month", "2026-10",
                 "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert main(["--config", str(config), "report", "monitoring", "--month", "2026-10",
                 "--athlete", "ben"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))

    assert printed["athletes"] == expected["athletes"]
    assert [(r["athlete"], r["period"], r["period_days_with_data"]) for r in rows] == [
        ("ben", str(p["period"]), str(p["days_with_data"]))
        for p in expected["athletes"][1]["periods"]]
    assert rows[0]["month_days_with_data"] == str(
        expected["athletes"][1]["days_with_data"]["month"])
    assert main(["--config", str(config), "report", "monitoring", "--month", "2026-13"]) != 0


def test_the_http_report_and_its_print_page(
        clinic: tuple[Clinic, dict[str, set[datetime]]]) -> None:
    opened, _ = clinic
    with TestClient(create_app(opened.apps()[0]), base_url="http://127.0.0.1:8765") as http:
        body = http.get("/reports/monitoring", params={"month": "2026-10"}, headers=AUTH)
        one = http.get("/reports/monitoring", params={"month": "2026-10", "athlete": "ana"},
                       headers=AUTH)
        printed = http.get("/reports/monitoring", params={"month": "2026-10",
                                                          "format": "html"}, headers=AUTH)
        table = http.get("/reports/monitoring", params={"month": "2026-10", "format": "csv"},
                         headers=AUTH)
        assert http.get("/reports/monitoring", params={"month": "2026-10"}).status_code == 401
        assert http.get("/reports/monitoring", params={"month": "10-2026"},
                        headers=AUTH).status_code == 400

    expected = monitoring_report(opened.apps(), "2026-10", NOW)
    assert body.status_code == 200 and body.json()["athletes"] == expected["athletes"]
    assert [a["athlete"] for a in one.json()["athletes"]] == ["ana"]
    assert printed.status_code == 200 and "text/html" in printed.headers["content-type"]
    assert "Monitoring report 2026-10" in printed.text
    assert "dr-weber" in printed.text and "Phoned; rest two days." in printed.text
    assert all(f'data-athlete="{a["name"]}"' in printed.text for a in ATHLETES)
    assert table.text.splitlines()[0].startswith("athlete,month,timezone")
