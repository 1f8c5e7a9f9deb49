"""Store fixtures: a migrated database on SQLite and PostgreSQL, and activity builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncd.models import Activity, Segment, sport_family
from syncd.store import Store, ensure_athlete

T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # a Monday morning
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LOCAL_OFFSET = timedelta(hours=1)  # the athlete runs in Europe/Berlin, winter time


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated, empty database."""
    opened = Store.open(db_url)
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
