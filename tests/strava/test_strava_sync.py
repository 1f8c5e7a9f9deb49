"""Polling, backfill, run/walk splits, edits and deletions, bad items and gear, against the
fake Strava server."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import RawRecord
from connectors.strava import StravaConnector
from syncd.errors import TransientError
from syncd.models import Activity
from tests.strava.fake_strava import FakeStrava
from tests.strava.strava_support import NOW, RUN_WALK, STEADY, publish
from tests.support.clock import Clock


def paths(fake: FakeStrava) -> list[str]:
    return [call.path for call in fake.api_calls()]


def by_id(connector: StravaConnector, records: list[RawRecord]) -> dict[str, Activity]:
    return {r.source_id: connector.normalize(r) for r in records}


def test_first_sync_reads_the_configured_history_then_polls_with_one_request(
        connector: StravaConnector, fake: FakeStrava) -> None:
    publish(fake, 1, NOW - timedelta(days=70))  # older than the 8 weeks of history
    publish(fake, 2, NOW - timedelta(days=20), laps=RUN_WALK)
    publish(fake, 3, NOW - timedelta(days=1), sport_type="Ride")

    first = connector.fetch(None)

    assert [r.source_id for r in first.records] == ["2", "3"]
    listing = fake.api_calls()[0]
    history_start = datetime(2026, 9, 7, tzinfo=UTC) - timedelta(hours=2)  # Berlin midnight
    assert listing.query == {"after": str(int(history_start.timestamp()) - 1),
                             "per_page": "200", "page": "1"}
    assert first.more is False

    before = len(fake.calls)
    second = connector.fetch(first.cursor)

    assert second.records == []
    polls = fake.calls[before:]
    assert [c.path for c in polls] == ["/api/v3/athlete/activities"]
    newest = NOW - timedelta(days=1)
    assert polls[0].query["after"] == str(int((newest - timedelta(days=7)).timestamp()))


def test_laps_that_separate_run_and_walk_make_the_segments(
        connector: StravaConnector, fake: FakeStrava) -> None:
    publish(fake, 7, NOW - timedelta(days=2), laps=RUN_WALK)

    activity = by_id(connector, connector.fetch(None).records)["7"]

    assert [(s.kind, s.offset_s, s.duration_s) for s in activity.segments] == [
        ("run", 0.0, 120.0), ("walk", 120.0, 600.0), ("run", 720.0, 120.0),
        ("walk", 840.0, 600.0)]
    assert (activity.run_s, activity.walk_s) == (240.0, 1200.0)
    assert activity.extra == {"run_walk_from": "laps"}
    assert "/api/v3/activities/7/streams" not in paths(fake)


def test_the_speed_stream_splits_a_run_whose_laps_do_not(
        connector: StravaConnector, fake: FakeStrava) -> None:
    publish(fake, 8, NOW - timedelta(days=2), stream=STEADY)

    activity = by_id(connector, connector.fetch(None).records)["8"]

    assert paths(fake)[1:] == ["/api/v3/activities/8/laps", "/api/v3/activities/8/streams"]
    stream_call = fake.api_calls()[-1]
    assert stream_call.query == {"keys": "time,velocity_smooth,distance", "key_by_type": "true"}
    assert [(s.kind, s.duration_s) for s in activity.segments] == [
        ("run", 300.0), ("walk", 60.0), ("run", 300.0), ("walk", 60.0)]
    assert (activity.run_s, activity.walk_s) == (600.0, 120.0)
    assert activity.extra == {"run_walk_from": "velocity_smooth"}


def test_a_new_threshold_reclassifies_stored_laps_without_a_download(
        connector: StravaConnector, fake: FakeStrava, settings: Any,
        credentials: Any, clock: Clock) -> None:
    publish(fake, 9, NOW - timedelta(days=2), laps=RUN_WALK)
    record = connector.fetch(None).records[0]
    from tests.strava.strava_support import make_connector

    slower = make_connector(settings.model_copy(update={"run_speed_threshold": 1.35}),
                            credentials, clock)

    assert slower.normalize(record).run_s == 240.0 + 600.0  # the 1.4 m/s lap now counts


def test_rides_manual_entries_and_unknown_sports_get_no_laps_request(
        connector: StravaConnector, fake: FakeStrava) -> None:
    publish(fake, 11, NOW - timedelta(days=3), sport_type="Ride")
    publish(fake, 12, NOW - timedelta(days=2), manual=True)
    publish(fake, 13, NOW - timedelta(days=1), sport_type="Pickleball")

    activities = by_id(connector, connector.fetch(None).records)

    assert paths(fake) == ["/api/v3/athlete/activities"]
    assert [(a.sport, a.sport_type, a.manual) for a in activities.values()] == [
        ("other", "Ride", False), ("run", "Run", True), ("other", "Pickleball", False)]
    assert activities["12"].run_s is None  # no split: the rules count all of it as running


def test_garmin_uploads_keep_their_external_id_for_cross_source_matching(
        connector: StravaConnector, fake: FakeStrava) -> None:
    publish(fake, 14, NOW - timedelta(days=1), laps=RUN_WALK,
            external_id="garmin_push_12345678987")

    activity = by_id(connector, connector.fetch(None).records)["14"]

    assert activity.external_id == "garmin_push_12345678987"
    assert activity.start_utc == NOW - timedelta(days=1)
    assert activity.local_start == (NOW - timedelta(days=1, hours=-1)).replace(tzinfo=None)
    assert activity.timezone == "Europe/Berlin"


def test_late_uploads_edits_and_deletions_inside_the_look_back_window(
        connector: StravaConnector, fake: FakeStrava, clock: Clock) -> None:
    publish(fake, 21, NOW - timedelta(days=5), laps=RUN_WALK)
    publish(fake, 22, NOW - timedelta(days=4), laps=RUN_WALK)
    publish(fake, 23, NOW - timedelta(days=1), laps=RUN_WALK)
    cursor = connector.fetch(None).cursor
    clock.advance(hours=2)
    publish(fake, 24, NOW - timedelta(days=3), laps=RUN_WALK)  # uploaded late
    fake.activities[22] = {**fake.activities[22], "sport_type": "Walk", "type": "Walk"}
    del fake.activities[21]

    result = connector.fetch(cursor)

    changed = {r.source_id: r for r in result.records}
    assert sorted(changed) == ["21", "22", "24"]
    assert changed["21"].deleted is True
    gone = connector.normalize(changed["21"])
    assert (gone.deleted, gone.source_id, gone.start_utc) == (True, "21", NOW - timedelta(days=5))
    assert connector.normalize(changed["22"]).sport == "walk"
    assert connector.normalize(changed["24"]).run_s == 240.0


def test_one_bad_item_is_skipped_with_its_id_and_read_again_later(
        connector: StravaConnector, fake: FakeStrava) -> None:
    publish(fake, 31, NOW - timedelta(days=30), sport_type="Ride")
    bad = publish(fake, 32, NOW - timedelta(days=20), sport_type="Ride")
    publish(fake, 33, NOW - timedelta(days=1), sport_type="Ride")
    fake.activities[32] = {**bad, "elapsed_time": "a while"}

    first = connector.fetch(None)

    assert [r.source_id for r in first.records] == ["31", "33"]
    assert first.failures == [("32", "Strava activity 32: elapsed_time is not a number "
                                     "('a while')")]
    fake.activities[32] = bad  # Strava fixed it
    second = connector.fetch(first.cursor)

    assert [r.source_id for r in second.records] == ["32"]
    assert paths(fake)[-1] == "/api/v3/activities/32"  # outside the poll's window: by id
    assert second.failures == []


def test_a_bad_item_inside_the_window_is_tried_again_by_the_poll_alone(
        connector: StravaConnector, fake: FakeStrava) -> None:
    bad = publish(fake, 35, NOW - timedelta(days=2), sport_type="Ride")
    fake.activities[35] = {**bad, "sport_type": None, "type": None}
    cursor = connector.fetch(None).cursor
    before = len(fake.calls)

    again = connector.fetch(cursor)

    assert [c.path for c in fake.calls[before:]] == ["/api/v3/athlete/activities"]
    assert [source_id for source_id, _ in again.failures] == ["35"]


def test_an_item_that_stays_unreadable_is_given_up_after_three_tries(
        connector: StravaConnector, fake: FakeStrava) -> None:
    bad = publish(fake, 34, NOW - timedelta(days=20), sport_type="Ride")
    publish(fake, 36, NOW - timedelta(days=1), sport_type="Ride")
    fake.activities[34] = {**bad, "distance": "far"}
    cursor = connector.fetch(None).cursor
    tries = []
    for _ in range(3):
        result = connector.fetch(cursor)
        cursor = result.cursor
        tries.append([source_id for source_id, _ in result.failures])
    before = len(fake.calls)

    connector.fetch(cursor)

    assert tries == [["34"], ["34"], []]
    assert [c.path for c in fake.calls[before:]] == ["/api/v3/athlete/activities"]


def test_a_body_that_is_not_json_is_a_transient_error(
        connector: StravaConnector, fake: FakeStrava) -> None:
    fake.garbage["/api/v3/athlete/activities"] = 1

    with pytest.raises(TransientError, match="not JSON; syncd will retry later"):
        connector.fetch(None)


def test_shoes_are_read_at_most_once_a_day(connector: StravaConnector, fake: FakeStrava,
                                           clock: Clock) -> None:
    fake.gear["g1"] = {"id": "g1", "kind": "shoe", "name": "Pegasus 40", "distance": 402336.0,
                       "primary": True, "brand_name": "Nike", "model_name": "Pegasus"}
    publish(fake, 41, NOW - timedelta(days=2), laps=RUN_WALK, gear_id="g1")

    first = connector.fetch(None)
    clock.advance(hours=6)
    second = connector.fetch(first.cursor)
    clock.advance(hours=19)
    third = connector.fetch(second.cursor)

    assert [(g.id, g.name, g.distance_m) for g in first.gear] == [("g1", "Pegasus 40", 402336.0)]
    assert second.gear == []
    assert [g.id for g in third.gear] == ["g1"]
    assert paths(fake).count("/api/v3/athlete") == 2


def test_a_retired_shoe_missing_from_the_athlete_is_read_by_id(
        connector: StravaConnector, fake: FakeStrava) -> None:
    fake.gear["g2"] = {"id": "g2", "kind": "shoe", "name": "Old Clifton", "distance": 805000.0,
                       "retired": True, "brand_name": "Hoka", "model_name": "Clifton"}
    publish(fake, 42, NOW - timedelta(days=2), laps=RUN_WALK, gear_id="g2")

    gear = connector.fetch(None).gear

    assert [(g.id, g.distance_m, g.retired) for g in gear] == [("g2", 805000.0, True)]
    assert "/api/v3/gear/g2" in paths(fake)


def test_laps_wait_for_the_next_window_when_the_budget_is_low(
        connector: StravaConnector, fake: FakeStrava, clock: Clock) -> None:
    cursor = connector.fetch(None).cursor  # nothing yet: polling from now on
    fake.limits.read = (3, 1000)
    clock.advance(minutes=15)
    publish(fake, 51, NOW - timedelta(hours=2), laps=RUN_WALK)
    publish(fake, 52, NOW - timedelta(hours=1), laps=RUN_WALK)

    first = connector.fetch(cursor)

    first_pass = by_id(connector, first.records)
    assert (first_pass["51"].run_s, first_pass["52"].run_s) == (240.0, None)
    assert (first.more, first.details["laps_pending"]) == (False, 1)  # nothing to do till 12:30
    clock.advance(minutes=15)
    second = connector.fetch(first.cursor)

    assert by_id(connector, second.records)["52"].run_s == 240.0
    assert paths(fake)[-1] == "/api/v3/activities/52"  # the detail carries the laps
    assert second.more is False


def test_a_server_error_mid_backfill_keeps_what_was_read(
        connector: StravaConnector, fake: FakeStrava) -> None:
    for n in range(250):
        publish(fake, 1000 + n, NOW - timedelta(days=50) + timedelta(hours=4 * n),
                sport_type="Ride")
    calls: list[str] = []

    def second_page_fails(call: Any) -> None:
        calls.append(call.path)
        if len(calls) == 2:
            fake.fail(call.path, 503)

    fake.on_api_request = second_page_fails
    first = connector.fetch(None)
    fake.on_api_request = None
    second = connector.fetch(first.cursor)

    assert (len(first.records), first.more) == (200, True)
    assert (len(second.records), second.more) == (50, False)
    assert {r.source_id for r in first.records}.isdisjoint(r.source_id for r in second.records)


def test_quota_left_follows_the_headers(connector: StravaConnector, fake: FakeStrava) -> None:
    connector.fetch(None)

    assert connector.quota() == {"overall": {"15min": 199, "day": 1999, "limits": [200, 2000]},
                                 "read": {"15min": 99, "day": 999, "limits": [100, 1000]}}


def test_a_cursor_from_elsewhere_starts_over(connector: StravaConnector,
                                             fake: FakeStrava) -> None:
    publish(fake, 61, NOW - timedelta(days=2), sport_type="Ride")

    assert [r.source_id for r in connector.fetch("not json").records] == ["61"]
    assert [r.source_id for r in connector.fetch(json.dumps({"v": 99})).records] == ["61"]


# -- the real recordings ----------------------------------------------------------------------


def _fixture(fixtures_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures_dir / "strava" / name).read_text(encoding="utf-8"))


def test_a_real_detailed_run_normalizes(connector: StravaConnector, fake: FakeStrava,
                                        fixtures_dir: Path) -> None:
    real = _fixture(fixtures_dir, "activity.3.json")
    swagger = _fixture(fixtures_dir, "strava_swagger.json")
    lap = swagger["paths"]["/activities/{id}/laps"]["get"]["responses"]["200"]["examples"][
        "application/json"][0]
    fake.add(real, [{**lap, "start_date": real["start_date"], "elapsed_time": 3140,
                     "moving_time": 2892, "distance": 5781.1, "average_speed": 2.0}])

    records = connector.fetch(None, since=date(2013, 12, 1)).records
    activity = connector.normalize(records[0])

    assert (activity.source_id, activity.sport, activity.sport_type) == ("99895560", "run", "Run")
    assert activity.start_utc == datetime(2013, 12, 12, 19, 36, 41, tzinfo=UTC)
    assert activity.local_start == datetime(2013, 12, 12, 11, 36, 41)
    assert activity.timezone == "America/Los_Angeles"
    assert (activity.elapsed_s, activity.moving_s, activity.distance_m) == (3140, 2892, 5781.1)
    assert (activity.gear_id, activity.manual) == ("g69911", False)
    assert activity.external_id == "620D5DDD-B836-4F6B-8760-F905B8C2895F"
    assert activity.run_s is None  # one lap and no stream: no split
    assert "segment_efforts" not in activity.raw["activity"]


def test_a_real_manual_hike_normalizes(connector: StravaConnector,
                                       fixtures_dir: Path) -> None:
    real = _fixture(fixtures_dir, "activity-manual.3.json")

    activity = connector.normalize(RawRecord("96089609", {"activity": real}))

    assert (activity.sport, activity.sport_type, activity.manual) == ("hike", "Hike", True)
    assert activity.local_start == datetime(2013, 11, 17, 8, 0)
    assert (activity.elapsed_s, activity.distance_m) == (38700, 22530.8)


def test_the_documented_list_example_normalizes(connector: StravaConnector,
                                                fixtures_dir: Path) -> None:
    swagger = _fixture(fixtures_dir, "strava_swagger.json")
    items = swagger["paths"]["/athlete/activities"]["get"]["responses"]["200"]["examples"][
        "application/json"]

    activities = [connector.normalize(RawRecord(str(i["id"]), i)) for i in items]

    assert [(a.sport, a.sport_type) for a in activities] == [("other", "MountainBikeRide")] * 2
    assert activities[0].external_id == "garmin_push_12345678987654321"
