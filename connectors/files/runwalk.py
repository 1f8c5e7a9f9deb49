"""Run/walk segments from laps or from record speeds.

Best first (DESIGN section 3): laps that separate running from walking (a watch's run/walk
mode or a workout with recovery steps writes one lap per bout), else the speed in the records,
else nothing, and the rules then count the whole run as running (the conservative reading).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.models import Segment, SegmentKind

RUN_THRESHOLD_MPS = 1.9
STAND_BELOW_MPS = 0.5
SMOOTH_GAP_S = 10.0
# Watches stop writing records while paused; a longer silence is a pause, not a bout.
MAX_SAMPLE_GAP_S = 30.0
# A lap "is" one kind when this share of its record time agrees with the lap's average speed;
# 1 km auto-laps over a run/walk mix fail this and the records are used instead.
LAP_AGREEMENT = 0.8


@dataclass(frozen=True, slots=True)
class Lap:
    """One lap as a file recorded it, in seconds from the activity's start.

    ``kind`` is set only when the file says what the lap was (FIT ``intensity``/``sub_sport``,
    TCX ``Intensity``); otherwise the lap's speed decides.
    """

    offset_s: float
    elapsed_s: float
    distance_m: float | None = None
    timer_s: float | None = None
    kind: SegmentKind | None = None

    @property
    def speed_mps(self) -> float | None:
        """Average speed over the lap's timer time, or ``None`` without a distance."""
        seconds = self.timer_s or self.elapsed_s
        if self.distance_m is None or seconds <= 0:
            return None
        return self.distance_m / seconds


@dataclass(frozen=True, slots=True)
class SpeedTrack:
    """Record samples: offsets from the start (s), speed (m/s), cumulative distance (m)."""

    offsets: Sequence[float]
    speeds: Sequence[float]
    distances: Sequence[float | None] = ()

    def __len__(self) -> int:
        return len(self.offsets)


def kind_for_speed(speed: float, threshold: float = RUN_THRESHOLD_MPS) -> SegmentKind:
    """Classify one speed: running at or above ``threshold``, standing below 0.5 m/s."""
    if speed >= threshold:
        return "run"
    return "walk" if speed >= STAND_BELOW_MPS else "stand"


def detect_segments(
    laps: Sequence[Lap], track: SpeedTrack, threshold: float = RUN_THRESHOLD_MPS
) -> tuple[list[Segment], str | None]:
    """Return the run/walk segments and where they came from (``laps``, ``records`` or None).

    An empty list means the file does not tell running from walking.
    """
    from_laps = segments_from_laps(laps, track, threshold)
    if from_laps is not None:
        return from_laps, "laps"
    if len(track) >= 2:
        return segments_from_speeds(track, threshold), "records"
    return [], None


def segments_from_laps(
    laps: Sequence[Lap], track: SpeedTrack, threshold: float = RUN_THRESHOLD_MPS
) -> list[Segment] | None:
    """Segments from laps when the laps separate running from walking, else ``None``."""
    if len(laps) < 2:
        return None
    kinds = [_lap_kind(lap, threshold) for lap in laps]
    if None in kinds or not {"run", "walk"} <= set(kinds):
        return None
    explicit = any(lap.kind is not None for lap in laps)
    if not explicit and len(track) >= 2 and not _laps_agree(laps, kinds, track, threshold):
        return None
    return [
        Segment(kind, lap.offset_s, lap.timer_s or lap.elapsed_s, _round(lap.distance_m))
        for lap, kind in zip(laps, kinds, strict=True)
        if kind is not None
    ]


def segments_from_speeds(track: SpeedTrack, threshold: float = RUN_THRESHOLD_MPS) -> list[Segment]:
    """Segments from record speeds: a bout lasts while the speed stays on one side of the
    threshold; bouts shorter than 10 s between two bouts of one kind are smoothed away."""
    bouts = _smooth(_raw_bouts(track, threshold))
    return [Segment(b.kind, b.offset_s, b.duration_s, _round(b.distance_m)) for b in bouts]


