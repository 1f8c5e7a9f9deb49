"""Garmin multisport activities: the legs are the activities, never the parent summed over
them; and a multisport fetched from Garmin and the same watch's FIT file are one set of
sessions in the store, each run counted once."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import ConnectorContext
from connectors.files import FilesConnector
from syncd.models import Activity
from syncd.store import Store, ensure_athlete, load_sessions, upsert_activities
from tests.connectors.fit_builders import RUN_WALK_RUN, activity_fit
from tests.garmin.fake_garmin import FakeGarmin, garmin_time, make_entry, make_typed_splits
from tests.garmin.garmin_support import NOW, ZONE

LIST = "/activitylist-service/activities/search/activities"
DETAIL = "/activity-service/activity/"
PARENT = "7001"
# The watch recorded a run/walk, a walk and a run at 08:00 in Mexico City (14:00 UTC).
START = datetime(2026, 1, 8, 14, 0, tzinfo=UTC)
LOCAL_START = datetime(2026, 1, 8, 8, 0)


def paths(fake: FakeGarmin) -> list[str]:
    return [r.path for r in fake.api_calls()]


def child_detail(activity_id: str, type_key: str, offset_s: int, seconds: float,
                 metres: float, run_walk: tuple[float, float, int] | None = None
                 ) -> dict[str, Any]:
    """A leg's detail as ``activity-service/activity/{id}`` answers it (the shape of
    pe-st/garmin-connect-export's ``activity_multisport_child.json``)."""
    at = timedelta(seconds=offset_s)
    detail: dict[str, Any] = {
        "activityId": int(activity_id), "activityName": f"Multisport - {type_key}",
        "parentId": int(PARENT), "isMultiSportParent": False,
        "activityTypeDTO": {"typeId": 1, "typeKey": type_key, "parentTypeId": 17},
        "timeZoneUnitDTO": {"unitId": 124, "unitKey": ZONE, "timeZone": ZONE},
        "metadataDTO": {"childIds": [], "childActivityTypes": [], "lapCount": 1,
                        "manualActivity": False},
        "summaryDTO": {
            "startTimeLocal": garmin_time(LOCAL_START + at, iso=True),
            "startTimeGMT": garmin_time((START + at).replace(tzinfo=None), iso=True),
            "distance": metres, "duration": seconds, "elapsedDuration": seconds,
            # Garmin's moving time leaves out the seconds spent standing still.
            "movingDuration": seconds - 5},
    }
    if run_walk is not None:
        run_s, walk_s, bouts = run_walk
        detail["splitSummaries"] = [
            {"splitType": "RWD_RUN", "duration": run_s, "noOfSplits": bouts},
            {"splitType": "RWD_WALK", "duration": walk_s, "noOfSplits": bouts}]
    return detail


def serve_multisport(fake: FakeGarmin) -> None:
    """The parent in the list (as Garmin lists it: the legs are not listed), its detail
    naming the legs, and each leg's detail; the transitions are never asked for."""
    parent = make_entry(int(PARENT), LOCAL_START, utc_offset_h=-6.0, type_key="multi_sport",
                        duration=2220.0, distance=4047.0, split_summaries=False, laps=6)
    parent["parent"] = True
    fake.activities = [parent]
    fake.details[PARENT] = {
        "activityId": int(PARENT), "isMultiSportParent": True,
        "activityTypeDTO": {"typeId": 89, "typeKey": "multi_sport", "parentTypeId": 17},
        "metadataDTO": {"childIds": [7002, 7003, 7004, 7005],
                        "childActivityTypes": ["running", "walking", "transition_v2",
                                               "running"]},
        "summaryDTO": {"startTimeGMT": garmin_time(START.replace(tzinfo=None), iso=True),
                       "duration": 2220.0, "elapsedDuration": 2220.0, "distance": 4047.0},
    }
    first = child_detail("7002", "running", 0, 720.0, 1272.0, (240.0, 480.0, 2))
    fake.details["7002"] = first
    fake.details["7003"] = child_detail("7003", "walking", 720, 900.0, 1215.0)
    fake.details["7005"] = child_detail("7005", "running", 1620, 600.0, 1560.0,
                                        (600.0, 0.0, 1))
    legs = {"startTimeGMT": first["summaryDTO"]["startTimeGMT"].replace("T", " ")[:19],
            "startTimeLocal": first["summaryDTO"]["startTimeLocal"].replace("T", " ")[:19],
            "duration": 720.0, "distance": 1272.0, "activityId": 7002}
    fake.typed_splits["7002"] = make_typed_splits(legs, [120.0, 120.0], [240.0, 240.0],
                                                  walk_first=False)


def test_a_multisport_gives_its_legs_and_never_the_parent(fake, connector):
    serve_multisport(fake)
    garmin = connector()

    fetched = garmin.fetch(None, since=date(2026, 1, 8))
    activities, failures = garmin.normalize_all(fetched.records)

    assert failures == [] and fetched.failures == []
    kept = [a for a in activities if not a.deleted]
    assert [(a.source_id, a.sport, a.start_utc, a.elapsed_s, a.distance_m, a.run_s)
            for a in kept] == [
        ("7002", "run", START, 720.0, 1272.0, 240.0),
        ("7003", "walk", START + timedelta(seconds=720), 900.0, 1215.0, None),
        ("7005", "run", START + timedelta(seconds=1620), 600.0, 1560.0, 600.0)]
    assert kept[0].walk_s == 480.0 and kept[0].local_start == LOCAL_START
    assert kept[0].timezone == ZONE
    # The parent is only ever withdrawn (an older syncd stored it as one activity).
    assert [(a.source_id, a.deleted) for a in activities if a.deleted] == [(PARENT, True)]
    assert paths(fake) == [LIST, DETAIL + PARENT, DETAIL + "7002", DETAIL + "7002/typedsplits",
                           DETAIL + "7003", DETAIL + "7005", "/gear-service/gear/filterGear"]


