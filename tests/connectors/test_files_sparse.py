"""Sparse and irregular tracks: a point every 30-60 s or more (phone apps, watches in "smart
recording") counts the same running and moving time as a point every second."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gpxpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files import FilesConnector
from connectors.files.runwalk import (
    SpeedTrack,
    moving_seconds,
    run_walk_seconds,
    segments_from_speeds,
)
from syncd.models import Activity
from tests.connectors.files_support import FIXTURES, make_context

SPEEDS = {"run": (2.5, 3.5), "walk": (1.2, 1.6), "stand": (0.0, 0.3)}
INTERVALS = (5, 30, 60, 120)
# Decimated moving and running time stay within 3 % of the dense track's. Measured over 4,000
# generated tracks: at most 0.6 % (moving) and 1.4 % (running). The condition that makes it
# honest: every run, walk or standing bout lasts at least four sampling intervals and at least
# a minute; a shorter bout between two samples cannot be seen at all.
TOLERANCE = 0.03


@dataclass(frozen=True)
class Bout:
    """``seconds`` of one kind at ``speed`` m/s; a ``gap`` is the recorder paused."""

    kind: str
    seconds: int
    speed: float


@dataclass
class DenseTrack:
    offsets: list[float]
    distances: list[float]
    pauses: list[int]  # index of the last point before each paused stretch


def record(bouts: list[Bout], rng: random.Random) -> DenseTrack:
    """One point a second, each second's speed within 10 % of its bout's; nothing while the
    recorder is paused (the distance does not grow across the pause either)."""
    track = DenseTrack([0.0], [0.0], [])
    for bout in bouts:
        if bout.kind == "gap":
            track.pauses.append(len(track.offsets) - 1)
            track.offsets.append(track.offsets[-1] + bout.seconds)
            track.distances.append(track.distances[-1])
            continue
        for _ in range(bout.seconds):
            track.offsets.append(track.offsets[-1] + 1)
            track.distances.append(track.distances[-1] + bout.speed * rng.uniform(0.9, 1.1))
    return track


def decimate(track: DenseTrack, every: int) -> tuple[list[float], list[float]]:
    """The first point at or after each multiple of ``every`` seconds, the last point, and the
    points where the recorder paused and resumed (a recorder writes those whatever its rate)."""
    keep = {0, len(track.offsets) - 1}
    for index in track.pauses:
        keep |= {index, index + 1}
    due = every
    for index, offset in enumerate(track.offsets):
        if offset >= due:
            keep.add(index)
            due = (offset // every + 1) * every
    chosen = sorted(keep)
    return [track.offsets[i] for i in chosen], [track.distances[i] for i in chosen]


def speed_track(offsets: list[float], distances: list[float]) -> SpeedTrack:
    """A track as the GPX reader builds it: each point's speed is the distance over its step."""
    speeds = [0.0] + [(distances[i] - distances[i - 1]) / (offsets[i] - offsets[i - 1])
                      for i in range(1, len(offsets))]
    return SpeedTrack(offsets, speeds, distances)


def run_seconds(track: SpeedTrack) -> float:
    return run_walk_seconds(segments_from_speeds(track))[0] or 0.0


@st.composite
def sessions(draw: st.DrawFn) -> tuple[int, list[Bout], int]:
    """A sampling interval, a run/walk session with standing and pauses, and a noise seed."""
    every = draw(st.sampled_from(INTERVALS))
    shortest = max(4 * every, 60)
    bouts = [Bout(draw(st.sampled_from(["run", "walk"])), draw(st.integers(shortest, 3 * shortest)),
                  0.0)]
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(["run", "walk", "stand", "gap"]))
        seconds = draw(st.integers(10, 600) if kind == "gap" else
                       st.integers(shortest, 3 * shortest))
        bouts.append(Bout(kind, seconds, 0.0))
    bouts = [Bout(b.kind, b.seconds, 0.0 if b.kind == "gap" else
                  draw(st.floats(*SPEEDS[b.kind]))) for b in bouts]
    return every, bouts, draw(st.integers(0, 2**32))


