"""Garmin durations in milliseconds, and durations no run can have, as the fake Garmin serves
them: converted by the same rule as every file format, or the activity skipped with one line."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from tests.garmin.fake_garmin import (
    FakeGarmin,
    garmin_time,
    load_fixtures,
    make_entry,
    make_typed_splits,
)
from tests.garmin.garmin_support import NOW

TRAIL_ID = "21482825013"
LOCAL = (NOW - timedelta(days=3)).replace(tzinfo=None)


def older_list_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as older activity lists gave it: ``elapsedDuration`` in milliseconds beside
    ``duration`` and ``movingDuration`` in seconds (pe-st/garmin-connect-export keeps one in
    json/activitylist-service.json: elapsedDuration 2627379.88, duration 2627.38)."""
    older = copy.deepcopy(entry)
    older["elapsedDuration"] = entry["elapsedDuration"] * 1000
    return older


def fetch(fake: FakeGarmin, connector: Any, entries: list[dict[str, Any]]
          ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    fake.activities = entries
    garmin = connector()
    fetched = garmin.fetch(None, since=date(2026, 1, 1))
    activities, failures = garmin.normalize_all(fetched.records)
    return {a.source_id: a for a in activities}, fetched.failures + failures


def test_the_recorded_trail_run_listed_in_milliseconds_keeps_its_time(
        fake: FakeGarmin, connector: Any, fixtures_dir: Any) -> None:
    """Before, the 37-minute trail run was stored as a 26-day activity."""
    entries, _ = load_fixtures(fixtures_dir)
    trail = next(e for e in entries if str(e["activityId"]) == TRAIL_ID)
    fake.typed_splits[TRAIL_ID] = make_typed_splits(trail, [1563.026], [660.109])
    by_id, failures = fetch(fake, connector, [older_list_entry(trail)])
    assert failures == []
    assert by_id[TRAIL_ID].elapsed_s == pytest.approx(2225.44091796875)
    assert by_id[TRAIL_ID].moving_s == 2216.0


def test_a_58_minute_run_in_milliseconds_without_distance_is_58_minutes(
        fake: FakeGarmin, connector: Any) -> None:
    """A treadmill run without a footpod (no distance, no speed), every duration in
    milliseconds: 3,480,000 is more than a week of seconds and 58 minutes of milliseconds."""
    entry = make_entry(5001, LOCAL, duration=3480.0, distance=None)
    for name in ("duration", "elapsedDuration", "movingDuration"):
        entry[name] = entry[name] * 1000
    entry["averageSpeed"] = None
    by_id, failures = fetch(fake, connector, [entry])
    assert failures == []
    assert (by_id["5001"].elapsed_s, by_id["5001"].moving_s) == (3482.0, 3475.0)


def test_a_run_over_a_day_is_skipped_and_the_rest_kept(fake: FakeGarmin,
                                                      connector: Any) -> None:
    long_run = make_entry(5002, LOCAL, duration=30 * 3600.0, distance=300_000.0)
    walk = make_entry(5003, LOCAL + timedelta(hours=1), type_key="walking")
    by_id, failures = fetch(fake, connector, [long_run, walk])
    assert list(by_id) == ["5003"]
    assert by_id["5003"].elapsed_s == 1802.0
    assert failures == [("5002", "Garmin activity 5002: elapsedDuration says 30 h, longer "
                                 "than any run (24 h); skipped")]


def test_durations_in_seconds_are_left_alone(fake: FakeGarmin, connector: Any) -> None:
    """A 5-hour hike is long, not milliseconds: every duration agrees with the distance."""
    hike = make_entry(5004, LOCAL, type_key="hiking", duration=5 * 3600.0, distance=16_000.0)
    by_id, failures = fetch(fake, connector, [hike])
    assert failures == []
    assert (by_id["5004"].elapsed_s, by_id["5004"].moving_s) == (18002.0, 17995.0)
    assert by_id["5004"].start_utc.date() == datetime(2026, 1, 7).date()


def test_a_20_minute_run_in_milliseconds_is_read_by_its_start_and_end(
        fake: FakeGarmin, connector: Any) -> None:
    """1,200,000 is under a week of seconds, so alone it proves nothing; the entry's
    ``endTimeGMT`` (newer lists carry it, as the recorded trail run does) shows 20 minutes."""
    entry = make_entry(5005, LOCAL, duration=1200.0, distance=None, utc_offset_h=-6)
    entry["averageSpeed"] = None
    entry["elapsedDuration"] = 1_200_000.0
    end = LOCAL + timedelta(hours=6, seconds=1200)
    entry["endTimeGMT"] = garmin_time(end)
    by_id, failures = fetch(fake, connector, [entry])
    assert failures == []
    assert (by_id["5005"].elapsed_s, by_id["5005"].moving_s) == (1200.0, 1195.0)
