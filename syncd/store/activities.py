"""Storing activities: idempotent upsert, soft deletes, and cross-source identity upkeep.

Each call re-derives the canonical record of every session that the new records could touch
(:mod:`syncd.store.identity`), so the result never depends on the order records arrived in.
``UpsertResult.affected_dates`` names the local days whose sessions changed, which is what
the evaluator re-checks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from syncd.errors import InvalidResponse
from syncd.models import Activity, Segment, SegmentKind, SportFamily
from syncd.store.activity_neighbours import chunks, neighbourhood, regroup
from syncd.store.engine import lock_athlete
from syncd.store.identity import (
    DEFAULT_CANONICAL_ORDER,
)
from syncd.store.tables import ActivityRow, SegmentRow
from syncd.text import ID_MAX, NAME_MAX, SPORT_MAX, bound_depth, clean_line, clean_optional

# Fields whose change alters the session the rules see (a new name or raw record does not).
_SESSION_FIELDS = frozenset({
    "sport", "start_utc", "local_start", "elapsed_s", "moving_s", "distance_m", "run_s",
    "walk_s", "gear_id", "deleted",
})
Outcome = Literal["updated", "deleted", "unchanged"]


@dataclass(slots=True)
class UpsertResult:
    """What an upsert did: record counts, and the local dates whose sessions changed.

    ``linked`` counts rows that became the duplicate of another source's record.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    linked: int = 0
    affected_dates: set[date] = field(default_factory=set)


class _Snapshot(NamedTuple):
    """A row's standing before the upsert: did it count (canonical, not deleted: a run is a
    session, anything else is data), on which local day."""

    is_session: bool
    local_date: date
    start_utc: datetime


def upsert_activities(
    session: Session,
    athlete_id: int,
    activities: Iterable[Activity],
    canonical_order: Sequence[str] = DEFAULT_CANONICAL_ORDER,
    *,
    now: datetime | None = None,
) -> UpsertResult:
    """Insert new activities, update edited ones in place, mark deleted ones, and relink
    duplicates across sources.

    Re-sending an identical record changes nothing (no ``updated_at`` bump, no affected
    date). A deleted record marks its row deleted (rows are never removed); a deleted record
    never seen before is ignored and counted as unchanged. When a batch holds the same record
    twice, the last one wins. Writers of one athlete take turns (:func:`lock_athlete`).
    Raises :class:`InvalidResponse` for a naive ``start_utc``.
    """
    now = now or datetime.now(UTC)
    latest = {(a.source, a.source_id): a for a in activities}
    if not latest:
        return UpsertResult()
    lock_athlete(session, athlete_id)
    existing = _rows_by_key(session, athlete_id, list(latest))
    stored_segments = _segments_of(session, [row.id for row in existing.values()])
    result = UpsertResult()
    changes = _Changes()
    for key, activity in latest.items():
        row = existing.get(key)
        if row is None:
            _insert(session, athlete_id, activity, now, result, changes)
            continue
        changes.remember(row)
        outcome, relevant = _apply(row, activity, now, stored_segments.get(row.id, ()), changes)
        _count(result, outcome)
        if outcome != "unchanged":
            changes.touch(row, relevant)
    if not changes.touched:
        return result
    session.flush()
    _write_segments(session, changes.segments)
    rows = neighbourhood(session, athlete_id, changes.seeds())
    for row in rows:
        changes.remember(row)
    result.linked = regroup(rows, canonical_order, now)
    session.flush()
    result.affected_dates = changes.affected_dates()
    return result


def _insert(
    session: Session, athlete_id: int, activity: Activity, now: datetime,
    result: UpsertResult, changes: _Changes,
) -> None:
    """Add a row for a record never seen before (a deletion of an unknown record is skipped)."""
    if activity.deleted:
        result.unchanged += 1
        return
    row = ActivityRow(athlete_id=athlete_id, source=activity.source,
                      source_id=activity.source_id, created_at=now, updated_at=now,
                      canonical_id=None, **_columns(activity))
    session.add(row)
    result.inserted += 1
    changes.add_new(row)
    if activity.segments:
        changes.segments[row] = activity.segments


def _count(result: UpsertResult, outcome: Outcome) -> None:
    """Tally one record's outcome."""
    if outcome == "updated":
        result.updated += 1
    elif outcome == "deleted":
        result.deleted += 1
    else:
        result.unchanged += 1


