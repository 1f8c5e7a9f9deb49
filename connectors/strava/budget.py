"""Strava's request budget, kept from the rate-limit headers of every response.

Strava limits an *application* (not an athlete) per 15-minute window (starting at :00, :15,
:30 and :45 UTC) and per UTC day, overall (``X-RateLimit-*``) and for reads
(``X-ReadRateLimit-*``). The budget is shared by every connector of the process talking to
the same application, and saved in the cursor so that the next process knows it too.

Nothing here sleeps: a request that would break a limit raises
:class:`syncd.errors.RateLimited` with the moment the window resets, and optional work
(backfill, enrichment) asks :meth:`RateBudget.allows` first and stops early when the budget
runs low, keeping a reserve for new activities.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from syncd.errors import RateLimited

WINDOW = timedelta(minutes=15)


class Priority(IntEnum):
    """How much of the budget a request may use."""

    URGENT = 0  # a poll's list request, a webhook re-fetch: anything left will do
    FRESH = 1  # laps and streams of activities just found: keep one for the next poll
    BACKFILL = 2  # history and deferred work: only while the reserve is untouched


@dataclass(slots=True)
class Usage:
    """One pair of limits (15 minutes, day) and their usage when last observed."""

    short_limit: int
    long_limit: int
    short_used: int
    long_used: int

    def as_list(self) -> list[int]:
        """Compact form for the cursor."""
        return [self.short_limit, self.long_limit, self.short_used, self.long_used]


def window_start(moment: datetime) -> datetime:
    """The start of the 15-minute window holding ``moment`` (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)


def next_window(moment: datetime) -> datetime:
    """When the 15-minute limit resets after ``moment``."""
    return window_start(moment) + WINDOW


def next_day(moment: datetime) -> datetime:
    """When the daily limit resets after ``moment`` (UTC midnight)."""
    moment = moment.astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def parse_usage(headers: Mapping[str, str], prefix: str) -> Usage | None:
    """The ``{prefix}-Limit`` / ``{prefix}-Usage`` header pair, or ``None`` when absent or
    unreadable (a proxy that strips them must not break syncing)."""
    limit, used = headers.get(f"{prefix}-Limit"), headers.get(f"{prefix}-Usage")
    if not limit or not used:
        return None
    try:
        short_limit, long_limit = (int(v) for v in limit.split(","))
        short_used, long_used = (int(v) for v in used.split(","))
    except ValueError:
        return None
    return Usage(short_limit, long_limit, short_used, long_used)


