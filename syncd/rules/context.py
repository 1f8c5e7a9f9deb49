"""What the rules look at: the athlete's plan, the history around a window, and one week."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from syncd.models import Gear, OtherActivity, PainReport, Session
from syncd.plan import Limits, Plan, PlanWeek

# Findings that compare with the past look this far back before a window (30-day spike,
# 28-day chronic load, last week's volume); callers load at least this much history.
LOOKBACK = timedelta(days=35)
EPSILON = 1e-6  # so that a value exactly at its limit (3 x 1.1 = 3.3000000000000003) is not over


def over(observed: float, limit: float) -> bool:
    """True when ``observed`` exceeds ``limit`` by more than float noise."""
    return observed > limit + EPSILON


@dataclass(frozen=True, slots=True)
class Athlete:
    """The athlete as the rules need them: plan, plan start (a local date) and time zone."""

    name: str
    timezone: str
    plan: Plan | None = None
    plan_start: date | None = None

    @property
    def limits(self) -> Limits:
        """The plan's limits, or the defaults when there is no plan."""
        return self.plan.limits if self.plan is not None else Limits()

    def local_date(self, moment: datetime) -> date:
        """The athlete's local calendar day at ``moment``."""
        return moment.astimezone(ZoneInfo(self.timezone)).date()


@dataclass(frozen=True, slots=True)
class History:
    """Sessions and pain reports around an evaluation window, sorted by time.

    Ties (two sessions or two reports at the same instant) are put in key order here, so that
    the findings never depend on the order the caller loaded them in.

    It must cover :data:`LOOKBACK` before the window and the first session after it.
    ``first_session_date`` is the athlete's earliest session ever (for the 28 days of history
    the load ratio needs). ``others`` are the activities that are not runs (walks, hikes,
    cross-training) over the same days: never running load. ``last_data_day`` is the last
    local day, up to the evaluation's today, with any activity or pain report, when the caller
    knows it beyond the history loaded (``no_data`` looks back as far as the silence goes).
    ``first_data_day`` is the athlete's first day with any data ever, when the caller knows
    it: weeks that ended before it are not judged (``missed_session``).
    """

    sessions: Sequence[Session]
    pain: Sequence[PainReport] = ()
    gear: Sequence[Gear] = ()
    first_session_date: date | None = None
    others: Sequence[OtherActivity] = ()
    last_data_day: date | None = None
    first_data_day: date | None = None
    _starts: list[datetime] = field(default_factory=list, repr=False, compare=False)
    _pain_times: list[datetime] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Sorting input that is already sorted by time is linear; this only settles ties.
        object.__setattr__(self, "sessions",
                           sorted(self.sessions, key=lambda s: (s.start_utc, s.key)))
        object.__setattr__(self, "pain", sorted(self.pain, key=lambda p: (p.at_utc, p.id)))
        object.__setattr__(self, "others",
                           sorted(self.others, key=lambda a: (a.start_utc, a.key)))
        self._starts.extend(s.start_utc for s in self.sessions)
        self._pain_times.extend(p.at_utc for p in self.pain)

    def sessions_between(self, first: datetime, last: datetime) -> Sequence[Session]:
        """Sessions that started in [first, last)."""
        lo = bisect.bisect_left(self._starts, first)
        hi = bisect.bisect_left(self._starts, last)
        return self.sessions[lo:hi]

    def previous_session(self, session: Session) -> Session | None:
        """The session before ``session``, or ``None``."""
        i = bisect.bisect_left(self._starts, session.start_utc)
        return self.sessions[i - 1] if i > 0 else None

    def next_session(self, session: Session) -> Session | None:
        """The session after ``session``, or ``None``."""
        i = bisect.bisect_right(self._starts, session.start_utc)
        return self.sessions[i] if i < len(self.sessions) else None

    def pain_between(self, first: datetime, last: datetime | None) -> Sequence[PainReport]:
        """Pain reports with ``first <= at < last`` (``last`` None: no end)."""
        lo = bisect.bisect_left(self._pain_times, first)
        hi = len(self.pain) if last is None else bisect.bisect_left(self._pain_times, last)
        return self.pain[lo:hi]

    def last_pain_before(self, moment: datetime) -> PainReport | None:
        """The last pain report strictly before ``moment``."""
        i = bisect.bisect_left(self._pain_times, moment)
        return self.pain[i - 1] if i > 0 else None


@dataclass(frozen=True, slots=True)
class Week:
    """One week as evaluated: its local days, its plan week (``None`` outside the plan), the
    sessions in it and the running volume of the week before."""

    start: date
    plan_week: PlanWeek | None
    sessions: Sequence[Session]
    previous_run_s: float

    @property
    def last_day(self) -> date:
        """The week's last local day."""
        return self.start + timedelta(days=6)

    @property
    def run_s(self) -> float:
        """The week's running volume so far, in seconds."""
        return sum(s.run_s for s in self.sessions)

    @property
    def label(self) -> str:
        """How messages name the week."""
        if self.plan_week is not None:
            return f"Week {self.plan_week.number}"
        return f"Week of {self.start.isoformat()}"


def minutes(seconds: float) -> float:
    """Seconds to minutes, rounded for display and payloads."""
    return round(seconds / 60, 2)
