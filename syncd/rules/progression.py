"""Which plan week each local week is: the one answer every view and the evaluator share.

In calendar progression plan week k is the k-th 7-day block from the plan start. In gated
progression the plan advances after a week that ended clean (no warning or critical finding,
and run in, unless it is a walking week) and otherwise repeats; with ``[limits] regression =
"step_back"`` a week with a ``pain_stop`` or ``pain_persistent`` finding sends the next week
back one plan week (never below week 1) and raises ``plan_step_back`` (info) in the week it
happened. Whether week k advances depends on every week before it, so a gated walk starts
either at the plan start or at a :class:`Position` remembered from an earlier evaluation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Protocol

from syncd.models import SEVERITY_ORDER, Finding, Session, Subject
from syncd.plan import Limits, PlanWeek
from syncd.rules.context import Athlete

DAYS_7 = timedelta(days=7)
START, ADVANCE, REPEAT, STEP_BACK = "start", "advance", "repeat", "step_back"
# The findings that send a step_back plan back one week (the seed: pain that means stop, or
# pain that lasts, means go back to the previous week).
STEP_BACK_RULES = frozenset({"pain_stop", "pain_persistent"})


@dataclass(frozen=True, slots=True)
class Position:
    """Where the plan stands in the week starting ``start``.

    ``number`` is the plan week (``None`` before the plan start or without a plan); past the
    last week it counts on (maintenance). ``step`` says how a gated plan got here from the
    week before (``start``, ``advance``, ``repeat``, ``step_back``); ``None`` outside the
    plan and in calendar progression.
    """

    start: date
    number: int | None
    step: str | None = None


class WeekFindings(Protocol):
    """What the walk asks of the history: a week's sessions and findings."""

    @property
    def sessions(self) -> Mapping[date, Sequence[Session]]:
        """The sessions of each week, by week start (read only: a dict of lists will do)."""

    def week_findings(self, start: date, plan_week: PlanWeek | None) -> Iterator[Finding]:
        """Every finding anchored in the week starting at ``start``."""


def gated(athlete: Athlete) -> bool:
    """True when the athlete's plan progresses on clean weeks (and has a start date)."""
    return (athlete.plan is not None and athlete.plan_start is not None
            and athlete.limits.progression == "gated")


def plan_key(athlete: Athlete) -> str:
    """A fingerprint of everything a gated walk depends on besides the history (the plan,
    its limits and weeks, the start date, the time zone): positions stored under another key
    are stale."""
    text = repr((athlete.plan, athlete.plan_start, athlete.timezone))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def walk_start(athlete: Athlete, first: date, anchor: Position | None) -> date:
    """The first week a walk covering ``first`` visits: the anchor's week when it is usable,
    else the plan start in gated progression, else ``first``."""
    if not gated(athlete) or athlete.plan_start is None:
        return first
    if _usable(athlete, first, anchor):
        assert anchor is not None
        return anchor.start
    return min(first, athlete.plan_start)


def _usable(athlete: Athlete, first: date, anchor: Position | None) -> bool:
    """An anchor a gated walk to ``first`` may start from: inside the plan, not after
    ``first``, on a week boundary."""
    start = athlete.plan_start
    return (anchor is not None and start is not None and anchor.number is not None
            and start <= anchor.start <= first and (anchor.start - start).days % 7 == 0)


def walk(athlete: Athlete, history: WeekFindings, first: date, last: date, today: date,
         anchor: Position | None = None) -> Iterator[tuple[Position, list[Finding]]]:
    """(position, findings) for every week from :func:`walk_start` to ``last`` (week starts).

    The findings are those of the weeks from ``first`` on, and of earlier weeks only where a
    gated walk needs them to move on; a step-back's ``plan_step_back`` is among the findings
    of the week it happened in.
    """
    if not gated(athlete):
        for day in _weeks(first, last):
            position = _calendar(athlete, day)
            yield position, list(history.week_findings(day, _plan_week(athlete,
                                                                        position.number)))
        return
    yield from _gated(athlete, history, first, last, today, anchor)


def positions(athlete: Athlete, history: WeekFindings, first: date, last: date, today: date,
              anchor: Position | None = None) -> list[Position]:
    """The position of every week from ``first`` to ``last`` (week starts): the plan week
    each one is, as the evaluator counts it."""
    if not gated(athlete):
        return [_calendar(athlete, day) for day in _weeks(first, last)]
    return [p for p, _ in _gated(athlete, history, first, last, today, anchor)
            if p.start >= first]


