"""Strava inside the application: a 1,000-activity backfill through rate limits, stored once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from syncd.app import App
from syncd.clinic import open_app
from syncd.errors import RateLimited
from syncd.pipeline.sync import SourceResult, sync_source
from syncd.store import DbCredentialStore
from syncd.store.tables import ActivityRow
from tests.strava.fake_strava import FakeStrava
from tests.strava.strava_support import NOW, RUN_WALK, app_settings, publish
from tests.support.clock import Clock


@pytest.fixture
def app(tmp_path: Path, fake: FakeStrava, clock: Clock) -> Iterator[App]:
    application = open_app(app_settings(tmp_path, fake.url), clock=clock)
    DbCredentialStore(application.store, application.athlete_id, prefix="strava.").save(
        "tokens", fake.issue_tokens(expires_in=timedelta(days=2)))
    yield application
    application.close()


def stored(app: App) -> int:
    with app.store.read() as tx:
        return tx.execute(select(func.count()).select_from(ActivityRow).where(
            ActivityRow.source == "strava")).scalar_one()


def test_a_429_in_the_middle_of_a_1000_activity_backfill(app: App, fake: FakeStrava,
                                                         clock: Clock) -> None:
    for n in range(1000):
        start = NOW - timedelta(days=300) + timedelta(hours=7 * n)
        if n % 10 == 0:
            publish(fake, 10_000 + n, start, laps=RUN_WALK)
        else:
            publish(fake, 10_000 + n, start, sport_type="Ride")
    fake.force_429 = {40}  # another client of the application took the rest of the window
    passes: list[SourceResult] = []

    passes.append(sync_source(app, "strava", since=date(2026, 1, 1), force=True))
    assert (passes[0].ok, passes[0].more) == (True, True)
    at_429 = len(fake.api_calls())
    assert at_429 == 40

    refused = sync_source(app, "strava", force=True)  # as `syncd sync` does: no backoff check
    waiting = sync_source(app, "strava")  # as the scheduler does
    assert isinstance(refused.error, RateLimited)
    assert refused.error.retry_at == NOW + timedelta(minutes=15)
    assert waiting.skipped_until == NOW + timedelta(minutes=15)
    clock.advance(minutes=14, seconds=59)
    assert isinstance(sync_source(app, "strava", force=True).error, RateLimited)
    assert len(fake.api_calls()) == at_429  # not one request before the window resets

    while stored(app) < 1000:  # the daemon's next polls, one window apart
        clock.advance(minutes=15)
        passes.append(sync_source(app, "strava"))
        assert passes[-1].ok, passes[-1].error
        assert len(passes) < 10

    assert stored(app) == 1000
    assert passes[-1].more is False
    assert sum(p.inserted for p in passes) == 1000
    assert sum(p.updated for p in passes) == 0
    laps = [c.path for c in fake.api_calls() if c.path.endswith("/laps")]
    # Request 40, refused with the 429 (after 2 pages and 38 runs), is read again later.
    assert len(set(laps)) == 100
    assert [p for p in laps if laps.count(p) > 1] == ["/api/v3/activities/10370/laps"] * 2
    afters = [c.query["after"] for c in fake.api_calls() if c.path.endswith("/activities")]
    assert len(afters) == len(set(afters))  # no page read twice


def test_a_pass_reports_the_quota_left_and_the_backfill_progress(app: App,
                                                                  fake: FakeStrava) -> None:
    from syncd.pipeline.sync import make_connector

    for n in range(300):
        publish(fake, 20_000 + n, NOW - timedelta(days=40) + timedelta(hours=2 * n),
                sport_type="Ride")
    connector = make_connector(app, "strava")
    fake.limits.read = (4, 1000)  # a reserve of 3 stays untouched: one page, then stop

    fetched = connector.fetch(None, since=date(2026, 9, 1))

    assert fetched.details == {
        "quota": {"overall": {"15min": 199, "day": 1999, "limits": [200, 2000]},
                  "read": {"15min": 3, "day": 999, "limits": [4, 1000]}},
        "backfill": {"since": "2026-09-01", "reached": "2026-10-10T02:00:00Z"},  # 200th ride
    }
