"""Routine Strava polls for a clinic: each athlete's stable slot in the interval, the interval
the day's budget allows, and how many athletes the application can serve (pure, like
:mod:`syncd.sources.strava.planner`).

Routine polls are spread over their interval: each athlete has a stable slot (ranked by a
SHA-256 of the athlete's name), so N athletes are polled one interval/N apart. The interval
stretches by itself when N athletes would poll more than their share of the day's budget."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from syncd.sources.strava.planner import DAY, Kind, QuotaSettings

if TYPE_CHECKING:
    from syncd.clinic import Clinic


def stable_rank_key(athlete: str) -> bytes:
    """The athlete's place on the poll circle: the same in every process and release."""
    return hashlib.sha256(athlete.encode()).digest()


def poll_slots(athletes: Iterable[str], interval: timedelta) -> dict[str, timedelta]:
    """Each athlete's offset inside the poll interval: ranked by :func:`stable_rank_key`
    and one interval/N apart, so that polls never bunch up."""
    ranked = sorted(set(athletes), key=lambda name: (stable_rank_key(name), name))
    if not ranked:
        return {}
    step = interval / len(ranked)
    return {name: step * i for i, name in enumerate(ranked)}


def latest_slot(now: datetime, offset: timedelta, interval: timedelta) -> datetime:
    """The most recent moment, at or before ``now``, of the slot at ``offset`` (slots repeat
    every ``interval`` from 1970-01-01 UTC, so every process agrees on them)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    periods = math.floor((now - epoch - offset) / interval)
    return epoch + offset + interval * periods


def poll_due(now: datetime, last_poll: datetime | None, offset: timedelta,
             interval: timedelta) -> datetime | None:
    """Since when the athlete's routine poll is due, or ``None`` when it is not.

    Due at the athlete's slot, once the slot comes at least half an interval after the last
    poll: a poll made off its slot (a first sync, a poll postponed, an interval that changed)
    waits for its slot again rather than for a fixed delay, so that athletes who connected
    together do not come due together.
    """
    if last_poll is None:
        return None
    slot = latest_slot(now, offset, interval)
    if slot - last_poll < interval / 2:
        return None
    return slot


def polls_per_day_allowed(athletes: int, day_limit: int, settings: QuotaSettings) -> float:
    """Reads a day may spend on routine polls: at most ``poll_share`` of the day, and only
    what the expected activities and the spare share leave (never below 1 %: a trickle of
    reconciliation goes on even when the clinic outgrows the budget)."""
    usable = day_limit * (1 - settings.spare_share)
    activities = athletes * settings.activities_per_athlete_day * settings.costs[Kind.EVENT].mean
    allowed = min(day_limit * settings.poll_share, usable - activities)
    return max(allowed, day_limit * 0.01)


# Stretched intervals are taken from this ladder (then whole weeks): each divides a week, so
# the slots, counted from 1970, stay where they are while the interval stays on one rung. A
# measured cost that drifts a little does not move every athlete's slot.
INTERVAL_LADDER = tuple(timedelta(minutes=m) for m in (
    15, 20, 30, 45, 60, 90, 120, 180, 240, 360, 480, 720, 840, 1260, 1440, 1680, 2520, 3360,
    5040, 10080))


# A stretched interval comes back down only when the shorter one fits with this much to
# spare: an estimate hovering at a rung's edge must not move every slot back and forth.
SHORTEN_MARGIN = 1.1


def poll_interval(athletes: int, day_limit: int, settings: QuotaSettings,
                  current: timedelta | None = None) -> timedelta:
    """The routine poll interval: the configured one, or, when ``athletes`` polls at that
    pace need more than a day allows them, the next rung of :data:`INTERVAL_LADDER` that
    fits (300 athletes every 15 minutes would need 28,800 reads a day, against Strava's
    1,000). Given the ``current`` interval, a shorter one is only taken when it fits with
    :data:`SHORTEN_MARGIN` to spare."""
    configured = settings.configured_interval
    if athletes <= 0:
        return configured
    poll_cost = settings.costs[Kind.POLL].mean
    needed = DAY * (athletes * poll_cost / polls_per_day_allowed(athletes, day_limit, settings))
    fitting = _rung(max(needed, configured), configured)
    if current is not None and fitting < current:
        relaxed = _rung(max(needed * SHORTEN_MARGIN, configured), configured)
        return min(current, relaxed)
    return fitting


def _rung(needed: timedelta, configured: timedelta) -> timedelta:
    """``configured`` when it is enough, else the shortest rung of the ladder that is."""
    if needed <= configured:
        return configured
    for rung in INTERVAL_LADDER:
        if rung >= needed:
            return rung
    week = INTERVAL_LADDER[-1]
    return week * math.ceil(needed / week)


@dataclass(frozen=True, slots=True)
class Capacity:
    """How far the budget goes at the current settings (for ``GET /status``)."""

    athletes: int
    servable: int  # athletes served at the configured interval, before it stretches
    servable_at_most: int  # athletes whose expected activities alone fit in the day
    interval: timedelta  # the routine poll interval in use (stretched or not)
    configured_interval: timedelta
    reads_per_athlete_day: float  # at the interval in use
    reads_per_day: float

    @property
    def stretched(self) -> bool:
        """True when the poll interval is longer than configured."""
        return self.interval > self.configured_interval

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, intervals in seconds."""
        return {"athletes": self.athletes, "servable": self.servable,
                "servable_at_most": self.servable_at_most,
                "poll_interval_s": int(self.interval.total_seconds()),
                "configured_interval_s": int(self.configured_interval.total_seconds()),
                "stretched": self.stretched,
                "reads_per_athlete_day": round(self.reads_per_athlete_day, 2),
                "reads_per_day": round(self.reads_per_day, 1)}


