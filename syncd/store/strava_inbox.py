"""The Strava webhook inbox: events waiting to be acted on, one row per athlete and object.

Every athlete has an inbox of its own with a cap of its own, so that a flood of forged events
naming one athlete can only ever fill that athlete's inbox: another athlete's event is never
pushed out. A later event for an object already waiting replaces the waiting one (acting on
an event re-reads the object, so only the newest matters). Past the cap, new activity events
are not stored: an inbox that full is served by one listing of the athlete's recent
activities, which finds what they were about. The athlete's own event (a revoke) always has
its place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syncd.store.tables import StravaEventRow

# Activity events kept per athlete. An inbox holding more than a few is served by one
# listing (see syncd.sources.strava.inbox), so more rows would buy nothing but disk.
PER_ATHLETE_CAP = 20


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One waiting event as stored: the inbox row id and Strava's fields."""

    id: int
    object_type: str
    object_id: int
    aspect_type: str
    owner_id: int
    subscription_id: int
    event_time: int
    updates: dict[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None

    def fields(self) -> dict[str, Any]:
        """Strava's fields of the event (without the row id)."""
        return {"object_type": self.object_type, "object_id": self.object_id,
                "aspect_type": self.aspect_type, "owner_id": self.owner_id,
                "subscription_id": self.subscription_id, "event_time": self.event_time,
                "updates": dict(self.updates)}


def add_event(tx: Session, athlete_id: int, event: Mapping[str, Any], now: datetime) -> bool:
    """Put ``event`` (Strava's fields, already checked) in the athlete's inbox, replacing a
    waiting event for the same object. Returns False when the inbox is full and the event
    was left out (an activity event past :data:`PER_ATHLETE_CAP`)."""
    key = (athlete_id, event["object_type"], event["object_id"])
    if (event["object_type"] == "activity" and not _waiting(tx, key)
            and activity_count(tx, athlete_id) >= PER_ATHLETE_CAP):
        return False
    values = {**event, "athlete_id": athlete_id, "received_at": now}
    tx.execute(_upsert(tx, values))
    return True


def _waiting(tx: Session, key: tuple[int, str, int]) -> bool:
    """True when an event for this (athlete, object type, object id) is waiting."""
    athlete_id, object_type, object_id = key
    return tx.scalar(select(StravaEventRow.id).where(
        StravaEventRow.athlete_id == athlete_id, StravaEventRow.object_type == object_type,
        StravaEventRow.object_id == object_id)) is not None


def _upsert(tx: Session, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE in the dialect at hand (two callbacks for the same
    object at once must not fail on the unique key)."""
    insert = postgresql.insert if tx.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(StravaEventRow).values(**values)
    replaced = {name: statement.excluded[name] for name in
                ("aspect_type", "owner_id", "subscription_id", "event_time", "updates",
                 "received_at")}
    return statement.on_conflict_do_update(
        index_elements=["athlete_id", "object_type", "object_id"], set_=replaced)


def activity_count(tx: Session, athlete_id: int) -> int:
    """How many activity events wait in the athlete's inbox."""
    return int(tx.scalar(select(func.count(StravaEventRow.id)).where(
        StravaEventRow.athlete_id == athlete_id,
        StravaEventRow.object_type == "activity")) or 0)


def inbox(tx: Session, athlete_id: int) -> list[StoredEvent]:
    """The events waiting in the athlete's inbox, oldest first."""
    return waiting_events(tx, [athlete_id]).get(athlete_id, [])


def waiting_events(tx: Session,
                   athlete_ids: Sequence[int] | None = None) -> dict[int, list[StoredEvent]]:
    """The waiting events of these athletes (all when ``None``), oldest first, by athlete id,
    in one query; athletes with an empty inbox are left out."""
    query = select(StravaEventRow).order_by(StravaEventRow.athlete_id, StravaEventRow.id)
    if athlete_ids is not None:
        query = query.where(StravaEventRow.athlete_id.in_(list(athlete_ids)))
    found: dict[int, list[StoredEvent]] = {}
    for row in tx.scalars(query):
        found.setdefault(row.athlete_id, []).append(StoredEvent(
            row.id, row.object_type, row.object_id, row.aspect_type, row.owner_id,
            row.subscription_id, row.event_time, dict(row.updates or {}), row.received_at))
    return found


def remove_events(tx: Session, events: Sequence[StoredEvent]) -> None:
    """Take these events out of their inbox, unless a newer event for the same object
    replaced one since it was read (that one arrived after the read and stays)."""
    for event in events:
        tx.execute(delete(StravaEventRow).where(
            StravaEventRow.id == event.id, StravaEventRow.received_at == event.received_at))


def inbox_size(tx: Session) -> int:
    """Events waiting in every inbox (for tests and metrics)."""
    return int(tx.scalar(select(func.count(StravaEventRow.id))) or 0)
