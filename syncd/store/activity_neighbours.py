"""The stored activities that new records could be the same session as (their neighbourhood
in time, and the rows already linked to those), and their regrouping into sessions
(:mod:`syncd.store.identity` decides; this module reads and writes the rows)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, load_only

from syncd.store.identity import (
    GARMIN_PUSH_PREFIX,
    MATCH_WINDOW_S,
    IdentityRecord,
    assign_canonicals,
)
from syncd.store.tables import ActivityRow

# Start times closer than this are fetched in one range query rather than one query each.
_SPAN_MERGE_GAP = timedelta(days=7)
_IN_CHUNK = 500


def chunks[T](items: Sequence[T]) -> Iterator[Sequence[T]]:
    """``items`` in slices small enough for any database's parameter limit."""
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start:start + _IN_CHUNK]


_IDENTITY_COLUMNS = (
    ActivityRow.id, ActivityRow.source, ActivityRow.source_id, ActivityRow.sport,
    ActivityRow.start_utc, ActivityRow.local_start, ActivityRow.elapsed_s, ActivityRow.moving_s,
    ActivityRow.external_id, ActivityRow.deleted, ActivityRow.canonical_id,
    ActivityRow.updated_at,
)


def neighbourhood(
    session: Session, athlete_id: int, seeds: tuple[list[ActivityRow], list[datetime]]
) -> list[ActivityRow]:
    """Every row whose grouping could change: closed under "starts within 120 s", "linked
    to" and "names as its Garmin origin", starting from the changed rows."""
    rows, times = seeds
    found = {row.id: row for row in rows}
    frontier = list(found.values())
    while frontier or times:
        candidates = _rows_near(session, athlete_id, times) + _rows_linked(session, athlete_id,
                                                                            frontier)
        frontier = [row for row in candidates if row.id not in found]
        found.update((row.id, row) for row in frontier)
        times = [row.start_utc for row in frontier]
    return list(found.values())


# Built once: constructing loader options costs more than the small queries using them.
_IDENTITY_LOAD = load_only(*_IDENTITY_COLUMNS)


def _identity_query(athlete_id: int) -> Any:
    """A query for activity rows loading only what identity needs."""
    return (select(ActivityRow).where(ActivityRow.athlete_id == athlete_id)
            .options(_IDENTITY_LOAD))


def _rows_near(session: Session, athlete_id: int, times: list[datetime]) -> list[ActivityRow]:
    """Rows starting within the match window of any of ``times``.

    Nearby times share one range query; rows the range holds beyond the windows are dropped,
    so that a dense backfill costs few queries without widening the neighbourhood.
    """
    window = timedelta(seconds=MATCH_WINDOW_S)
    ordered = sorted(times)
    rows: list[ActivityRow] = []
    for low, high in _spans(ordered, window):
        query = _identity_query(athlete_id).where(ActivityRow.start_utc.between(low, high))
        rows.extend(row for row in session.scalars(query)
                    if _within(row.start_utc, ordered, window))
    return rows


def _within(moment: datetime, ordered: list[datetime], window: timedelta) -> bool:
    """True when ``moment`` is within ``window`` of one of the sorted ``ordered`` times."""
    index = bisect.bisect_left(ordered, moment - window)
    return index < len(ordered) and ordered[index] <= moment + window


def _spans(ordered: list[datetime], window: timedelta) -> list[tuple[datetime, datetime]]:
    """Sorted times widened by ``window`` and merged where they are close together."""
    spans: list[tuple[datetime, datetime]] = []
    for moment in ordered:
        low, high = moment - window, moment + window
        if spans and low - spans[-1][1] <= _SPAN_MERGE_GAP:
            spans[-1] = (spans[-1][0], max(spans[-1][1], high))
        else:
            spans.append((low, high))
    return spans


def _rows_linked(session: Session, athlete_id: int, rows: list[ActivityRow]) -> list[ActivityRow]:
    """Rows in the same group as ``rows``, and rows tied to them by a Garmin upload id."""
    found: list[ActivityRow] = []
    for chunk in chunks(rows):
        conditions = _link_conditions(chunk)
        if conditions:
            found.extend(session.scalars(_identity_query(athlete_id).where(or_(*conditions))))
    return found


def _link_conditions(rows: Sequence[ActivityRow]) -> list[ColumnElement[bool]]:
    """Conditions matching the group members and Garmin upload partners of ``rows``."""
    canonical_ids = [row.canonical_id for row in rows if row.canonical_id is not None]
    pushed = [GARMIN_PUSH_PREFIX + row.source_id for row in rows if row.source == "garmin"]
    origins = [row.external_id.removeprefix(GARMIN_PUSH_PREFIX) for row in rows
               if row.source == "strava" and row.external_id
               and row.external_id.startswith(GARMIN_PUSH_PREFIX)]
    conditions: list[ColumnElement[bool]] = [ActivityRow.canonical_id.in_([r.id for r in rows])]
    if canonical_ids:
        conditions.append(ActivityRow.id.in_(canonical_ids))
    if pushed:
        conditions.append(ActivityRow.external_id.in_(pushed))
    if origins:
        conditions.append(and_(ActivityRow.source == "garmin",
                               ActivityRow.source_id.in_(origins)))
    return conditions


def regroup(rows: list[ActivityRow], canonical_order: Sequence[str], now: datetime) -> int:
    """Point every row at its group's canonical row; return how many became duplicates."""
    records = [
        IdentityRecord(row.id, row.source, row.source_id, row.sport, row.start_utc,
                       row.moving_s if row.moving_s is not None else row.elapsed_s,
                       row.external_id)
        for row in rows if not row.deleted
    ]
    canonical_of = assign_canonicals(records, canonical_order)
    linked = 0
    for row in rows:
        target = canonical_of.get(row.id)
        if row.canonical_id != target:
            row.canonical_id = target
            row.updated_at = now
            linked += target is not None
    return linked
