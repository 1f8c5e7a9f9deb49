"""Per-source sync state (cursor, last success, failing streak, backoff).

The scheduler logs once when a source starts failing and once when it recovers:
:func:`record_sync_error` returns the streak length (1 = just started failing) and
:func:`record_sync_success` says whether it ended a streak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from syncd.models import utc_iso
from syncd.store.tables import SyncStateRow
from syncd.text import clean_line

# Long enough for any real error message, short enough that a runaway one stays harmless.
_MAX_ERROR_CHARS = 2000



@dataclass(frozen=True, slots=True)
class SyncStatus:
    """How polling one source has gone for one athlete."""

    athlete_id: int
    source: str
    cursor: str | None = None
    last_success_at: datetime | None = None
    first_error_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    error_count: int = 0
    backoff_until: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def failing(self) -> bool:
        """True while the latest poll failed."""
        return self.error_count > 0

    def as_dict(self) -> dict[str, Any]:
        """The state as shown by ``syncd status --json`` and ``GET /status`` (no cursor:
        it is the source's opaque business)."""
        def when(moment: datetime | None) -> str | None:
            return utc_iso(moment) if moment is not None else None

        return {
            "last_success_at": when(self.last_success_at),
            "first_error_at": when(self.first_error_at),
            "last_error_at": when(self.last_error_at),
            "last_error": self.last_error,
            "error_count": self.error_count,
            "backoff_until": when(self.backoff_until),
            "details": dict(self.details),
        }


def _row(session: Session, athlete_id: int, source: str, now: datetime) -> SyncStateRow:
    """The state row for (athlete, source), created empty when missing."""
    row = session.scalars(select(SyncStateRow).where(
        SyncStateRow.athlete_id == athlete_id, SyncStateRow.source == source)).one_or_none()
    if row is None:
        row = SyncStateRow(athlete_id=athlete_id, source=source, error_count=0, details={},
                           updated_at=now)
        session.add(row)
    return row


def _status(row: SyncStateRow) -> SyncStatus:
    """A state row as a :class:`SyncStatus`."""
    return SyncStatus(
        athlete_id=row.athlete_id, source=row.source, cursor=row.cursor,
        last_success_at=row.last_success_at, first_error_at=row.first_error_at,
        last_error_at=row.last_error_at, last_error=row.last_error,
        error_count=row.error_count, backoff_until=row.backoff_until,
        details=dict(row.details or {}),
    )


def get_sync_state(session: Session, athlete_id: int, source: str) -> SyncStatus:
    """The state of ``source`` for the athlete (an empty one before its first poll)."""
    row = session.scalars(select(SyncStateRow).where(
        SyncStateRow.athlete_id == athlete_id, SyncStateRow.source == source)).one_or_none()
    return _status(row) if row else SyncStatus(athlete_id=athlete_id, source=source)


def list_sync_states(session: Session, athlete_id: int | None = None) -> list[SyncStatus]:
    """Every source's state (for one athlete, or all), by athlete and source."""
    query = select(SyncStateRow).order_by(SyncStateRow.athlete_id, SyncStateRow.source)
    if athlete_id is not None:
        query = query.where(SyncStateRow.athlete_id == athlete_id)
    return [_status(row) for row in session.scalars(query)]


def sync_states(session: Session, athlete_id: int | None = None) -> dict[str, dict[str, Any]]:
    """Every source's state as JSON-ready dicts keyed by source name (one athlete's, or
    all athletes' when ``athlete_id`` is None and names do not collide)."""
    return {state.source: state.as_dict() for state in list_sync_states(session, athlete_id)}


def get_cursor(session: Session, athlete_id: int, source: str) -> str | None:
    """The cursor to pass to the source's next fetch (``None``: start from scratch)."""
    return get_sync_state(session, athlete_id, source).cursor


def set_cursor(
    session: Session, athlete_id: int, source: str, cursor: str | None,
    *, now: datetime | None = None,
) -> None:
    """Store the source's new cursor."""
    now = now or datetime.now(UTC)
    row = _row(session, athlete_id, source, now)
    row.cursor = cursor
    row.updated_at = now
    session.flush()


def record_sync_success(
    session: Session, athlete_id: int, source: str, now: datetime,
    *, cursor: str | None = None, details: dict[str, Any] | None = None,
) -> bool:
    """Note a successful poll: the failing streak and any backoff end. A ``cursor`` replaces
    the stored one (``None`` keeps it, as in :class:`connectors.base.FetchResult`);
    ``details`` (quota left, backfill progress...) replace the stored ones when given.
    Returns True when the source was failing until now (time to log that it recovered)."""
    row = _row(session, athlete_id, source, now)
    was_failing = (row.error_count or 0) > 0
    if cursor is not None:
        row.cursor = cursor
    row.last_success_at = now
    row.error_count = 0
    row.first_error_at = None
    row.backoff_until = None
    if details is not None:
        row.details = dict(details)
    row.updated_at = now
    session.flush()
    return was_failing


def record_sync_error(
    session: Session, athlete_id: int, source: str, now: datetime, message: str,
    *, backoff_until: datetime | None = None,
) -> int:
    """Note a failed poll (``message`` must hold no secret) and when to try again at the
    earliest. Returns the length of the failing streak, 1 for the first failure."""
    row = _row(session, athlete_id, source, now)
    row.error_count = (row.error_count or 0) + 1
    if row.error_count == 1:
        row.first_error_at = now
    row.last_error_at = now
    row.last_error = clean_line(message, _MAX_ERROR_CHARS)  # often quotes the source's reply
    row.backoff_until = backoff_until
    row.updated_at = now
    session.flush()
    return row.error_count


def lift_backoff(session: Session, athlete_id: int, source: str) -> None:
    """Clear the back-off of ``source`` for ``athlete_id``, so that its next pass is due now
    (its state row, if any, is otherwise unchanged)."""
    session.execute(update(SyncStateRow).where(SyncStateRow.athlete_id == athlete_id,
                                               SyncStateRow.source == source)
                    .values(backoff_until=None))


def stored_cursors(session: Session, source: str) -> list[str]:
    """Every athlete's stored cursor of ``source`` (athletes without one are left out)."""
    query = select(SyncStateRow.cursor).where(SyncStateRow.source == source,
                                              SyncStateRow.cursor.is_not(None))
    return [cursor for cursor in session.scalars(query) if cursor is not None]


@dataclass(frozen=True, slots=True)
class PassFacts:
    """What scheduling a Strava pass reads from a sync state: the last success, the back-off,
    and three figures of its details (laps still to read, more to back-fill, since when)."""

    athlete_id: int
    last_success_at: datetime | None
    backoff_until: datetime | None
    laps_pending: int | None
    more: bool | None
    backfill_since: str | None


def strava_pass_facts(session: Session, source: str,
                      athlete_ids: list[int] | None) -> list[PassFacts]:
    """The :class:`PassFacts` of ``source`` for these athletes (all when ``None``), in one
    query."""
    # Neither the cursors (the largest column) nor the whole details: the three facts
    # needed are read inside the JSON.
    details = SyncStateRow.details
    query = select(SyncStateRow.athlete_id, SyncStateRow.last_success_at,
                   SyncStateRow.backoff_until, details["laps_pending"].as_integer(),
                   details["more"].as_boolean(), details[("backfill", "since")].as_string()
                   ).where(SyncStateRow.source == source)
    if athlete_ids is not None:
        query = query.where(SyncStateRow.athlete_id.in_(athlete_ids))
    return [PassFacts(*row) for row in session.execute(query)]