class RateBudget:
    """What is left of the application's Strava budget. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.overall: Usage | None = None
        self.read: Usage | None = None
        self.observed_at: datetime | None = None
        self.blocked_until: datetime | None = None
        self.requests = 0  # made through this budget, for benchmarks and logs
        self._resets_for: datetime | None = None
        self._resets_cache = (datetime.min.replace(tzinfo=UTC),) * 2

    # -- observing ----------------------------------------------------------------------------

    def observe(self, headers: Mapping[str, str], status: int, now: datetime) -> None:
        """Record the usage reported by one response. A 429 blocks every request until the
        window that was exceeded resets (the day's when the daily limit is used up)."""
        with self._lock:
            self.requests += 1
            overall = parse_usage(headers, "X-RateLimit")
            read = parse_usage(headers, "X-ReadRateLimit")
            if overall is not None or read is not None:
                self.overall = overall or self.overall
                self.read = read or self.read
                self.observed_at = now
            if status == 429:
                daily = any(u is not None and u.long_used >= u.long_limit for u in (overall, read))
                self.blocked_until = next_day(now) if daily else next_window(now)

    def check(self, now: datetime) -> None:
        """Raise :class:`RateLimited` when no request may be made now."""
        retry_at = self._blocked(now)
        if retry_at is not None:
            raise RateLimited(
                "Strava's request limit for this application is used up",
                retry_at=retry_at,
                hint=f"syncd calls Strava again after {retry_at:%Y-%m-%d %H:%M} UTC",
            )

    def allows(self, priority: Priority, now: datetime) -> bool:
        """True when a read request of this priority fits in what is left."""
        if self._blocked(now) is not None:
            return False
        with self._lock:
            pairs = [u for u in (self.overall, self.read) if u is not None]
            return all(self._fits(u, priority, now) for u in pairs)

    def left(self, now: datetime) -> dict[str, Any]:
        """Requests left in the current window and day, for ``syncd status``."""
        with self._lock:
            out: dict[str, Any] = {}
            for name, usage in (("overall", self.overall), ("read", self.read)):
                if usage is not None:
                    short, long = self._left(usage, now)
                    out[name] = {"15min": short, "day": long,
                                 "limits": [usage.short_limit, usage.long_limit]}
            blocked = self.blocked_until
        if blocked is not None and blocked > now:
            out["blocked_until"] = blocked.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return out

    # -- persistence --------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The budget as JSON, for the cursor."""
        with self._lock:
            return {
                "at": _iso(self.observed_at),
                "overall": self.overall.as_list() if self.overall else None,
                "read": self.read.as_list() if self.read else None,
                "blocked_until": _iso(self.blocked_until),
            }

    def load(self, saved: Mapping[str, Any] | None) -> None:
        """Adopt a saved budget when it is newer than what this process has seen."""
        if not saved:
            return
        try:
            at = _parse(saved.get("at"))
            blocked = _parse(saved.get("blocked_until"))
            overall = Usage(*saved["overall"]) if saved.get("overall") else None
            read = Usage(*saved["read"]) if saved.get("read") else None
        except (TypeError, ValueError, KeyError):
            return  # a damaged budget is forgotten: the next response tells the truth again
        with self._lock:
            if at is not None and (self.observed_at is None or at > self.observed_at):
                self.observed_at, self.overall, self.read = at, overall, read
            if blocked is not None and (self.blocked_until is None or blocked > self.blocked_until):
                self.blocked_until = blocked

    # -- arithmetic ---------------------------------------------------------------------------

    def _blocked(self, now: datetime) -> datetime | None:
        """When requests may start again, or ``None`` when they may go now."""
        with self._lock:
            if self.blocked_until is not None and self.blocked_until > now:
                return self.blocked_until
            for usage in (self.overall, self.read):
                if usage is None:
                    continue
                short, long = self._left(usage, now)
                if long <= 0:
                    return next_day(now)
                if short <= 0:
                    return next_window(now)
        return None

    def _left(self, usage: Usage, now: datetime) -> tuple[int, int]:
        """(15-minute, daily) requests left; a window or day that has turned over is fresh."""
        short_resets, long_resets = self._resets
        short_used = usage.short_used if now < short_resets else 0
        long_used = usage.long_used if now < long_resets else 0
        return usage.short_limit - short_used, usage.long_limit - long_used

    @property
    def _resets(self) -> tuple[datetime, datetime]:
        """When the observed 15-minute and daily usage expire (computed once per
        observation: this is asked before every request)."""
        at = self.observed_at
        if at is None:
            return datetime.min.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)
        if self._resets_for != at:
            self._resets_cache = (next_window(at), next_day(at))
            self._resets_for = at
        return self._resets_cache

    def _fits(self, usage: Usage, priority: Priority, now: datetime) -> bool:
        short, long = self._left(usage, now)
        if priority is Priority.URGENT:
            return short >= 1 and long >= 1
        if priority is Priority.FRESH:
            return short >= 2 and long >= 2
        # The reserve keeps new activities flowing while history fills in.
        return (short > max(3, usage.short_limit // 10)
                and long > max(10, usage.long_limit // 10))


_BUDGETS: dict[str, RateBudget] = {}
_BUDGETS_LOCK = threading.Lock()


def budget_for(application: str) -> RateBudget:
    """The process-wide budget of one Strava application (``api_url`` + ``client_id``)."""
    with _BUDGETS_LOCK:
        return _BUDGETS.setdefault(application, RateBudget())


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _parse(text: Any) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
