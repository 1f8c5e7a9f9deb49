"""Run/walk segment detection, with numbers a runner would check on their watch."""

from __future__ import annotations

from connectors.files.runwalk import (
    Lap,
    SpeedTrack,
    detect_segments,
    run_walk_seconds,
    segments_from_speeds,
)


def track(*bouts: tuple[float, int]) -> SpeedTrack:
    """1-Hz samples: each bout is (speed m/s, seconds)."""
    offsets, speeds = [0.0], [0.0]
    for speed, seconds in bouts:
        for _ in range(seconds):
            offsets.append(offsets[-1] + 1)
            speeds.append(speed)
    return SpeedTrack(offsets, speeds)


def test_records_split_at_the_threshold() -> None:
    segments = segments_from_speeds(track((1.4, 240), (2.6, 60), (1.4, 240), (2.6, 60)))
    assert [(s.kind, s.offset_s, s.duration_s) for s in segments] == [
        ("walk", 0, 240), ("run", 240, 60), ("walk", 300, 240), ("run", 540, 60)]
    assert segments[1].distance_m == 156.0
    assert run_walk_seconds(segments) == (120, 480)


def test_a_short_dip_inside_a_jog_is_smoothed_away() -> None:
    """A 6-s slowdown at a crossing does not split a 2-minute jog."""
    segments = segments_from_speeds(track((1.4, 60), (2.6, 50), (1.5, 6), (2.6, 64), (1.4, 60)))
    assert [(s.kind, s.duration_s) for s in segments] == [("walk", 60), ("run", 120), ("walk", 60)]


def test_a_dip_of_ten_seconds_or_more_is_a_walk() -> None:
    segments = segments_from_speeds(track((2.6, 50), (1.5, 12), (2.6, 50)))
    assert [(s.kind, s.duration_s) for s in segments] == [("run", 50), ("walk", 12), ("run", 50)]


def test_standing_is_neither_running_nor_walking() -> None:
    segments = segments_from_speeds(track((1.4, 60), (0.2, 30), (2.6, 60)))
    assert [s.kind for s in segments] == ["walk", "stand", "run"]
    assert run_walk_seconds(segments) == (60, 60)


def test_a_pause_in_the_records_is_not_counted() -> None:
    samples = SpeedTrack([0, 1, 2, 3, 303, 304, 305], [0, 2.6, 2.6, 2.6, 2.6, 2.6, 2.6])
    segments = segments_from_speeds(samples)
    assert [(s.offset_s, s.duration_s) for s in segments] == [(0, 3), (303, 2)]


def test_marked_laps_win_over_records() -> None:
    laps = [Lap(0, 300, 420, kind="walk"), Lap(300, 60, 160, kind="run"),
            Lap(360, 300, 420, kind="walk")]
    segments, origin = detect_segments(laps, track((1.4, 300), (2.6, 60), (1.4, 300)))
    assert origin == "laps"
    assert [(s.kind, s.offset_s, s.duration_s, s.distance_m) for s in segments] == [
        ("walk", 0, 300, 420), ("run", 300, 60, 160), ("walk", 360, 300, 420)]


def test_laps_by_speed_are_used_when_records_agree() -> None:
    laps = [Lap(0, 300, 420), Lap(300, 120, 312), Lap(420, 300, 420)]
    _, origin = detect_segments(laps, track((1.4, 300), (2.6, 120), (1.4, 300)))
    assert origin == "laps"


def test_coarse_laps_over_a_mix_fall_back_to_records() -> None:
    """Two auto-laps, each half jog and half walk: the lap averages say nothing useful."""
    mix = track((2.6, 150), (1.2, 150), (2.6, 150), (1.0, 150))
    laps = [Lap(0, 300, 570), Lap(300, 300, 540)]
    segments, origin = detect_segments(laps, mix)
    assert origin == "records"
    assert run_walk_seconds(segments) == (300, 300)


def test_no_speed_at_all_leaves_the_split_unknown() -> None:
    """A treadmill run without a footpod: the rules then count it all as running."""
    segments, origin = detect_segments([Lap(0, 1800, None)], SpeedTrack([], []))
    assert (segments, origin) == ([], None)
    assert run_walk_seconds(segments) == (None, None)