@settings(max_examples=150, deadline=None)
@given(sessions())
def test_decimating_a_track_keeps_its_moving_and_running_time(
        session: tuple[int, list[Bout], int]) -> None:
    every, bouts, seed = session
    dense = record(bouts, random.Random(seed))
    full = speed_track(dense.offsets, dense.distances)
    sparse = speed_track(*decimate(dense, every))
    # The dense reading is the truth of the generated session, to the second.
    assert moving_seconds(full) == pytest.approx(
        sum(b.seconds for b in bouts if b.kind in ("run", "walk")))
    assert run_seconds(full) == pytest.approx(sum(b.seconds for b in bouts if b.kind == "run"))
    assert moving_seconds(sparse) == pytest.approx(moving_seconds(full), rel=TOLERANCE)
    assert run_seconds(sparse) == pytest.approx(run_seconds(full), rel=TOLERANCE, abs=1e-6)


def test_a_long_step_is_judged_by_its_distance() -> None:
    """A minute between two points: almost no distance is a pause, running distance is
    running, walking distance is walking."""
    offsets = [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]
    distances = [0.0, 180.0, 182.0, 266.0, 350.0, 530.0]  # run, pause, walk, walk, run
    track = speed_track(offsets, distances)
    segments = segments_from_speeds(track)
    assert [(s.kind, s.offset_s, s.duration_s) for s in segments] == [
        ("run", 0, 60), ("walk", 120, 120), ("run", 240, 60)]
    assert moving_seconds(track) == 240


def test_a_watch_pause_in_dense_records_is_still_a_pause() -> None:
    """Records stop while the watch is paused and the distance does not grow meanwhile."""
    offsets = [float(i) for i in range(61)] + [360.0 + i for i in range(61)]
    distances = [2.8 * i for i in range(61)] + [168.0 + 2.8 * i for i in range(61)]
    track = speed_track(offsets, distances)
    assert moving_seconds(track) == 120
    assert [(s.kind, s.duration_s) for s in segments_from_speeds(track)] == [
        ("run", 60), ("run", 60)]


# -- whole files --------------------------------------------------------------------------------

START = datetime(2026, 10, 3, 7, 30, tzinfo=UTC)


def gpslogger_gpx(points: list[tuple[float, float]], start: datetime = START) -> bytes:
    """GPX 1.1 as GPSLogger for Android (mendhak/gpslogger, Gpx11WriteHandler) writes it: a
    metadata time, no activity type, one <trkpt> per logged fix with ele, time and src."""
    rows = []
    for offset, north_m in points:
        moment = start + timedelta(seconds=offset)
        rows.append(f'<trkpt lat="{52.5 + north_m / 111_195:.7f}" lon="13.4000000">'
                    f"<ele>38.0</ele><time>{moment:%Y-%m-%dT%H:%M:%S}Z</time>"
                    "<src>gps</src><sat>9</sat><hdop>1.1</hdop></trkpt>\n")
    return ('<?xml version="1.0" encoding="UTF-8" ?><gpx version="1.1" creator="GPSLogger 131 - '
            'http://gpslogger.mendhak.com/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xmlns="http://www.topografix.com/GPX/1/1" xsi:schemaLocation="http://www.topografix.com'
            '/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd">'
            f"<metadata><time>{start:%Y-%m-%dT%H:%M:%S}Z</time></metadata><trk><trkseg>\n"
            + "".join(rows) + "</trkseg></trk></gpx>\n").encode()


