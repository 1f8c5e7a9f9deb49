"""Multisport files: one activity per leg (transitions left out), stable ids, and the same
file read again, copied, or dropped in a watched folder changes nothing."""

from __future__ import annotations

import gzip
import io
import shutil
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree as ET

import pytest

from connectors.files import FilesConnector
from connectors.files.reader import content_id
from syncd.models import Activity
from tests.connectors.files_support import make_context
from tests.connectors.fit_builders import RUN_WALK_RUN, TRIATHLON, activity_fit, run

START = datetime(2026, 10, 4, 7, 0, tzinfo=UTC)  # a Sunday morning, 09:00 in Berlin
TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"


def read(files: FilesConnector, *paths: Path) -> list[Activity]:
    batch = files.read_paths(paths)
    assert batch.failures == []
    return [files.normalize(record) for record in batch.records]


def summary(activity: Activity) -> tuple[str, str, datetime, float, float | None, float | None]:
    return (activity.sport, activity.sport_type, activity.start_utc, activity.elapsed_s,
            activity.distance_m, activity.run_s)


def at(seconds: int) -> datetime:
    return START + timedelta(seconds=seconds)


def test_a_triathlon_is_a_swim_a_ride_and_a_run_and_only_the_run_is_a_session(
        tmp_path: Path, files: FilesConnector) -> None:
    path = tmp_path / "triathlon.fit"
    path.write_bytes(activity_fit(START, TRIATHLON, utc_offset_s=7200))
    swim, ride, leg = read(files, path)
    # Swim 900 s, T1 150 s, ride 2,400 s, T2 90 s, run 1,580 s: each leg starts where the
    # previous one ended, and the transitions are not activities.
    assert summary(swim) == ("other", "swimming/open_water", START, 900.0, 750.0, None)
    assert summary(ride) == ("other", "cycling/road", at(1050), 2400.0, 20000.0, None)
    assert summary(leg)[:5] == ("run", "running", at(3540), 1580.0, 5000.0)
    assert leg.run_s == pytest.approx(1580.0, abs=5)  # the records run at 3.1-3.2 m/s
    assert leg.local_start == datetime(2026, 10, 4, 9, 59)
    file_id = content_id(path.read_bytes())
    # The first leg keeps the file's own id; later legs are numbered by their place in the
    # file, transitions counted.
    assert [a.source_id for a in (swim, ride, leg)] == [file_id, f"{file_id}-3",
                                                       f"{file_id}-5"]
    assert (swim.extra["leg"], ride.extra["leg"], leg.extra["leg"]) == (1, 3, 5)


def test_a_garmin_multisport_with_two_run_legs_gives_each_its_own_run_walk_split(
        tmp_path: Path, files: FilesConnector) -> None:
    path = tmp_path / "multisport.fit"
    path.write_bytes(activity_fit(START, RUN_WALK_RUN, utc_offset_s=7200))
    first, walk, second = read(files, path)
    # Leg 1: two 2-minute jogs, two 4-minute walks (workout laps marked active/recovery).
    assert summary(first) == ("run", "running", START, 720.0, 1272.0, 240.0)
    assert first.walk_s == 480.0
    assert summary(walk) == ("walk", "walking", at(720), 900.0, 1215.0, None)
    assert summary(second)[:5] == ("run", "running", at(1620), 600.0, 1560.0)
    assert second.run_s == pytest.approx(600.0, abs=5)


def test_a_single_sport_file_keeps_its_content_id(tmp_path: Path,
                                                  files: FilesConnector) -> None:
    path = tmp_path / "run.fit"
    path.write_bytes(activity_fit(START, (run(1800, 5000.0),)))
    [activity] = read(files, path)
    assert activity.source_id == content_id(path.read_bytes())
    assert "leg" not in activity.raw and "leg" not in activity.extra


