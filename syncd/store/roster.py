"""The stored athletes as the roster commands see them: who is stored, where their settings
come from (the configuration file, or ``syncd athletes add``), and a few counts per athlete.

An athlete added from the command line keeps their settings in ``athletes.profile``, so that
every replica of a clinic sees them; a removed athlete keeps their data until deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syncd.store.athletes import REACH, athlete_rows
from syncd.store.credentials import credential_counts
from syncd.store.tables import ActivityRow, AlertRow, AthleteRow, Base, SyncStateRow

ADDED = "cli"  # athletes.origin of an athlete added from the command line
CONFIGURED = "config"  # athletes.origin of an athlete declared in the configuration file


@dataclass(frozen=True, slots=True)
class StoredAthlete:
    """One stored athlete: id, name, time zone, where their settings come from, the stored
    settings of an added athlete, and when they were removed (``None``: watched)."""

    id: int
    name: str
    timezone: str
    origin: str
    profile: dict[str, Any] | None
    removed_at: datetime | None


def _stored(row: AthleteRow) -> StoredAthlete:
    return StoredAthlete(row.id, row.name, row.timezone, row.origin,
                         dict(row.profile) if row.profile is not None else None,
                         row.removed_at)


def _row(tx: Session, name: str) -> AthleteRow | None:
    return tx.scalars(select(AthleteRow).where(AthleteRow.name == name)).one_or_none()


def stored_athletes(tx: Session) -> list[StoredAthlete]:
    """Every stored athlete, removed ones included, in the order they were stored."""
    return [_stored(row) for row in tx.scalars(select(AthleteRow).order_by(AthleteRow.id))]


def find_athlete(tx: Session, name: str) -> StoredAthlete | None:
    """The stored athlete called ``name``, or ``None``."""
    row = _row(tx, name)
    return _stored(row) if row is not None else None


def added_profiles(tx: Session) -> list[tuple[str, dict[str, Any] | None]]:
    """(name, stored settings) of the athletes added from the command line and not removed,
    in the order they were added."""
    rows = tx.execute(select(AthleteRow.name, AthleteRow.profile).where(
        AthleteRow.origin == ADDED, AthleteRow.removed_at.is_(None))
        .order_by(AthleteRow.id)).all()
    return [(name, profile) for name, profile in rows]


def store_added(tx: Session, name: str, timezone: str, profile: dict[str, Any],
                now: datetime) -> None:
    """Keep ``profile`` as the settings of athlete ``name``, added from the command line and
    watched (the athlete is stored first when missing, created at ``now``)."""
    row = _row(tx, name)
    if row is None:
        row = AthleteRow(name=name, created_at=now)
        tx.add(row)
    row.origin, row.profile, row.removed_at = ADDED, profile, None
    row.timezone = timezone


def set_origin(tx: Session, athlete_id: int, origin: str, profile: dict[str, Any] | None,
               timezone: str | None = None) -> None:
    """Watch athlete ``athlete_id`` again, with settings from ``origin`` (``profile`` for an
    added athlete, ``None`` for a configured one); ``timezone`` replaces the stored one when
    given."""
    row = tx.get_one(AthleteRow, athlete_id)
    row.removed_at = None
    row.origin, row.profile = origin, profile
    if timezone is not None:
        row.timezone = timezone


def mark_removed(tx: Session, athlete_id: int, now: datetime) -> None:
    """Stop watching athlete ``athlete_id`` from ``now`` on; their data stays."""
    tx.get_one(AthleteRow, athlete_id).removed_at = now


def athlete_counts(tx: Session, credentials: Mapping[str, str]) -> dict[str, dict[int, Any]]:
    """Per athlete id: ``activities`` (one per session), ``open_alerts``, ``last_sync`` (the
    latest success of any source) and, for each ``key -> credential name`` of
    ``credentials``, how many such credentials they hold. Athletes without any are absent."""
    activities = (select(ActivityRow.athlete_id, func.count())
                  .where(ActivityRow.canonical_id.is_(None), ActivityRow.deleted.is_(False))
                  .group_by(ActivityRow.athlete_id))
    alerts = (select(AlertRow.athlete_id, func.count()).where(AlertRow.status == "open")
              .group_by(AlertRow.athlete_id))
    synced = (select(SyncStateRow.athlete_id, func.max(SyncStateRow.last_success_at))
              .group_by(SyncStateRow.athlete_id))
    counts: dict[str, dict[int, Any]] = {
        key: {athlete: value for athlete, value in tx.execute(query).all()}
        for key, query in (("activities", activities), ("open_alerts", alerts),
                           ("last_sync", synced))}
    for key, name in credentials.items():
        counts[key] = dict(credential_counts(tx, name))
    return counts


def row_counts(tx: Session, athlete_id: int) -> dict[str, int]:
    """How many rows of each table reach athlete ``athlete_id``, in the order an erasure
    deletes them."""
    counts = {}
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in REACH:
            query = select(func.count()).select_from(table).where(athlete_rows(table,
                                                                              athlete_id))
            counts[table.name] = int(tx.execute(query).scalar_one())
    return counts