def strava_gpx(points: list[tuple[float, float]], start: datetime = START) -> bytes:
    """GPX as Strava's "Export GPX" writes an activity recorded sparsely (creator StravaGPX,
    the activity's name and type on the track, ele and time on each point)."""
    rows = "".join(
        f'   <trkpt lat="{52.5 + north / 111_195:.7f}" lon="13.4000000">\n    <ele>38.2</ele>\n'
        f"    <time>{start + timedelta(seconds=offset):%Y-%m-%dT%H:%M:%S}Z</time>\n   </trkpt>\n"
        for offset, north in points)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx creator="StravaGPX" version="1.1" '
            'xmlns="http://www.topografix.com/GPX/1/1" xmlns:xsi="http://www.w3.org/2001/'
            'XMLSchema-instance" xsi:schemaLocation="http://www.topografix.com/GPX/1/1 '
            'http://www.topografix.com/GPX/1/1/gpx.xsd">\n <metadata>\n'
            f"  <time>{start:%Y-%m-%dT%H:%M:%S}Z</time>\n </metadata>\n <trk>\n"
            "  <name>Morning Run</name>\n  <type>running</type>\n  <trkseg>\n"
            + rows + "  </trkseg>\n </trk>\n</gpx>\n").encode()


def import_one(tmp_path: Path, name: str, data: bytes) -> Activity:
    path = tmp_path / name
    path.write_bytes(data)
    files = FilesConnector(None, make_context())
    batch = files.read_paths([path])
    assert batch.failures == []
    [record_] = batch.records
    return files.normalize(record_)


def test_ten_minutes_at_one_point_per_45_s_count_ten_minutes(tmp_path: Path) -> None:
    """Before, every 45-s step was taken for a pause: 0 s of moving time."""
    points = [(45.0 * i, 2.7 * 45.0 * i) for i in range(14)] + [(600.0, 2.7 * 600.0)]
    activity = import_one(tmp_path, "20261003.gpx", gpslogger_gpx(points))
    assert activity.elapsed_s == 600
    assert activity.moving_s == pytest.approx(600, abs=1)
    assert activity.distance_m == pytest.approx(1620, rel=0.01)


def test_a_sparse_run_walk_keeps_its_bouts(tmp_path: Path) -> None:
    """4 min running, 2 min walking, a 3-min stop, 4 min running; a point every 30-60 s."""
    steps = [(40, 2.9), (60, 2.9), (50, 2.9), (50, 2.9), (40, 2.9),   # 240 s running
             (60, 1.4), (60, 1.4),                                 # 120 s walking
             (60, 0.02), (60, 0.0), (60, 0.03),                    # 180 s standing
             (45, 3.0), (45, 3.0), (60, 3.0), (45, 3.0), (45, 3.0)]  # 240 s running
    points, offset, north = [(0.0, 0.0)], 0.0, 0.0
    for seconds, speed in steps:
        offset, north = offset + seconds, north + seconds * speed
        points.append((offset, north))
    activity = import_one(tmp_path, "Morning_Run.gpx", strava_gpx(points))
    assert activity.sport == "run"
    assert activity.elapsed_s == 780
    assert activity.moving_s == pytest.approx(600, abs=2)
    assert (activity.run_s, activity.walk_s) == (pytest.approx(480, abs=2),
                                                 pytest.approx(120, abs=2))
    assert max(s.duration_s for s in activity.segments if s.kind == "run") == pytest.approx(
        240, abs=2)


REAL_GPX = FIXTURES / "realworld" / "gpx" / "tkrajina__test_files_cerknicko-jezero.gpx"


@pytest.mark.skipif(not REAL_GPX.exists(), reason="shared fixtures absent")
def test_a_real_sparse_track_counts_every_moving_step(tmp_path: Path) -> None:
    """A walk logged by a Garmin handheld (GPSBabel), a point every 8 s to several minutes:
    every step covered at 0.5 m/s or more is moving, as gpxpy's own distances say. Before,
    the steps over 30 s were dropped (1,819 s)."""
    gpx = gpxpy.parse(REAL_GPX.read_text(encoding="utf-8"))
    expected = 0.0
    for track in gpx.tracks:
        for segment in track.segments:
            for a, b in zip(segment.points, segment.points[1:], strict=False):
                seconds = (b.time - a.time).total_seconds()
                if seconds > 0 and a.distance_2d(b) / seconds >= 0.5:
                    expected += seconds
    activity = import_one(tmp_path, REAL_GPX.name, REAL_GPX.read_bytes())
    assert activity.elapsed_s == 7190
    assert activity.moving_s == pytest.approx(expected, rel=0.03)
    assert activity.moving_s > 1900


