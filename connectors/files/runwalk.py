"""Run/walk segments from laps or from record speeds.

Best first (DESIGN section 3): laps that separate running from walking (a watch's run/walk
mode or a workout with recovery steps writes one lap per bout), else the speed in the records,
else nothing, and the rules then count the whole run as running (the conservative reading).

Records are read as steps, from one sample to the next, whatever the sampling interval: a watch
writes one a second, "smart recording" and phone apps one every 30-60 s or more. A short step
takes the record's own speed; a long one is judged by the distance covered over it (a long step
with almost no distance is a pause, one at running speed is running). A step that spans the
change from one kind to another (its average speed lies between its neighbours') is split where
the distance says the change happened, so sparse tracks keep their bout lengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from syncd.models import Segment, SegmentKind

RUN_THRESHOLD_MPS = 1.9
STAND_BELOW_MPS = 0.5
SMOOTH_GAP_S = 10.0
# Up to this step a record's own speed describes the step (watches write about one a second);
# a longer step is judged by its distance, and without a distance it is a pause.
MAX_SAMPLE_GAP_S = 30.0
# Steps shorter than this are never split: at a second apart, the change is already exact.
SPLIT_MIN_STEP_S = 3.0
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


def moving_seconds(track: SpeedTrack, threshold: float = RUN_THRESHOLD_MPS) -> float | None:
    """Seconds spent above 0.5 m/s, from the records; ``None`` without speed data."""
    if len(track) < 2:
        return None
    return sum(p.duration_s for p in _pieces(track, threshold) if p.kind != "stand")


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
    """Consecutive steps of one kind, joined; a pause in the records ends a bout."""
    bouts: list[_Bout] = []
    for piece in _pieces(track, threshold):
        if piece.paused:
            continue
        last = bouts[-1] if bouts else None
        if last is not None and last.kind == piece.kind and abs(last.end_s - piece.offset_s) < 1e-6:
            last.duration_s += piece.duration_s
            if last.distance_m is not None:
                last.distance_m += piece.distance_m
        else:
            bouts.append(_Bout(piece.kind, piece.offset_s, piece.duration_s, piece.distance_m))
    return bouts


@dataclass(slots=True)
class _Step:
    """The track from one record to the next: ``speed_mps`` classifies it, ``average_mps``
    (distance over time, when the distance is known) places a change of kind inside it."""

    offset_s: float
    duration_s: float
    distance_m: float
    speed_mps: float
    average_mps: float | None

    @property
    def long(self) -> bool:
        return self.duration_s > MAX_SAMPLE_GAP_S


@dataclass(slots=True)
class _Piece:
    """A step, or the part of one, with one kind; ``paused`` for standing through a long step."""

    kind: SegmentKind
    offset_s: float
    duration_s: float
    distance_m: float
    paused: bool


def _steps(track: SpeedTrack) -> list[_Step]:
    """One step per pair of records that moves forward in time and can be judged."""
    offsets, speeds = track.offsets, track.speeds
    distances = track.distances or [None] * len(offsets)
    steps: list[_Step] = []
    for i in range(1, len(offsets)):
        seconds = offsets[i] - offsets[i - 1]
        d0, d1 = distances[i - 1], distances[i]
        meters = max(0.0, d1 - d0) if d0 is not None and d1 is not None else None
        if seconds <= 0 or (seconds > MAX_SAMPLE_GAP_S and meters is None):
            continue  # a step back in time, or a silence with nothing to judge it by: a pause
        average = None if meters is None else meters / seconds
        # A record's speed describes the short interval that ends at it.
        speed = speeds[i] if seconds <= MAX_SAMPLE_GAP_S else average
        assert speed is not None
        steps.append(_Step(offsets[i - 1], seconds, speed * seconds if meters is None else meters,
                           speed, average))
    return steps


def _pieces(track: SpeedTrack, threshold: float) -> list[_Piece]:
    """The steps, each with its kind; the step holding a change of kind is cut in two."""
    steps = _steps(track)
    kinds = [kind_for_speed(step.speed_mps, threshold) for step in steps]
    cuts = _between_kinds(steps, kinds)
    for k in range(len(steps) - 1):
        if k in cuts or k + 1 in cuts:
            continue
        if kinds[k] != kinds[k + 1] and _follows(steps[k], steps[k + 1]):
            cut = _change(steps, kinds, k)
            if cut is not None:
                cuts.setdefault(cut.index, cut)
    pieces: list[_Piece] = []
    for k, step in enumerate(steps):
        if k in cuts:
            pieces.extend(_cut_step(step, cuts[k], threshold))
        else:  # most steps: built here, as this loop runs once per record
            kind = kinds[k]
            pieces.append(_Piece(kind, step.offset_s, step.duration_s, step.distance_m,
                                 kind == "stand" and step.duration_s > MAX_SAMPLE_GAP_S))
    return pieces


@dataclass(frozen=True, slots=True)
class _Cut:
    """Where the change of kind falls inside step ``index``: ``first_s`` at ``before_mps``,
    the rest at ``after_mps``."""

    index: int
    first_s: float
    before_mps: float
    after_mps: float


def _between_kinds(steps: Sequence[_Step], kinds: Sequence[SegmentKind]) -> dict[int, _Cut]:
    """Cuts for single steps that hold a change between two other kinds: standing, then one
    step at a walking average, then running, is a start from standing inside that step."""
    cuts: dict[int, _Cut] = {}
    for k in range(1, len(steps) - 1):
        before, after = kinds[k - 1], kinds[k + 1]
        if len({before, kinds[k], after}) < 3:
            continue
        if not (_follows(steps[k - 1], steps[k]) and _follows(steps[k], steps[k + 1])):
            continue
        v_a = _pace(steps, kinds, k - 1, k - 2)
        v_b = _pace(steps, kinds, k + 1, k + 2)
        share_b = _share(steps[k], v_a, v_b)
        if 0 < share_b < 1:
            cuts[k] = _Cut(k, steps[k].duration_s * (1 - share_b), v_a, v_b)
    return cuts


def _change(steps: Sequence[_Step], kinds: Sequence[SegmentKind], k: int) -> _Cut | None:
    """The cut for a change of kind between steps ``k`` and ``k + 1``.

    Each side's pace is taken from the step beyond (when it is of that side's kind), so that
    a step holding part of the change is never its own reference; the change lies in whichever
    of the two steps has more of the other side's pace in its average, where it divides the
    distance covered at the two paces.
    """
    v_a = _pace(steps, kinds, k, k - 1)
    v_b = _pace(steps, kinds, k + 1, k + 2)
    share_b = _share(steps[k], v_a, v_b)
    share_a = _share(steps[k + 1], v_b, v_a)
    if share_b <= 0 and share_a <= 0:
        return None
    if share_b >= share_a:
        return _Cut(k, steps[k].duration_s * (1 - share_b), v_a, v_b)
    return _Cut(k + 1, steps[k + 1].duration_s * share_a, v_a, v_b)


def _pace(steps: Sequence[_Step], kinds: Sequence[SegmentKind], k: int, beyond: int) -> float:
    if 0 <= beyond < len(steps) and kinds[beyond] == kinds[k]:
        pair = (steps[beyond], steps[k]) if beyond < k else (steps[k], steps[beyond])
        if _follows(*pair):
            return steps[beyond].speed_mps
    return steps[k].speed_mps


def _share(step: _Step, own: float, other: float) -> float:
    """The part of ``step`` spent at the ``other`` pace, from its average speed."""
    v = step.average_mps
    if v is None or step.duration_s < SPLIT_MIN_STEP_S or own == other:
        return 0.0
    return min(1.0, max(0.0, (own - v) / (own - other)))


def _cut_step(step: _Step, cut: _Cut, threshold: float) -> list[_Piece]:
    """The step in two pieces at the cut (an empty one left out)."""
    first_m = min(step.distance_m, cut.first_s * cut.before_mps)
    pieces = [_piece(step, cut.before_mps, step.offset_s, cut.first_s, first_m, threshold),
              _piece(step, cut.after_mps, step.offset_s + cut.first_s,
                     step.duration_s - cut.first_s, step.distance_m - first_m, threshold)]
    return [piece for piece in pieces if piece.duration_s > 0]


def _piece(step: _Step, speed: float, offset_s: float, duration_s: float, distance_m: float,
           threshold: float) -> _Piece:
    kind = kind_for_speed(speed, threshold)
    return _Piece(kind, offset_s, duration_s, max(0.0, distance_m),
                  paused=kind == "stand" and step.long)


def _follows(a: _Step, b: _Step) -> bool:
    return abs(a.offset_s + a.duration_s - b.offset_s) < 1e-6


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
