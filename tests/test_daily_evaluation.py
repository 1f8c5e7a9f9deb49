"""What did not happen, through the App and its database: the daily evaluation finds a
silence one day after ``silence_days`` and a walking week that ended short; data resolves the
silence; cross-training is stored and shown, never counted as running."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from syncd.alerts.summary import build_summary, summary_text
from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import Activity, SportFamily
from syncd.runtime.daily import evaluate_new_days
from syncd.store.tables import AlertEventRow
from syncd.web import create_app
from tests.support.clock import Clock
from tests.support.config import write_config
from tests.web.support import client_for

BERLIN = ZoneInfo("Europe/Berlin")
PLAN_START = date(2026, 11, 16)  # a Monday: week 1 (7 walks) runs to Sunday 2026-11-22


def berlin(day: str, clock: str) -> datetime:
    """The UTC instant of ``clock`` on local ``day`` in Berlin."""
    local = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=BERLIN)
    return local.astimezone(UTC)


def activity(day: str, sport: SportFamily, sport_type: str, minutes: float,
             clock: str = "07:00") -> Activity:
    """A recorded activity at ``clock`` on local ``day``."""
    start = berlin(day, clock)
    return Activity(source="file", source_id=f"{day}-{sport_type}", sport=sport,
                    sport_type=sport_type, start_utc=start,
                    local_start=start.astimezone(BERLIN).replace(tzinfo=None),
                    elapsed_s=minutes * 60, timezone="Europe/Berlin")


@pytest.fixture
def clock() -> Clock:
    return Clock(berlin("2026-11-17", "10:00"))


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> Iterator[App]:
    config = write_config(tmp_path, athlete={"name": "ana", "plan": "hip-return-run-walk",
                                             "plan_start": PLAN_START})
    application = open_app(load_settings(config, env={}), clock)
    yield application
    application.close()


def open_alerts(app: App) -> list[tuple[str, str, float, float]]:
    return sorted((a.finding.rule, a.finding.subject.key, a.finding.observed, a.finding.limit)
                  for a in app.alerts())


def raised_events(app: App, rule: str) -> int:
    with app.store.read() as tx:
        payloads = tx.scalars(select(AlertEventRow.payload)
                              .where(AlertEventRow.type == "alert.raised")).all()
    return sum(1 for p in payloads if p["data"]["rule"] == rule)


def test_silence_of_exactly_four_days_is_quiet_and_the_fifth_raises_no_data(
        app: App, clock: Clock) -> None:
    app.ingest([activity("2026-11-17", "walk", "Walk", 15)])
    assert evaluate_new_days(app) == 0

    clock.now = berlin("2026-11-21", "23:59")  # Saturday: 4 days since Tuesday's walk
    assert evaluate_new_days(app) == 0
    assert open_alerts(app) == []

    clock.now = berlin("2026-11-22", "00:01")  # Sunday: the fifth day
    assert evaluate_new_days(app) == 1
    assert open_alerts(app) == [("no_data", "silence:2026-11-17", 5.0, 4.0)]
    (alert,) = app.alerts()
    assert alert.finding.severity == "warning"
    assert alert.payload_data()["subject"] == {"kind": "silence", "since": "2026-11-17"}
    clock.advance(hours=12)
    assert evaluate_new_days(app) == 0  # once a day
    assert raised_events(app, "no_data") == 1


def test_data_resolves_the_silence_and_a_new_silence_is_a_new_alert(
        app: App, clock: Clock) -> None:
    app.ingest([activity("2026-11-17", "walk", "Walk", 15)])
    clock.now = berlin("2026-11-22", "08:00")
    evaluate_new_days(app)
    assert [a.finding.rule for a in app.alerts()] == ["no_data"]

    clock.now = berlin("2026-11-22", "11:00")
    ingested = app.ingest([activity("2026-11-22", "other", "Ride", 45, "10:00")])
    assert ingested.evaluation is not None
    assert [a.finding.rule for a in ingested.evaluation.resolved] == ["no_data"]
    assert open_alerts(app) == []

    clock.now = berlin("2026-11-27", "00:01")  # 5 days after Sunday's ride
    evaluate_new_days(app)
    assert ("no_data", "silence:2026-11-22", 5.0, 4.0) in open_alerts(app)
    assert raised_events(app, "no_data") == 2


def test_a_pain_report_is_data(app: App, clock: Clock) -> None:
    app.ingest([activity("2026-11-17", "walk", "Walk", 15)])
    clock.now = berlin("2026-11-22", "08:00")
    evaluate_new_days(app)
    _, result = app.record_pain(1)
    assert [a.finding.rule for a in result.resolved] == ["no_data"]


def test_a_walking_week_that_ended_short_is_missed_at_midnight(app: App, clock: Clock) -> None:
    """Week 1 prescribes 7 walks: 5 walks and a ride leave it 5 short of 7 once it ends."""
    days = ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-20", "2026-11-22"]
    clock.now = berlin("2026-11-22", "20:00")
    app.ingest([activity(day, "walk", "Walk", 15) for day in days]
               + [activity("2026-11-21", "other", "Swim", 30)])
    assert evaluate_new_days(app) == 0  # Sunday evening: the week still runs

    clock.now = berlin("2026-11-23", "00:01")
    assert evaluate_new_days(app) == 1
    assert open_alerts(app) == [("missed_session", "week:2026-11-16", 5.0, 7.0)]


def test_a_restarted_daemon_catches_up_on_the_weeks_that_ended_while_it_was_down(
        app: App, clock: Clock) -> None:
    """The first check (a start, a new leader) looks back over the weeks that ended since."""
    clock.now = berlin("2026-11-16", "12:00")
    app.ingest([activity("2026-11-16", "walk", "Walk", 15)])
    assert open_alerts(app) == []
    clock.now = berlin("2026-12-02", "12:00")  # nothing ran in between: weeks 1 and 2 ended
    evaluate_new_days(app)
    assert open_alerts(app) == [("missed_session", "week:2026-11-16", 1.0, 7.0),
                                ("missed_session", "week:2026-11-23", 0.0, 3.0),
                                ("no_data", "silence:2026-11-16", 16.0, 4.0)]


def test_cross_training_is_shown_and_never_counted_as_running(app: App, clock: Clock) -> None:
    clock.now = berlin("2026-11-26", "20:00")
    runs = [activity("2026-11-24", "run", "Run", 17), activity("2026-11-26", "run", "Run", 17)]
    app.ingest(runs)
    before = [w.as_dict() for w in app.weeks()]
    ingested = app.ingest([activity("2026-11-25", "other", "Ride", 45),
                           activity("2026-11-25", "other", "Swim", 30, "18:00"),
                           activity("2026-11-27", "other", "Ride", 20)])
    assert ingested.upsert.inserted == 3
    assert ingested.evaluation is not None and not ingested.evaluation.raised
    after = [w.as_dict() for w in app.weeks()]
    week2 = next(w for w in after if w["week_start"] == "2026-11-23")
    assert week2["actual"] == next(w for w in before if w["week_start"] == "2026-11-23")[
        "actual"]
    assert week2["actual"]["sessions"] == 2 and week2["actual"]["run_min"] == 34.0
    assert week2["cross_training"] == [{"sport": "Ride", "minutes": 65.0},
                                       {"sport": "Swim", "minutes": 30.0}]
    assert [{**w, "cross_training": []} for w in after] == before
    assert app.status()["week"]["actual"]["sessions"] == 2


def test_cross_training_is_welcome_in_the_summary_and_on_the_dashboard(
        app: App, clock: Clock) -> None:
    clock.now = berlin("2026-11-30", "06:00")  # the Monday after week 2
    app.ingest([activity("2026-11-24", "run", "Run", 17), activity("2026-11-26", "run", "Run", 17),
                activity("2026-11-25", "other", "Ride", 45),
                activity("2026-11-28", "other", "Swim", 30)])
    data = build_summary(app, date(2026, 11, 23), clock.now)
    assert data is not None
    assert data["actual"]["sessions"] == 2
    assert data["cross_training"] == [{"sport": "Ride", "minutes": 45.0},
                                      {"sport": "Swim", "minutes": 30.0}]
    assert ("Cross-training: Ride 45 min, Swim 30 min. Cross-training is welcome; it does not "
            "count as running.") in summary_text(data)

    clock.now = berlin("2026-11-28", "18:00")
    with client_for(create_app(app)) as client:
        page = client.get("/").text
    assert "<h2>Cross-training this week</h2><p>Ride 45 min, Swim 30 min</p>" in page


@pytest.mark.parametrize(("late_walk", "expected"), [
    (True, []), (False, [("missed_session", "week:2026-10-19", 6.0, 7.0)])])
def test_a_week_ending_the_night_the_clocks_go_back(
        tmp_path: Path, clock: Clock, late_walk: bool,
        expected: list[tuple[str, str, float, float]]) -> None:
    """Week 1 (7 walks) runs Monday 2026-10-19 to Sunday 2026-10-25, the night Berlin's clocks
    go back: a walk at 23:30 that Sunday (22:30 UTC) is its seventh; without it the week is
    missed just after local midnight, 23:01 UTC."""
    config = write_config(tmp_path, athlete={"name": "ana", "plan": "hip-return-run-walk",
                                             "plan_start": date(2026, 10, 19)})
    clock.now = berlin("2026-10-25", "23:45")
    app = open_app(load_settings(config, env={}), clock)
    try:
        walks = [activity(f"2026-10-{day}", "walk", "Walk", 15) for day in range(19, 25)]
        if late_walk:
            walks.append(activity("2026-10-25", "walk", "Walk", 15, "23:30"))
            assert walks[-1].start_utc == datetime(2026, 10, 25, 22, 30, tzinfo=UTC)
        app.ingest(walks)
        assert evaluate_new_days(app) == 0  # the last evening of the week
        clock.now = datetime(2026, 10, 25, 23, 1, tzinfo=UTC)  # 00:01 on Monday in Berlin
        evaluate_new_days(app)
        assert open_alerts(app) == expected
    finally:
        app.close()
