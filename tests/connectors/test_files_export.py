"""A Strava bulk-export archive, built here: activities.csv plus gzipped activity files."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import datetime
from pathlib import Path

from connectors.files import FilesConnector
from connectors.files.reader import content_id
from tests.connectors.files_support import HISTORY

# The real export repeats column names: the first Distance is in km, the second in metres.
HEADER = ("Activity ID,Activity Date,Activity Name,Activity Type,Activity Description,"
          "Elapsed Time,Distance,Max Heart Rate,Relative Effort,Commute,Activity Private Note,"
          "Activity Gear,Filename,Athlete Weight,Bike Weight,Elapsed Time,Moving Time,Distance")
ROWS = [
    '101,"Sep 14, 2026, 5:20:00 AM",Run/walk,Run,,900,1.37,,,false,,Pegasus 40,'
    "activities/101.fit.gz,,,900.0,900.0,1371.15",
    '102,"Sep 7, 2026, 4:15:00 PM",Evening walk by the canal,Walk,,900,1.26,,,false,,,'
    "activities/102.gpx.gz,,,900.0,900.0,1259.93",
    '103,"Sep 16, 2026, 6:00:00 PM",Treadmill,Run,,1800,4.20,,,false,,Pegasus 40,'
    ",,,1800.0,1750.0,4200.0",
]
UNTYPED_GPX = (HISTORY / "2026-09-07-walk.gpx").read_bytes().replace(
    b"<type>walking</type>", b"")


def build_export() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("activities.csv", "\n".join([HEADER, *ROWS]) + "\n")
        archive.writestr("activities/101.fit.gz",
                         gzip.compress((HISTORY / "2026-09-15-run.fit").read_bytes()))
        archive.writestr("activities/102.gpx.gz", gzip.compress(UNTYPED_GPX))
        archive.writestr("routes/1.gpx", b"<gpx></gpx>")  # planned routes are not activities
        archive.writestr("media/photo.jpg", b"\xff\xd8")
    return buffer.getvalue()


def import_export(files: FilesConnector, tmp_path: Path) -> dict:
    (tmp_path / "export_1234.zip").write_bytes(build_export())
    batch = files.read_paths([tmp_path / "export_1234.zip"])
    assert batch.failures == []
    return {r.payload["strava_id"]: (r, files.normalize(r)) for r in batch.records}


def test_export_yields_each_activity_once(files: FilesConnector, tmp_path: Path) -> None:
    found = import_export(files, tmp_path)
    assert sorted(found) == ["101", "102", "103"]


def test_gzipped_fit_is_the_same_record_as_the_plain_file(files: FilesConnector,
                                                          tmp_path: Path) -> None:
    record, run = import_export(files, tmp_path)["101"]
    assert record.source_id == content_id((HISTORY / "2026-09-15-run.fit").read_bytes())
    assert (run.sport, run.run_s, run.walk_s, run.gear_id) == ("run", 90, 810, "Pegasus 40")
    # Importing the plain file and the archive together keeps one of them.
    (tmp_path / "export.zip").write_bytes(build_export())
    batch = files.read_paths([HISTORY / "2026-09-15-run.fit", tmp_path / "export.zip"])
    assert batch.duplicates == [f"{tmp_path}/export.zip:activities/101.fit.gz"]


def test_csv_fills_what_the_file_lacks(files: FilesConnector, tmp_path: Path) -> None:
    _, walk = import_export(files, tmp_path)["102"]
    assert (walk.sport, walk.sport_type, walk.name) == ("walk", "Walk", "Evening walk by the canal")
    assert walk.local_start == datetime(2026, 9, 7, 18, 15)


def test_row_without_a_file_is_a_manual_activity(files: FilesConnector, tmp_path: Path) -> None:
    _, treadmill = import_export(files, tmp_path)["103"]
    assert treadmill.manual
    assert (treadmill.sport, treadmill.elapsed_s, treadmill.moving_s) == ("run", 1800, 1750)
    assert treadmill.distance_m == 4200.0
    assert (treadmill.run_s, treadmill.segments) == (None, ())  # counted as all running
    assert treadmill.local_start == datetime(2026, 9, 16, 20, 0)


def test_gear_named_in_the_csv_is_listed_once(files: FilesConnector, tmp_path: Path) -> None:
    (tmp_path / "export.zip").write_bytes(build_export())
    batch = files.read_paths([tmp_path / "export.zip"])
    assert [(g.id, g.name) for g in batch.gear] == [("Pegasus 40", "Pegasus 40")]
