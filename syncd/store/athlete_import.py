"""Importing an athlete's export (:func:`syncd.store.athletes.export_athlete`) into this
database: every row relinked by its stable keys, refused whole when it clashes with what is
stored."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DefaultClause,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from syncd.errors import SyncdError
from syncd.models import pain_when
from syncd.store.athletes import IN_CHUNK, exported_columns, from_json, table_named
from syncd.store.export_file import KINDS, InvalidExport, shape_problem
from syncd.store.queries import symptoms_text


class ImportConflict(SyncdError):
    """An export cannot go into this database as it is (its name or its alerts are taken)."""


def import_athlete(tx: Session, data: Mapping[str, Any], *, name: str | None = None,
                   now: datetime) -> int:
    """Store the athlete of ``data`` (from :func:`read_export`) with all their rows, under
    ``name`` when given, and return the new athlete's id.

    Rows are relinked by their stable keys. Credentials are not imported (an export holds
    none). An invite keeps its history but can never be opened (its token stayed with the
    old database): one still open is imported as expiring ``now``. Raises
    :class:`ImportConflict` when the name is taken or the alerts are stored already, and
    :class:`InvalidExport` for entries that cannot be read."""
    for kind in KINDS:
        problem = shape_problem(data, kind)
        if problem:
            raise InvalidExport(f"the export is damaged: {problem}")
    [athlete] = _values(table_named("athletes"), "athlete", [data["athlete"]])
    if name is not None:
        athlete["name"] = name
    _refuse_conflicts(tx, athlete["name"], data)
    [athlete_id] = _insert(tx, "athletes", [athlete], ids=True)
    _import_activities(tx, athlete_id, data["activities"])
    for kind in ("pain_reports", "gear", "sync_state"):
        rows = _values(table_named(kind), kind, data[kind])
        if kind == "pain_reports":
            _check_pain(rows)
        _insert(tx, kind, [{**row, "athlete_id": athlete_id} for row in rows])
    alerts = _values(table_named("alerts"), "alerts", data["alerts"])
    _insert(tx, "alerts", [{**row, "athlete_id": athlete_id} for row in alerts])
    events = _values(table_named("alert_events"), "alert_events", data["alert_events"])
    _require_known("alert_events", [e["alert_id"] for e in events if e["alert_id"]],
                   {a["id"] for a in alerts})
    _insert(tx, "alert_events", [{**row, "athlete_id": athlete_id} for row in events])
    _import_deliveries(tx, data["deliveries"], {e["id"] for e in events})
    invites = _values(table_named("invites"), "invites", data["invites"])
    _insert(tx, "invites", [_dead_invite(row, athlete_id, now) for row in invites])
    consents = _values(table_named("consents"), "consents", data["consents"])
    _insert(tx, "consents", [{**row, "athlete_id": athlete_id} for row in consents])
    return athlete_id


def _values(table: Table, kind: str, entries: Sequence[Any]) -> list[dict[str, Any]]:
    """Export entries of ``kind`` as column values of ``table`` (a missing optional value is
    ``None``). Raises :class:`InvalidExport` naming the entry that cannot be read."""
    rows: list[dict[str, Any]] = []
    for number, entry in enumerate(entries, 1):
        try:
            rows.append({column.name: from_json(column, _value(entry, column))
                         for column in exported_columns(table)})
        except KeyError as err:
            raise _unreadable(kind, number, f"it has no {err.args[0]}") from err
        except (TypeError, ValueError) as err:
            raise _unreadable(kind, number, str(err)) from err
    return rows


def _value(entry: Mapping[str, Any], column: Column[Any]) -> Any:
    """The entry's value for ``column``; raises ``KeyError`` when a required one is missing
    (a column added after the export was written is simply empty, or takes the default the
    migration gave the rows stored before it)."""
    default = column.server_default
    if column.name not in entry and isinstance(default, DefaultClause):
        return default.arg
    return entry.get(column.name) if column.nullable else entry[column.name]


def _check_pain(rows: list[dict[str, Any]]) -> None:
    """Refuse pain reports whose *when* or symptoms syncd does not know (they would read
    back as something the runner did not report), naming the entry; symptoms are put in
    their stored order."""
    for number, row in enumerate(rows, 1):
        timing, symptoms = row["timing"], row["symptoms"]
        try:
            if not isinstance(timing, str) or not isinstance(symptoms, str):
                raise ValueError("timing and symptoms must be text")
            pain_when(timing)
            row["symptoms"] = symptoms_text(name for name in symptoms.split(",") if name)
        except ValueError as err:
            raise _unreadable("pain_reports", number, str(err)) from err


def _unreadable(kind: str, number: int, reason: str) -> InvalidExport:
    """The error for an export entry that cannot be imported."""
    return InvalidExport(f"the export is damaged: entry {number} of {kind}.json cannot be "
                         f"read ({reason})", hint="export the athlete again")


def _require_known(kind: str, references: Sequence[str], known: set[str]) -> None:
    """Refuse references to rows the export does not hold."""
    missing = sorted(set(references) - known)
    if missing:
        raise InvalidExport(f"the export is damaged: {kind}.json refers to {missing[0]}, "
                            "which it does not hold", hint="export the athlete again")


def _refuse_conflicts(tx: Session, name: str, data: Mapping[str, Any]) -> None:
    """Raise :class:`ImportConflict` when ``name`` or the export's alert or event ids are
    taken (the ids are the webhook's, so they are kept rather than made anew)."""
    athletes = table_named("athletes")
    if tx.execute(select(athletes.c.id).where(athletes.c.name == name)).first() is not None:
        raise ImportConflict(f"an athlete called {name!r} is stored already",
                             hint="import under another name, or delete that athlete first")
    for kind in ("alerts", "alert_events"):
        table = table_named(kind)
        ids = [str(entry.get("id")) for entry in data[kind]]
        for start in range(0, len(ids), IN_CHUNK):
            query = (select(athletes.c.name).select_from(table)
                     .outerjoin(athletes, athletes.c.id == table.c.athlete_id)
                     .where(table.c.id.in_(ids[start:start + IN_CHUNK])).limit(1))
            taken = tx.execute(query).first()
            if taken is not None:
                owner = f", for athlete {taken.name!r}" if taken.name else ""
                raise ImportConflict(
                    f"the {kind.replace('_', ' ')} of this export are stored already{owner}",
                    hint="the export was imported before: delete that athlete first, or "
                    "import into another database")


def _insert(tx: Session, name: str, rows: list[dict[str, Any]], *,
            ids: bool = False) -> list[int]:
    """Insert ``rows`` into table ``name``; with ``ids``, return their new ids in order."""
    if not rows:
        return []
    table = table_named(name)
    if not ids:
        tx.execute(insert(table), rows)
        return []
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(tx.execute(statement, rows).scalars())


def _import_activities(tx: Session, athlete_id: int, entries: list[dict[str, Any]]) -> None:
    """Insert activities and their segments, then point duplicates at their canonical row."""
    rows = _values(table_named("activities"), "activities", entries)
    ids = _insert(tx, "activities", [{**row, "athlete_id": athlete_id, "canonical_id": None}
                                     for row in rows], ids=True)
    id_of = {f"{row['source']}:{row['source_id']}": new_id for row, new_id in zip(rows, ids,
                                                                                  strict=True)}
    canonicals = [(new_id, str(entry["canonical"]))
                  for entry, new_id in zip(entries, ids, strict=True) if entry.get("canonical")]
    _require_known("activities", [key for _, key in canonicals], set(id_of))
    if canonicals:
        activities = table_named("activities")
        tx.execute(update(activities).where(activities.c.id == bindparam("row_id"))
                   .values(canonical_id=bindparam("canonical")),
                   [{"row_id": new_id, "canonical": id_of[key]} for new_id, key in canonicals])
    segments = table_named("segments")
    _insert(tx, "segments", [
        {**row, "activity_id": new_id} for entry, new_id in zip(entries, ids, strict=True)
        for row in _values(segments, "activities", entry.get("segments") or [])])


def _import_deliveries(tx: Session, entries: list[dict[str, Any]], event_ids: set[str]) -> None:
    """Insert deliveries (of the imported events only) and their attempts."""
    rows = _values(table_named("alert_deliveries"), "deliveries", entries)
    _require_known("deliveries", [row["event_id"] for row in rows], event_ids)
    ids = _insert(tx, "alert_deliveries", rows, ids=True)
    attempts = table_named("delivery_attempts")
    _insert(tx, "delivery_attempts", [
        {**row, "delivery_id": new_id} for entry, new_id in zip(entries, ids, strict=True)
        for row in _values(attempts, "deliveries", entry.get("attempt_log") or [])])


def _dead_invite(row: dict[str, Any], athlete_id: int, now: datetime) -> dict[str, Any]:
    """An imported invite: the hash of a token nobody holds, and closed if it was open."""
    token_sha256 = hashlib.sha256(secrets.token_bytes(32)).hexdigest()
    expires_at = row["expires_at"]
    if row["used_at"] is None and expires_at is not None and expires_at > now:
        expires_at = now
    return {**row, "athlete_id": athlete_id, "token_sha256": token_sha256,
            "expires_at": expires_at}
