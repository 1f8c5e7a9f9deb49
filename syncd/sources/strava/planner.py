"""Sharing one Strava application's read budget among every athlete of a clinic.

Strava limits an application, not an athlete: 100 reads per 15-minute window (windows start
at :00, :15, :30 and :45 UTC) and 1,000 per UTC day. This module decides, from what is left,
which Strava work runs now. It is pure: the budget, the clock and the candidates are passed in.

Work comes in four kinds, most urgent first: a webhook event (re-read one activity), a new
athlete's first sync or laps owed for a new activity, a routine poll (a slow reconciliation
when webhooks are on), and a history backfill. Each kind keeps its hands off a share of the
window that the kinds before it may still need (polls stop at a quarter left, backfill at
half), and routine work stops where the rest of the UTC day's expected events would go short.

Webhook events are unsigned: anyone can post them. So events leave a reserve untouched (the
last fifth of the window and the last tenth of the day), which first syncs keep for
themselves, and one athlete's events may spend only a few reads per window and per day
(:class:`EventAllowance`): a flood of forged events cannot starve the others.

Routine polls are spread over their interval (:mod:`syncd.sources.strava.polls`).

Measured costs (reads, against the test suite's fake Strava): a webhook event is 1 (the
activity's detail carries its laps), 2 when the laps do not separate run from walk and the
velocity stream is read too; a quiet poll is 1 (the list); a new activity found by a poll
adds its laps (1, rarely 2); a daily gear refresh adds 1 for an athlete with shoes.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any, Protocol

WINDOW = timedelta(minutes=15)
DAY = timedelta(days=1)
DEFAULT_LIMITS = (100, 1000)  # Strava's read limits: per 15 minutes, per UTC day
# Expected events for the rest of the day include this much slack: the UTC day does not end
# when the athletes' days do (a run in California lands after midnight UTC).
EVENT_SLACK = timedelta(hours=2)


class Kind(IntEnum):
    """Kinds of Strava work, most urgent first."""

    EVENT = 0  # a webhook event: re-read the activity it names
    NEW = 1  # a newly connected athlete's first sync; laps owed for a new activity
    POLL = 2  # a routine poll (the reconciliation, with webhooks on)
    BACKFILL = 3  # history still to fill in


@dataclass(frozen=True, slots=True)
class Cost:
    """The reads one piece of work takes: ``most`` must be left before it starts; ``mean``
    paces the day and sizes the capacity."""

    most: int
    mean: float


# See the module docstring for the measurements behind these.
DEFAULT_COSTS: Mapping[Kind, Cost] = {
    Kind.EVENT: Cost(most=2, mean=1.1),
    Kind.NEW: Cost(most=6, mean=3.0),  # list + laps of the first activities found
    Kind.POLL: Cost(most=3, mean=1.0),  # list (+ laps of one new activity, + gear)
    Kind.BACKFILL: Cost(most=12, mean=8.0),  # a few list pages and their laps
}


@dataclass(frozen=True, slots=True)
class QuotaSettings:
    """How the application's budget is shared.

    ``reconcile_interval`` is the routine poll with webhooks on. Events bring each activity
    within a minute, so this poll only catches what an event missed (Strava gives up on a
    callback that fails three times, and a replica may be down): every 6 hours finds such an
    activity the same day, while the athlete may still read the alert before the next run,
    for 4 reads per athlete and day; 24 hours would let a missed run go unseen until the
    next one. ``poll_interval`` is the poll without webhooks (``[strava] poll_interval``).
    Both stretch when the athletes would need more than ``poll_share`` of the day, or more
    than what the day's expected activities (``activities_per_athlete_day``, edits included)
    leave of it after ``spare_share`` is kept for first syncs, backfills, retries and gear.
    """

    webhooks: bool = True
    reconcile_interval: timedelta = timedelta(hours=6)
    poll_interval: timedelta = timedelta(minutes=15)
    activities_per_athlete_day: float = 1.5
    poll_share: float = 0.5
    spare_share: float = 0.1
    # Share of the 15-minute window each kind leaves untouched for the kinds before it.
    # Events leave a fifth: first syncs (which stop at a tenth) still run during a flood.
    window_reserve: Mapping[Kind, float] = field(default_factory=lambda: {
        Kind.EVENT: 0.2, Kind.NEW: 0.1, Kind.POLL: 0.25, Kind.BACKFILL: 0.5})
    # Share of the day that events leave untouched (they need none of the others' reserve).
    event_day_reserve: float = 0.1
    # Share of the day that backfill leaves untouched, beyond the events' reserve.
    backfill_day_reserve: float = 0.2
    costs: Mapping[Kind, Cost] = field(default_factory=lambda: dict(DEFAULT_COSTS))

    @property
    def configured_interval(self) -> timedelta:
        """The routine poll interval before any stretching."""
        return self.reconcile_interval if self.webhooks else self.poll_interval


# -- the budget -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetView:
    """What is left of the application's read budget at one moment."""

    window_limit: int
    window_left: int
    day_limit: int
    day_left: int
    window_resets: datetime
    day_resets: datetime

    @property
    def window_used(self) -> int:
        """Reads made in the current window."""
        return self.window_limit - self.window_left

    @property
    def day_used(self) -> int:
        """Reads made in the current UTC day."""
        return self.day_limit - self.day_left


