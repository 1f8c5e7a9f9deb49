"""The evaluator's reads: sessions in a window, neighbours, pain reports, gear, athletes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from syncd.models import Gear, PainReport, Session
from syncd.store import (
    Store,
    add_pain,
    ensure_athlete,
    first_session_after,
    first_session_date,
    last_session_before,
    load_gear,
    load_pain,
    load_sessions,
    upsert_gear,
)

from .conftest import NOW, T0, intervals, run
from .test_activities import upsert

DAY = timedelta(days=1)


def local(moment: datetime) -> datetime:
    """Midnight local time of a UTC moment's local day (the athlete is at UTC+1)."""
    return datetime.combine((moment + timedelta(hours=1)).date(), datetime.min.time())


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    """Record the SQL the store sends while the block runs."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if not sql.startswith("BEGIN"):
            seen.append((sql, params))

    event.listen(store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(store.engine, "before_cursor_execute", record)


def test_sessions_are_the_canonical_running_activities_of_the_window(
    store: Store, athlete_id: int
) -> None:
    monday = run("garmin", "1", T0, segments=intervals(("run", 120), ("walk", 780),
                                                      ("run", 180), ("walk", 720)), run_s=300.0)
    upsert(store, athlete_id,
           monday,
           run("strava", "9", T0 + timedelta(seconds=40)),                   # copy of monday
           run("strava", "10", T0 + DAY, 1200, moving_s=None, elapsed_s=1320),
           run("strava", "11", T0 + 2 * DAY, sport_type="Walk"),            # not a run
           run("strava", "12", T0 + 3 * DAY),                               # deleted below
           run("strava", "13", T0 + 7 * DAY))                               # next week
    upsert(store, athlete_id, run("strava", "12", T0 + 3 * DAY, deleted=True))
    with store.read() as tx:
        sessions = load_sessions(tx, athlete_id, local(T0), local(T0) + 7 * DAY)
    tuesday = run("strava", "10", T0 + DAY, 1200, moving_s=None, elapsed_s=1320)
    assert sessions == [Session.from_activity(monday), Session.from_activity(tuesday)]
    assert (sessions[0].run_s, sessions[0].longest_run_s) == (300.0, 180.0)
    assert (sessions[1].duration_s, sessions[1].longest_run_s) == (1320.0, 1320.0)


def test_window_includes_its_start_and_excludes_its_end(store: Store, athlete_id: int) -> None:
    midnight = datetime(2026, 3, 1, 23, 0, tzinfo=T0.tzinfo)  # 00:00 local on March 2
    upsert(store, athlete_id, run("garmin", "1", midnight), run("garmin", "2", midnight + DAY))
    with store.read() as tx:
        sessions = load_sessions(tx, athlete_id, datetime(2026, 3, 2), datetime(2026, 3, 3))
    assert [s.key for s in sessions] == ["garmin:1"]


def test_loading_a_window_is_one_index_backed_query(store: Store, athlete_id: int) -> None:
    upsert(store, athlete_id, *[
        run("garmin", str(i), T0 + i * DAY, segments=intervals(("run", 60), ("walk", 60)))
        for i in range(20)])
    with store.read() as tx, statements(store) as seen:
        sessions = load_sessions(tx, athlete_id, local(T0), local(T0) + 10 * DAY)
    assert len(sessions) == 10
    assert len(seen) == 1  # segments come with the sessions, not one query per session
    if store.engine.dialect.name == "sqlite":
        sql, params = seen[0]
        with store.read() as tx:
            plan = " ".join(row[-1] for row in tx.connection().exec_driver_sql(
                f"EXPLAIN QUERY PLAN {sql}", params))
        assert "USING INDEX ix_activities_athlete_id_local_start" in plan
        assert "USING INDEX ix_segments_activity_id" in plan


def test_neighbouring_sessions_and_the_first_session_date(store: Store, athlete_id: int) -> None:
    with store.read() as tx:
        assert first_session_date(tx, athlete_id) is None
        assert first_session_after(tx, athlete_id, local(T0)) is None
    upsert(store, athlete_id, run("garmin", "1", T0), run("garmin", "2", T0 + 3 * DAY),
           run("strava", "3", T0 - 2 * DAY, sport_type="Walk"))
    with store.read() as tx:
        assert first_session_date(tx, athlete_id) == T0.date()
        after = first_session_after(tx, athlete_id, local(T0) + DAY)
        before = last_session_before(tx, athlete_id, local(T0) + DAY)
        assert last_session_before(tx, athlete_id, local(T0)) is None
    assert after is not None and after.key == "garmin:2"
    assert before is not None and before.key == "garmin:1"


def test_pain_reports_read_back_in_their_window(store: Store, athlete_id: int) -> None:
    with store.write() as tx:
        first = add_pain(tx, athlete_id, T0, 2, "hip after run", T0.replace(tzinfo=None),
                         now=NOW)
        add_pain(tx, athlete_id, T0 + DAY, 5, now=NOW)
        add_pain(tx, athlete_id, T0 - DAY, 1, now=NOW)
    with store.read() as tx:
        reports = load_pain(tx, athlete_id, T0, T0 + DAY)
    assert reports == [PainReport(first.id, T0, 2, T0.replace(tzinfo=None), "hip after run")]


def test_gear_distance_is_the_larger_of_reported_and_run(store: Store, athlete_id: int) -> None:
    with store.write() as tx:
        changed = upsert_gear(tx, athlete_id, "strava", [
            Gear("g1", "Pegasus", 100_000.0), Gear("g2", "Old trail shoes", 500_000.0, True)],
            now=NOW)
        assert changed == 2
        assert upsert_gear(tx, athlete_id, "strava", [Gear("g1", "Pegasus", 100_000.0)]) == 0
    upsert(store, athlete_id,
           *[run("garmin", str(i), T0 + i * DAY, 1800, gear_id="g1", distance_m=6000.0)
             for i in range(20)],
           run("strava", "copy", T0, 1800, gear_id="g1", distance_m=6000.0),  # linked copy
           run("garmin", "gone", T0 + 30 * DAY, gear_id="g1", distance_m=9000.0),
           run("garmin", "x", T0 + 40 * DAY, gear_id="g3", distance_m=4000.0))
    upsert(store, athlete_id, run("garmin", "gone", T0 + 30 * DAY, deleted=True))
    with store.read() as tx:
        gear = load_gear(tx, athlete_id)
    assert gear == [Gear("g1", "Pegasus", 120_000.0), Gear("g2", "Old trail shoes", 500_000.0,
                                                           True), Gear("g3", None, 4000.0)]


def test_ensure_athlete_returns_the_same_id_and_follows_the_time_zone(store: Store) -> None:
    with store.write() as tx:
        first = ensure_athlete(tx, "ana", "Europe/Berlin", now=NOW)
    with store.write() as tx:
        again = ensure_athlete(tx, "ana", "America/New_York", now=NOW)
        zone = tx.execute(text("SELECT timezone FROM athletes WHERE id = :i"), {"i": first})
        assert zone.scalar_one() == "America/New_York"
    assert again == first


def test_timestamps_read_back_as_the_same_instant_in_utc(store: Store, athlete_id: int) -> None:
    from datetime import UTC, timezone

    kolkata = T0.astimezone(timezone(timedelta(hours=5, minutes=30)))
    with store.write() as tx:
        add_pain(tx, athlete_id, kolkata, 1, now=NOW)
    with store.read() as tx:
        [report] = load_pain(tx, athlete_id, T0, T0 + DAY)
    assert report.at_utc == T0
    assert report.at_utc.tzinfo is UTC
