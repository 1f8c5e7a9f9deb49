"""The Garmin connector against the fake Garmin: what it reads, and which requests it spends."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from connectors.garmin import Policy
from syncd.errors import AuthError, InvalidResponse, RateLimited, TransientError
from tests.garmin.fake_garmin import (
    FakeGarmin,
    load_fixtures,
    make_entry,
    make_gear,
    make_laps,
    make_typed_splits,
)
from tests.garmin.garmin_support import NOW
from tests.support.clock import Clock

TRAIL_ID = "21482825013"
# The synthetic bouts behind the recorded summaries: 27 runs (1,563.026 s), 28 walks (660.109).
TRAIL_RUNS = [57.0] * 13 + [81.026] + [57.0] * 13
TRAIL_WALKS = [660.109 / 28] * 28


def serve_recorded(fake: FakeGarmin, fixtures_dir: Path) -> None:
    """The recorded list (trail run, hike, paddleboard) and the trail run's typed splits."""
    entries, _detail = load_fixtures(fixtures_dir)
    fake.activities = copy.deepcopy(entries)
    trail = next(e for e in fake.activities if str(e["activityId"]) == TRAIL_ID)
    fake.typed_splits[TRAIL_ID] = make_typed_splits(trail, TRAIL_RUNS, TRAIL_WALKS)


def paths(fake: FakeGarmin) -> list[str]:
    """The API paths requested, in order."""
    return [r.path for r in fake.api_calls()]


LIST = "/activitylist-service/activities/search/activities"


def test_the_recorded_trail_run_gives_garmins_run_and_walk_time(fake, connector, fixtures_dir):
    serve_recorded(fake, fixtures_dir)
    garmin = connector()

    fetched = garmin.fetch(None, since=date(2026, 1, 1))
    activities, failures = garmin.normalize_all(fetched.records)

    assert failures == [] and fetched.failures == []
    by_id = {a.source_id: a for a in activities}
    trail = by_id[TRAIL_ID]
    assert (trail.sport, trail.sport_type) == ("run", "trail_running")
    assert (round(trail.run_s), round(trail.walk_s)) == (1563, 660)
    assert trail.start_utc == datetime.fromisoformat("2026-01-08T14:10:21+00:00")
    assert trail.local_start == datetime(2026, 1, 8, 8, 10, 21)
    assert trail.timezone == "America/Mexico_City"
    assert (trail.moving_s, round(trail.distance_m or 0)) == (2216.0, 4261)
    runs = [s for s in trail.segments if s.kind == "run"]
    assert (len(runs), len(trail.segments)) == (27, 55)
    assert max(s.duration_s for s in runs) == pytest.approx(81.026)
    assert trail.segments[0].kind == "walk" and trail.segments[0].offset_s == 0.0
    assert trail.extra["run_walk_from"] == "garmin"
    assert trail.raw["activity"]["activityId"] == int(TRAIL_ID)
    assert {a.source_id: a.sport for a in activities if a.source_id != TRAIL_ID} == {
        "21461718086": "hike", "21419635589": "other"}
    # One list page and the trail run's bouts; the hike and the paddle need nothing more.
    assert paths(fake) == [LIST, f"/activity-service/activity/{TRAIL_ID}/typedsplits",
                           "/gear-service/gear/filterGear"]
    assert fake.api_calls()[0].query == {"startDate": "2026-01-01", "start": "0",
                                         "limit": "100", "sortOrder": "asc"}


def test_paging_walks_the_recorded_pages(fake, connector, fixtures_dir):
    recorded = json.loads((fixtures_dir / "garmin" / "activity_list_pagination.json").read_text())
    fake.activities = [entry for page in recorded for entry in page["body"]]
    trail = next(e for e in fake.activities if str(e["activityId"]) == TRAIL_ID)
    fake.typed_splits[TRAIL_ID] = make_typed_splits(trail, TRAIL_RUNS, TRAIL_WALKS)
    garmin = connector(policy=Policy(page_size=2))

    fetched = garmin.fetch(None, since=date(2025, 1, 1))

    recorded_ids = {str(e["activityId"]) for e in fake.activities}
    assert {r.source_id for r in fetched.records} == recorded_ids
    starts = [r.query["start"] for r in fake.calls(LIST)]
    assert starts == ["0", "2", "4"]  # two full pages, then the empty one that ends the list


