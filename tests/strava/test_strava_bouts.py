"""The fast stream classifier gives the general one's answers, sample for sample."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files.runwalk import SpeedTrack, segments_from_speeds
from connectors.strava.bouts import speed_segments
from connectors.strava.normalize import stream_segments

# Steps of 1 s mostly, with the odd repeat, backwards jump and pause; speeds around the
# thresholds (0.5 and 1.9 m/s).
steps = st.lists(st.sampled_from([1, 1, 1, 1, 2, 0, -1, 31, 45]), min_size=1, max_size=300)
speeds = st.sampled_from([0.0, 0.4, 0.5, 1.2, 1.89, 1.9, 2.5, 3.4])


@settings(max_examples=300, deadline=None)
@given(data=st.data(), with_distance=st.booleans())
def test_same_segments_as_the_general_classifier(data: st.DataObject,
                                                 with_distance: bool) -> None:
    gaps = data.draw(steps)
    times = [0.0]
    for gap in gaps:
        times.append(times[-1] + gap)
    velocity = data.draw(st.lists(speeds, min_size=len(times), max_size=len(times)))
    distances: list[float | None] = []
    if with_distance:
        distances = [0.0]
        for t0, t1, v in zip(times, times[1:], velocity[1:], strict=False):
            distances.append(round((distances[-1] or 0.0) + max(t1 - t0, 0) * v, 1))

    fast = speed_segments(times, velocity, distances, 1.9)
    general = segments_from_speeds(SpeedTrack(times, velocity, distances), 1.9)

    assert [(s.kind, s.offset_s) for s in fast] == [(s.kind, s.offset_s) for s in general]
    for a, b in zip(fast, general, strict=True):
        assert a.duration_s == pytest.approx(b.duration_s)
        assert a.distance_m == pytest.approx(b.distance_m, abs=0.11)


def test_a_stream_with_a_sample_that_is_not_a_number_gives_no_split() -> None:
    streams = {"time": [0, 1, 2, 3], "velocity_smooth": [0.0, 3.0, None, 3.0],
               "distance": [0, 3, 6, 9]}

    assert stream_segments(streams, 1.9) == []
    assert stream_segments({"time": [0, 1]}, 1.9) == []


lap_values = st.one_of(st.none(), st.sampled_from([0, 60, 120.5, 600]), st.just("x"))


@settings(max_examples=200, deadline=None)
@given(laps=st.lists(st.fixed_dictionaries({
    "elapsed_time": lap_values, "moving_time": lap_values,
    "distance": st.one_of(st.none(), st.sampled_from([0.0, 50.0, 300.0, 1500.0]))}),
    max_size=6))
def test_the_cheap_separation_check_agrees_with_the_segments(laps: list[dict]) -> None:
    from datetime import UTC, datetime

    from connectors.strava.normalize import lap_segments, laps_separate

    start = datetime(2026, 11, 1, 7, 0, tzinfo=UTC)
    assert laps_separate(laps, 1.9) == (lap_segments(laps, start, 1.9) is not None)
