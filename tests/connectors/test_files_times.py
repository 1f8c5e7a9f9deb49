"""Times a GPX or TCX file holds that cannot be trusted, and durations no run can have: each
file is refused with one line naming it and what is wrong, or read with the real span."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from syncd.models import Activity
from tests.connectors.files_support import make_context

START = datetime(2026, 10, 3, 7, 30, tzinfo=UTC)
NO_TIME = "1901-12-13T20:45:52Z"


def stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}Z"


def gpsbabel_gpx(points: list[tuple[str | None, float]], tracks: int = 1) -> bytes:
    """GPX 1.0 as GPSBabel writes a Garmin handheld's track log (see the cerknicko-jezero file
    of gpxpy's tests): multi-line header, file time and bounds, an "ACTIVE LOG" track; ``None``
    leaves a point without <time>. Points are ``(time, metres north)``; ``tracks`` > 1 spreads
    them over that many tracks, in the order given."""
    rows = []
    size = -(-len(points) // tracks)
    for index, (moment, north) in enumerate(points):
        if index % size == 0:
            if index:
                rows.append("</trkseg>\n</trk>\n")
            rows.append(f"<trk>\n  <name>ACTIVE LOG #{index // size + 1}</name>\n"
                        "<number>1</number>\n<trkseg>\n")
        time = f"  <time>{moment}</time>\n" if moment else ""
        rows.append(f'<trkpt lat="{45.77 + north / 111_195:.9f}" lon="14.357659249">\n'
                    f"  <ele>542.320923</ele>\n{time}</trkpt>\n")
    rows.append("</trkseg>\n</trk>\n")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx\n  version="1.0"\n'
            '  creator="GPSBabel - http://www.gpsbabel.org"\n'
            '  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"\n'
            '  xmlns="http://www.topografix.com/GPX/1/0"\n'
            '  xsi:schemaLocation="http://www.topografix.com/GPX/1/0 '
            'http://www.topografix.com/GPX/1/0/gpx.xsd">\n'
            f"<time>{stamp(START)}</time>\n"
            '<bounds minlat="45.7" minlon="14.3" maxlat="45.8" maxlon="14.4"/>\n'
            + "".join(rows) + "</gpx>\n").encode()


def every(seconds: int, count: int, speed: float = 2.5) -> list[tuple[str | None, float]]:
    return [(stamp(START + timedelta(seconds=seconds * i)), speed * seconds * i)
            for i in range(count)]


def read(tmp_path: Path, name: str, data: bytes) -> tuple[list[Activity], list[str]]:
    path = tmp_path / name
    path.write_bytes(data)
    files = FilesConnector(None, make_context())
    batch = files.read_paths([path])
    reasons = [reason.replace(f"{tmp_path}/", "") for _, reason in batch.failures]
    return [files.normalize(r) for r in batch.records], reasons


# -- GPSBabel's "no time" -----------------------------------------------------------------------


def test_a_track_dated_with_gpsbabels_no_time_is_untimed(tmp_path: Path) -> None:
    """Before, it was imported as a 0-second activity on 1901-12-13."""
    points = [(NO_TIME, 10.0 * i) for i in range(120)]
    activities, failures = read(tmp_path, "ACTIVE LOG.gpx", gpsbabel_gpx(points))
    assert activities == []
    assert failures == ["ACTIVE LOG.gpx: GPX track has no timestamps, so its date and duration "
                        "are unknown (export the activity with times (a planned route has none))"]


def test_a_first_point_with_no_time_does_not_move_the_start(tmp_path: Path) -> None:
    """Before, the activity started in 1901 and lasted 124 years."""
    points = [(NO_TIME, 0.0), *every(5, 121)[1:]]
    [activity], failures = read(tmp_path, "log.gpx", gpsbabel_gpx(points))
    assert failures == []
    assert activity.start_utc == START + timedelta(seconds=5)
    assert activity.elapsed_s == 595


# -- partly timed ------------------------------------------------------------------------------


def test_a_mostly_untimed_track_is_refused_with_its_count(tmp_path: Path) -> None:
    """Before, the three timed points were imported as a 10-second activity."""
    points = [(m if i < 3 else None, n) for i, (m, n) in enumerate(every(5, 412))]
    activities, failures = read(tmp_path, "partly.gpx", gpsbabel_gpx(points))
    assert activities == []
    assert failures == ["partly.gpx: GPX track: only 3 of 412 points have a time; when it ran "
                        "and for how long cannot be known (export the activity again from the "
                        "app or device that recorded it)"]


def test_a_few_untimed_points_are_skipped_and_still_walked(tmp_path: Path) -> None:
    """Two points lost their time: the span and the distance are the whole track's."""
    points = every(5, 121)
    points[40] = (None, points[40][1])
    points[120] = (None, points[120][1])
    [activity], failures = read(tmp_path, "few.gpx", gpsbabel_gpx(points))
    assert failures == []
    assert activity.elapsed_s == 595
    assert activity.distance_m == pytest.approx(2.5 * 595, rel=0.01)
    assert activity.moving_s == pytest.approx(595, abs=1)


# -- times that go backwards -------------------------------------------------------------------


def test_tracks_merged_out_of_order_keep_their_real_span(tmp_path: Path) -> None:
    """The second half recorded first (two logs merged): before, elapsed was negative."""
    points = every(5, 120)
    merged = points[60:] + points[:60]
    [activity], failures = read(tmp_path, "merged.gpx", gpsbabel_gpx(merged, tracks=2))
    assert failures == []
    assert activity.start_utc == START
    assert activity.elapsed_s == 595
    assert activity.moving_s == pytest.approx(590, abs=1)  # no distance across the break