def run_walk_seconds(segments: Sequence[Segment]) -> tuple[float | None, float | None]:
    """``(run_s, walk_s)`` summed over segments; ``(None, None)`` when there are none."""
    if not segments:
        return None, None
    run_s = sum(s.duration_s for s in segments if s.kind == "run")
    walk_s = sum(s.duration_s for s in segments if s.kind == "walk")
    return round(run_s, 3), round(walk_s, 3)


def moving_seconds(track: SpeedTrack) -> float | None:
    """Seconds spent above 0.5 m/s, from the records; ``None`` without speed data."""
    if len(track) < 2:
        return None
    total = 0.0
    offsets, speeds = track.offsets, track.speeds
    for i in range(1, len(offsets)):
        step = offsets[i] - offsets[i - 1]
        if 0 < step <= MAX_SAMPLE_GAP_S and speeds[i] >= STAND_BELOW_MPS:
            total += step
    return total


def _lap_kind(lap: Lap, threshold: float) -> SegmentKind | None:
    if lap.kind is not None:
        return lap.kind
    speed = lap.speed_mps
    return None if speed is None else kind_for_speed(speed, threshold)


def _laps_agree(
    laps: Sequence[Lap], kinds: Sequence[SegmentKind | None], track: SpeedTrack, threshold: float
) -> bool:
    """True when, within every lap, most record time has the lap's own kind."""
    bouts = _raw_bouts(track, threshold)
    for lap, kind in zip(laps, kinds, strict=True):
        end = lap.offset_s + lap.elapsed_s
        inside = agreeing = 0.0
        for bout in bouts:
            overlap = min(end, bout.end_s) - max(lap.offset_s, bout.offset_s)
            if overlap > 0:
                inside += overlap
                agreeing += overlap if _same_side(bout.kind, kind) else 0.0
        if inside > 0 and agreeing / inside < LAP_AGREEMENT:
            return False
    return True


def _same_side(a: SegmentKind, b: SegmentKind | None) -> bool:
    return (a == "run") == (b == "run")


@dataclass(slots=True)
class _Bout:
    kind: SegmentKind
    offset_s: float
    duration_s: float
    distance_m: float | None

    @property
    def end_s(self) -> float:
        return self.offset_s + self.duration_s

    def absorb(self, other: _Bout) -> None:
        self.duration_s = other.end_s - self.offset_s
        if self.distance_m is None or other.distance_m is None:
            self.distance_m = None
        else:
            self.distance_m += other.distance_m


def _raw_bouts(track: SpeedTrack, threshold: float) -> list[_Bout]:
    """Consecutive samples of one kind, joined; a pause in the records ends a bout."""
    offsets, speeds = track.offsets, track.speeds
    distances = track.distances or [None] * len(offsets)
    bouts: list[_Bout] = []
    for i in range(1, len(offsets)):
        start, step = offsets[i - 1], offsets[i] - offsets[i - 1]
        if step <= 0 or step > MAX_SAMPLE_GAP_S:
            continue
        # A record's speed describes the interval that ends at it.
        kind = kind_for_speed(speeds[i], threshold)
        d0, d1 = distances[i - 1], distances[i]
        meters = d1 - d0 if d0 is not None and d1 is not None else speeds[i] * step
        last = bouts[-1] if bouts else None
        if last is not None and last.kind == kind and abs(last.end_s - start) < 1e-6:
            last.duration_s += step
            last.distance_m = None if last.distance_m is None else last.distance_m + meters
        else:
            bouts.append(_Bout(kind, start, step, meters))
    return bouts


def _smooth(bouts: list[_Bout]) -> list[_Bout]:
    """Fold a short bout into its neighbours when both neighbours are of one kind."""
    out: list[_Bout] = []
    for bout in bouts:
        if out and out[-1].kind == bout.kind and _touch(out[-1], bout):
            out[-1].absorb(bout)
        elif (
            len(out) >= 2
            and out[-1].duration_s < SMOOTH_GAP_S
            and out[-2].kind == bout.kind
            and _touch(out[-2], out[-1])
            and _touch(out[-1], bout)
        ):
            short = out.pop()
            out[-1].absorb(short)
            out[-1].absorb(bout)
        else:
            out.append(_Bout(bout.kind, bout.offset_s, bout.duration_s, bout.distance_m))
    return out


def _touch(a: _Bout, b: _Bout) -> bool:
    return abs(a.end_s - b.offset_s) < 1e-6


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
