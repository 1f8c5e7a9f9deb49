"""Which plan week each week is, for everything that shows it (``syncd plan``, ``status``,
``/weeks``, the dashboard, the weekly summary): the evaluator's answer, read where the
evaluations stored it and walked on from the latest stored week for the weeks after.

In calendar progression the answer is arithmetic. In gated progression the stored positions
run without a gap from the plan start to the last week an evaluation reached (each
evaluation rewrites them from the first week its change can touch); the weeks after that
(nothing was evaluated since, or the week has not begun) are walked by the same pure
function the evaluator uses, over the history from the latest stored week.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session as DbSession

from syncd.pipeline.evaluation import load_history
from syncd.plan import week_start
from syncd.rules import Athlete, History, Window
from syncd.rules.evaluator import plan_positions
from syncd.rules.progression import Position, gated, plan_key
from syncd.store.plan_positions import position_at, positions_between


def week_positions(tx: DbSession, athlete_id: int, athlete: Athlete, first: date, last: date,
                   now: datetime) -> list[Position]:
    """The position of every week from the one containing ``first`` to the one containing
    ``last``, in order."""
    today = athlete.local_date(now)
    first_week = week_start(first, athlete.plan_start)
    last_week = week_start(last, athlete.plan_start)
    if not gated(athlete):
        return plan_positions(athlete, History(()), first_week, last_week, today)
    key = plan_key(athlete)
    began = min(last_week, week_start(today, athlete.plan_start))
    anchor = position_at(tx, athlete_id, key, began)
    known = {p.start: p for p in (positions_between(tx, athlete_id, key, first_week,
                                                     anchor.start) if anchor else ())}
    if anchor is None or anchor.start < last_week:
        walk_first = max(anchor.start, first_week) if anchor else first_week
        window = Window(walk_first, last_week)
        history = load_history(tx, athlete_id, athlete, window, now, anchor=anchor)
        walked = plan_positions(athlete, history, walk_first, last_week, today, anchor)
        known.update((p.start, p) for p in walked)
    return [known.get(day, Position(day, None)) for day in _weeks(first_week, last_week)]


def current_position(tx: DbSession, athlete_id: int, athlete: Athlete,
                     now: datetime) -> Position:
    """Where the plan stands this week."""
    today = athlete.local_date(now)
    return week_positions(tx, athlete_id, athlete, today, today, now)[0]


def _weeks(first: date, last: date) -> Iterator[date]:
    """Week starts from ``first`` to ``last``."""
    day = first
    while day <= last:
        yield day
        day += timedelta(days=7)
