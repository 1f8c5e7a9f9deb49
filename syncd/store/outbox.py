"""The outbox tables (events, deliveries, attempts): what the dispatcher reads and writes.

A delivery is claimed by pushing its ``next_attempt_at`` forward by a lease, in a short
transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so that several dispatchers take
different rows; SQLite has one writer at a time). The attempt happens outside any transaction;
its result is written in a second one. A dispatcher that dies in between leaves the delivery
pending: it is sent again, with the same event id, once the lease runs out, or at once when
the claim's holder (``claimed_by``) is known to be gone (:mod:`syncd.store.claim_holders`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, bindparam, case, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syncd.store.alerts import EVENT_NOTICE
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
# Notices have no severity of their own; a channel that only wants critical alerts skips them.
NOTICE_SEVERITY = "warning"


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One message to deliver, as stored in the outbox; ``id`` is the webhook-id."""

    id: str
    type: str
    payload: dict[str, Any]
    created_at: datetime
    alert_id: str | None = None
    notice_kind: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The payload's ``data`` object."""
        data = self.payload.get("data")
        return data if isinstance(data, dict) else {}

    @property
    def severity(self) -> str:
        """The alert's severity (``warning`` for notices and summaries)."""
        return str(self.data.get("severity") or NOTICE_SEVERITY)

    @property
    def rule(self) -> str | None:
        """The rule id of an alert event, else ``None``."""
        rule = self.data.get("rule")
        return str(rule) if rule else None


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
                      audience: Mapping[str, Collection[str]] | None = None, *,
                      own_mail: Callable[[str], bool]) -> int:
    """Give every event a delivery row on every channel in ``channels``; rows that already
    exist are left alone. An event written before a channel was configured gets it too (the
    dispatcher then sends it, or marks it skipped when the channel's filter refuses it).

    ``audience`` (channel -> athlete names) keeps a channel to the events of the athletes
    routed to it and the events about no athlete: one patient's alert must never reach
    another patient's mailbox, nor a webhook the patient is not routed to. An athlete's own
    mail (a channel for which ``own_mail`` is true) never gets operator notices. Returns how
    many rows were added."""
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
              lease_until: datetime, *, holder: str | None = None,
              stale: Collection[str] = ()) -> list[Claim]:
    """Reserve up to ``limit`` deliveries due on ``channel`` at ``now`` (oldest first) until
    ``lease_until`` in the name of ``holder``, and return them with their events. The claims
    of the holders in ``stale`` (processes that are gone: :mod:`syncd.store.claim_holders`)
    are due whatever their lease says."""
    ready = AlertDeliveryRow.next_attempt_at <= now
    order: list[Any] = [AlertDeliveryRow.next_attempt_at, AlertDeliveryRow.id]
    if stale:
        orphaned = AlertDeliveryRow.claimed_by.in_(sorted(stale))
        ready = or_(ready, orphaned)
        # They were first in line when their holder died: they stay first.
        order.insert(0, case((orphaned, 0), else_=1))
    due = (select(AlertDeliveryRow.id)
           .where(AlertDeliveryRow.status == PENDING, AlertDeliveryRow.channel == channel, ready)
           .order_by(*order)
           .limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(update(AlertDeliveryRow).where(AlertDeliveryRow.id.in_(ids))
                    .values(next_attempt_at=lease_until, claimed_by=holder)
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


def gone_endpoints(session: Session, prefix: str) -> set[str]:
    """What follows ``prefix`` in the kinds of the operator notices that start with it (the
    fingerprints of the webhook endpoints that answered 410 Gone)."""
    query = select(AlertEventRow.notice_kind).where(
        AlertEventRow.type == EVENT_NOTICE, AlertEventRow.notice_kind.startswith(prefix))
    return {kind.removeprefix(prefix) for kind in session.scalars(query) if kind}


def move_channel(session: Session, athlete_id: int, old: str, new: str) -> None:
    """Deliveries of athlete ``athlete_id``'s events on channel ``old`` go to ``new``."""
    events = select(AlertEventRow.id).where(AlertEventRow.athlete_id == athlete_id)
    session.execute(update(AlertDeliveryRow)
                    .where(AlertDeliveryRow.channel == old, AlertDeliveryRow.event_id.in_(events))
                    .values(channel=new))


def disable_pending(session: Session, channel: str, now: datetime) -> int:
    """Mark every pending delivery on ``channel`` disabled (its endpoint is gone)."""
    result = session.execute(
        update(AlertDeliveryRow)
        .where(AlertDeliveryRow.channel == channel, AlertDeliveryRow.status == PENDING)
        .values(status=DISABLED, next_attempt_at=None, last_error="endpoint gone (410)")
        .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


# -- recording outcomes -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """The columns of a delivery that deciding an outcome reads."""

    id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None


def load_states(session: Session, ids: list[int]) -> dict[int, DeliveryState]:
    """The deliveries' current state by id, locked for update on PostgreSQL."""
    query = select(AlertDeliveryRow.id, AlertDeliveryRow.status, AlertDeliveryRow.attempts,
                   AlertDeliveryRow.next_attempt_at).where(AlertDeliveryRow.id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: DeliveryState(*row) for row in session.execute(query)}


def record_outcomes(session: Session, attempts: list[dict[str, Any]],
                    changes: Sequence[tuple[int, dict[str, Any]]]) -> None:
    """Write a batch's attempt rows (``delivery_id``, ``at``, ``status_code``, ``error``,
    ``duration_ms``) in one insert, then each delivery's changed columns, grouped by the
    columns they touch (one UPDATE ... executemany per group)."""
    # Core statements, not the ORM's bulk paths: this runs once per batch on the hot path.
    connection = session.connection()
    if attempts:
        connection.execute(insert(_table(DeliveryAttemptRow)), attempts)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for delivery_id, columns in changes:
        # A recorded outcome ends the claim: a retry is due on its schedule, whoever is gone.
        columns = {**columns, "claimed_by": None}
        groups.setdefault(tuple(sorted(columns)), []).append(
            {"delivery_id": delivery_id, **columns})
    table = _table(AlertDeliveryRow)
    for names, rows in groups.items():
        statement = (update(table).where(table.c.id == bindparam("delivery_id"))
                     .values({name: bindparam(name) for name in names}))
        connection.execute(statement, rows)


def _table(model: type[AlertDeliveryRow] | type[DeliveryAttemptRow]) -> Table:
    """The Core table behind a mapped class."""
    return model.metadata.tables[model.__tablename__]


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