def _calendar(athlete: Athlete, day: date) -> Position:
    """The position of the week starting ``day`` in calendar progression (or without plan)."""
    if athlete.plan is None or athlete.plan_start is None:
        return Position(day, None)
    number = (day - athlete.plan_start).days // 7 + 1
    return Position(day, number if athlete.plan.week(number) is not None else None)


def _plan_week(athlete: Athlete, number: int | None) -> PlanWeek | None:
    """Plan week ``number`` of the athlete's plan (``None`` outside it)."""
    if athlete.plan is None or number is None:
        return None
    return athlete.plan.week(number)


def _gated(athlete: Athlete, history: WeekFindings, first: date, last: date, today: date,
           anchor: Position | None) -> Iterator[tuple[Position, list[Finding]]]:
    """The gated walk from the anchor (or the plan start) to ``last``."""
    start = athlete.plan_start
    assert start is not None
    day = walk_start(athlete, first, anchor)
    number, step = (anchor.number, anchor.step) if anchor and day == anchor.start else (1, START)
    assert number is not None
    while day <= last:
        if day < start:
            yield Position(day, None), (list(history.week_findings(day, None))
                                        if day >= first else [])
            day += DAYS_7
            continue
        plan_week = _plan_week(athlete, number)
        if plan_week is None and day < first:  # past the plan nothing moves: no need to look
            yield Position(day, number), []
            day += DAYS_7
            continue
        found = list(history.week_findings(day, plan_week))
        ended = day + timedelta(days=6) < today
        after, next_step = next_week(athlete.limits, plan_week, number, found,
                                     bool(history.sessions.get(day)), ended)
        if next_step == STEP_BACK and plan_week is not None:
            found.append(plan_step_back(day, plan_week, found, athlete.limits))
        yield Position(day, number, step if plan_week is not None else None), found
        number, step, day = after, next_step, day + DAYS_7


def next_week(limits: Limits, plan_week: PlanWeek | None, number: int,
              findings: Sequence[Finding], ran: bool, ended: bool) -> tuple[int, str]:
    """The plan week number of the week after one at ``number`` with ``findings``, and how
    it got there.

    A step-back is decided as soon as the week holds its pain finding (the next week can only
    be the lower one); advancing waits for the week to end. A running week with no run in it
    was skipped, not done: it repeats. Past the plan nothing moves.
    """
    if plan_week is None:
        return number, REPEAT
    if limits.regression == "step_back" and any(f.rule in STEP_BACK_RULES for f in findings):
        return (number - 1, STEP_BACK) if number > 1 else (number, REPEAT)
    done = plan_week.walk_only or ran
    if ended and done and clean(findings):
        return number + 1, ADVANCE
    return number, REPEAT


def clean(findings: Iterable[Finding]) -> bool:
    """A week ended clean: no warning or critical finding (pain_stop is critical)."""
    return all(SEVERITY_ORDER[f.severity] < SEVERITY_ORDER["warning"] for f in findings)


def plan_step_back(day: date, plan_week: PlanWeek, findings: Sequence[Finding],
                   limits: Limits) -> Finding:
    """The ``plan_step_back`` finding of the week starting ``day`` (plan week ``plan_week``),
    naming the pain that caused it and the weeks it goes from and to."""
    number, back_to = plan_week.number, plan_week.number - 1
    causes = [f for f in findings if f.rule in STEP_BACK_RULES]
    why = ("pain at or above the stop threshold" if any(f.rule == "pain_stop" for f in causes)
           else "pain lasting after a run")
    return Finding(
        rule="plan_step_back", severity="info", subject=Subject.week(day, number),
        observed=float(back_to), limit=float(number), unit="plan week",
        message=f"Week {number}: {why}, so the plan steps back from week {number} to week "
                f"{back_to} for the week of {(day + DAYS_7).isoformat()}.",
        advice=f"Follow week {back_to}'s sessions; the plan moves forward again after a week "
               f"that ends with no warning and pain below {limits.pain_stop}/10.",
        activity_ids=tuple(dict.fromkeys(k for f in causes for k in f.activity_ids)))


def _weeks(first: date, last: date) -> Iterator[date]:
    """Week starts from ``first`` to ``last``."""
    day = first
    while day <= last:
        yield day
        day += DAYS_7
