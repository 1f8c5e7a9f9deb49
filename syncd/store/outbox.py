"""Queries over the outbox tables (events, deliveries, attempts) that the dispatcher needs.

A delivery is claimed by pushing its ``next_attempt_at`` forward by a lease, in a short
transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that several dispatchers take
different rows; SQLite has one writer at a time). The attempt happens outside any transaction;
its result is written in a second one. A dispatcher that dies in between leaves the delivery
pending: once the lease runs out it is sent again, with the same event id.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syncd.alerts.channel import EVENT_NOTICE, GONE_NOTICE_PREFIX, OutboxEvent, own_mail
from syncd.store.tables import AlertDeliveryRow, AlertEventRow, AthleteRow, DeliveryAttemptRow

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"  # the schedule ran out; kept, visible, never retried
SKIPPED = "skipped"  # filtered out for this channel (severity, rules, event type)
DISABLED = "disabled"  # the endpoint answered 410 Gone, or had done so before
STATUSES = (PENDING, DELIVERED, FAILED, SKIPPED, DISABLED)
# /healthz reports deliveries that failed this recently (they stay listed for good).
FAILED_RECENTLY = timedelta(days=7)
# A pending delivery no attempt reached for this long (beyond a digest's wait) is stalled.
STALL_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery reserved for one attempt: the event and the lease that marks it ours."""

    delivery_id: int
    attempts: int
    lease_until: datetime
    event: OutboxEvent


