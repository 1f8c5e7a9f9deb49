"""Which point times of a GPX or TCX track can be trusted.

Three kinds of untrustworthy time are met in real files:

- GPSBabel's "no time" value, 1901-12-13T20:45:52Z (the most negative 32-bit Unix time), written
  for points whose time was lost (a track saved on an older Garmin handheld, for one): it is
  read as no time at all;
- tracks where most points have no time: the few timed ones cannot say when the activity ran
  or for how long, so the file is refused, naming how many points had a time;
- times that go backwards (a point with a glitched clock, tracks merged out of order): the
  points kept are the longest run of points, in file order, whose times strictly increase, so a
  lone point far in the past or the future is dropped and the rest keep the real span. A point
  dropped for its time still counts for the distance: its position is as good as any other.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime

from syncd.errors import InvalidFile

NO_TIME = datetime(1901, 12, 13, 20, 45, 52, tzinfo=UTC)


def usable_time(moment: datetime | None) -> datetime | None:
    """The moment in UTC, or ``None`` for none or GPSBabel's "no time"."""
    if moment is None:
        return None
    # GPX and TCX times are UTC by their schemas; a missing "Z" does not make them local.
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return None if moment == NO_TIME else moment


def in_time_order(times: Sequence[datetime | None]) -> list[int]:
    """Indices of the longest subsequence of timed points whose times strictly increase
    (the earliest such subsequence when several are as long)."""
    tails: list[datetime] = []  # tails[n]: smallest last time of an increasing run of n+1
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(times)
    for i, moment in enumerate(times):
        if moment is None:
            continue
        n = bisect_left(tails, moment)
        previous[i] = tail_index[n - 1] if n else -1
        if n == len(tails):
            tails.append(moment)
            tail_index.append(i)
        else:
            tails[n], tail_index[n] = moment, i
    kept: list[int] = []
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        kept.append(i)
        i = previous[i]
    return kept[::-1]


def check_timed(what: str, timed: int, in_order: int, total: int, file_name: str) -> None:
    """Refuse a track where fewer than half the points have a (forward-going) time."""
    hint = "export the activity again from the app or device that recorded it"
    if timed * 2 < total:
        raise InvalidFile(f"{file_name}: {what}: only {timed} of {total} points have a time; "
                          "when it ran and for how long cannot be known", hint=hint)
    if in_order * 2 < total:
        raise InvalidFile(f"{file_name}: {what}: only {in_order} of {total} points have times "
                          "that go forward; the others jump back", hint=hint)
