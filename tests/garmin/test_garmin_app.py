"""Garmin inside the application: a day of throttling, and one run reported by two sources."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import ConnectorContext
from connectors.garmin import GarminConnector
from connectors.memory import MemoryConnector
from syncd.app import App
from syncd.clinic import open_app
from syncd.config import Settings, load_settings
from syncd.models import Activity
from syncd.pipeline.notices import notify_source_failure
from syncd.pipeline.sync import sync_source
from syncd.store.tables import AlertEventRow
from tests.garmin.fake_garmin import FakeGarmin, load_fixtures, make_typed_splits
from tests.garmin.garmin_support import FAST_RETRY, NOW, ZONE
from tests.support.clock import Clock
from tests.support.config import write_config

TRAIL_ID = "21482825013"


def make_settings(tmp_path: Path, fake: FakeGarmin, token_dir: Path) -> Settings:
    """Plan week 2 (30-second jogs at most) covers 2026-01-05..11, the recorded trail run's
    week."""
    config = write_config(tmp_path, athlete={"timezone": ZONE, "plan": None,
                                             "plan_start": date(2025, 12, 29)},
                          garmin={"api_url": fake.url, "token_store": token_dir,
                                  "poll_interval": "30m", "backoff": "6h"})
    return load_settings(config, env={"STATE_DIRECTORY": str(tmp_path / "state")})


@pytest.fixture
def clock_start() -> datetime:
    return NOW


@pytest.fixture
def app(tmp_path: Path, fake: FakeGarmin, token_dir: Path, clock: Clock) -> Iterator[App]:
    application = open_app(make_settings(tmp_path, fake, token_dir), clock=clock)
    yield application
    application.close()


def garmin_for(app: App, clock: Clock) -> GarminConnector:
    """The connector as the daemon holds it: one instance, polled again and again."""
    context = ConnectorContext(athlete=app.athlete.name, timezone=ZONE, now=clock)
    return GarminConnector(app.settings.garmin, context, retry=FAST_RETRY, timeout=5.0)


def walk_at(moment: datetime, n: int) -> Activity:
    return Activity(source="strava", source_id=f"w{n}", sport="walk", sport_type="Walk",
                    start_utc=moment, local_start=moment.replace(tzinfo=None) - timedelta(
                        hours=6), elapsed_s=1800.0, athlete="ana")


def operator_notices(app: App) -> list[str]:
    with app.store.read() as tx:
        rows = tx.scalars(select(AlertEventRow).where(AlertEventRow.type == "operator.notice"))
        return [row.payload["data"]["message"] for row in rows]


def test_a_day_of_429_gives_one_notice_slows_polling_and_spares_other_sources(
        app, fake, clock):
    fake.fail("/", 429)
    garmin = garmin_for(app, clock)
    strava = MemoryConnector(None, ConnectorContext(athlete="ana", timezone=ZONE, now=clock))
    outcomes = []
    polls = 0
    while clock.now < NOW + timedelta(days=1):  # the scheduler's 30-minute polls
        result = sync_source(app, "garmin", connector=garmin)
        notify_source_failure(app, result)
        outcomes.append(result)
        strava.add(walk_at(clock.now, polls))
        other = sync_source(app, "strava", connector=strava)
        assert other.ok and other.inserted == 1
        polls += 1
        clock.now += timedelta(minutes=30)

    # Garmin was asked at 0, 6, 12 and 18 hours only, once each time, never in a loop.
    assert len(fake.calls()) == 4
    assert sum(r.error is not None for r in outcomes) == 4
    assert sum(r.skipped_until is not None for r in outcomes) == polls - 4
    notices = operator_notices(app)
    assert len(notices) == 1
    assert notices[0].startswith("Garmin login needs attention")
    assert "run `syncd auth garmin`" in notices[0]
    garmin_state = app.status()["sources"]["garmin"]
    assert garmin_state["backoff_until"] == "2026-01-11T18:00:00Z"  # the 18 h failure + 6 h
    assert "HTTP 429" in garmin_state["last_error"]
    assert app.status()["sources"]["strava"]["error_count"] == 0


def strava_copy(trail: Activity, linked: bool) -> Activity:
    """The run as Strava has it after Garmin uploaded it: 2 s off, no run/walk split."""
    return Activity(
        source="strava", source_id="16790000001", sport="run", sport_type="TrailRun",
        start_utc=trail.start_utc + timedelta(seconds=2),
        local_start=trail.local_start + timedelta(seconds=2), elapsed_s=2225.0,
        moving_s=2216.0, distance_m=4261.2, timezone=ZONE, athlete="ana",
        external_id=f"garmin_push_{TRAIL_ID}" if linked else None)


def deliver(app: App, clock: Clock, garmin: GarminConnector, strava: MemoryConnector,
            garmin_first: bool) -> None:
    for name in (("garmin", "strava") if garmin_first else ("strava", "garmin")):
        connector = garmin if name == "garmin" else strava
        assert sync_source(app, name, connector=connector, since=date(2026, 1, 1)).ok
        clock.now += timedelta(minutes=7)  # the other copy arrives minutes later


@pytest.mark.parametrize("linked", [True, False], ids=["external_id", "start_and_length"])
@pytest.mark.parametrize("garmin_first", [True, False], ids=["garmin_first", "strava_first"])
def test_one_run_from_garmin_and_strava_is_one_session_with_garmins_bouts(
        app, fake, clock, fixtures_dir, linked, garmin_first):
    entries, _ = load_fixtures(fixtures_dir)
    fake.activities = copy.deepcopy(entries)
    trail_entry = next(e for e in fake.activities if str(e["activityId"]) == TRAIL_ID)
    fake.typed_splits[TRAIL_ID] = make_typed_splits(
        trail_entry, [57.0] * 13 + [81.026] + [57.0] * 13, [660.109 / 28] * 28)
    garmin = garmin_for(app, clock)
    trail = garmin.normalize(garmin.fetch(None, since=date(2026, 1, 1)).records[-1])
    fake.requests.clear()
    strava = MemoryConnector(None, ConnectorContext(athlete="ana", timezone=ZONE, now=clock))
    strava.add(strava_copy(trail, linked))

    deliver(app, clock, garmin, strava, garmin_first)

    [week] = app.weeks(date(2026, 1, 5), date(2026, 1, 11))
    assert week.sessions == 1 and week.session_keys == (f"garmin:{TRAIL_ID}",)
    assert week.run_min == pytest.approx(1563.026 / 60)  # Garmin's running time, counted once
    open_alerts = {(a.finding.rule, a.finding.subject.key) for a in app.alerts()}
    activity = f"activity:garmin:{TRAIL_ID}"
    # The same alerts whichever copy came first; run_interval sees Garmin's longest jog (81 s).
    assert open_alerts == {("session_length", activity), ("session_run_time", activity),
                           ("run_interval", activity), ("weekly_increase", "week:2026-01-05"),
                           ("missed_session", "week:2025-12-29")}
    [bout] = [a for a in app.alerts() if a.finding.rule == "run_interval"]
    assert bout.finding.observed == pytest.approx(81.026, abs=0.5)
    # Week 1 (2025-12-29, walking only: 7 walks) holds the fixtures' first data and ended
    # with none of its walks.
    [missed] = [a.finding for a in app.alerts() if a.finding.rule == "missed_session"]
    assert (missed.observed, missed.limit, missed.activity_ids) == (0.0, 7.0, ())