def _insert(session: Session, table: Any) -> Any:
    """An ``INSERT ... ON CONFLICT DO NOTHING`` for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def ensure_deliveries(session: Session, channels: Sequence[str], now: datetime,
                      audience: Mapping[str, Collection[str]] | None = None) -> int:
    """Give every event a delivery row on every channel in ``channels``; rows that already
    exist are left alone. An event written before a channel was configured gets it too (the
    dispatcher then sends it, or marks it skipped when the channel's filter refuses it).

    ``audience`` (channel -> athlete names) keeps a channel to the events of the athletes
    routed to it and the events about no athlete: one patient's alert must never reach
    another patient's mailbox, nor a webhook the patient is not routed to. An athlete's own
    mail never gets operator notices. Returns how many rows were added."""
    added = 0
    for channel in channels:
        missing = select(AlertEventRow.id).where(~exists().where(
            AlertDeliveryRow.event_id == AlertEventRow.id, AlertDeliveryRow.channel == channel))
        if audience is not None:
            routed = select(AthleteRow.id).where(AthleteRow.name.in_(
                list(audience.get(channel, ()))))
            missing = missing.where(or_(AlertEventRow.athlete_id.is_(None),
                                        AlertEventRow.athlete_id.in_(routed)))
        if own_mail(channel):  # operator notices are for the operator, never a patient
            missing = missing.where(AlertEventRow.type != EVENT_NOTICE)
        event_ids = list(session.scalars(missing))
        if not event_ids:
            continue
        rows = [{"event_id": event_id, "channel": channel, "status": PENDING, "attempts": 0,
                 "next_attempt_at": now, "created_at": now} for event_id in event_ids]
        # Two dispatchers may add the same row at once: the second insert does nothing.
        statement = _insert(session, AlertDeliveryRow).on_conflict_do_nothing(
            index_elements=["event_id", "channel"])
        session.execute(statement, rows)
        added += len(rows)
    return added


def add_event(session: Session, event_id: str, event_type: str, payload: dict[str, Any],
              now: datetime, channels: Sequence[str], athlete_id: int | None = None) -> bool:
    """Write an outbox event with a fixed id (and a pending delivery per channel) unless it
    exists already; returns whether it was written. Used for messages that must go out once
    whatever runs them, like the weekly summary."""
    statement = _insert(session, AlertEventRow).values(
        id=event_id, alert_id=None, athlete_id=athlete_id, type=event_type, notice_kind=None,
        payload=payload, created_at=now).on_conflict_do_nothing(index_elements=["id"])
    if not getattr(session.execute(statement), "rowcount", 0):
        return False
    ensure_deliveries_for(session, event_id, channels, now)
    return True


def ensure_deliveries_for(session: Session, event_id: str, channels: Sequence[str],
                          now: datetime) -> None:
    """A pending delivery of ``event_id`` on each channel that has none yet."""
    if not channels:
        return
    statement = _insert(session, AlertDeliveryRow).on_conflict_do_nothing(
        index_elements=["event_id", "channel"])
    session.execute(statement, [
        {"event_id": event_id, "channel": channel, "status": PENDING, "attempts": 0,
         "next_attempt_at": now, "created_at": now} for channel in dict.fromkeys(channels)])


def event_exists(session: Session, event_id: str) -> bool:
    """True when the outbox holds an event with this id."""
    return session.get(AlertEventRow, event_id) is not None


def oldest_due(session: Session, channel: str, now: datetime) -> datetime | None:
    """When the oldest delivery due on ``channel`` was created (``None``: nothing due)."""
    query = select(func.min(AlertDeliveryRow.created_at)).where(
        AlertDeliveryRow.channel == channel, AlertDeliveryRow.status == PENDING,
        AlertDeliveryRow.next_attempt_at <= now)
    return session.execute(query).scalar()


def claim_due(session: Session, channel: str, now: datetime, limit: int,
              lease_until: datetime) -> list[Claim]:
    """Reserve up to ``limit`` deliveries due on ``channel`` at ``now`` (oldest first) until
    ``lease_until``, and return them with their events."""
    due = (select(AlertDeliveryRow.id)
           .where(AlertDeliveryRow.status == PENDING, AlertDeliveryRow.channel == channel,
                  AlertDeliveryRow.next_attempt_at <= now)
           .order_by(AlertDeliveryRow.next_attempt_at, AlertDeliveryRow.id)
           .limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(update(AlertDeliveryRow).where(AlertDeliveryRow.id.in_(ids))
                    .values(next_attempt_at=lease_until)
                    .execution_options(synchronize_session=False))
    event = AlertEventRow
    rows = session.execute(
        select(AlertDeliveryRow.id, AlertDeliveryRow.attempts, event.id, event.type,
               event.payload, event.created_at, event.alert_id, event.notice_kind)
        .join(event, event.id == AlertDeliveryRow.event_id)
        .where(AlertDeliveryRow.id.in_(ids))
        .order_by(AlertDeliveryRow.id))
    return [Claim(delivery_id, attempts, lease_until, OutboxEvent(*columns))
            for delivery_id, attempts, *columns in rows]


def gone_endpoints(session: Session) -> set[str]:
    """Fingerprints of the webhook endpoints that answered 410 Gone."""
    query = select(AlertEventRow.notice_kind).where(
        AlertEventRow.type == EVENT_NOTICE,
        AlertEventRow.notice_kind.startswith(GONE_NOTICE_PREFIX))
    return {kind.removeprefix(GONE_NOTICE_PREFIX) for kind in session.scalars(query) if kind}


def disable_pending(session: Session, channel: str, now: datetime) -> int:
    """Mark every pending delivery on ``channel`` disabled (its endpoint is gone)."""
    result = session.execute(
        update(AlertDeliveryRow)
        .where(AlertDeliveryRow.channel == channel, AlertDeliveryRow.status == PENDING)
        .values(status=DISABLED, next_attempt_at=None, last_error="endpoint gone (410)")
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """One delivery as ``syncd deliveries`` and the API show it."""

    event_id: str
    event_type: str
    alert_id: str | None
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (timestamps in ISO 8601)."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def list_deliveries(session: Session, *, statuses: Sequence[str] | None = None,
                    alert_ids: Sequence[str] | None = None, limit: int = 500) -> list[DeliveryView]:
    """Deliveries, newest event first, filtered by status and alert when given."""
    query = (select(AlertDeliveryRow, AlertEventRow.type, AlertEventRow.alert_id)
             .join(AlertEventRow, AlertEventRow.id == AlertDeliveryRow.event_id)
             .order_by(AlertEventRow.created_at.desc(), AlertDeliveryRow.id.desc())
             .limit(limit))
    if statuses:
        query = query.where(AlertDeliveryRow.status.in_(list(statuses)))
    if alert_ids is not None:
        query = query.where(AlertEventRow.alert_id.in_(list(alert_ids)))
    return [DeliveryView(row.event_id, event_type, alert_id, row.channel, row.status,
                         row.attempts, row.next_attempt_at, row.last_attempt_at,
                         row.last_status_code, row.last_error, row.delivered_at)
            for row, event_type, alert_id in session.execute(query)]


def status_counts(session: Session) -> dict[tuple[str, str], int]:
    """How many deliveries each (channel, status) pair holds."""
    query = (select(AlertDeliveryRow.channel, AlertDeliveryRow.status, func.count())
             .group_by(AlertDeliveryRow.channel, AlertDeliveryRow.status))
    return {(channel, status): count for channel, status, count in session.execute(query)}


def attempts_of(session: Session, event_id: str, channel: str) -> list[DeliveryAttemptRow]:
    """The attempts made for one event on one channel, oldest first."""
    query = (select(DeliveryAttemptRow)
             .join(AlertDeliveryRow, AlertDeliveryRow.id == DeliveryAttemptRow.delivery_id)
             .where(AlertDeliveryRow.event_id == event_id, AlertDeliveryRow.channel == channel)
             .order_by(DeliveryAttemptRow.at, DeliveryAttemptRow.id))
    return list(session.scalars(query))


def delivery_health(session: Session, now: datetime, stall_after: timedelta,
                    failed_within: timedelta = FAILED_RECENTLY) -> tuple[int, int]:
    """``(failed, stalled)``: deliveries that failed for good within ``failed_within``, and
    pending ones that no attempt reached for ``stall_after`` (never tried since they were
    written, or overdue): what ``/healthz`` reports."""
    failed = select(func.count()).select_from(AlertDeliveryRow).where(
        AlertDeliveryRow.status == FAILED, AlertDeliveryRow.last_attempt_at >= now - failed_within)
    since = now - stall_after
    stalled = select(func.count()).select_from(AlertDeliveryRow).where(
        AlertDeliveryRow.status == PENDING,
        or_(AlertDeliveryRow.next_attempt_at < since,
            (AlertDeliveryRow.attempts == 0) & (AlertDeliveryRow.created_at < since)))
    return session.execute(failed).scalar_one(), session.execute(stalled).scalar_one()


def next_due(session: Session) -> datetime | None:
    """When the earliest pending delivery is due (``None``: nothing pending)."""
    query = select(func.min(AlertDeliveryRow.next_attempt_at)).where(
        AlertDeliveryRow.status == PENDING)
    return session.execute(query).scalar()