def test_an_unchanged_multisport_costs_nothing_and_a_deleted_one_takes_its_legs(
        fake, connector):
    serve_multisport(fake)
    garmin = connector()
    first = garmin.fetch(None)
    fake.requests.clear()

    again = garmin.fetch(first.cursor)
    assert again.records == [] and paths(fake) == [LIST]

    fake.activities = []
    gone = garmin.fetch(again.cursor)
    assert sorted((r.source_id, r.deleted) for r in gone.records) == [
        (PARENT, True), ("7002", True), ("7003", True), ("7005", True)]


def test_the_recorded_bike_walk_bike_keeps_the_walk_leg(fake, connector, fixtures_dir):
    pest = fixtures_dir / "realworld" / "garmin" / "pest"
    if not pest.is_dir():
        pytest.skip("../shared/fixtures/realworld is absent")
    parent = json.loads((pest / "activity_multisport_detail.json").read_text())
    walk = json.loads((pest / "activity_multisport_child.json").read_text())
    summary = parent["summaryDTO"]
    entry = make_entry(parent["activityId"], datetime.fromisoformat(summary["startTimeLocal"]),
                       utc_offset_h=2.0, type_key="multi_sport", duration=summary["duration"],
                       distance=summary["distance"], split_summaries=False)
    entry["elapsedDuration"] = summary["elapsedDuration"]
    fake.activities = [entry]
    fake.details[str(parent["activityId"])] = parent
    fake.details[str(walk["activityId"])] = walk
    for index, child_id in enumerate(parent["metadataDTO"]["childIds"]):
        if child_id != walk["activityId"] and index in (0, 4):  # the two rides
            ride = copy.deepcopy(walk)
            ride["activityId"], ride["activityTypeDTO"]["typeKey"] = child_id, "cycling"
            fake.details[str(child_id)] = ride
    garmin = connector(clock=lambda: datetime(2021, 4, 12, tzinfo=UTC))

    fetched = garmin.fetch(None, since=date(2021, 4, 11))
    activities = {a.source_id: a for a in garmin.normalize_all(fetched.records)[0]}

    stored = sorted(k for k, a in activities.items() if not a.deleted)
    assert stored == ["6588349067", "6588349076", "6588349081"]  # not the two transitions
    leg = activities["6588349076"]
    assert (leg.sport, leg.start_utc, leg.elapsed_s, leg.moving_s, leg.distance_m) == (
        "walk", datetime(2021, 4, 11, 10, 36, 16, tzinfo=UTC), 5332.783, 4020.0, 4036.26)
    assert (leg.local_start, leg.timezone) == (datetime(2021, 4, 11, 12, 36, 16),
                                               "Europe/Paris")
    assert activities["6588349056"].deleted  # the parent, summed over 38 km, is not kept


def test_a_multisport_from_garmin_and_its_fit_file_count_each_run_once(
        fake, connector, tmp_path: Path, sqlite_url: str):
    serve_multisport(fake)
    garmin = connector()
    from_garmin, failures = garmin.normalize_all(garmin.fetch(None, since=date(2026, 1, 8))
                                                 .records)
    assert failures == []
    fit = tmp_path / "multisport.fit"
    fit.write_bytes(activity_fit(START, RUN_WALK_RUN, utc_offset_s=-6 * 3600))
    files = FilesConnector(None, ConnectorContext(athlete="ana", timezone=ZONE,
                                                  now=lambda: NOW))
    batch = files.read_paths([fit])
    from_file = [files.normalize(record) for record in batch.records]

    sessions, linked = store_both(sqlite_url, [*from_garmin, *from_file])

    # Two runs (the run/walk leg and the last leg), each once, from Garmin (canonical).
    assert [(s.key, s.start_utc, s.run_s) for s in sessions] == [
        ("garmin:7002", START, 240.0),
        ("garmin:7005", START + timedelta(seconds=1620), 600.0)]
    file_id = batch.records[0].source_id
    assert linked == {f"file:{file_id}": "garmin:7002", f"file:{file_id}-2": "garmin:7003",
                      f"file:{file_id}-3": "garmin:7005"}


def store_both(url: str, activities: list[Activity]) -> tuple[list, dict[str, str]]:
    """Store everything in a real SQLite file; the sessions, and which row links to which."""
    store = Store.open(url)
    try:
        with store.write() as tx:
            athlete = ensure_athlete(tx, "ana", ZONE, now=NOW)
            upsert_activities(tx, athlete, activities, now=NOW)
        with store.read() as tx:
            sessions = load_sessions(tx, athlete, datetime(2026, 1, 1), datetime(2026, 2, 1))
            from sqlalchemy import select
            from sqlalchemy.orm import aliased

            from syncd.store.tables import ActivityRow
            canonical = aliased(ActivityRow)
            rows = tx.execute(select(ActivityRow.source, ActivityRow.source_id,
                                     canonical.source, canonical.source_id)
                              .join(canonical, canonical.id == ActivityRow.canonical_id))
            linked = {f"{s}:{i}": f"{cs}:{ci}" for s, i, cs, ci in rows}
    finally:
        store.close()
    return sessions, linked