def reads_per_athlete_day(interval: timedelta, settings: QuotaSettings) -> float:
    """Expected reads for one athlete per day: its activities, and its polls at ``interval``."""
    activities = settings.activities_per_athlete_day * settings.costs[Kind.EVENT].mean
    return activities + (DAY / interval) * settings.costs[Kind.POLL].mean


def capacity(athletes: int, day_limit: int, settings: QuotaSettings) -> Capacity:
    """How many athletes ``day_limit`` reads a day serve: at the configured poll interval
    (``servable``), and at all, with polls slowed to a trickle (``servable_at_most``)."""
    usable = day_limit * (1 - settings.spare_share)
    configured = settings.configured_interval
    polls = (DAY / configured) * settings.costs[Kind.POLL].mean
    activities = settings.activities_per_athlete_day * settings.costs[Kind.EVENT].mean
    servable = min(usable / (activities + polls), day_limit * settings.poll_share / polls)
    at_most = usable / activities if activities > 0 else math.inf
    interval = poll_interval(athletes, day_limit, settings)
    per_athlete = reads_per_athlete_day(interval, settings)
    return Capacity(athletes=athletes, servable=_floor(servable),
                    servable_at_most=_floor(at_most), interval=interval,
                    configured_interval=configured, reads_per_athlete_day=per_athlete,
                    reads_per_day=per_athlete * athletes)


def _floor(value: float) -> int:
    """A count of athletes from a ratio (a huge one when the denominator is nothing)."""
    return 10**9 if math.isinf(value) else max(0, math.floor(value))


def quota_settings(clinic: Clinic) -> QuotaSettings:
    """The quota settings from ``[strava]``: ``poll_interval`` (polling without webhooks),
    and ``reconcile_interval`` and ``activities_per_athlete_day`` when the section has them."""
    section = clinic.settings.strava
    base = QuotaSettings()
    if section is None:
        return base
    return replace(
        base,
        poll_interval=getattr(section, "poll_interval", None) or base.poll_interval,
        reconcile_interval=getattr(section, "reconcile_interval", None)
        or base.reconcile_interval,
        activities_per_athlete_day=float(getattr(section, "activities_per_athlete_day", None)
                                         or base.activities_per_athlete_day))
