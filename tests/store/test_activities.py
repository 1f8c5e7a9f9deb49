"""Activity upsert: idempotence, edits, soft deletes, cross-source identity, affected dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import aliased

from syncd.errors import InvalidResponse
from syncd.models import Activity
from syncd.store import (
    DEFAULT_CANONICAL_ORDER,
    Store,
    UpsertResult,
    find_activity,
    load_sessions,
    upsert_activities,
)
from syncd.store.tables import ActivityRow

from .conftest import NOW, T0, intervals, run

DAY = T0.date()  # local date of T0 (07:00 UTC is 08:00 in Berlin)
LATER = NOW + timedelta(hours=1)


def upsert(store: Store, athlete: int, *activities: Activity,
           order: Sequence[str] = DEFAULT_CANONICAL_ORDER, now: datetime = NOW) -> UpsertResult:
    with store.write() as tx:
        return upsert_activities(tx, athlete, activities, order, now=now)


def canonical_of(store: Store, athlete: int) -> dict[str, str | None]:
    """Every stored row's key mapped to its canonical row's key (None: canonical itself)."""
    canonical = aliased(ActivityRow)
    query = (select(ActivityRow.source, ActivityRow.source_id, canonical.source,
                    canonical.source_id)
             .outerjoin(canonical, canonical.id == ActivityRow.canonical_id)
             .where(ActivityRow.athlete_id == athlete))
    with store.read() as tx:
        return {f"{s}:{i}": (f"{cs}:{ci}" if cs else None)
                for s, i, cs, ci in tx.execute(query)}


def session_keys(store: Store, athlete: int) -> list[str]:
    with store.read() as tx:
        sessions = load_sessions(tx, athlete, datetime(2000, 1, 1), datetime(2100, 1, 1))
    return [s.key for s in sessions]


def updated_at(store: Store, athlete: int, source: str, source_id: str) -> datetime:
    with store.read() as tx:
        return tx.execute(select(ActivityRow.updated_at).where(
            ActivityRow.athlete_id == athlete, ActivityRow.source == source,
            ActivityRow.source_id == source_id)).scalar_one()


def counts(result: UpsertResult) -> tuple[int, int, int, int, int]:
    return (result.inserted, result.updated, result.unchanged, result.deleted, result.linked)


def test_first_insert_reports_the_local_date(store: Store, athlete_id: int) -> None:
    result = upsert(store, athlete_id, run("garmin", "1"))
    assert counts(result) == (1, 0, 0, 0, 0)
    assert result.affected_dates == {DAY}


def test_sending_the_same_record_again_changes_nothing(store: Store, athlete_id: int) -> None:
    record = run("garmin", "1", segments=intervals(("run", 60), ("walk", 120)),
                 raw={"activityId": 1, "splits": [1.5, 2]}, extra={"device": "fr265"})
    upsert(store, athlete_id, record)
    again = upsert(store, athlete_id, record, now=LATER)
    assert counts(again) == (0, 0, 1, 0, 0)
    assert again.affected_dates == set()
    assert updated_at(store, athlete_id, "garmin", "1") == NOW


def test_an_edited_record_is_updated_in_place_with_new_segments(
    store: Store, athlete_id: int
) -> None:
    upsert(store, athlete_id, run("garmin", "1", segments=intervals(("run", 60), ("walk", 60))))
    edited = run("garmin", "1", T0, 2400.0, segments=intervals(("run", 300), ("walk", 60)))
    result = upsert(store, athlete_id, edited, now=LATER)
    assert counts(result) == (0, 1, 0, 0, 0)
    assert result.affected_dates == {DAY}
    with store.read() as tx:
        found = find_activity(tx, athlete_id, "garmin", "1")
        rows = tx.execute(select(ActivityRow.id)).all()
    assert found is not None
    assert found[0].moving_s == 2400.0
    assert [(s.kind, s.duration_s) for s in found[0].segments] == [("run", 300), ("walk", 60)]
    assert len(rows) == 1
    assert updated_at(store, athlete_id, "garmin", "1") == LATER


def test_renaming_an_activity_touches_no_session_date(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("strava", "9", name="Morning Run"))
    result = upsert(store, athlete_id, run("strava", "9", name="Easy 2/15"))
    assert counts(result) == (0, 1, 0, 0, 0)
    assert result.affected_dates == set()


def test_moving_an_activity_to_another_day_affects_both_days(
    store: Store, athlete_id: int
) -> None:
    upsert(store, athlete_id, run("strava", "9"))
    result = upsert(store, athlete_id, run("strava", "9", T0 + timedelta(days=1)))
    assert result.affected_dates == {DAY, DAY + timedelta(days=1)}


def test_a_deleted_record_marks_the_row_and_the_session_disappears(
    store: Store, athlete_id: int
) -> None:
    upsert(store, athlete_id, run("strava", "9"))
    result = upsert(store, athlete_id, run("strava", "9", deleted=True))
    assert counts(result) == (0, 0, 0, 1, 0)
    assert result.affected_dates == {DAY}
    assert session_keys(store, athlete_id) == []
    with store.read() as tx:
        found = find_activity(tx, athlete_id, "strava", "9")
    assert found is not None and found[0].deleted  # kept, only marked
    again = upsert(store, athlete_id, run("strava", "9", deleted=True))
    assert counts(again) == (0, 0, 1, 0, 0)


def test_deleting_an_unknown_record_stores_nothing(store: Store, athlete_id: int) -> None:
    result = upsert(store, athlete_id, run("strava", "404", deleted=True))
    assert counts(result) == (0, 0, 1, 0, 0)
    assert canonical_of(store, athlete_id) == {}


def test_a_restored_record_is_a_session_again(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("strava", "9"))
    upsert(store, athlete_id, run("strava", "9", deleted=True))
    result = upsert(store, athlete_id, run("strava", "9"))
    assert counts(result) == (0, 1, 0, 0, 0)
    assert result.affected_dates == {DAY}
    assert session_keys(store, athlete_id) == ["strava:9"]


def test_garmin_first_then_strava_copy_is_linked(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("garmin", "1"))
    result = upsert(store, athlete_id, run("strava", "9", T0 + timedelta(seconds=30), 1750))
    assert counts(result) == (1, 0, 0, 0, 1)
    assert result.affected_dates == set()  # the session itself did not change
    assert canonical_of(store, athlete_id) == {"garmin:1": None, "strava:9": "garmin:1"}
    assert session_keys(store, athlete_id) == ["garmin:1"]


def test_strava_first_then_garmin_takes_over(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("strava", "9", T0 + timedelta(seconds=30), 1750))
    assert session_keys(store, athlete_id) == ["strava:9"]
    result = upsert(store, athlete_id, run("garmin", "1"))
    assert counts(result) == (1, 0, 0, 0, 1)
    assert result.affected_dates == {DAY}
    assert canonical_of(store, athlete_id) == {"garmin:1": None, "strava:9": "garmin:1"}
    assert session_keys(store, athlete_id) == ["garmin:1"]


def test_a_canonical_switch_across_midnight_affects_both_days(
    store: Store, athlete_id: int
) -> None:
    before_midnight = datetime.combine(DAY, datetime.min.time(), T0.tzinfo) - timedelta(
        hours=1, seconds=30)  # 23:59:30 local
    upsert(store, athlete_id, run("strava", "9", before_midnight))
    result = upsert(store, athlete_id, run("garmin", "1", before_midnight + timedelta(seconds=60)))
    assert result.affected_dates == {DAY - timedelta(days=1), DAY}


def test_garmin_push_external_id_links_whatever_the_times(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("garmin", "77"))
    upload = run("strava", "9", T0 + timedelta(minutes=10), 900, external_id="garmin_push_77")
    result = upsert(store, athlete_id, upload)
    assert result.linked == 1
    assert canonical_of(store, athlete_id)["strava:9"] == "garmin:77"


def test_an_upload_naming_another_garmin_activity_is_not_linked_by_time(
    store: Store, athlete_id: int
) -> None:
    upsert(store, athlete_id, run("garmin", "77"))
    upload = run("strava", "9", T0, external_id="garmin_push_78")
    upsert(store, athlete_id, upload)
    assert canonical_of(store, athlete_id) == {"garmin:77": None, "strava:9": None}


@pytest.mark.parametrize(("offset_s", "duration_s", "linked"), [
    (120, 1800, True),   # starts exactly 120 s apart
    (121, 1800, False),  # one second more
    (-120, 1800, True),
    (0, 1620, True),     # 1800 vs 1620: 10 % of the longer, exactly
    (0, 1619, False),    # just past
])
def test_match_boundaries(
    store: Store, athlete_id: int, offset_s: int, duration_s: float, linked: bool
) -> None:
    upsert(store, athlete_id, run("garmin", "1", T0, 1800),
           run("strava", "9", T0 + timedelta(seconds=offset_s), duration_s))
    expected = "garmin:1" if linked else None
    assert canonical_of(store, athlete_id)["strava:9"] == expected


def test_elapsed_time_is_compared_when_moving_time_is_unknown(
    store: Store, athlete_id: int
) -> None:
    upsert(store, athlete_id, run("garmin", "1", T0, 1800, moving_s=None, elapsed_s=2000),
           run("file", "a.fit", T0, 1800))  # moving 1800 vs elapsed 2000: within 10 %
    assert canonical_of(store, athlete_id)["file:a.fit"] == "garmin:1"


def test_a_walk_a_minute_before_a_run_is_a_separate_activity(
    store: Store, athlete_id: int
) -> None:
    walk = run("strava", "8", T0 - timedelta(seconds=60), 1800, sport_type="Walk")
    upsert(store, athlete_id, walk, run("garmin", "1"))
    assert canonical_of(store, athlete_id) == {"strava:8": None, "garmin:1": None}
    assert session_keys(store, athlete_id) == ["garmin:1"]


def test_two_records_from_one_source_are_never_merged(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("garmin", "1"), run("garmin", "2", T0 + timedelta(seconds=5)))
    assert session_keys(store, athlete_id) == ["garmin:1", "garmin:2"]


def test_better_sources_arriving_later_become_canonical_in_turn(
    store: Store, athlete_id: int
) -> None:
    upsert(store, athlete_id, run("strava", "9", T0 + timedelta(seconds=20)))
    upsert(store, athlete_id, run("file", "a.fit", T0 + timedelta(seconds=10)))
    assert canonical_of(store, athlete_id) == {"strava:9": "file:a.fit", "file:a.fit": None}
    upsert(store, athlete_id, run("garmin", "1"))
    assert canonical_of(store, athlete_id) == {
        "strava:9": "garmin:1", "file:a.fit": "garmin:1", "garmin:1": None}


def test_deleting_the_canonical_record_promotes_the_next_best(
    store: Store, athlete_id: int
) -> None:
    upsert(store, athlete_id, run("garmin", "1"), run("file", "a.fit"), run("strava", "9"))
    upsert(store, athlete_id, run("garmin", "1", deleted=True))
    assert canonical_of(store, athlete_id) == {
        "garmin:1": None, "file:a.fit": None, "strava:9": "file:a.fit"}
    assert session_keys(store, athlete_id) == ["file:a.fit"]
    result = upsert(store, athlete_id, run("file", "a.fit", deleted=True))
    assert session_keys(store, athlete_id) == ["strava:9"]
    assert result.affected_dates == {DAY}


def test_moving_the_canonical_away_unlinks_its_copy(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("garmin", "1"), run("strava", "9"))
    upsert(store, athlete_id, run("garmin", "1", T0 + timedelta(hours=5)))
    assert session_keys(store, athlete_id) == ["strava:9", "garmin:1"]


def test_canonical_order_is_configurable(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, run("garmin", "1"), run("strava", "9"),
           order=("strava", "garmin"))
    assert session_keys(store, athlete_id) == ["strava:9"]


def test_the_last_copy_of_a_record_in_one_batch_wins(store: Store, athlete_id: int) -> None:
    result = upsert(store, athlete_id, run("garmin", "1", T0, 1000), run("garmin", "1", T0, 1200))
    assert counts(result) == (1, 0, 0, 0, 0)
    with store.read() as tx:
        found = find_activity(tx, athlete_id, "garmin", "1")
    assert found is not None and found[0].moving_s == 1200


def test_a_stored_activity_reads_back_equal(store: Store, athlete_id: int) -> None:
    record = run("strava", "9", segments=intervals(("run", 120), ("walk", 780), ("stand", 5)),
                 run_s=120.0, walk_s=780.0, gear_id="g42", name="Run/walk 2/13", manual=True,
                 external_id="garmin_push_1", athlete="ana", extra={"laps": 3},
                 raw={"id": 9, "type": "Run", "splits": [{"distance": 1000.5}]})
    upsert(store, athlete_id, record)
    with store.read() as tx:
        assert find_activity(tx, athlete_id, "strava", "9") == (record, None)


def test_a_start_time_without_time_zone_is_refused(store: Store, athlete_id: int) -> None:
    naive = run("strava", "9", datetime(2026, 3, 2, 7, 0))
    with pytest.raises(InvalidResponse, match="strava:9 has a start time without a time zone"):
        upsert(store, athlete_id, naive)


def test_athletes_do_not_share_sessions(store: Store, athlete_id: int) -> None:
    from syncd.store import ensure_athlete

    with store.write() as tx:
        other = ensure_athlete(tx, "ben", "UTC")
    upsert(store, athlete_id, run("garmin", "1"))
    upsert(store, other, run("strava", "9"))
    assert canonical_of(store, other) == {"strava:9": None}
    assert session_keys(store, athlete_id) == ["garmin:1"]
    assert date(2026, 3, 2) == DAY


def test_concurrent_writers_of_one_athlete_see_each_others_copies(
    store: Store, athlete_id: int
) -> None:
    """A poll and a webhook storing the two copies of one run at the same moment."""
    import threading
    import time

    garmin_stored = threading.Event()
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            with store.write() as tx:
                upsert_activities(tx, athlete_id, [run("garmin", "1")], now=NOW)
                garmin_stored.set()
                time.sleep(0.3)  # still uncommitted while the webhook arrives
        except BaseException as err:
            errors.append(err)
            garmin_stored.set()

    poller = threading.Thread(target=poll)
    poller.start()
    garmin_stored.wait(5)
    upsert(store, athlete_id, run("strava", "9", T0 + timedelta(seconds=30)))
    poller.join(5)
    assert errors == []
    assert canonical_of(store, athlete_id) == {"garmin:1": None, "strava:9": "garmin:1"}


def test_nan_from_a_device_is_stored_as_unknown_and_resends_unchanged(
    store: Store, athlete_id: int
) -> None:
    nan = float("nan")
    record = run("file", "a.fit", distance_m=nan, raw={"avg_cadence": nan, "laps": [1.0, nan]})
    upsert(store, athlete_id, record)
    assert counts(upsert(store, athlete_id, record)) == (0, 0, 1, 0, 0)
    with store.read() as tx:
        found = find_activity(tx, athlete_id, "file", "a.fit")
    assert found is not None
    assert (found[0].distance_m, found[0].raw) == (None, {"avg_cadence": None, "laps": [1.0, None]})
