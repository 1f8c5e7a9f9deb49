"""The prescribed run/walk plan: its file format, validation, and week arithmetic in local days.

A plan week k covers the local days ``start + 7(k-1)`` to ``start + 7k - 1``. Days before the
start and after the last week are outside the plan, where only the general rules apply.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from syncd.errors import PlanError

WEEK = timedelta(days=7)


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_weekly_increase: float = Field(0.10, ge=0, le=10)
    session_tolerance: float = Field(0.10, ge=0, le=10)
    rest_days_between_runs: int = Field(1, ge=0, le=6)
    pain_stop: int = Field(4, ge=1, le=10)
    pain_persist_hours: float = Field(48, gt=0, le=24 * 14)
    spike_vs_longest_30d: float = Field(0.10, ge=0, le=10)
    load_ratio_max: float = Field(1.5, gt=0, le=10)
    shoe_warn_km: float = Field(483, gt=0)
    shoe_replace_km: float = Field(805, gt=0)
    progression: Literal["calendar", "gated"] = "calendar"
    # What a week with pain that means stop (or pain that lasts) does to a gated plan: repeat
    # the week, or go back one plan week.
    regression: Literal["repeat", "step_back"] = "repeat"
    # no_data: more than this many local days since the last activity or pain report.
    silence_days: int = Field(4, ge=1, le=60)


class _Week(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sessions: int = Field(ge=0, le=14)
    run_min: float = Field(ge=0, le=600)
    walk_min: float = Field(0, ge=0, le=600)
    session_min: float | None = Field(None, gt=0, le=1200)
    run_interval_s: float | None = Field(None, gt=0)
    note: str | None = None


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str | None = None
    limits: _Limits = Field(default_factory=_Limits)
    weeks: list[_Week] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Limits:
    """The progression limits of a plan (DESIGN section 4)."""

    max_weekly_increase: float = 0.10
    session_tolerance: float = 0.10
    rest_days_between_runs: int = 1
    pain_stop: int = 4
    pain_persist_hours: float = 48
    spike_vs_longest_30d: float = 0.10
    load_ratio_max: float = 1.5
    shoe_warn_km: float = 483
    shoe_replace_km: float = 805
    progression: str = "calendar"
    regression: str = "repeat"
    silence_days: int = 4


@dataclass(frozen=True, slots=True)
class PlanWeek:
    """One prescribed week: ``sessions`` run sessions of ``run_min`` + ``walk_min`` minutes."""

    number: int
    sessions: int
    run_min: float
    walk_min: float
    session_min: float
    run_interval_s: float | None = None
    note: str | None = None

    @property
    def walk_only(self) -> bool:
        """True for a week with no running prescribed."""
        return self.run_min == 0

    @property
    def prescribed_run_s(self) -> float:
        """The week's prescribed running volume, in seconds."""
        return self.sessions * self.run_min * 60


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated plan: a name, its limits and its weeks in order."""

    name: str
    limits: Limits
    weeks: tuple[PlanWeek, ...]

    def week(self, number: int) -> PlanWeek | None:
        """Plan week ``number`` (1-based), or ``None`` outside the plan."""
        return self.weeks[number - 1] if 1 <= number <= len(self.weeks) else None


def parse_plan(data: Mapping[str, Any], source: str = "plan") -> Plan:
    """Validate a plan read from TOML. Raises :class:`PlanError` listing every problem."""
    mismatches = _mismatches(data)
    try:
        model = _Plan.model_validate(data)
    except ValidationError as err:
        problems = [_problem(e) for e in err.errors()]
        raise PlanError(problems + mismatches, source=source) from None
    if mismatches:
        raise PlanError(mismatches, source=source)
    weeks = tuple(
        PlanWeek(
            number=i,
            sessions=w.sessions,
            run_min=w.run_min,
            walk_min=w.walk_min,
            session_min=w.session_min if w.session_min is not None else w.run_min + w.walk_min,
            run_interval_s=w.run_interval_s,
            note=w.note,
        )
        for i, w in enumerate(model.weeks, start=1)
    )
    return Plan(name=model.name, limits=Limits(**model.limits.model_dump()), weeks=weeks)


def load_plan(path: Path) -> Plan:
    """Read and validate the plan file at ``path``. Raises :class:`PlanError`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError([f"plan file {path} does not exist"], source=str(path)) from None
    except (OSError, UnicodeDecodeError) as err:
        raise PlanError([f"cannot read plan file {path}: {err}"], source=str(path)) from None
    except tomllib.TOMLDecodeError as err:
        raise PlanError([f"not valid TOML: {err}"], source=str(path)) from None
    return parse_plan(data, source=str(path))


