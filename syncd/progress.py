"""Plan against actual, week by week: what ``status``, ``GET /weeks``, the dashboard and the
weekly summary show. Pure, like the rules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from syncd.models import OtherActivity
from syncd.plan import PlanWeek, week_start
from syncd.rules.context import Athlete, History
from syncd.rules.evaluator import GroupedHistory, plan_positions
from syncd.rules.progression import Position


@dataclass(frozen=True, slots=True)
class WeekSummary:
    """One week's prescription (``None`` outside the plan) next to what was done."""

    start: date
    plan_week: int | None
    prescribed_sessions: int | None
    prescribed_run_min: float | None
    prescribed_session_min: float | None
    sessions: int
    run_min: float
    longest_session_min: float
    session_keys: tuple[str, ...]
    # (sport type, minutes) of the week's cross-training: shown, never running load.
    cross_training: tuple[tuple[str, float], ...] = ()
    # How a gated plan reached this plan week from the week before: "start", "advance",
    # "repeat" or "step_back" (None in calendar progression and outside the plan).
    step: str | None = None

    @property
    def end(self) -> date:
        """The week's last local day."""
        return self.start + timedelta(days=6)

    @property
    def prescribed_volume_min(self) -> float | None:
        """The week's prescribed running minutes (sessions x run minutes)."""
        if self.prescribed_sessions is None or self.prescribed_run_min is None:
            return None
        return self.prescribed_sessions * self.prescribed_run_min

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the CLI and the HTTP API (no health detail beyond the plan's terms)."""
        return {
            "week_start": self.start.isoformat(),
            "week_end": self.end.isoformat(),
            "plan_week": self.plan_week,
            "prescribed": None if self.plan_week is None else {
                "sessions": self.prescribed_sessions,
                "run_min": self.prescribed_run_min,
                "session_min": self.prescribed_session_min,
                "volume_min": self.prescribed_volume_min,
            },
            "actual": {
                "sessions": self.sessions,
                "run_min": round(self.run_min, 1),
                "longest_session_min": round(self.longest_session_min, 1),
                "activity_ids": list(self.session_keys),
            },
            "cross_training": [{"sport": sport, "minutes": round(minutes, 1)}
                               for sport, minutes in self.cross_training],
            "step": self.step,
        }


def weeks_overview(athlete: Athlete, history: History, first: date, last: date,
                   today: date, positions: Sequence[Position] | None = None) -> list[WeekSummary]:
    """A summary for every week from the one containing ``first`` to the one containing
    ``last``. ``positions`` are the plan weeks as the evaluator counts them
    (:func:`syncd.pipeline.positions.week_positions`); without them they are walked over
    ``history``, which in gated progression must then reach back to the plan start."""
    grouped = GroupedHistory(athlete, history)
    start, end = week_start(first, athlete.plan_start), week_start(last, athlete.plan_start)
    if positions is None:
        positions = plan_positions(athlete, history, start, end, today)
    out: list[WeekSummary] = []
    for position in positions:
        day, plan_week = position.start, _plan_week(athlete, position.number)
        if not start <= day <= end:
            continue
        sessions = grouped.sessions.get(day, [])
        out.append(WeekSummary(
            start=day,
            plan_week=plan_week.number if plan_week else None,
            step=position.step if plan_week else None,
            prescribed_sessions=plan_week.sessions if plan_week else None,
            prescribed_run_min=plan_week.run_min if plan_week else None,
            prescribed_session_min=plan_week.session_min if plan_week else None,
            sessions=len(sessions),
            run_min=sum(s.run_s for s in sessions) / 60,
            longest_session_min=max((s.duration_s for s in sessions), default=0) / 60,
            session_keys=tuple(s.key for s in sessions),
            cross_training=cross_training(grouped.others.get(day, ())),
        ))
    return out


def cross_training(activities: Iterable[OtherActivity]) -> tuple[tuple[str, float], ...]:
    """Minutes of cross-training by sport type (``Ride``, ``Swim``...), most first: welcome,
    and never counted as running (walks and hikes are left out: they are part of the plan)."""
    minutes: dict[str, float] = defaultdict(float)
    for activity in activities:
        if activity.cross_training:
            minutes[activity.sport_type or "other"] += activity.duration_s / 60
    return tuple(sorted(minutes.items(), key=lambda item: (-item[1], item[0])))


def _plan_week(athlete: Athlete, number: int | None) -> PlanWeek | None:
    """Plan week ``number`` of the athlete's plan (``None`` outside it)."""
    return athlete.plan.week(number) if athlete.plan is not None and number else None


def step_text(plan_week: int | None, step: str | None) -> str:
    """How a gated plan reached ``plan_week``, in words for people (empty when it simply
    moved on, or outside gated progression)."""
    if plan_week is None:
        return ""
    if step == "step_back":
        return f"stepped back from week {plan_week + 1}"
    if step == "repeat":
        return f"week {plan_week} repeated"
    return ""
