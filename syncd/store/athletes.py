"""Everything stored about one athlete: export, import (:mod:`syncd.store.athlete_import`),
and erasure (the export file itself is :mod:`syncd.store.export_file`'s).

A clinic hands a patient everything syncd keeps about them and erases a patient completely.
:data:`REACH` says, for every table, how its rows reach an athlete: directly by the athlete's
id or through a parent row. Export and erasure both follow it; erasure deletes children first
in explicit statements, because SQLite may run with foreign keys off and then ``ON DELETE
CASCADE`` does nothing. :func:`reach_problems` names any table this module was not taught
about, and erasure refuses to run while there is one: a partial erasure must not look done.

An export never holds credential values (tokens): only their names and when they changed.
Rows refer to each other by stable keys, never by database ids (an activity by
``source:source_id``, alerts and events by their own ids, a delivery by event id and
channel), so that an import into another database relinks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    CursorResult,
    Date,
    DateTime,
    MetaData,
    RowMapping,
    Table,
    delete,
    false,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from syncd.errors import SyncdError
from syncd.store.engine import lock_athlete
from syncd.store.export_file import utc_text
from syncd.store.tables import Base, UTCDateTime

IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Link:
    """One way a row reaches an athlete: ``column`` holds the athlete's id (``parent`` is
    ``None``) or the primary key of a ``parent`` row that reaches the athlete."""

    column: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Reach:
    """How the rows of one table reach an athlete (through any of ``links``), and the kind
    of export file that carries them."""

    kind: str
    links: tuple[Link, ...]


_OWN = (Link("athlete_id"),)
REACH: Mapping[str, Reach] = MappingProxyType({
    "athletes": Reach("athlete", (Link("id"),)),
    "activities": Reach("activities", _OWN),
    "segments": Reach("activities", (Link("activity_id", "activities"),)),
    "pain_reports": Reach("pain_reports", _OWN),
    "gear": Reach("gear", _OWN),
    "alerts": Reach("alerts", _OWN),
    # A global operator notice (no athlete, no alert) is nobody's: it stays.
    "alert_events": Reach("alert_events", (Link("athlete_id"), Link("alert_id", "alerts"))),
    "alert_deliveries": Reach("deliveries", (Link("event_id", "alert_events"),)),
    "delivery_attempts": Reach("deliveries", (Link("delivery_id", "alert_deliveries"),)),
    "sync_state": Reach("sync_state", _OWN),
    "credentials": Reach("credentials", _OWN),
    "invites": Reach("invites", _OWN),
    # Strava webhook events waiting to be acted on: like the credentials, not exported.
    "strava_events": Reach("credentials", _OWN),
    # Where a gated plan stood each week: derived by the evaluation, which rebuilds it after
    # an import; erased with the athlete, never exported.
    "plan_positions": Reach("credentials", _OWN),
    # Morning check-ins and their link tokens: how a pain report was asked for (the report is
    # exported with the others); erased with the athlete, never exported.
    "checkins": Reach("credentials", (Link("athlete_id"), Link("pain_report_id", "pain_reports"))),
    "checkin_tokens": Reach("credentials", (Link("checkin_id", "checkins"),)),
    # The calendar feed's key (its hash): a secret like the credentials, never exported.
    "calendar_keys": Reach("credentials", _OWN),
    # The Garmin workouts syncd made for the athlete (names and ids in their Garmin account):
    # erased with the athlete, never exported (another database has no use for the ids).
    "garmin_workouts": Reach("credentials", _OWN),
    # What the athlete agreed to share with their clinic, and when: exported with them.
    "consents": Reach("consents", _OWN),
    # The key of the athlete's own page (its hash): a secret, never exported.
    "page_keys": Reach("credentials", _OWN),
    # Who at the clinic acknowledged the athlete's alerts (their token names) and their
    # notes: the clinic's record, erased with the athlete, never in the athlete's export.
    "alert_acks": Reach("credentials", (Link("alert_id", "alerts"),)),
})
# Tables that hold nothing about any athlete.
NO_ATHLETE_DATA = frozenset({"replicas"})

# Columns an export leaves out: database ids, and references it writes as stable keys.
_LEFT_OUT: Mapping[str, frozenset[str]] = MappingProxyType({
    "athletes": frozenset({"id"}),
    "activities": frozenset({"id", "athlete_id", "canonical_id"}),
    "segments": frozenset({"id", "activity_id"}),
    "alerts": frozenset({"athlete_id"}),
    "alert_events": frozenset({"athlete_id"}),
    "alert_deliveries": frozenset({"id"}),
    "delivery_attempts": frozenset({"id", "delivery_id"}),
})
# Tables holding secrets export only these columns, so that a secret column added later
# stays home unless someone decides otherwise here.
_ONLY: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "credentials": ("name", "updated_at"),
    "invites": ("created_at", "expires_at", "used_at", "used_for"),
})


# -- which rows are the athlete's ----------------------------------------------------------


def athlete_rows(table: Table, athlete_id: int) -> ColumnElement[bool]:
    """The condition that selects the rows of ``table`` belonging to athlete ``athlete_id``
    (false for a table of :data:`NO_ATHLETE_DATA`). Raises :class:`SyncdError` for a table
    this module does not know."""
    if table.name in NO_ATHLETE_DATA:
        return false()
    reach = REACH.get(table.name)
    if reach is None:
        raise SyncdError(f"syncd does not know how the rows of table {table.name} reach an "
                         "athlete", hint="teach syncd.store.athletes.REACH about it")
    conditions: list[ColumnElement[bool]] = []
    for link in reach.links:
        column = table.c[link.column]
        if link.parent is None:
            conditions.append(column == athlete_id)
            continue
        parent = table.metadata.tables[link.parent]
        [key] = parent.primary_key.columns
        conditions.append(column.in_(select(key).where(athlete_rows(parent, athlete_id))))
    return or_(*conditions)


def reach_problems(metadata: MetaData = Base.metadata) -> list[str]:
    """What :data:`REACH` misses about ``metadata``: tables it does not know, and foreign
    keys to athlete data that are no declared way to reach the athlete. Empty when every
    table is covered."""
    problems = [f"REACH names table {name}, which does not exist"
                for name in sorted(set(REACH) - set(metadata.tables))]
    for table in metadata.sorted_tables:
        reach = REACH.get(table.name)
        if reach is None and table.name not in NO_ATHLETE_DATA:
            problems.append(f"table {table.name} is neither in REACH (how its rows reach an "
                            "athlete) nor in NO_ATHLETE_DATA")
            continue
        declared = {(link.column, link.parent) for link in reach.links} if reach else set()
        problems += [f"table {table.name} has no column {column}"
                     for column, _ in sorted(declared, key=str) if column not in table.c]
        for key in table.foreign_keys:
            referred = key.column.table.name
            # A row pointing at its own kind (a duplicate activity at its canonical record)
            # belongs to the same athlete already.
            if referred == table.name or referred not in REACH:
                continue
            link = (key.parent.name, None if referred == "athletes" else referred)
            if link not in declared:
                problems.append(f"table {table.name}: column {key.parent.name} refers to "
                                f"{referred}, but REACH does not follow it")
    return problems


def table_named(name: str) -> Table:
    """The table called ``name``."""
    return Base.metadata.tables[name]


def exported_columns(table: Table) -> list[Column[Any]]:
    """The columns of ``table`` that an export carries."""
    only = _ONLY.get(table.name)
    if only is not None:
        return [table.c[name] for name in only]
    left_out = _LEFT_OUT.get(table.name, frozenset({"id", "athlete_id"}))
    return [column for column in table.columns if column.name not in left_out]


# -- export --------------------------------------------------------------------------------


def export_athlete(tx: Session, athlete_id: int) -> dict[str, Any]:
    """Everything stored about athlete ``athlete_id``, as JSON-ready data: ``athlete`` (one
    object) and a list per other kind of :data:`KINDS`. Timestamps are ISO 8601 in UTC;
    credentials appear by name only. Raises :class:`SyncdError` for an unknown athlete."""
    _one_snapshot(tx)
    athletes = table_named("athletes")
    row = tx.execute(select(athletes).where(athletes.c.id == athlete_id)).mappings().first()
    if row is None:
        raise _unknown(athlete_id)
    return {
        "athlete": _entry(athletes, row),
        "activities": _export_activities(tx, athlete_id),
        "pain_reports": _plain(tx, "pain_reports", athlete_id, "at_utc", "created_at", "id"),
        "gear": _plain(tx, "gear", athlete_id, "source", "gear_id"),
        "alerts": _plain(tx, "alerts", athlete_id, "created_at", "id"),
        "alert_events": _plain(tx, "alert_events", athlete_id, "created_at", "id"),
        "deliveries": _export_deliveries(tx, athlete_id),
        "sync_state": _plain(tx, "sync_state", athlete_id, "source"),
        "invites": _plain(tx, "invites", athlete_id, "created_at", "id"),
        "credentials": _plain(tx, "credentials", athlete_id, "name"),
        "consents": _plain(tx, "consents", athlete_id, "recorded_at", "id"),
    }


def _one_snapshot(tx: Session) -> None:
    """On PostgreSQL, read the whole export from one snapshot when the session has not begun
    yet (SQLite's read transaction is one snapshot already)."""
    if not tx.in_transaction() and tx.get_bind().dialect.name == "postgresql":
        tx.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _unknown(athlete_id: int) -> SyncdError:
    """The error for an athlete id that is not stored."""
    return SyncdError(f"no athlete with id {athlete_id} is stored",
                      hint="syncd athletes list shows the stored athletes")


def _rows(tx: Session, name: str, athlete_id: int, *order: str) -> list[RowMapping]:
    """The athlete's rows of table ``name`` in the given column order."""
    table = table_named(name)
    query = (select(table).where(athlete_rows(table, athlete_id))
             .order_by(*(table.c[column] for column in order)))
    return list(tx.execute(query).mappings())


def _plain(tx: Session, name: str, athlete_id: int, *order: str) -> list[dict[str, Any]]:
    """The athlete's rows of table ``name`` as export entries."""
    table = table_named(name)
    return [_entry(table, row) for row in _rows(tx, name, athlete_id, *order)]


def _entry(table: Table, row: RowMapping) -> dict[str, Any]:
    """One row as an export entry."""
    return {column.name: _to_json(column, row[column.name]) for column in exported_columns(table)}


def _export_activities(tx: Session, athlete_id: int) -> list[dict[str, Any]]:
    """Activities with their segments; a duplicate names its canonical record by key."""
    rows = _rows(tx, "activities", athlete_id, "source", "source_id")
    key_of = {row["id"]: f"{row['source']}:{row['source_id']}" for row in rows}
    segments: dict[int, list[dict[str, Any]]] = {}
    table = table_named("segments")
    for row in _rows(tx, "segments", athlete_id, "activity_id", "seq"):
        segments.setdefault(row["activity_id"], []).append(_entry(table, row))
    activities = table_named("activities")
    return [{"key": key_of[row["id"]], **_entry(activities, row),
             "canonical": key_of.get(row["canonical_id"]),
             "segments": segments.get(row["id"], [])} for row in rows]


def _export_deliveries(tx: Session, athlete_id: int) -> list[dict[str, Any]]:
    """Deliveries of the athlete's events (by event id and channel) with their attempts."""
    attempts: dict[int, list[dict[str, Any]]] = {}
    table = table_named("delivery_attempts")
    for row in _rows(tx, "delivery_attempts", athlete_id, "delivery_id", "at", "id"):
        attempts.setdefault(row["delivery_id"], []).append(_entry(table, row))
    deliveries = table_named("alert_deliveries")
    return [{**_entry(deliveries, row), "attempt_log": attempts.get(row["id"], [])}
            for row in _rows(tx, "alert_deliveries", athlete_id, "event_id", "channel")]


def _to_json(column: Column[Any], value: Any) -> Any:
    """A column value as JSON: timestamps in UTC with ``Z``, local times and dates plain."""
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        return utc_text(value)
    if isinstance(value, date):  # a date, or a naive local wall-clock time
        return value.isoformat()
    return value


def from_json(column: Column[Any], value: Any) -> Any:
    """An export value as the column's value (the inverse of :func:`_to_json`)."""
    if value is None:
        return None
    if isinstance(column.type, UTCDateTime):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError(f"{column.name} {value!r} has no time zone")
        return moment.astimezone(UTC)
    if isinstance(column.type, DateTime):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            raise ValueError(f"{column.name} {value!r} is a local time with a time zone")
        return moment
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


# -- erasure -------------------------------------------------------------------------------


def erase_athlete(tx: Session, athlete_id: int) -> dict[str, int]:
    """Delete every row of athlete ``athlete_id`` in every table, tokens included, and
    return how many rows each table holding athlete data lost (zeros included), in the
    order they were deleted: children first, the athlete last.

    Global operator notices (no athlete) stay. Raises :class:`SyncdError` for an unknown
    athlete, or when a table is missing from :data:`REACH` (the erasure would be partial)."""
    problems = reach_problems()
    if problems:
        raise SyncdError("cannot erase an athlete completely: " + "; ".join(problems),
                         hint="this syncd is incomplete: report it")
    athletes = table_named("athletes")
    if tx.execute(select(athletes.c.id).where(athletes.c.id == athlete_id)).first() is None:
        raise _unknown(athlete_id)
    lock_athlete(tx, athlete_id)
    _unlink_duplicates_of(tx, athlete_id)
    removed: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in REACH:
            result = cast(CursorResult[Any],
                          tx.execute(delete(table).where(athlete_rows(table, athlete_id))))
            removed[table.name] = result.rowcount
    return removed


def _unlink_duplicates_of(tx: Session, athlete_id: int) -> None:
    """Make other athletes' rows that name one of this athlete's activities as canonical
    canonical themselves (what ``ON DELETE SET NULL`` does when foreign keys are on)."""
    activities = table_named("activities")
    theirs = select(activities.c.id).where(activities.c.athlete_id == athlete_id)
    tx.execute(update(activities)
               .where(activities.c.canonical_id.in_(theirs),
                      activities.c.athlete_id != athlete_id)
               .values(canonical_id=None))