def _mismatches(data: Mapping[str, Any]) -> list[str]:
    """Problems between keys of one table (zero sessions with run minutes, shoe bands the
    wrong way round), read from the raw values.

    Pydantic skips a model's own validators once one of its fields is invalid, which would
    hide these until the field errors are fixed; checked here, they are listed with them.
    """
    problems: list[str] = []
    limits = data.get("limits")
    if isinstance(limits, Mapping):
        warn = _number(limits.get("shoe_warn_km", 483))
        replace = _number(limits.get("shoe_replace_km", 805))
        if warn is not None and replace is not None and replace < warn:
            problems.append("limits: shoe_replace_km must not be below shoe_warn_km")
    weeks = data.get("weeks")
    if isinstance(weeks, list):
        for index, week in enumerate(weeks):
            if isinstance(week, Mapping):
                where = f"weeks[{index}] (week {index + 1})"
                problems += [f"{where}: {problem}" for problem in _week_mismatches(week)]
    return problems


def _week_mismatches(week: Mapping[str, Any]) -> list[str]:
    """What does not fit together in one raw ``[[weeks]]`` table."""
    sessions, run_min = _number(week.get("sessions")), _number(week.get("run_min"))
    walk_min, bout_s = _number(week.get("walk_min", 0)), _number(week.get("run_interval_s"))
    problems = []
    if sessions == 0 and run_min is not None and run_min > 0:
        problems.append("a week with run minutes needs at least one session")
    if run_min == 0 and walk_min == 0 and "session_min" not in week:
        problems.append("a session needs running or walking minutes (run_min + walk_min > 0)")
    if bout_s is not None and run_min is not None and bout_s > run_min * 60 > 0:
        problems.append("run_interval_s is longer than the session's running minutes")
    return problems


def _number(value: Any) -> float | None:
    """``value`` as a number where pydantic would read it as one, else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _problem(error: Mapping[str, Any]) -> str:
    """One pydantic error as ``weeks[3].run_min: <what is wrong>``."""
    loc = ""
    for part in error.get("loc", ()):
        loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
    if isinstance(loc, str) and loc.startswith("weeks["):
        # Users count plan weeks from 1.
        index = int(loc[6 : loc.index("]")])
        loc = f"weeks[{index}] (week {index + 1})" + loc[loc.index("]") + 1 :]
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        message = "unknown key; remove it or check its spelling"
    message = message.removeprefix("Value error, ")
    return f"{loc or 'plan'}: {message}"


# -- week arithmetic -------------------------------------------------------------------------


def week_start(day: date, plan_start: date | None) -> date:
    """The first day of the week containing ``day``: plan-aligned 7-day blocks when the plan
    has a start date, ISO weeks (Monday) otherwise."""
    if plan_start is None:
        return day - timedelta(days=day.weekday())
    return plan_start + WEEK * ((day - plan_start).days // 7)


def block_index(day: date, plan_start: date) -> int:
    """The 0-based index of the 7-day block of ``day`` counted from the plan start
    (negative before the start)."""
    return (day - plan_start).days // 7


def calendar_week_number(day: date, plan: Plan, plan_start: date | None) -> int | None:
    """The plan week of ``day`` under calendar progression, or ``None`` outside the plan."""
    if plan_start is None:
        return None
    number = block_index(day, plan_start) + 1
    return number if plan.week(number) is not None else None


def week_dates(plan_start: date, number: int) -> tuple[date, date]:
    """First and last local day of calendar plan week ``number``."""
    first = plan_start + WEEK * (number - 1)
    return first, first + timedelta(days=6)
