"""One pass of a source: what a failing source leaves behind (backoff, operator notices)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.base import FetchResult
from connectors.memory import MemoryConnector
from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.errors import RateLimited, SyncdError, TransientError
from syncd.pipeline.sync import sync_source
from syncd.store.state import get_sync_state
from syncd.store.tables import AlertEventRow
from tests.support.config import write_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


class FailingSource(MemoryConnector):
    """A source whose every fetch raises the given error."""

    name = "strava"

    def __init__(self, error: SyncdError) -> None:
        super().__init__()
        self.error = error

    def fetch(self, cursor: str | None, *, since: date | None = None) -> FetchResult:
        raise self.error


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    config = write_config(tmp_path, athlete={"name": None, "plan": "", "plan_start": None})
    application = open_app(load_settings(config, env={}), clock=lambda: NOW)
    yield application
    application.close()


def backoff_minutes(app: App) -> float:
    with app.store.read() as tx:
        until = get_sync_state(tx, app.athlete_id, "strava").backoff_until
    assert until is not None
    return (until - NOW) / timedelta(minutes=1)


def notices(app: App) -> int:
    with app.store.read() as tx:
        query = select(func.count()).select_from(AlertEventRow).where(
            AlertEventRow.type == "operator.notice")
        return int(tx.execute(query).scalar_one())


def test_transient_failures_back_off_exponentially_with_jitter(app: App) -> None:
    source = FailingSource(TransientError("Strava answered 503"))
    waits = []
    for _ in range(6):
        result = sync_source(app, "strava", force=True, connector=source)
        assert result.error is source.error
        waits.append(backoff_minutes(app))
    for wait, base in zip(waits, [5, 10, 20, 40, 80, 120], strict=True):
        assert base <= wait <= base * 1.1 + 1e-6
    assert notices(app) == 0  # a server error passes by itself: no human needed


def test_a_short_throttle_sends_no_notice_a_long_one_sends_one(app: App) -> None:
    window = FailingSource(RateLimited("Strava's 15-minute limit",
                                       retry_at=NOW + timedelta(minutes=12)))
    sync_source(app, "strava", force=True, connector=window)
    assert backoff_minutes(app) == 12
    assert notices(app) == 0
    day = FailingSource(RateLimited("Strava's daily limit", retry_at=NOW + timedelta(hours=9)))
    for _ in range(3):
        sync_source(app, "strava", force=True, connector=day)
    assert notices(app) == 1
