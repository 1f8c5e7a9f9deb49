"""What the evaluator, the API and the CLI read: athletes, sessions, pain reports and gear.

Session queries filter on (athlete_id, local_start), which the
``ix_activities_athlete_id_local_start`` index serves, so a 10-week window costs the same
whatever the length of the history. The sync-state functions are re-exported here so that
callers find their reads and bookkeeping in one module.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Row, Select, delete, func, select, text
from sqlalchemy.orm import Session as DbSession

from syncd.models import (
    PAIN_WHENS,
    SYMPTOMS,
    Gear,
    PainReport,
    PainWhen,
    Session,
    pain_symptoms,
    pain_when,
)
from syncd.store.state import get_sync_state as get_sync_state
from syncd.store.state import record_sync_error as record_sync_error
from syncd.store.state import record_sync_success as record_sync_success
from syncd.store.state import sync_states as sync_states
from syncd.store.tables import ActivityRow, AthleteRow, GearRow, PainReportRow, SegmentRow
from syncd.text import ID_MAX, NAME_MAX, NOTE_MAX, clean_optional, clean_text


def ensure_athlete(
    session: DbSession, name: str, timezone: str, *, now: datetime | None = None
) -> int:
    """The id of the athlete called ``name``, created when missing; the stored time zone
    follows ``timezone`` (the configuration is the authority)."""
    row = session.scalars(select(AthleteRow).where(AthleteRow.name == name)).one_or_none()
    if row is None:
        row = AthleteRow(name=name, timezone=timezone, created_at=now or datetime.now(UTC))
        session.add(row)
        session.flush()
    elif row.timezone != timezone:
        row.timezone = timezone
    return row.id


def athlete_name(session: DbSession, athlete_id: int) -> str:
    """The name of athlete ``athlete_id``."""
    return session.execute(select(AthleteRow.name).where(AthleteRow.id == athlete_id)).scalar_one()


# The longest run bout of an activity, computed in the same query as the activity.
_LONGEST_RUN = (
    select(func.max(SegmentRow.duration_s))
    .where(SegmentRow.activity_id == ActivityRow.id, SegmentRow.kind == "run")
    .correlate(ActivityRow)
    .scalar_subquery()
    .label("longest_run_s")
)


def _sessions(athlete_id: int) -> Select[Any]:
    """Canonical, not deleted running activities of the athlete, as session columns."""
    return select(
        ActivityRow.source, ActivityRow.source_id, ActivityRow.start_utc,
        ActivityRow.local_start, ActivityRow.moving_s, ActivityRow.elapsed_s, ActivityRow.run_s,
        ActivityRow.distance_m, ActivityRow.gear_id, _LONGEST_RUN,
    ).where(
        ActivityRow.athlete_id == athlete_id,
        ActivityRow.canonical_id.is_(None),
        ActivityRow.deleted.is_(False),
        ActivityRow.sport == "run",
    )


def _to_session(row: Row[Any]) -> Session:
    """A session row as the rules' :class:`Session`."""
    return Session.conservative(
        f"{row.source}:{row.source_id}", row.start_utc, row.local_start, row.elapsed_s,
        row.moving_s, row.run_s, row.longest_run_s, row.distance_m, row.gear_id)


def load_sessions(
    session: DbSession, athlete_id: int, from_local: datetime, to_local: datetime
) -> list[Session]:
    """Sessions whose local start is in ``[from_local, to_local)``, in order of start."""
    query = _sessions(athlete_id).where(
        ActivityRow.local_start >= from_local, ActivityRow.local_start < to_local
    ).order_by(ActivityRow.start_utc, ActivityRow.source, ActivityRow.source_id)
    return [_to_session(row) for row in session.execute(query)]


def first_session_after(session: DbSession, athlete_id: int, local: datetime) -> Session | None:
    """The first session starting at or after local time ``local``, if any."""
    query = (_sessions(athlete_id).where(ActivityRow.local_start >= local)
             .order_by(ActivityRow.local_start, ActivityRow.start_utc).limit(1))
    row = session.execute(query).first()
    return _to_session(row) if row else None


def last_session_before(session: DbSession, athlete_id: int, local: datetime) -> Session | None:
    """The last session starting before local time ``local``, if any."""
    query = (_sessions(athlete_id).where(ActivityRow.local_start < local)
             .order_by(ActivityRow.local_start.desc(), ActivityRow.start_utc.desc()).limit(1))
    row = session.execute(query).first()
    return _to_session(row) if row else None


def first_session_date(session: DbSession, athlete_id: int) -> date | None:
    """The local date of the athlete's first session, or ``None`` before any."""
    query = _sessions(athlete_id).with_only_columns(func.min(ActivityRow.local_start))
    first = session.execute(query).scalar()
    return first.date() if first is not None else None


def add_pain(
    session: DbSession,
    athlete_id: int,
    at_utc: datetime,
    score: int,
    note: str | None = None,
    local_at: datetime | None = None,
    *,
    when: str = PainWhen.OTHER.value,
    symptoms: Iterable[str] = (),
    now: datetime | None = None,
) -> PainReport:
    """Store a pain report (the caller has checked the 0-10 range) and return it; ``when``
    and ``symptoms`` must be known values (``ValueError`` otherwise, before anything is
    stored)."""
    note = (clean_text(note, NOTE_MAX) or None) if note is not None else None
    row = PainReportRow(athlete_id=athlete_id, at_utc=at_utc, score=score, note=note,
                        local_at=local_at, created_at=now or datetime.now(UTC),
                        timing=pain_when(when), symptoms=symptoms_text(symptoms))
    session.add(row)
    session.flush()
    return _to_pain(row)


