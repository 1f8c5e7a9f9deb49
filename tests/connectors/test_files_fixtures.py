"""Real FIT recordings from ../shared/fixtures/fit (see its README for the expected values)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from syncd.models import Activity

# file: (family, sport type, start UTC, distance m, elapsed s, laps)
EXPECTED = {
    "forerunner110-run-5laps.fit":
        ("run", "running", datetime(2013, 2, 6, 12, 11, 14), 4835, 2625, 5),
    "fenix2-run-4laps.fit": ("run", "running", datetime(2015, 8, 15, 14, 45, 8), 9008, 2832, 4),
    "fenix5-run-short.fit": ("run", "running", datetime(2017, 6, 11, 14, 34, 9), 158, 57, 1),
    "fenix5-walk.fit": ("walk", "walking", datetime(2017, 6, 11, 14, 32, 51), 68, 45, 1),
    "fenix6x-yoga.fit": ("other", "training/yoga", None, None, None, 0),
}


def _read(files: FilesConnector, path: Path) -> tuple[Activity, dict]:
    batch = files.read_paths([path])
    assert batch.failures == []
    assert len(batch.records) == 1
    record = batch.records[0]
    return files.normalize(record), record.payload


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_values_match_the_readme(files: FilesConnector, fit_fixtures: Path,
                                         name: str) -> None:
    family, sport_type, start, distance, elapsed, laps = EXPECTED[name]
    activity, payload = _read(files, fit_fixtures / name)
    assert activity.source == "file"
    assert activity.sport == family
    assert activity.sport_type == sport_type
    assert len(payload["laps"]) == laps
    if start is not None:
        assert activity.start_utc == start.replace(tzinfo=UTC)
        assert activity.distance_m == pytest.approx(distance, rel=0.01)
        assert activity.elapsed_s == pytest.approx(elapsed, rel=0.01)


def test_yoga_is_kept_with_family_other_and_no_distance(files: FilesConnector,
                                                        fit_fixtures: Path) -> None:
    activity, _ = _read(files, fit_fixtures / "fenix6x-yoga.fit")
    assert (activity.sport, activity.distance_m, activity.run_s) == ("other", None, None)
    assert activity.start_utc.date().isoformat() == "2023-09-29"
    # The watch's local_timestamp says the athlete was at UTC-6 that evening.
    assert activity.timezone == "-06:00"
    assert activity.local_start == datetime(2023, 9, 28, 18, 10, 57)


def test_fenix5_walk_and_run_78_s_apart_are_two_activities(files: FilesConnector,
                                                           fit_fixtures: Path) -> None:
    batch = files.read_paths([fit_fixtures / "fenix5-walk.fit",
                              fit_fixtures / "fenix5-run-short.fit"])
    walk, run = (files.normalize(r) for r in batch.records)
    assert (run.start_utc - walk.start_utc).total_seconds() == 78
    assert (walk.sport, run.sport) == ("walk", "run")
    assert walk.source_id != run.source_id


def test_local_time_comes_from_the_file_else_the_athlete_zone(files: FilesConnector,
                                                              fit_fixtures: Path) -> None:
    fenix2, _ = _read(files, fit_fixtures / "fenix2-run-4laps.fit")
    assert (fenix2.timezone, fenix2.local_start) == ("+02:00", datetime(2015, 8, 15, 16, 45, 8))
    # The Forerunner 110 writes no local_timestamp: the athlete's zone (Berlin, CET) applies.
    fr110, _ = _read(files, fit_fixtures / "forerunner110-run-5laps.fit")
    assert fr110.timezone == "Europe/Berlin"
    assert fr110.local_start == datetime(2013, 2, 6, 13, 11, 14)


def test_coarse_auto_laps_give_way_to_record_speeds(files: FilesConnector,
                                                    fit_fixtures: Path) -> None:
    """1 km auto-laps over a mixed run do not separate running from walking."""
    activity, payload = _read(files, fit_fixtures / "forerunner110-run-5laps.fit")
    assert payload["segments_from"] == "records"
    assert activity.run_s is not None and activity.walk_s is not None
    assert activity.run_s + activity.walk_s <= activity.elapsed_s
    assert len(activity.segments) > len(payload["laps"])


def test_every_fixture_imports_in_one_batch(files: FilesConnector, fit_fixtures: Path) -> None:
    batch = files.read_paths([fit_fixtures])
    assert batch.failures == []
    assert sorted(r.payload["file_name"] for r in batch.records) == sorted(EXPECTED)