def smart_recording_fit(bouts: list[tuple[int, float]], intervals: list[int]) -> bytes:
    """A run/walk as a Forerunner in "smart recording" writes it: a record only when the pace or
    direction changes (here every ``intervals`` seconds in turn), each with the distance so far
    and the speed of that moment; one auto-lap over it all, and the session's totals. Built
    with fit-tool after the FIT SDK's activity file layout."""
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.activity_message import ActivityMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.lap_message import LapMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.messages.session_message import SessionMessage
    from fit_tool.profile.profile_type import FileType, GarminProduct, Manufacturer, Sport

    from tests.connectors.fit_builders import fit_ms, fit_seconds

    def at(offset: float) -> int:
        return fit_ms(fit_seconds(START) + offset)

    def distance_and_speed(offset: float) -> tuple[float, float]:
        done, metres = 0, 0.0
        for seconds, speed in bouts:
            if offset <= done + seconds:
                return metres + (offset - done) * speed, speed
            done, metres = done + seconds, metres + seconds * speed
        return metres, 0.0

    total_s = sum(seconds for seconds, _ in bouts)
    total_m = distance_and_speed(total_s)[0]
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type, file_id.manufacturer = FileType.ACTIVITY, Manufacturer.GARMIN.value
    file_id.garmin_product, file_id.time_created = GarminProduct.FR245.value, at(0)
    builder.add(file_id)
    offset, turn = 0, 0
    while True:
        record = RecordMessage()
        metres, speed = distance_and_speed(offset)
        record.timestamp, record.distance, record.speed = at(offset), round(metres, 2), speed
        builder.add(record)
        if offset == total_s:
            break
        offset = min(total_s, offset + intervals[turn % len(intervals)])
        turn += 1
    lap, session = LapMessage(), SessionMessage()
    for message in (lap, session):
        message.start_time, message.timestamp = at(0), at(total_s)
        message.total_elapsed_time = message.total_timer_time = total_s
        message.total_distance, message.sport = round(total_m, 2), Sport.RUNNING
    session.first_lap_index, session.num_laps = 0, 1
    builder.add(lap)
    builder.add(session)
    activity = ActivityMessage()
    activity.timestamp, activity.num_sessions = at(total_s), 1
    activity.local_timestamp = fit_seconds(START) + total_s + 7200
    builder.add(activity)
    return bytes(builder.build().to_bytes())


def test_a_watch_in_smart_recording_keeps_its_run_walk_split(tmp_path: Path) -> None:
    """2 min walk, 4 min run, 2 min walk, 4 min run, a record every 20-60 s. Before, every
    step over 30 s was dropped: the split was lost and all 12 minutes counted as running."""
    bouts = [(120, 1.4), (240, 2.9), (120, 1.4), (240, 2.9)]
    data = smart_recording_fit(bouts, [20, 45, 55, 40, 60])
    activity = import_one(tmp_path, "2026-10-03-07-30-00.fit", data)
    assert (activity.sport, activity.elapsed_s, activity.moving_s) == ("run", 720, 720)
    assert activity.extra["segments_from"] == "records"
    assert activity.run_s == pytest.approx(480, abs=3)
    assert activity.walk_s == pytest.approx(240, abs=3)
    runs = [s.duration_s for s in activity.segments if s.kind == "run"]
    assert runs == [pytest.approx(240, abs=3), pytest.approx(240, abs=3)]