def test_a_list_without_split_summaries_is_completed_from_the_detail(fake, connector,
                                                                     fixtures_dir):
    entries, detail = load_fixtures(fixtures_dir)
    trail = copy.deepcopy(next(e for e in entries if str(e["activityId"]) == TRAIL_ID))
    del trail["splitSummaries"]
    fake.activities = [trail]
    fake.details[TRAIL_ID] = detail
    fake.typed_splits[TRAIL_ID] = make_typed_splits(trail, TRAIL_RUNS, TRAIL_WALKS)
    garmin = connector()

    [activity] = garmin.normalize_all(garmin.fetch(None, since=date(2026, 1, 1)).records)[0]

    assert (round(activity.run_s), round(activity.walk_s)) == (1563, 660)
    # The detail carries the post-run feel (25: "weak") and effort (30: 3/10), and the zone.
    assert activity.extra["feel"] == 25 and activity.extra["feel_label"] == "weak"
    assert activity.extra["perceived_effort"] == 3.0
    assert activity.timezone == "America/Costa_Rica"
    assert paths(fake)[:3] == [LIST, f"/activity-service/activity/{TRAIL_ID}",
                               f"/activity-service/activity/{TRAIL_ID}/typedsplits"]


def generated(fake: FakeGarmin) -> dict[str, dict]:
    """One of each case the request policy tells apart, on 2026-01-05..09."""
    day = datetime(2026, 1, 5, 7, 0)
    single = make_entry(1001, day, run_walk=(600.0, 300.0), bouts=(1, 1))
    bouts = make_entry(1002, day + timedelta(days=1), run_walk=(540.0, 360.0), bouts=(3, 3))
    laps = make_entry(1003, day + timedelta(days=2), laps=4)  # no run/walk detection
    one_lap = make_entry(1004, day + timedelta(days=3), laps=1)
    walk = make_entry(1005, day + timedelta(days=4), type_key="walking",
                      run_walk=(60.0, 1500.0), bouts=(2, 3))
    fake.activities = [single, bouts, laps, one_lap, walk]
    fake.typed_splits["1002"] = make_typed_splits(bouts, [120.0, 300.0, 120.0], [120.0] * 3)
    fake.laps["1003"] = make_laps(laps, [(300, 450, "WARMUP"), (600, 1500, "ACTIVE"),
                                         (300, 330, "RECOVERY"), (600, 1440, None)])
    fake.laps["1004"] = make_laps(one_lap, [(1800, 4000, None)])
    return {e["activityName"]: e for e in fake.activities}


def test_only_runs_lacking_bout_detail_cost_a_request(fake, connector):
    generated(fake)
    garmin = connector()

    fetched = garmin.fetch(None, since=date(2026, 1, 1))
    activities = {a.source_id: a for a in garmin.normalize_all(fetched.records)[0]}

    assert paths(fake) == [LIST, "/activity-service/activity/1002/typedsplits",
                           "/activity-service/activity/1003/splits",
                           "/gear-service/gear/filterGear"]
    single = activities["1001"]
    assert (single.run_s, single.walk_s, single.segments) == (600.0, 300.0, ())
    assert [s.duration_s for s in activities["1002"].segments if s.kind == "run"] == [
        120.0, 300.0, 120.0]
    # Warm-up walked (1.5 m/s), the active step ran, the recovery walked, the last lap ran.
    lapped = activities["1003"]
    assert [(s.kind, s.duration_s) for s in lapped.segments] == [
        ("walk", 300.0), ("run", 600.0), ("walk", 300.0), ("run", 600.0)]
    assert (lapped.run_s, lapped.walk_s, lapped.extra["run_walk_from"]) == (1200.0, 600.0,
                                                                             "laps")
    assert activities["1004"].run_s is None  # no split at all: the rules count it all run
    assert activities["1005"].sport == "walk" and activities["1005"].run_s == 60.0


