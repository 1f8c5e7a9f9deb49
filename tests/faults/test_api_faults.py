"""Strava and Garmin misbehaving: 500, 429 with and without ``Retry-After``, a JSON body cut
in the middle, an answer that never comes. Each pass that meets a fault records a clear error
(naming the source) and backs off; once the server behaves, the next passes store every run
exactly once, the tokens still work, and the database is intact.

The passes run in-process (``sync_source``, what the scheduler calls) on a clock the test
moves past each back-off, against the real connectors over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.base import ConnectorContext
from connectors.garmin import GarminConnector
from connectors.garmin.tokens import save_profile
from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.pipeline.sync import sync_source
from syncd.store import DbCredentialStore
from tests.garmin.garmin_support import FAST_RETRY
from tests.support.clock import Clock
from tests.support.config import write_config

from .faulty_servers import FaultyGarmin, FaultyStrava
from .support import PROFILE, RUN_WALK, ZONE, Limits, make_entry, publish, query

KINDS = ["500", "429", "429 Retry-After", "truncated JSON", "hang"]
LIST_PATH = {"strava": "/api/v3/athlete/activities",
             "garmin": "/activitylist-service/activities/search/activities"}


@pytest.fixture
def strava() -> Iterator[FaultyStrava]:
    fake = FaultyStrava(limits=Limits(overall=(10**6, 10**7), read=(10**6, 10**7))).start()
    yield fake
    fake.queue.hang_s = 0
    fake.stop()


@pytest.fixture
def garmin() -> Iterator[FaultyGarmin]:
    fake = FaultyGarmin()
    with fake.running():
        yield fake
    fake.queue.hang_s = 0


def _app(tmp_path: Path, section: str, clock: Clock) -> App:
    config = write_config(tmp_path, athlete={"timezone": ZONE, "plan": None, "plan_start": None},
                          extra=section)
    return open_app(load_settings(config, env={"STATE_DIRECTORY": str(tmp_path)}), clock=clock)


def _recover(app: App, source: str, clock: Clock, connector: object = None) -> list[str]:
    """Passes until one succeeds, stepping the clock past each back-off; the errors met."""
    errors: list[str] = []
    for _ in range(12):
        result = sync_source(app, source, connector=connector)  # type: ignore[arg-type]
        if result.ok and result.skipped_until is None and not result.failures:
            return errors
        if result.error is not None:
            errors.append(str(result.error))
        errors += [reason for _, reason in result.failures]
        with app.store.read() as tx:
            from syncd.store.state import get_sync_state

            until = get_sync_state(tx, app.athlete_id, source).backoff_until
        clock.now = max(clock.now, until or clock.now) + timedelta(minutes=1)
    raise AssertionError(f"{source} never recovered: {errors}")


def _intact(db: Path) -> None:
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "hang"])
def test_strava_faults_are_survived(tmp_path: Path, strava: FaultyStrava, kind: str) -> None:
    clock = Clock(datetime.now(UTC))
    app = _app(tmp_path, f'[strava]\nclient_id = "4242"\nclient_secret = '
                         f'"fake-client-secret-0123456789"\napi_url = "{strava.url}"\n', clock)
    try:
        credentials = DbCredentialStore(app.store, app.athlete_id, prefix="strava.")
        credentials.save("tokens", strava.issue_tokens())
        for n in range(3):
            publish(strava, 900 + n, clock.now - timedelta(days=3 - n), laps=RUN_WALK)
        strava.queue.add(LIST_PATH["strava"], kind, times=2)
        errors = _recover(app, "strava", clock)
        assert len(strava.queue.served) == 2 and not strava.queue.pending
        assert errors and all("Strava" in e or "strava" in e for e in errors), errors
        rows = query(app.store.engine.url.database,  # type: ignore[arg-type]
                     "SELECT source_id, COUNT(*) FROM activities GROUP BY 1")
        assert rows == [("900", 1), ("901", 1), ("902", 1)]
        assert (credentials.load("tokens") or {})["refresh_token"] in strava.refresh_tokens
        _intact(Path(str(app.store.engine.url.database)))
    finally:
        app.close()


@pytest.mark.parametrize("kind", KINDS)
def test_garmin_faults_are_survived(tmp_path: Path, garmin: FaultyGarmin, kind: str) -> None:
    clock = Clock(datetime.now(UTC))
    store = tmp_path / "garmin"
    garmin.write_token_store(store)
    save_profile(store, PROFILE["profileId"], PROFILE["displayName"])
    app = _app(tmp_path, f'[garmin]\napi_url = "{garmin.url}"\ntoken_store = "{store}"\n', clock)
    try:
        for n in range(3):
            local = (clock.now - timedelta(days=3 - n)).replace(tzinfo=None)
            garmin.activities.append(make_entry(800 + n, local, run_walk=(1200.0, 600.0)))
        garmin.queue.add(LIST_PATH["garmin"], kind, times=2)
        garmin.queue.hang_s = 2.0
        context = ConnectorContext(athlete="ana", timezone=ZONE, now=clock)
        connector = GarminConnector(app.settings.garmin, context, retry=FAST_RETRY, timeout=1.0)
        errors = _recover(app, "garmin", clock, connector)
        assert len(garmin.queue.served) == 2 and not garmin.queue.pending
        assert errors and all("Garmin" in e for e in errors), errors
        rows = query(Path(str(app.store.engine.url.database)),
                     "SELECT source_id, COUNT(*) FROM activities GROUP BY 1")
        assert rows == [("800", 1), ("801", 1), ("802", 1)]
        tokens = (store / "garmin_tokens.json").read_text()
        assert any(token in tokens for token in garmin.refresh_tokens)
        _intact(Path(str(app.store.engine.url.database)))
    finally:
        app.close()
