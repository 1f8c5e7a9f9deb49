"""Plan against actual, week by week: what ``status``, ``GET /weeks``, the dashboard and the
weekly summary show. Pure, like the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from syncd.plan import week_start
from syncd.rules.context import Athlete, History
from syncd.rules.evaluator import GroupedHistory, plan_weeks


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
        }


def weeks_overview(athlete: Athlete, history: History, first: date, last: date,
                   today: date) -> list[WeekSummary]:
    """A summary for every week from the one containing ``first`` to the one containing
    ``last``. In gated progression ``history`` must reach back to the plan start."""
    grouped = GroupedHistory(athlete, history)
    start, end = week_start(first, athlete.plan_start), week_start(last, athlete.plan_start)
    out: list[WeekSummary] = []
    for day, plan_week in plan_weeks(athlete, grouped, start, end, today):
        if day < start:
            continue
        sessions = grouped.sessions.get(day, [])
        out.append(WeekSummary(
            start=day,
            plan_week=plan_week.number if plan_week else None,
            prescribed_sessions=plan_week.sessions if plan_week else None,
            prescribed_run_min=plan_week.run_min if plan_week else None,
            prescribed_session_min=plan_week.session_min if plan_week else None,
            sessions=len(sessions),
            run_min=sum(s.run_s for s in sessions) / 60,
            longest_session_min=max((s.duration_s for s in sessions), default=0) / 60,
            session_keys=tuple(s.key for s in sessions),
        ))
    return out
