"""Run/walk bouts from Strava's 1 Hz speed stream, fast.

The same classification as :func:`connectors.files.runwalk.segments_from_speeds` (a sample's
speed describes the interval that ends at it; a bout shorter than 10 s between two bouts of
one kind is folded into them), written as one tight loop over plain lists: a backfill
classifies thousands of streams of thousands of samples, and the per-sample objects of the
general version cost more than the download. A stream with steps of 3 s or more (a sparse or
irregular recording, a pause) is left to the general version, which judges such steps by
their distance and places a change of kind inside them. A property test holds the two to the
same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from connectors.files.runwalk import (
    MAX_SAMPLE_GAP_S,
    SMOOTH_GAP_S,
    SPLIT_MIN_STEP_S,
    STAND_BELOW_MPS,
    SpeedTrack,
    segments_from_speeds,
)
from syncd.models import Segment, SegmentKind

# [kind, start_s, end_s, metres]: mutable, one per bout rather than one per sample.
_Bout = list


def speed_segments(times: Sequence[float], speeds: Sequence[float],
                   distances: Sequence[float | None], threshold: float) -> list[Segment]:
    """Segments from parallel samples (``distances`` may be empty: speed x time instead).

    Raises :class:`TypeError` when a sample is not a number.
    """
    if any(b - a >= SPLIT_MIN_STEP_S for a, b in pairwise(times)):
        return segments_from_speeds(SpeedTrack(times, speeds, distances), threshold)
    bouts = _smooth(_raw(times, speeds, distances, threshold))
    return [Segment(kind, start, end - start, None if metres is None else round(metres, 1))
            for kind, start, end, metres in bouts]


def _raw(times: Sequence[float], speeds: Sequence[float], distances: Sequence[float | None],
         threshold: float) -> list[_Bout]:
    """Consecutive intervals of one kind, joined; a pause in the samples ends a bout.

    The bout being built lives in local variables (this loop runs once per sample)."""
    bouts: list[_Bout] = []
    kind: SegmentKind | None = None
    start = end = metres = 0.0
    with_distance = len(distances) == len(times)
    previous_t = times[0]
    previous_d = distances[0] if with_distance else None
    for i in range(1, len(times)):
        t = times[i]
        d = distances[i] if with_distance else None
        step = t - previous_t
        if 0 < step <= MAX_SAMPLE_GAP_S:
            speed = speeds[i]
            sample: SegmentKind = ("run" if speed >= threshold else
                                   "walk" if speed >= STAND_BELOW_MPS else "stand")
            gained = d - previous_d if d is not None and previous_d is not None \
                else speed * step
            if sample == kind and -1e-6 < end - previous_t < 1e-6:
                end += step
                metres += gained
            else:
                if kind is not None:
                    bouts.append([kind, start, end, metres])
                kind, start, end, metres = sample, previous_t, previous_t + step, gained
        previous_t, previous_d = t, d
    if kind is not None:
        bouts.append([kind, start, end, metres])
    return bouts


def _smooth(bouts: list[_Bout]) -> list[_Bout]:
    """Fold a bout shorter than 10 s into its neighbours when both are of one kind."""
    out: list[_Bout] = []
    for bout in bouts:
        if out and out[-1][0] == bout[0] and _touch(out[-1], bout):
            _absorb(out[-1], bout)
        elif (len(out) >= 2 and out[-1][2] - out[-1][1] < SMOOTH_GAP_S
              and out[-2][0] == bout[0] and _touch(out[-2], out[-1])
              and _touch(out[-1], bout)):
            short = out.pop()
            _absorb(out[-1], short)
            _absorb(out[-1], bout)
        else:
            out.append(list(bout))
    return out


def _touch(a: _Bout, b: _Bout) -> bool:
    return bool(abs(a[2] - b[1]) < 1e-6)


def _absorb(into: _Bout, other: _Bout) -> None:
    into[2] = other[2]
    into[3] = None if into[3] is None or other[3] is None else into[3] + other[3]