class ObservedBudget(Protocol):
    """What :func:`budget_view` needs of ``connectors.strava.budget.RateBudget``."""

    def left(self, now: datetime) -> dict[str, Any]:
        """Requests left in the window and the day, as ``RateBudget.left`` reports them."""
        ...


def window_start(moment: datetime) -> datetime:
    """The start of the 15-minute window holding ``moment`` (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    """UTC midnight before ``moment``."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def budget_view(budget: ObservedBudget, now: datetime,
                limits: tuple[int, int] = DEFAULT_LIMITS) -> BudgetView:
    """The read budget as the last Strava response reported it (overall requests count too:
    every read is also a request). Before any response, the whole of ``limits`` is assumed;
    while Strava has blocked the application (a 429), nothing is left until the block ends."""
    left = budget.left(now)
    window_limit, day_limit = limits
    window_left, day_left = limits
    for name in ("read", "overall"):
        pair = left.get(name)
        if not pair:
            continue
        if name == "read":
            window_limit, day_limit = (int(v) for v in pair["limits"])
            window_left, day_left = window_limit, day_limit
        window_left = min(window_left, int(pair["15min"]))
        day_left = min(day_left, int(pair["day"]))
    window_resets = window_start(now) + WINDOW
    day_resets = day_start(now) + DAY
    blocked = left.get("blocked_until")
    if blocked:
        until = datetime.fromisoformat(str(blocked).replace("Z", "+00:00"))
        if until > now:
            window_left = 0
            if until >= day_resets:
                day_left = 0
    return BudgetView(window_limit, max(window_left, 0), day_limit, max(day_left, 0),
                      window_resets, day_resets)


# -- work -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Work:
    """One piece of Strava work for one athlete. ``due`` orders work of one kind (oldest
    first); ``payload`` is what the runner needs (an event, ...), opaque to the planner."""

    kind: Kind
    athlete: str
    cost: int
    due: datetime
    payload: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.cost < 1:
            raise ValueError(f"work costs at least one read, not {self.cost}")


def work_order(work: Work) -> tuple[int, datetime, str]:
    """Most urgent kind first, then the longest waiting, then by athlete (stable)."""
    return int(work.kind), work.due, work.athlete


def events_reserve(now: datetime, athletes: int, settings: QuotaSettings) -> int:
    """Reads the expected events of the rest of the UTC day need (routine work leaves
    them)."""
    per_day = athletes * settings.activities_per_athlete_day * settings.costs[Kind.EVENT].mean
    remaining = day_start(now) + DAY - now + EVENT_SLACK
    return _ceil(per_day * min(1.0, remaining / DAY))


