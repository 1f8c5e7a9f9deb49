"""What the corrected weekly summaries read: the summaries already written for an athlete, and
when the activities of a week last changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.store.tables import ActivityRow, AlertEventRow


@dataclass(frozen=True, slots=True)
class SentSummary:
    """One weekly summary in the outbox (queued or sent)."""

    id: str
    data: dict[str, Any]
    created_at: datetime

    @property
    def week_start(self) -> str:
        """The first day of its week (ISO), as its data says."""
        return str(self.data.get("week_start") or "")


def summaries_since(session: Session, athlete_id: int, event_type: str,
                    since: datetime) -> list[SentSummary]:
    """The athlete's summaries (events of ``event_type``) written from ``since`` on, oldest
    first."""
    query = (select(AlertEventRow.id, AlertEventRow.payload, AlertEventRow.created_at)
             .where(AlertEventRow.athlete_id == athlete_id, AlertEventRow.type == event_type,
                    AlertEventRow.created_at >= since)
             .order_by(AlertEventRow.created_at, AlertEventRow.id))
    return [SentSummary(event_id, dict((payload or {}).get("data") or {}), created_at)
            for event_id, payload, created_at in session.execute(query)]


def week_changed_at(session: Session, athlete_id: int, first_day: date,
                    days: int = 7) -> datetime | None:
    """When an activity of the athlete's local days ``first_day`` + ``days`` was last stored,
    edited, merged or deleted (``None``: the days have none)."""
    start = datetime.combine(first_day, time())
    query = select(func.max(ActivityRow.updated_at)).where(
        ActivityRow.athlete_id == athlete_id, ActivityRow.local_start >= start,
        ActivityRow.local_start < start + timedelta(days=days))
    return session.execute(query).scalar()
