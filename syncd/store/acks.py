"""Acknowledgements of alerts: who looked at an alert, when, and what they noted.

The first acknowledgement of an alert is the one that counts (the alert is then
*acknowledged*); a later one is kept as a further note, with its own author and time, and
never replaces the first. Each one writes an ``alert.acknowledged`` outbox event in the same
transaction, delivered like ``alert.raised`` to the clinic's channels.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.orm import Session

from syncd.models import Alert, AlertStatus, utc_iso
from syncd.store.ack_tables import AlertAckRow
from syncd.store.alerts import alert_from_row, new_event_id
from syncd.store.outbox import ensure_deliveries_for
from syncd.store.tables import AlertEventRow, AlertRow, AthleteRow

EVENT_ACKNOWLEDGED = "alert.acknowledged"
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Ack:
    """One acknowledgement (or later note) of one alert."""

    alert_id: str
    by: str
    note: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        """``{"by", "at", "note"}``, as ``GET /alerts`` and the webhook show it."""
        return {"by": self.by, "at": utc_iso(self.at), "note": self.note}


@dataclass(frozen=True, slots=True)
class FoundAlert:
    """A stored alert with the id of its athlete."""

    alert: Alert
    athlete_id: int


def find_alert(session: Session, alert_id: str) -> FoundAlert | None:
    """The alert with this id (``None``: there is none)."""
    row = session.execute(select(AlertRow, AthleteRow.name)
                          .join(AthleteRow, AthleteRow.id == AlertRow.athlete_id)
                          .where(AlertRow.id == alert_id[:36])).first()
    if row is None:
        return None
    return FoundAlert(alert_from_row(row[0], row[1]), row[0].athlete_id)


def add_ack(session: Session, found: FoundAlert, by: str, note: str, now: datetime,
            channels: Sequence[str]) -> list[Ack]:
    """Record an acknowledgement of ``found`` by ``by`` (cleaned by the caller) and queue its
    ``alert.acknowledged`` event on ``channels``; returns every ack of the alert, first
    first (the new one last)."""
    session.add(AlertAckRow(alert_id=found.alert.id, by=by, note=note, acked_at=now))
    session.flush()
    acks = acks_of(session, [found.alert.id]).get(found.alert.id, [])
    data = {**found.alert.payload_data(), **ack_fields(acks), "ack": acks[-1].as_dict()}
    payload = {"type": EVENT_ACKNOWLEDGED, "timestamp": utc_iso(now), "data": data}
    event = AlertEventRow(id=new_event_id(), alert_id=found.alert.id,
                          athlete_id=found.athlete_id, type=EVENT_ACKNOWLEDGED,
                          payload=payload, created_at=now)
    session.add(event)
    session.flush()
    ensure_deliveries_for(session, event.id, channels, now)
    return acks


def ack_fields(acks: Sequence[Ack]) -> dict[str, Any]:
    """What an alert object gains: ``acknowledged`` (the first ack, or ``null``) and
    ``acks`` (every one, oldest first)."""
    return {"acknowledged": acks[0].as_dict() if acks else None,
            "acks": [ack.as_dict() for ack in acks]}


def acks_of(session: Session, alert_ids: Iterable[str]) -> dict[str, list[Ack]]:
    """The acks of each alert, oldest first (alerts without any are left out)."""
    ids = sorted(set(alert_ids))
    found: dict[str, list[Ack]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        query = (select(AlertAckRow).where(AlertAckRow.alert_id.in_(ids[start:start + _IN_CHUNK]))
                 .order_by(AlertAckRow.acked_at, AlertAckRow.id))
        for row in session.scalars(query):
            found.setdefault(row.alert_id, []).append(
                Ack(row.alert_id, row.by, row.note, row.acked_at))
    return found


def _unacknowledged() -> Any:
    """The SQL condition: the alert has no ack."""
    return ~exists().where(AlertAckRow.alert_id == AlertRow.id)


def open_alert_counts(session: Session, athlete_ids: Collection[int]
                      ) -> tuple[dict[int, dict[str, int]], dict[int, int]]:
    """In one query: open alerts counted by athlete id and severity, and how many open
    critical ones nobody acknowledged, by athlete id (zeros left out)."""
    if not athlete_ids:
        return {}, {}
    unacked = case((and_(AlertRow.severity == "critical", _unacknowledged()), 1), else_=0)
    query = (select(AlertRow.athlete_id, AlertRow.severity, func.count(), func.sum(unacked))
             .where(AlertRow.athlete_id.in_(list(athlete_ids)),
                    AlertRow.status == AlertStatus.OPEN.value)
             .group_by(AlertRow.athlete_id, AlertRow.severity))
    counts: dict[int, dict[str, int]] = {}
    critical: dict[int, int] = {}
    for athlete_id, severity, count, not_seen in session.execute(query):
        counts.setdefault(athlete_id, {})[severity] = count
        if not_seen:
            critical[athlete_id] = critical.get(athlete_id, 0) + int(not_seen)
    return counts, critical


def open_unacknowledged(session: Session, athlete_names: Collection[str]) -> list[Alert]:
    """The open alerts nobody acknowledged of the named athletes, oldest first."""
    query = (select(AlertRow, AthleteRow.name)
             .join(AthleteRow, AthleteRow.id == AlertRow.athlete_id)
             .where(AthleteRow.name.in_(list(athlete_names)),
                    AlertRow.status == AlertStatus.OPEN.value, _unacknowledged())
             .order_by(AlertRow.created_at, AlertRow.id))
    return [alert_from_row(row, name) for row, name in session.execute(query)]


def alerts_created_between(session: Session, athlete_id: int, start: datetime,
                           end: datetime) -> list[Alert]:
    """The athlete's alerts first raised in ``[start, end)``, oldest first."""
    query = (select(AlertRow, AthleteRow.name)
             .join(AthleteRow, AthleteRow.id == AlertRow.athlete_id)
             .where(AlertRow.athlete_id == athlete_id, AlertRow.created_at >= start,
                    AlertRow.created_at < end)
             .order_by(AlertRow.created_at, AlertRow.id))
    return [alert_from_row(row, name) for row, name in session.execute(query)]