def test_the_same_multisport_file_twice_is_one_set_of_legs(tmp_path: Path,
                                                           files: FilesConnector) -> None:
    data = activity_fit(START, TRIATHLON)
    (tmp_path / "a.fit").write_bytes(data)
    (tmp_path / "copy.fit").write_bytes(data)
    first = files.read_paths([tmp_path / "a.fit", tmp_path / "copy.fit"])
    assert len(first.records) == 3 and first.duplicates == [str(tmp_path / "copy.fit")]
    again = files.read_paths([tmp_path / "a.fit"])
    assert [r.source_id for r in again.records] == [r.source_id for r in first.records]
    assert [r.payload for r in again.records] == [r.payload for r in first.records]


def test_a_watched_folder_reads_a_multisport_file_once(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = FilesConnector(SimpleNamespace(watch=[str(inbox)], poll_interval=60),
                           make_context())
    source = tmp_path / "triathlon.fit"
    source.write_bytes(activity_fit(START, TRIATHLON))
    shutil.copy2(source, inbox / "triathlon.fit")
    first = files.fetch(None)
    assert len(first.records) == 3
    assert files.fetch(first.cursor).records == []
    shutil.copy2(source, inbox / "renamed.fit")  # the same content under another name
    later = files.fetch(first.cursor)
    assert later.records == [] and len(files.fetch(None, since=START.date()).records) == 3


def test_a_leg_of_a_file_a_day_in_the_future_refuses_the_whole_file(
        tmp_path: Path, files: FilesConnector) -> None:
    path = tmp_path / "future.fit"
    path.write_bytes(activity_fit(datetime(2026, 11, 4, 7, 0, tzinfo=UTC), RUN_WALK_RUN))
    batch = files.read_paths([path])
    assert batch.records == []
    assert [where for where, _ in batch.failures] == [str(path)]


# -- TCX ------------------------------------------------------------------------------------


def _tcx_activity(parent: ET.Element, sport: str, start: datetime, seconds: int,
                  metres: float) -> None:
    """A TCX activity of one lap with a point every 5 s, as Garmin Connect exports it."""
    def add(node: ET.Element, tag: str, text: str) -> ET.Element:
        child = ET.SubElement(node, f"{{{TCX_NS}}}{tag}")
        child.text = text
        return child

    activity = ET.SubElement(parent, f"{{{TCX_NS}}}Activity", Sport=sport)
    add(activity, "Id", start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    lap = ET.SubElement(activity, f"{{{TCX_NS}}}Lap",
                        StartTime=start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    add(lap, "TotalTimeSeconds", f"{seconds:.1f}")
    add(lap, "DistanceMeters", f"{metres:.1f}")
    add(lap, "Intensity", "Active")
    add(lap, "TriggerMethod", "Manual")
    track = ET.SubElement(lap, f"{{{TCX_NS}}}Track")
    for offset in range(0, seconds + 1, 5):
        point = ET.SubElement(track, f"{{{TCX_NS}}}Trackpoint")
        add(point, "Time", (start + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        add(point, "DistanceMeters", f"{metres * offset / seconds:.1f}")


def _transition(parent: ET.Element, start: datetime, seconds: int) -> None:
    node = ET.SubElement(parent, f"{{{TCX_NS}}}Transition",
                         StartTime=start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    ET.SubElement(node, f"{{{TCX_NS}}}TotalTimeSeconds").text = f"{seconds:.1f}"
    ET.SubElement(node, f"{{{TCX_NS}}}DistanceMeters").text = "80.0"
    ET.SubElement(node, f"{{{TCX_NS}}}Intensity").text = "Active"
    ET.SubElement(node, f"{{{TCX_NS}}}TriggerMethod").text = "Manual"


def multisport_tcx() -> bytes:
    """A duathlon as Garmin Training Center writes a multisport session (TCX v2 schema,
    MultiSportSession_t: Id, FirstSport, then NextSport with a Transition and an Activity):
    run 20 min, T1 1 min, ride 40 min, T2 1 min, run 10 min."""
    ET.register_namespace("", TCX_NS)
    root = ET.Element(f"{{{TCX_NS}}}TrainingCenterDatabase")
    session = ET.SubElement(ET.SubElement(root, f"{{{TCX_NS}}}Activities"),
                            f"{{{TCX_NS}}}MultiSportSession")
    ET.SubElement(session, f"{{{TCX_NS}}}Id").text = START.strftime("%Y-%m-%dT%H:%M:%SZ")
    _tcx_activity(ET.SubElement(session, f"{{{TCX_NS}}}FirstSport"), "Running", START, 1200,
                  3600.0)
    ride = ET.SubElement(session, f"{{{TCX_NS}}}NextSport")
    _transition(ride, at(1200), 60)
    _tcx_activity(ride, "Biking", at(1260), 2400, 16000.0)
    second = ET.SubElement(session, f"{{{TCX_NS}}}NextSport")
    _transition(second, at(3660), 60)
    _tcx_activity(second, "Running", at(3720), 600, 1800.0)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def test_a_tcx_multisport_session_gives_one_activity_per_leg(tmp_path: Path,
                                                             files: FilesConnector) -> None:
    path = tmp_path / "duathlon.tcx"
    path.write_bytes(multisport_tcx())
    first, ride, second = read(files, path)
    assert summary(first) == ("run", "running", START, 1200.0, 3600.0, 1200.0)
    assert summary(ride) == ("other", "cycling", at(1260), 2400.0, 16000.0, None)
    assert summary(second) == ("run", "running", at(3720), 600.0, 1800.0, 600.0)
    file_id = content_id(path.read_bytes())
    assert [a.source_id for a in (first, ride, second)] == [file_id, f"{file_id}-2",
                                                           f"{file_id}-3"]


def test_a_tcx_with_two_activities_gives_both(tmp_path: Path, files: FilesConnector) -> None:
    ET.register_namespace("", TCX_NS)
    root = ET.Element(f"{{{TCX_NS}}}TrainingCenterDatabase")
    activities = ET.SubElement(root, f"{{{TCX_NS}}}Activities")
    _tcx_activity(activities, "Running", START, 1500, 4200.0)
    _tcx_activity(activities, "Other", at(7200), 1800, 2400.0)
    path = tmp_path / "two.tcx"
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
    morning, later = read(files, path)
    assert summary(morning) == ("run", "running", START, 1500.0, 4200.0, 1500.0)
    assert (later.sport, later.start_utc, later.elapsed_s) == ("other", at(7200), 1800.0)


# -- Strava export --------------------------------------------------------------------------

EXPORT_HEADER = (
    "Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,"
    "Elapsed Time,Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,"
    "Activity Gear,Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance")


def test_a_multisport_file_in_a_strava_export_keeps_its_legs(tmp_path: Path,
                                                            files: FilesConnector) -> None:
    # Strava takes a multisport upload as one activity of its first sport; the row's name
    # and Strava id hold for every leg, its shoes only for the legs on foot.
    row = ('301,"Oct 4, 2026, 7:00:00 AM",Sprint tri,Swim,,5320,25.25,,,false,,Pegasus 40,'
           "activities/301.fit.gz,,,5320.0,5320.0,25250.0")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("activities.csv", f"{EXPORT_HEADER}\n{row}\n")
        archive.writestr("activities/301.fit.gz", gzip.compress(activity_fit(START, TRIATHLON)))
    (tmp_path / "export_42.zip").write_bytes(buffer.getvalue())
    swim, ride, leg = read(files, tmp_path / "export_42.zip")
    assert [summary(a)[:5] for a in (swim, ride)] == [
        ("other", "swimming/open_water", START, 900.0, 750.0),
        ("other", "cycling/road", at(1050), 2400.0, 20000.0)]
    assert summary(leg)[:5] == ("run", "running", at(3540), 1580.0, 5000.0)
    assert {a.name for a in (swim, ride, leg)} == {"Sprint tri"}
    assert [a.gear_id for a in (swim, ride, leg)] == [None, None, "Pegasus 40"]
    assert {a.extra["strava_id"] for a in (swim, ride, leg)} == {"301"}