def test_a_poll_reads_only_the_window_and_only_what_changed(fake, connector):
    entries = generated(fake)
    garmin = connector()
    first = garmin.fetch(None, since=date(2026, 1, 1))
    before = len(fake.api_calls())

    again = garmin.fetch(first.cursor)

    assert again.records == [] and again.more is False
    assert paths(fake)[before:] == [LIST]  # gear was read today already
    # The newest activity is from 2026-01-09; the poll looks back 7 days from it.
    assert fake.calls(LIST)[-1].query["startDate"] == "2026-01-02"

    entries["running 1002"]["duration"] = 1850.0  # edited on Garmin
    edited = garmin.fetch(again.cursor)
    assert [r.source_id for r in edited.records] == ["1002"]
    assert paths(fake)[-1] == "/activity-service/activity/1002/typedsplits"


def test_an_activity_deleted_on_garmin_is_reported_deleted(fake, connector):
    generated(fake)
    garmin = connector()
    first = garmin.fetch(None, since=date(2026, 1, 1))
    polled = garmin.fetch(first.cursor)
    fake.activities = [a for a in fake.activities if a["activityId"] != 1004]

    after = garmin.fetch(polled.cursor)

    assert [(r.source_id, r.deleted) for r in after.records] == [("1004", True)]
    assert garmin.normalize(after.records[0]).deleted is True


def test_an_unreadable_activity_is_skipped_and_the_rest_kept(fake, connector):
    generated(fake)
    del fake.activities[0]["activityType"]
    fake.typed_splits["1002"] = b"<html>Service changed</html>"
    garmin = connector()

    fetched = garmin.fetch(None, since=date(2026, 1, 1))

    assert sorted(source_id for source_id, _ in fetched.failures) == ["1001", "1002"]
    assert sorted(r.source_id for r in fetched.records) == ["1003", "1004", "1005"]
    # The skipped ones are tried again on the next poll, the others are not.
    fake.typed_splits["1002"] = make_typed_splits(fake.activities[1], [300.0] * 3, [120.0] * 3)
    assert [r.source_id for r in garmin.fetch(fetched.cursor).records] == ["1002"]


def week_of_activities(fake: FakeGarmin, count: int) -> None:
    fake.activities = [make_entry(2000 + i, datetime(2026, 1, 1, 7) + timedelta(hours=12 * i),
                                  type_key="walking") for i in range(count)]


def test_a_backfill_stops_after_its_page_budget_and_the_next_pass_continues(fake, connector):
    week_of_activities(fake, 7)  # two a day, 2026-01-01 to 01-04
    garmin = connector(policy=Policy(page_size=2, pages_per_fetch=2))

    first = garmin.fetch(None, since=date(2026, 1, 1))
    assert (len(first.records), first.more) == (4, True)
    fake.fail(LIST, 429, times=1)  # the next pass is refused once...
    with pytest.raises(RateLimited):
        garmin.fetch(first.cursor)
    rest = garmin.fetch(first.cursor)  # ...and the one after continues where the first stopped

    seen = [r.source_id for r in first.records + rest.records]
    assert sorted(seen) == [str(2000 + i) for i in range(7)] and len(set(seen)) == 7
    assert rest.more is False
    # Pages: 0 and 2 from 01-01, then 01-02 skipping its two entries already read, then the
    # short page: no activity listed twice and no page beyond the minimum (7 // 2 + 1).
    ok = [(r.query["startDate"], r.query["start"]) for r in fake.calls(LIST) if r.status == 200]
    assert ok == [("2026-01-01", "0"), ("2026-01-01", "2"), ("2026-01-02", "2"),
                  ("2026-01-02", "4")]


