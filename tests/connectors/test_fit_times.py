"""FIT times that cannot be taken at face value: a local timestamp of 0 or none, device-relative
(system) times with and without an anchor, sessions that start after their first record, and
files that are not activities at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.files.summary import activity_from_payload
from syncd.models import Activity
from tests.connectors.files_support import FIXTURES
from tests.connectors.fit_builders import RUN_WALK_RUN, activity_fit, fit_seconds, run

START = datetime(2026, 10, 4, 7, 0, tzinfo=UTC)  # 09:00 in Berlin (summer time)
POWER_ON = START - timedelta(minutes=25)  # the watch was switched on 25 minutes before
RELATIVE = ("timestamps are relative to the device's power-on and the file holds no real "
            "time to anchor them")
REALWORLD_FIT = FIXTURES / "realworld" / "fit"


def import_one(files: FilesConnector, path: Path) -> Activity:
    batch = files.read_paths([path])
    assert batch.failures == []
    [record] = batch.records
    return files.normalize(record)


def refusal(files: FilesConnector, path: Path) -> str:
    batch = files.read_paths([path])
    assert batch.records == []
    [(where, reason)] = batch.failures
    assert where == str(path)
    return reason


@pytest.mark.parametrize("local_timestamp", [0, None])
def test_a_local_timestamp_of_zero_or_none_falls_back_to_the_athletes_zone(
        tmp_path: Path, files: FilesConnector, local_timestamp: int | None) -> None:
    path = tmp_path / "run.fit"
    path.write_bytes(activity_fit(START, (run(1800, 5000.0),), utc_offset_s=None,
                                  local_timestamp=local_timestamp))
    activity = import_one(files, path)
    assert activity.start_utc == START
    assert activity.local_start == datetime(2026, 10, 4, 9, 0)
    assert activity.timezone == "Europe/Berlin"
    assert activity.raw["utc_offset_s"] is None


def test_a_local_timestamp_more_than_14_hours_away_is_no_zone(tmp_path: Path,
                                                              files: FilesConnector) -> None:
    end = START + timedelta(seconds=1800)
    path = tmp_path / "run.fit"
    path.write_bytes(activity_fit(START, (run(1800, 5000.0),),
                                  local_timestamp=fit_seconds(end) + 20 * 3600))
    activity = import_one(files, path)
    assert (activity.local_start, activity.timezone) == (datetime(2026, 10, 4, 9, 0),
                                                         "Europe/Berlin")


def test_a_real_local_offset_is_still_used(tmp_path: Path, files: FilesConnector) -> None:
    path = tmp_path / "run.fit"
    path.write_bytes(activity_fit(START, (run(1800, 5000.0),), utc_offset_s=-5 * 3600))
    activity = import_one(files, path)
    assert (activity.local_start, activity.timezone) == (datetime(2026, 10, 4, 2, 0), "-05:00")


def test_a_record_stored_with_a_placeholder_offset_rebuilds_in_the_athletes_zone() -> None:
    # What syncd stored for a local timestamp of 0 before offsets were checked.
    payload = {"v": 1, "format": "fit", "file_name": "run.fit", "sport_type": "running",
               "start_utc": START.isoformat(), "utc_offset_s": -1_159_174_800,
               "elapsed_s": 1800.0, "moving_s": 1800.0, "distance_m": 5000.0, "segments": []}
    activity = activity_from_payload(payload, "abc", athlete="ana", timezone="Europe/Berlin")
    assert (activity.local_start, activity.timezone) == (datetime(2026, 10, 4, 9, 0),
                                                         "Europe/Berlin")


def test_device_relative_times_without_an_anchor_are_refused_with_that_reason(
        tmp_path: Path, files: FilesConnector) -> None:
    path = tmp_path / "forerunner.fit"
    path.write_bytes(activity_fit(START, (run(1800, 5000.0),), utc_offset_s=None,
                                  power_on=POWER_ON))
    assert refusal(files, path).startswith(f"{path}: {RELATIVE} (")


@pytest.mark.parametrize("anchor", ["timestamp_correlation", "device_settings"])
def test_device_relative_times_are_resolved_from_the_files_own_anchor(
        tmp_path: Path, files: FilesConnector, anchor: str) -> None:
    path = tmp_path / "forerunner.fit"
    path.write_bytes(activity_fit(START, RUN_WALK_RUN[:1], utc_offset_s=None,
                                  power_on=POWER_ON, anchor=anchor))
    activity = import_one(files, path)
    assert (activity.sport, activity.start_utc, activity.elapsed_s, activity.distance_m) == (
        "run", START, 720.0, 1272.0)
    assert (activity.run_s, activity.walk_s) == (240.0, 480.0)
    assert activity.local_start == datetime(2026, 10, 4, 9, 0)


def test_records_written_before_the_clock_was_set_are_left_out(
        tmp_path: Path, files: FilesConnector) -> None:
    path = tmp_path / "run.fit"
    path.write_bytes(activity_fit(START, (run(1800, 5000.0),), clockless_records=3))
    activity = import_one(files, path)
    assert (activity.start_utc, activity.elapsed_s, activity.distance_m) == (START, 1800.0,
                                                                            5000.0)
    assert activity.run_s == pytest.approx(1800.0, abs=5)


def test_a_session_that_starts_after_its_first_record_starts_at_the_record(
        tmp_path: Path, files: FilesConnector) -> None:
    path = tmp_path / "app.fit"
    path.write_bytes(activity_fit(START, (run(1800, 5000.0),), session_lag_s=20))
    activity = import_one(files, path)
    assert activity.start_utc == START
    assert (activity.elapsed_s, activity.distance_m) == (1800.0, 5000.0)


@pytest.mark.parametrize(("name", "what"), [
    ("dtcooper__tests_files_nametest.FIT", "a settings file (file type 'settings')"),
    ("polyvertex__tests_files_Settings.fit", "a settings file (file type 'settings')"),
    ("polyvertex__tests_files_WorkoutRepeatSteps.fit",
     "a planned workout (file type 'workout')"),
    ("polyvertex__tests_files_MonitoringFile.fit",
     "a daily monitoring file (file type 'monitoring_b')"),
    ("polyvertex__tests_files_WeightScaleSingleUser.fit",
     "a weight-scale file (file type 'weight')"),
])
def test_a_fit_file_that_is_not_an_activity_says_what_it_is(
        files: FilesConnector, name: str, what: str) -> None:
    path = REALWORLD_FIT / name
    if not path.is_file():
        pytest.skip("../shared/fixtures/realworld is absent")
    assert refusal(files, path).startswith(
        f"{path}: FIT file is {what}, not a recorded activity (")