def _apply(
    row: ActivityRow, activity: Activity, now: datetime,
    stored_segments: tuple[tuple[Any, ...], ...], changes: _Changes,
) -> tuple[Outcome, bool]:
    """Bring ``row`` in line with ``activity`` (segments are queued in ``changes``); say what
    happened and whether the session the rules see may have changed."""
    if activity.deleted:
        if row.deleted:
            return "unchanged", False
        row.deleted = True
        row.updated_at = now
        return "deleted", True
    changed = {k: v for k, v in _columns(activity).items() if getattr(row, k) != v}
    segments_changed = _segment_tuples(activity.segments) != stored_segments
    if not changed and not segments_changed:
        return "unchanged", False
    for name, value in changed.items():
        setattr(row, name, value)
    if segments_changed:
        changes.segments[row] = activity.segments
    row.updated_at = now
    return "updated", segments_changed or bool(_SESSION_FIELDS & changed.keys())


def _columns(activity: Activity) -> dict[str, Any]:
    """The row's column values for ``activity`` (everything but identity and bookkeeping)."""
    if activity.start_utc.tzinfo is None:
        raise InvalidResponse(
            f"activity {activity.key} has a start time without a time zone; the "
            f"{activity.source} connector must give start_utc in UTC"
        )
    return {
        "sport": activity.sport,
        # Text from the source is cleaned here, once, whichever source or command sent it.
        "sport_type": clean_line(activity.sport_type, SPORT_MAX),
        "start_utc": activity.start_utc.astimezone(UTC),
        "local_start": activity.local_start.replace(tzinfo=None),
        "timezone": clean_optional(activity.timezone, SPORT_MAX),
        "elapsed_s": float(activity.elapsed_s),
        "moving_s": _float(activity.moving_s),
        "distance_m": _float(activity.distance_m),
        "run_s": _float(activity.run_s),
        "walk_s": _float(activity.walk_s),
        "gear_id": clean_optional(activity.gear_id, ID_MAX),
        "name": clean_optional(activity.name, NAME_MAX),
        "manual": bool(activity.manual),
        "deleted": False,
        "external_id": clean_optional(activity.external_id, ID_MAX),
        "extra": _as_json(activity.extra) or {},
        "raw": _as_json(activity.raw),
    }


def _float(value: float | None) -> float | None:
    """``value`` as a float; ``None`` for unknown, including NaN (a device's "no value")."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _as_json(value: Any) -> Any:
    """``value`` as it will read back from a JSON column (so that comparisons are fair).

    NaN and infinities become null: PostgreSQL refuses them in JSON, and NaN never equals
    itself, which would make every re-sent record look edited. Nesting deeper than any real
    record is cut (:func:`syncd.text.bound_depth`).
    """
    if value is None:
        return None
    return json.loads(json.dumps(bound_depth(value), default=str),
                      parse_constant=lambda _: None)


def _segment_tuples(segments: Iterable[Segment]) -> tuple[tuple[Any, ...], ...]:
    """Segments in a comparable form."""
    return tuple((s.kind, float(s.offset_s), float(s.duration_s), _float(s.distance_m))
                 for s in segments)


def _segments_of(session: Session, ids: list[int]) -> dict[int, tuple[tuple[Any, ...], ...]]:
    """The stored segments of activities ``ids``, in the form of :func:`_segment_tuples`."""
    found: dict[int, list[tuple[Any, ...]]] = {}
    for chunk in chunks(ids):
        query = (select(SegmentRow.activity_id, SegmentRow.kind, SegmentRow.offset_s,
                        SegmentRow.duration_s, SegmentRow.distance_m)
                 .where(SegmentRow.activity_id.in_(chunk))
                 .order_by(SegmentRow.activity_id, SegmentRow.seq))
        for activity_id, *segment in session.execute(query):
            found.setdefault(activity_id, []).append(tuple(segment))
    return {activity_id: tuple(segments) for activity_id, segments in found.items()}


def _write_segments(session: Session, pending: dict[ActivityRow, tuple[Segment, ...]]) -> None:
    """Replace the segments of the flushed rows in ``pending``, in bulk statements.

    Plain statements rather than ORM objects: a backfill writes tens of thousands of them.
    """
    if not pending:
        return
    for chunk in chunks([row.id for row in pending]):
        session.execute(delete(SegmentRow).where(SegmentRow.activity_id.in_(chunk)))
    values = [
        {"activity_id": row.id, "seq": seq, "kind": s.kind, "offset_s": float(s.offset_s),
         "duration_s": float(s.duration_s), "distance_m": _float(s.distance_m)}
        for row, segments in pending.items() for seq, s in enumerate(segments)
    ]
    if values:
        session.execute(insert(SegmentRow), values)
    for row in pending:
        session.expire(row, ["segments"])


def _snapshot(row: ActivityRow) -> _Snapshot:
    """Whether ``row`` currently counts, and when. Any sport counts, not only runs: a walk is
    a session of a walking week, and any activity ends a silence (``no_data``)."""
    counts = row.canonical_id is None and not row.deleted
    return _Snapshot(counts, row.local_start.date(), row.start_utc)


class _Changes:
    """Rows' standing before the upsert, to work out which dates changed afterwards."""

    def __init__(self) -> None:
        self.before: dict[ActivityRow, _Snapshot | None] = {}
        self.relevant: set[ActivityRow] = set()
        self.touched: list[ActivityRow] = []
        self.segments: dict[ActivityRow, tuple[Segment, ...]] = {}

    def remember(self, row: ActivityRow) -> None:
        """Record ``row``'s standing, unless already recorded."""
        if row not in self.before:
            self.before[row] = _snapshot(row)

    def add_new(self, row: ActivityRow) -> None:
        """Record an inserted row (it was no session before)."""
        self.before[row] = None
        self.touch(row, relevant=True)

    def touch(self, row: ActivityRow, relevant: bool) -> None:
        """Record that the upsert changed ``row`` (``relevant``: its session may differ)."""
        self.touched.append(row)
        if relevant:
            self.relevant.add(row)

    def seeds(self) -> tuple[list[ActivityRow], list[datetime]]:
        """The changed rows, and every start time they had (old and new)."""
        times = [row.start_utc for row in self.touched]
        times += [snap.start_utc for row in self.touched if (snap := self.before[row])]
        return self.touched, times

    def affected_dates(self) -> set[date]:
        """Local dates where a counted activity (a session, a walk, cross-training) appeared,
        vanished, moved or changed."""
        dates: set[date] = set()
        for row, before in self.before.items():
            after = _snapshot(row)
            if row in self.relevant:
                dates.update(s.local_date for s in (before, after) if s and s.is_session)
            elif before is not None and before.is_session != after.is_session:
                dates.add(after.local_date)
        return dates


