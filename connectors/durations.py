"""One rule for durations a source claims, shared by every file format and Garmin's JSON.

A duration is checked against an independent measure when the source gives one (the span of
a track's times, distance over average speed, another duration of the same record): a value
over a day and about a thousand times that measure is in milliseconds (older Garmin Connect
lists give ``elapsedDuration`` 2,627,379.9 beside ``duration`` 2,627.4) and is converted.
Without a measure, a value over a week whose thousandth is plausible is taken as milliseconds
too. What is still longer than any run (24 h) or any activity (a week) is refused, never
stored.
"""

from __future__ import annotations

import math

RUN_MAX_S = 24 * 3600.0
ACTIVITY_MAX_S = 7 * 24 * 3600.0
# A value this many times its measure (within the factor below) is milliseconds.
MS_PER_S = 1000.0
MS_RATIO_SLACK = 1.5
# Up to a day a value is taken as seconds whatever it is compared with: a real run can last
# that long, and a measure can be wrong (a file whose records stop after a few seconds).
MS_MIN_VALUE = RUN_MAX_S


class ImplausibleDuration(ValueError):
    """A duration no activity of its kind can have; ``str()`` says why, for a refusal line."""


def checked_seconds(value: float, *, running: bool, measure_s: float | None = None) -> float:
    """``value`` in seconds: as given, or converted from milliseconds when that is what it
    evidently is. Raises :class:`ImplausibleDuration` for a negative, infinite or too long one.
    """
    if not math.isfinite(value) or value < 0:
        raise ImplausibleDuration(f"{value!r} s, not a duration")
    limit = RUN_MAX_S if running else ACTIVITY_MAX_S
    if _is_milliseconds(value, measure_s, limit):
        value /= MS_PER_S
    if value > limit:
        kind = "any run" if running else "any activity"
        raise ImplausibleDuration(f"{describe(value)}, longer than {kind} ({describe(limit)})")
    return value


def _is_milliseconds(value: float, measure_s: float | None, limit: float) -> bool:
    if value < MS_MIN_VALUE:
        return False
    if measure_s is not None and measure_s > 0:
        ratio = value / measure_s
        return MS_PER_S / MS_RATIO_SLACK <= ratio <= MS_PER_S * MS_RATIO_SLACK
    return value > ACTIVITY_MAX_S and value / MS_PER_S <= limit


def describe(seconds: float) -> str:
    """A duration as a person reads it: ``58 min``, ``31 h 12 min``, ``24 h``, ``40 days``."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours = f"{minutes // 60} h"
    return f"{hours} {minutes % 60} min" if minutes % 60 else hours