def symptoms_text(symptoms: Iterable[str]) -> str:
    """Symptoms as the ``symptoms`` column holds them: known names, comma-separated, in
    :data:`~syncd.models.SYMPTOMS` order (``ValueError`` for an unknown one)."""
    return ",".join(pain_symptoms(symptoms))


def load_pain(
    session: DbSession, athlete_id: int, from_utc: datetime, to_utc: datetime
) -> list[PainReport]:
    """Pain reports made in ``[from_utc, to_utc)``, oldest first."""
    query = (select(PainReportRow)
             .where(PainReportRow.athlete_id == athlete_id, PainReportRow.at_utc >= from_utc,
                    PainReportRow.at_utc < to_utc)
             .order_by(PainReportRow.at_utc, PainReportRow.id))
    return [_to_pain(row) for row in session.scalars(query)]


def _to_pain(row: PainReportRow) -> PainReport:
    """A stored pain report as the domain type (its id is the row id, as text). Values no
    version of syncd writes (a hand-edited row) read as ``other`` and are left out, so one
    odd row cannot stop every evaluation."""
    when = row.timing if row.timing in PAIN_WHENS else PainWhen.OTHER.value
    symptoms = [name for name in (row.symptoms or "").split(",") if name in SYMPTOMS]
    return PainReport(id=str(row.id), at_utc=row.at_utc.astimezone(UTC), score=row.score,
                      local_at=row.local_at, note=row.note, when=when,
                      symptoms=tuple(symptoms))


def upsert_gear(
    session: DbSession, athlete_id: int, source: str, gears: Iterable[Gear],
    *, now: datetime | None = None,
) -> int:
    """Store the gear a source reports (name, its own distance total, retired); return how
    many rows were added or changed."""
    now = now or datetime.now(UTC)
    stored = {row.gear_id: row for row in session.scalars(
        select(GearRow).where(GearRow.athlete_id == athlete_id, GearRow.source == source))}
    changed = 0
    for gear in gears:
        # Cleaned as the activities' gear ids are (syncd.store.activities), so they still match.
        gear_id = clean_optional(gear.id, ID_MAX)
        if gear_id is None:
            continue
        row = stored.get(gear_id)
        if row is None:
            row = GearRow(athlete_id=athlete_id, source=source, gear_id=gear_id)
            session.add(row)
            stored[gear_id] = row
        values = {"name": clean_optional(gear.name, NAME_MAX),
                  "distance_m": float(gear.distance_m),
                  "retired": bool(gear.retired)}
        if any(getattr(row, k, None) != v for k, v in values.items()):
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
            changed += 1
    session.flush()
    return changed


def load_gear(session: DbSession, athlete_id: int) -> list[Gear]:
    """Every pair of shoes the athlete has, by gear id, with the larger of the distance a
    source reports and the sum of the sessions run in it (shoes only seen on activities are
    included too)."""
    gear: dict[str, Gear] = {}
    reported = select(GearRow).where(GearRow.athlete_id == athlete_id).order_by(GearRow.source)
    for row in session.scalars(reported):
        known = gear.get(row.gear_id)
        distance = max(row.distance_m, known.distance_m if known else 0.0)
        gear[row.gear_id] = Gear(row.gear_id, row.name or (known.name if known else None),
                                 distance, row.retired or bool(known and known.retired))
    summed = (_sessions(athlete_id)
              .where(ActivityRow.gear_id.is_not(None))
              .with_only_columns(ActivityRow.gear_id, func.sum(ActivityRow.distance_m))
              .group_by(ActivityRow.gear_id))
    for gear_id, total in session.execute(summed):
        assert gear_id is not None  # filtered out by the query
        known = gear.get(gear_id, Gear(gear_id))
        gear[gear_id] = Gear(gear_id, known.name, max(known.distance_m, total or 0.0),
                             known.retired)
    return [gear[key] for key in sorted(gear)]


def source_records(session: DbSession, athlete_id: int, source: str) -> list[tuple[str, Any]]:
    """(source id, raw record) of every stored activity of ``athlete_id`` from ``source``,
    deleted ones included."""
    rows = session.execute(select(ActivityRow.source_id, ActivityRow.raw).where(
        ActivityRow.athlete_id == athlete_id, ActivityRow.source == source)).all()
    return [(source_id, raw) for source_id, raw in rows]


def delete_source_data(session: DbSession, athlete_id: int, source: str) -> None:
    """Delete for good every activity and pair of shoes of ``athlete_id`` from ``source``."""
    session.execute(delete(ActivityRow).where(ActivityRow.athlete_id == athlete_id,
                                              ActivityRow.source == source))
    session.execute(delete(GearRow).where(GearRow.athlete_id == athlete_id,
                                          GearRow.source == source))


def ping(session: DbSession) -> None:
    """Ask the database a trivial question; raises when it does not answer."""
    session.execute(text("SELECT 1"))
