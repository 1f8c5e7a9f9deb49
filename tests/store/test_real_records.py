"""Real API records (../shared/fixtures) stored as raw JSON: read back intact, re-sent unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from syncd.models import Activity, sport_family
from syncd.store import Store, find_activity, load_sessions

from .test_activities import counts, upsert


def garmin_activity(record: dict[str, Any]) -> Activity:
    """The few fields the store needs, read straight from a Garmin activity-list item."""
    start = datetime.fromisoformat(record["startTimeGMT"]).replace(tzinfo=UTC)
    sport_type = record["activityType"]["typeKey"]
    return Activity(
        source="garmin", source_id=str(record["activityId"]), sport=sport_family(sport_type),
        sport_type=sport_type, start_utc=start,
        local_start=datetime.fromisoformat(record["startTimeLocal"]),
        elapsed_s=record["duration"], moving_s=record["movingDuration"],
        distance_m=record["distance"], raw=record,
    )


def strava_activity(record: dict[str, Any]) -> Activity:
    """The few fields the store needs, read straight from a Strava detailed activity."""
    return Activity(
        source="strava", source_id=str(record["id"]), sport=sport_family(record["type"]),
        sport_type=record["type"],
        start_utc=datetime.fromisoformat(record["start_date"]),
        local_start=datetime.fromisoformat(record["start_date_local"]).replace(tzinfo=None),
        elapsed_s=record["elapsed_time"], moving_s=record["moving_time"],
        distance_m=record["distance"], gear_id=record["gear_id"],
        external_id=record["external_id"], raw=record,
    )


def test_real_records_round_trip_and_are_unchanged_when_sent_again(
    store: Store, athlete_id: int, fixtures_dir: Path
) -> None:
    [listing] = json.loads((fixtures_dir / "garmin" / "activity_list.json").read_text())
    strava = json.loads((fixtures_dir / "strava" / "activity.3.json").read_text())
    activities = [*map(garmin_activity, listing["body"]), strava_activity(strava)]
    assert counts(upsert(store, athlete_id, *activities)) == (4, 0, 0, 0, 0)
    assert counts(upsert(store, athlete_id, *activities)) == (0, 0, 4, 0, 0)
    with store.read() as tx:
        stored = find_activity(tx, athlete_id, "strava", "99895560")
        sessions = load_sessions(tx, athlete_id, datetime(2000, 1, 1), datetime(2100, 1, 1))
    assert stored is not None and stored[0].raw == strava
    # The trail run and the 2013 run are sessions; the hike and the paddleboarding are not.
    assert [s.key for s in sessions] == ["strava:99895560", "garmin:21482825013"]
    assert sessions[1].duration_s == 2216.0
