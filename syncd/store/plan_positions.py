"""Where each athlete's gated plan stood, week by week: written by every evaluation from the
first week it walked, read to start the next one there instead of at the plan start.

A row for week k holds the plan week k had, which depends only on the weeks before it; an
evaluation after a change rewrites every row from the first week the change can touch, so the
rows left before it stay true. Rows written under another plan key (the plan, its start or
the time zone changed) are never read and are dropped by the next write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session as DbSession

from syncd.rules.progression import Position
from syncd.store.tables import PlanPositionRow


def position_at(tx: DbSession, athlete_id: int, plan_key: str, day: date) -> Position | None:
    """The latest stored position of a week starting on or before ``day`` under
    ``plan_key``, or ``None``."""
    row = tx.execute(
        select(PlanPositionRow)
        .where(PlanPositionRow.athlete_id == athlete_id, PlanPositionRow.plan_key == plan_key,
               PlanPositionRow.week_start <= day)
        .order_by(PlanPositionRow.week_start.desc()).limit(1)).scalar_one_or_none()
    return None if row is None else Position(row.week_start, row.week, row.step)


def positions_between(tx: DbSession, athlete_id: int, plan_key: str, first: date,
                      last: date) -> list[Position]:
    """The stored positions of the weeks starting ``first``..``last``, in order."""
    rows = tx.execute(
        select(PlanPositionRow)
        .where(PlanPositionRow.athlete_id == athlete_id, PlanPositionRow.plan_key == plan_key,
               PlanPositionRow.week_start >= first, PlanPositionRow.week_start <= last)
        .order_by(PlanPositionRow.week_start)).scalars()
    return [Position(row.week_start, row.week, row.step) for row in rows]


def save_positions(tx: DbSession, athlete_id: int, plan_key: str,
                   positions: Sequence[Position], until: date) -> int:
    """Replace the athlete's positions from the first of ``positions`` on with those inside
    the plan that start on or before ``until`` (later weeks have not begun: where they stand
    still depends on today). Returns the number of rows written."""
    walked = [p.start for p in positions]
    kept = [p for p in positions if p.number is not None and p.start <= until]
    if not walked:
        return 0
    tx.execute(delete(PlanPositionRow).where(
        PlanPositionRow.athlete_id == athlete_id,
        or_(PlanPositionRow.week_start >= min(walked), PlanPositionRow.plan_key != plan_key)))
    tx.add_all(PlanPositionRow(athlete_id=athlete_id, week_start=p.start, plan_key=plan_key,
                               week=p.number, step=p.step) for p in kept)
    tx.flush()
    return len(kept)


def forget_positions(tx: DbSession, athlete_id: int) -> None:
    """Drop every stored position of the athlete (the next evaluation walks from the plan
    start)."""
    tx.execute(delete(PlanPositionRow).where(PlanPositionRow.athlete_id == athlete_id))


def positions_of_weeks(tx: DbSession, weeks: Mapping[int, tuple[str, date]]
                       ) -> dict[int, Position]:
    """One stored position per athlete, ``{athlete id: (plan key, week start)}``, read in one
    query whatever the number of athletes; athletes with none stored are left out."""
    if not weeks:
        return {}
    rows = tx.execute(select(PlanPositionRow).where(
        PlanPositionRow.athlete_id.in_(list(weeks)),
        PlanPositionRow.week_start.in_({start for _, start in weeks.values()}))).scalars()
    return {row.athlete_id: Position(row.week_start, row.week, row.step) for row in rows
            if weeks[row.athlete_id] == (row.plan_key, row.week_start)}
