"""Store fixtures: a migrated database on SQLite and PostgreSQL, and activity builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, text

from syncd.models import Activity, Segment, sport_family
from syncd.store import Store, current_revision, ensure_athlete, head_revision, open_engine
from syncd.store.tables import Base

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday morning
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LOCAL_OFFSET = timedelta(hours=1)  # the athlete runs in Europe/Berlin, winter time


def _empty_rows(url: str) -> None:
    """Delete every row of a database at the current schema; drop anything else."""
    engine = open_engine(url)
    with engine.begin() as conn:
        if current_revision(conn) == head_revision():
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(delete(table))
        else:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A database with no rows: a fresh SQLite file, or the session's PostgreSQL database
    emptied row by row (ten times faster than creating its tables again for every test)."""
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_database")
    _empty_rows(url)
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A migrated database without rows."""
    opened = Store.open(store_url)
    yield opened
    opened.close()


@pytest.fixture
def athlete_id(store: Store) -> int:
    """The id of athlete ``ana``."""
    with store.write() as tx:
        return ensure_athlete(tx, "ana", "Europe/Berlin", now=NOW)


def run(
    source: str,
    source_id: str,
    start: datetime = T0,
    duration_s: float = 1800.0,
    *,
    sport_type: str = "running",
    **fields: Any,
) -> Activity:
    """An activity from ``source`` starting at ``start`` (UTC) lasting ``duration_s`` moving."""
    values: dict[str, Any] = {
        "source": source, "source_id": source_id, "sport": sport_family(sport_type),
        "sport_type": sport_type, "start_utc": start, "local_start":
        (start + LOCAL_OFFSET).replace(tzinfo=None), "elapsed_s": duration_s + 60,
        "moving_s": duration_s, "timezone": "Europe/Berlin", "distance_m": duration_s * 2.5,
    }
    values.update(fields)
    return Activity(**values)


def intervals(*pairs: tuple[str, float]) -> tuple[Segment, ...]:
    """Consecutive segments from (kind, seconds) pairs."""
    segments: list[Segment] = []
    offset = 0.0
    for kind, seconds in pairs:
        segments.append(Segment(kind, offset, seconds))  # type: ignore[arg-type]
        offset += seconds
    return tuple(segments)