def test_gear_is_read_at_most_daily_shoes_only(fake, connector):
    for gear, stats in (make_gear("a" * 32, "Pegasus 40", 412_345.0),
                        make_gear("b" * 32, "Old Clifton", 801_000.0, status="retired"),
                        make_gear("c" * 32, "Gravel bike", 3_000_000.0, kind="Bike")):
        fake.gear.append(gear)
        fake.gear_stats[gear["uuid"]] = stats
    clock = Clock(NOW)
    garmin = connector(clock=clock)

    first = garmin.fetch(None)
    second = garmin.fetch(first.cursor)
    clock.now = NOW + timedelta(hours=25)
    third = garmin.fetch(second.cursor)

    assert [(g.id[:1], g.name, g.distance_m, g.retired) for g in first.gear] == [
        ("a", "Pegasus 40", 412_345.0, False), ("b", "Old Clifton", 0.0, True)]
    assert second.gear == [] and len(third.gear) == 2
    gear_calls = [r.path for r in fake.calls("/gear-service/")]
    daily = ["/gear-service/gear/filterGear", f"/gear-service/gear/stats/{'a' * 32}"]
    assert gear_calls == daily * 2


def test_refused_login_after_a_refresh_raises_auth_error_without_looping(fake, connector):
    generated(fake)
    fake.revoke_access_tokens()
    fake.refresh_tokens.clear()  # the refresh token was revoked too
    garmin = connector()

    with pytest.raises(AuthError, match=r"run `syncd auth garmin`"):
        garmin.fetch(None)

    # The list once, one refresh attempt, the list once more: then it stops.
    assert [(r.path, r.status) for r in fake.calls()] == [
        (LIST, 401), ("/di-oauth2-service/oauth/token", 401), (LIST, 401)]


@pytest.mark.parametrize("status", [429, 427])
def test_throttling_raises_rate_limited_until_the_configured_backoff(fake, connector, status):
    fake.fail("/", status)
    garmin = connector(backoff="3h")

    with pytest.raises(RateLimited) as raised:
        garmin.fetch(None)

    assert raised.value.retry_at == NOW + timedelta(hours=3)
    assert "Garmin login needs attention" in str(raised.value)
    assert len(fake.calls()) == 1  # never retried


def test_a_server_error_is_retried_with_backoff_then_reported_transient(fake, connector):
    fake.fail(LIST, 503, times=1)
    assert connector().fetch(None).records == []  # the retry got through
    assert [r.status for r in fake.calls(LIST)] == [503, 200]

    fake.fail(LIST, 502)
    with pytest.raises(TransientError, match="HTTP 502"):
        connector().fetch(None)


def test_a_timeout_is_transient(fake, connector):
    fake.slow(LIST, 1.0)
    with pytest.raises(TransientError, match="timed out"):
        connector(timeout=0.2).fetch(None)


def test_without_a_token_store_the_error_says_to_log_in(fake, connector, token_dir):
    (token_dir / "garmin_tokens.json").unlink()
    with pytest.raises(AuthError, match=r"no Garmin login is stored .* run `syncd auth garmin`"):
        connector().fetch(None)


def test_a_record_without_its_list_entry_is_invalid(connector):
    from connectors.base import RawRecord

    with pytest.raises(InvalidResponse):
        connector().normalize(RawRecord("1", {"detail": {}}))


def test_an_activity_list_that_cannot_be_read_fails_the_pass_to_be_tried_again(fake,
                                                                              connector):
    fake.fail(LIST, 400)
    with pytest.raises(TransientError, match="tries again later"):
        connector().fetch(None)


def test_a_damaged_token_store_says_to_log_in_again(connector, token_dir):
    (token_dir / "garmin_tokens.json").write_text("{not json")
    with pytest.raises(AuthError, match=r"cannot be used \(.*\); run `syncd auth garmin`"):
        connector().fetch(None)