def _rows_by_key(
    session: Session, athlete_id: int, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], ActivityRow]:
    """Stored rows for (source, source_id) keys, in few queries."""
    by_source: dict[str, list[str]] = {}
    for source, source_id in keys:
        by_source.setdefault(source, []).append(source_id)
    found: dict[tuple[str, str], ActivityRow] = {}
    for source, source_ids in by_source.items():
        for chunk in chunks(source_ids):
            query = (select(ActivityRow)
                     .where(ActivityRow.athlete_id == athlete_id, ActivityRow.source == source,
                            ActivityRow.source_id.in_(chunk)))
            for row in session.scalars(query):
                found[(row.source, row.source_id)] = row
    return found


def activity_from_row(row: ActivityRow) -> Activity:
    """The stored row as a normalized :class:`Activity` (segments and athlete name loaded
    from the session when not already)."""
    sport: SportFamily = row.sport  # type: ignore[assignment]
    return Activity(
        source=row.source, source_id=row.source_id, sport=sport, sport_type=row.sport_type,
        start_utc=row.start_utc, local_start=row.local_start, elapsed_s=row.elapsed_s,
        timezone=row.timezone, moving_s=row.moving_s, distance_m=row.distance_m,
        run_s=row.run_s, walk_s=row.walk_s, segments=tuple(_segment(s) for s in row.segments),
        gear_id=row.gear_id, name=row.name, manual=row.manual, deleted=row.deleted,
        external_id=row.external_id, athlete=row.athlete.name, extra=dict(row.extra or {}),
        raw=row.raw,
    )


def _segment(row: SegmentRow) -> Segment:
    """A stored segment as the domain type."""
    kind: SegmentKind = row.kind  # type: ignore[assignment]
    return Segment(kind, row.offset_s, row.duration_s, row.distance_m)


def find_activity(
    session: Session, athlete_id: int, source: str, source_id: str
) -> tuple[Activity, str | None] | None:
    """The stored activity ``source:source_id`` and the key of its canonical record
    (``None`` when it is canonical itself), or ``None`` when never stored."""
    row = session.scalars(select(ActivityRow).where(
        ActivityRow.athlete_id == athlete_id, ActivityRow.source == source,
        ActivityRow.source_id == source_id)).one_or_none()
    if row is None:
        return None
    canonical = session.get(ActivityRow, row.canonical_id) if row.canonical_id else None
    return activity_from_row(row), canonical.key if canonical else None