def floors(budget: BudgetView, kind: Kind, reserve: int,
           settings: QuotaSettings) -> tuple[int, int]:
    """(window, day) reads that work of ``kind`` must leave untouched."""
    window = _ceil(budget.window_limit * settings.window_reserve.get(kind, 0.0))
    if kind is Kind.EVENT:
        return window, _ceil(budget.day_limit * settings.event_day_reserve)
    day = reserve
    if kind is Kind.BACKFILL:
        day += _ceil(budget.day_limit * settings.backfill_day_reserve)
    return window, day


def affordable(budget: BudgetView, work: Work, reserve: int, settings: QuotaSettings) -> bool:
    """True when ``work`` fits in what is left above its kind's floors."""
    window_floor, day_floor = floors(budget, work.kind, reserve, settings)
    return (work.cost <= budget.window_left - window_floor
            and work.cost <= budget.day_left - day_floor)


def choose(now: datetime, budget: BudgetView, candidates: Iterable[Work], *, athletes: int,
           settings: QuotaSettings, limit: int | None = None) -> list[Work]:
    """The work to run now, in the order to run it.

    Work is taken most urgent first while its estimated cost fits above its kind's floors in
    the window and the day. Once a piece of work does not fit, nothing of a later kind is
    taken: it would spend reads the waiting work needs. Events are the exception: what stops
    them is the reserve they leave to the others, which the others may then spend.
    ``athletes`` sizes the events' reserve for the rest of the day; ``limit`` bounds the
    length of the list.
    """
    reserve = events_reserve(now, athletes, settings)
    window_left, day_left = budget.window_left, budget.day_left
    chosen: list[Work] = []
    refused: Kind | None = None
    for work in sorted(candidates, key=work_order):
        if limit is not None and len(chosen) >= limit:
            break
        if refused is not None and work.kind > refused:
            break
        view = BudgetView(budget.window_limit, window_left, budget.day_limit, day_left,
                          budget.window_resets, budget.day_resets)
        if affordable(view, work, reserve, settings):
            chosen.append(work)
            window_left -= work.cost
            day_left -= work.cost
        elif refused is None and work.kind is not Kind.EVENT:
            refused = work.kind
    return chosen


class EventAllowance:
    """Reads that one athlete's webhook events may spend: ``per_window`` in a 15-minute
    window and ``per_day`` in a UTC day. A real athlete's events take a few reads a day (an
    upload, a title changed); forged events naming the athlete take no more than this, and
    wait (in the inbox, where they coalesce into one listing) once it is spent. Thread-safe.
    """

    def __init__(self, per_window: int = 4, per_day: int = 24) -> None:
        self.per_window = per_window
        self.per_day = per_day
        self._spent: dict[Hashable, tuple[datetime, int, datetime, int]] = {}
        self._lock = threading.Lock()

    def left(self, athlete: Hashable, now: datetime) -> int:
        """Reads the athlete's events may still spend now."""
        window, day = self._used(athlete, now)
        return max(0, min(self.per_window - window, self.per_day - day))

    def spend(self, athlete: Hashable, now: datetime, reads: int) -> None:
        """Note ``reads`` made for the athlete's events."""
        window, day = self._used(athlete, now)
        with self._lock:
            self._spent[athlete] = (window_start(now), window + reads,
                                    day_start(now), day + reads)

    def _used(self, athlete: Hashable, now: datetime) -> tuple[int, int]:
        """(window, day) reads spent so far, counting only the current window and day."""
        with self._lock:
            spent = self._spent.get(athlete)
        if spent is None:
            return 0, 0
        window_at, window, day_at, day = spent
        return (window if window_at == window_start(now) else 0,
                day if day_at == day_start(now) else 0)


def _ceil(value: float) -> int:
    """Whole reads, rounding up (1.5 x 1.1 x 300 is 495, not the 495.00000000000006 that
    floating point makes of it)."""
    return math.ceil(round(value, 6))


def spread(moments: Sequence[datetime]) -> dict[datetime, int]:
    """How many of ``moments`` fall in each 15-minute window (for reports and tests)."""
    counts: dict[datetime, int] = {}
    for moment in moments:
        start = window_start(moment)
        counts[start] = counts.get(start, 0) + 1
    return counts
