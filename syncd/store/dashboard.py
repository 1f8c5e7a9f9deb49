"""Read-only queries the dashboard and ``/metrics`` need beyond what :class:`syncd.app.App`
offers: recent sessions with their run/walk split, and counts by source, rule and channel.

Nothing here returns a position, a device or an e-mail address: only times, durations,
distances and counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session as DbSession

from syncd.store.tables import (
    ActivityRow,
    AlertDeliveryRow,
    AlertEventRow,
    AlertRow,
    SegmentRow,
    SyncStateRow,
)


@dataclass(frozen=True, slots=True)
class SessionSplit:
    """One running session as the dashboard lists it."""

    key: str
    local_start: datetime
    duration_s: float
    run_s: float
    walk_s: float
    run_bouts: int
    distance_m: float | None
    # The source's title of the activity (Strava's name, a file's; ``None`` once purged).
    name: str | None = None


def recent_sessions(tx: DbSession, athlete_id: int, limit: int = 10) -> list[SessionSplit]:
    """The athlete's last ``limit`` sessions (canonical, not deleted runs), newest first.

    A session without a recorded split counts as all running, as the rules read it.
    """
    bouts = (select(func.count(SegmentRow.id))
             .where(SegmentRow.activity_id == ActivityRow.id, SegmentRow.kind == "run")
             .correlate(ActivityRow).scalar_subquery())
    query = (select(ActivityRow.source, ActivityRow.source_id, ActivityRow.local_start,
                    ActivityRow.moving_s, ActivityRow.elapsed_s, ActivityRow.run_s,
                    ActivityRow.walk_s, ActivityRow.distance_m, ActivityRow.name,
                    bouts.label("bouts"))
             .where(ActivityRow.athlete_id == athlete_id, ActivityRow.canonical_id.is_(None),
                    ActivityRow.deleted.is_(False), ActivityRow.sport == "run")
             .order_by(ActivityRow.local_start.desc()).limit(limit))
    out = []
    for row in tx.execute(query):
        duration = row.moving_s if row.moving_s is not None else row.elapsed_s
        run_s = row.run_s if row.run_s is not None else duration
        walk_s = row.walk_s if row.walk_s is not None else max(duration - run_s, 0.0)
        out.append(SessionSplit(f"{row.source}:{row.source_id}", row.local_start, duration,
                                run_s, walk_s, int(row.bouts or (1 if run_s else 0)),
                                row.distance_m, row.name))
    return out


def activity_counts(tx: DbSession, athlete_id: int | None) -> dict[tuple[str, str], int]:
    """Stored activities (not deleted) by (source, sport family); every athlete's when
    ``athlete_id`` is None (a clinic)."""
    query = (select(ActivityRow.source, ActivityRow.sport, func.count())
             .where(_of(ActivityRow.athlete_id, athlete_id), ActivityRow.deleted.is_(False))
             .group_by(ActivityRow.source, ActivityRow.sport))
    return {(source, sport): count for source, sport, count in tx.execute(query)}


def alert_counts(tx: DbSession, athlete_id: int | None) -> dict[tuple[str, str, str], int]:
    """Alerts by (rule, severity, status); every athlete's when ``athlete_id`` is None."""
    query = (select(AlertRow.rule, AlertRow.severity, AlertRow.status, func.count())
             .where(_of(AlertRow.athlete_id, athlete_id))
             .group_by(AlertRow.rule, AlertRow.severity, AlertRow.status))
    return {(rule, severity, status): count
            for rule, severity, status, count in tx.execute(query)}


def delivery_counts(tx: DbSession, athlete_id: int | None
                    ) -> dict[tuple[str, str], tuple[int, int]]:
    """Deliveries by (channel, status): how many, and how many attempts they took; every
    athlete's when ``athlete_id`` is None."""
    query = (select(AlertDeliveryRow.channel, AlertDeliveryRow.status, func.count(),
                    func.coalesce(func.sum(AlertDeliveryRow.attempts), 0))
             .join(AlertEventRow, AlertEventRow.id == AlertDeliveryRow.event_id)
             .where(_of(AlertEventRow.athlete_id, athlete_id)
                    | AlertEventRow.athlete_id.is_(None))
             .group_by(AlertDeliveryRow.channel, AlertDeliveryRow.status))
    return {(channel, status): (count, int(attempts))
            for channel, status, count, attempts in tx.execute(query)}


def _of(column: Any, athlete_id: int | None) -> Any:
    """``column == athlete_id``, or no condition at all for None (every athlete)."""
    return column == athlete_id if athlete_id is not None else true()


def failing_athletes(tx: DbSession) -> dict[str, int]:
    """Per source, how many athletes' passes are failing now (a clinic's metric)."""
    query = (select(SyncStateRow.source, func.count())
             .where(SyncStateRow.error_count > 0).group_by(SyncStateRow.source))
    return {source: count for source, count in tx.execute(query)}


def source_states(tx: DbSession, athlete_id: int) -> dict[str, dict[str, Any]]:
    """Per source: last success and error times, consecutive errors and the stored details
    (where a connector keeps figures such as the API quota left)."""
    rows = tx.scalars(select(SyncStateRow).where(SyncStateRow.athlete_id == athlete_id))
    return {row.source: {"last_success_at": row.last_success_at,
                         "last_error_at": row.last_error_at, "error_count": row.error_count,
                         "details": dict(row.details or {})} for row in rows}