def test_a_point_whose_clock_jumped_back_is_dropped(tmp_path: Path) -> None:
    """The last point carries a time an hour back (a receiver's clock reset): before, the
    activity ended there, 55 minutes too early, and its last step was negative."""
    points = every(5, 121)
    points[-1] = (stamp(START - timedelta(hours=1)), points[-1][1])
    [activity], failures = read(tmp_path, "reset.gpx", gpsbabel_gpx(points))
    assert failures == []
    assert activity.elapsed_s == 595
    assert activity.moving_s == pytest.approx(595, abs=1)


# -- TCX ---------------------------------------------------------------------------------------


def training_center_tcx(points: list[tuple[str | None, float]], *, activity_id: str,
                        lap_seconds: float) -> bytes:
    """TCX as Garmin Training Center (and GPSBabel's gtrnctr) writes a run: the activity Id is
    its start, one lap with TotalTimeSeconds and DistanceMeters, a track of Trackpoints."""
    rows = []
    for moment, distance in points:
        time = f"<Time>{moment}</Time>" if moment else ""
        rows.append(f"<Trackpoint>{time}<Position><LatitudeDegrees>45.77</LatitudeDegrees>"
                    "<LongitudeDegrees>14.35</LongitudeDegrees></Position>"
                    f"<DistanceMeters>{distance:.1f}</DistanceMeters></Trackpoint>\n")
    total = points[-1][1]
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no" ?>\n'
            '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/'
            'TrainingCenterDatabase/v2">\n<Activities>\n<Activity Sport="Running">\n'
            f"<Id>{activity_id}</Id>\n<Lap StartTime=\"{activity_id}\">\n"
            f"<TotalTimeSeconds>{lap_seconds}</TotalTimeSeconds>\n"
            f"<DistanceMeters>{total:.1f}</DistanceMeters>\n<Calories>80</Calories>\n"
            "<Intensity>Active</Intensity>\n<TriggerMethod>Manual</TriggerMethod>\n<Track>\n"
            + "".join(rows) + "</Track>\n</Lap>\n</Activity>\n</Activities>\n"
            "</TrainingCenterDatabase>\n").encode()


def test_a_tcx_with_no_time_id_starts_at_its_first_real_time(tmp_path: Path) -> None:
    """GPSBabel wrote "no time" as the Id and lap start: before, the run started in 1901."""
    points = every(5, 121)
    data = training_center_tcx(points, activity_id=NO_TIME, lap_seconds=600.0)
    [activity], failures = read(tmp_path, "run.tcx", data)
    assert failures == []
    assert activity.start_utc == START
    assert activity.elapsed_s == 600


def test_a_mostly_untimed_tcx_track_is_refused_with_its_count(tmp_path: Path) -> None:
    points = [(m if i % 10 == 0 else None, d) for i, (m, d) in enumerate(every(5, 121))]
    data = training_center_tcx(points, activity_id=stamp(START), lap_seconds=600.0)
    activities, failures = read(tmp_path, "sparse.tcx", data)
    assert activities == []
    assert failures == ["sparse.tcx: TCX track: only 13 of 121 points have a time; when it ran "
                        "and for how long cannot be known (export the activity again from the "
                        "app or device that recorded it)"]


# -- implausible durations ---------------------------------------------------------------------


def test_a_run_over_a_day_is_refused(tmp_path: Path) -> None:
    """A phone left recording for 31 h after a run: no run lasts that long."""
    points = [*every(60, 21), (stamp(START + timedelta(hours=31)), 2.5 * 1200)]
    # GPSBabel writes GPX 1.1 (gpxver=1.1) with the track's type when it knows it.
    data = (gpsbabel_gpx(points).replace(b"GPX/1/0", b"GPX/1/1")
            .replace(b'version="1.0"\n  creator', b'version="1.1"\n  creator')
            .replace(b"<number>1</number>", b"<number>1</number><type>running</type>"))
    activities, failures = read(tmp_path, "forgot.gpx", data)
    assert activities == []
    assert failures == ["forgot.gpx: lasts 31 h, longer than any run (24 h); "
                        "refused (check the recording's times, or split a recording left "
                        "running)"]


def test_a_lap_time_in_milliseconds_is_converted(tmp_path: Path) -> None:
    """A lap's TotalTimeSeconds written in milliseconds (3,480,000 for 58 minutes), beside a
    track that spans 58 minutes: before, it was stored as a 40-day run."""
    points = every(60, 59)
    data = training_center_tcx(points, activity_id=stamp(START), lap_seconds=3_480_000.0)
    [activity], failures = read(tmp_path, "ms.tcx", data)
    assert failures == []
    assert activity.elapsed_s == 3480
    assert activity.moving_s == 3480


def test_a_lap_time_is_not_taken_for_milliseconds_below_a_day(tmp_path: Path) -> None:
    """Two hours by the lap, a track that stops after 7 s (the GPS gave up): 7,200 s is a
    thousand times the track, but a real run can last two hours; it stays two hours."""
    points = [(stamp(START), 0.0), (stamp(START + timedelta(seconds=7)), 20.0)]
    data = training_center_tcx(points, activity_id=stamp(START), lap_seconds=7200.0)
    [activity], failures = read(tmp_path, "gps-lost.tcx", data)
    assert failures == []
    assert (activity.elapsed_s, activity.moving_s) == (7200, 7200)
