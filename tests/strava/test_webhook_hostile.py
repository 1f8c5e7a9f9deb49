"""Forged Strava webhook events against a clinic: the callback served by uvicorn on loopback,
the coordinator ticked as the leader ticks it, the fake Strava counting every read.

Strava's events are unsigned, so anyone who learns a patient's Strava id and the subscription
id can post them. A flood of them must cost a handful of reads, push out no other athlete's
event, starve no first sync, grow no database, and every answer must look the same.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from sqlalchemy import delete, select

from syncd.sources.strava.coordinator import StravaCoordinator
from syncd.sources.strava.inbox import inbox_events
from syncd.sources.strava.planner import (
    DEFAULT_LIMITS,
    BudgetView,
    Kind,
    QuotaSettings,
    Work,
    choose,
)
from syncd.store import DbCredentialStore
from syncd.store.strava_inbox import PER_ATHLETE_CAP
from syncd.store.tables import ActivityRow, SyncStateRow
from tests.strava.fake_strava import FakeStrava
from tests.strava.strava_support import RUN_WALK, publish
from tests.strava.test_quota_clinic import (
    START,
    SUBSCRIPTION_ID,
    Scenario,
    open_scenario,
    serve_callback,
)

TICK = timedelta(seconds=30)
GENUINE_ID = 7_700_001


@pytest.fixture
def scenario(tmp_path: Path) -> Iterator[Scenario]:
    """Three patients with webhooks, all synced once (their first syncs are behind them)."""
    built = open_scenario(tmp_path, 3, webhooks=True)
    StravaCoordinator(built.clinic).tick(START)
    yield built
    built.fake.stop()
    built.clinic.close()


@pytest.fixture
def callback(scenario: Scenario) -> Iterator[str]:
    url, server, thread = serve_callback(scenario.clinic)
    yield url
    server.should_exit = True
    thread.join(5)


def forged(owner: int, object_id: int, **extra: Any) -> dict[str, Any]:
    """An event as an attacker who knows the ids would post it, sent now."""
    return {"aspect_type": "create", "event_time": int(START.timestamp()),
            "object_id": object_id, "object_type": "activity", "owner_id": owner,
            "subscription_id": SUBSCRIPTION_ID, "updates": {}, **extra}


def reads_for(fake: FakeStrava, owner: int, since: int) -> int:
    """API reads the fake served with ``owner``'s token since the ``since``-th request."""
    return sum(1 for s in fake.served[since:] if s.method == "GET" and s.athlete == owner)


def stored_ids(scenario: Scenario) -> set[str]:
    with scenario.clinic.store.read() as tx:
        return set(tx.scalars(select(ActivityRow.source_id)))


def inbox_of(scenario: Scenario, name: str) -> list[dict[str, Any]]:
    with scenario.clinic.store.read() as tx:
        return inbox_events(tx, scenario.clinic.app(name).athlete_id)


def tick_for(scenario: Scenario, coordinator: StravaCoordinator, minutes: int) -> None:
    """Tick every 30 simulated seconds for ``minutes``."""
    for _ in range(int(timedelta(minutes=minutes) / TICK)):
        scenario.clock.advance(seconds=TICK.total_seconds())
        coordinator.tick(scenario.clock.now)


# -- a flood for one owner ----------------------------------------------------------------------


def test_a_flood_for_one_owner_costs_a_handful_of_reads_and_a_genuine_event_is_stored(
        scenario: Scenario, callback: str) -> None:
    victim, other = scenario.strava_ids["patient-000"], scenario.strava_ids["patient-001"]
    publish(scenario.fake, GENUINE_ID, START - timedelta(minutes=40), laps=RUN_WALK,
            athlete_id=other)
    coordinator = StravaCoordinator(scenario.clinic)
    before = len(scenario.fake.served)

    with httpx.Client(timeout=5) as client:
        for n in range(300):
            if n == 150:  # the genuine upload, in the middle of the flood
                client.post(callback, json=forged(other, GENUINE_ID))
            client.post(callback, json=forged(victim, 90_000_000 + n))
            if n % 50 == 49:  # the leader ticks while the flood goes on
                tick_for(scenario, coordinator, 1)
    tick_for(scenario, coordinator, 20)

    assert str(GENUINE_ID) in stored_ids(scenario)
    # 300 reads before (one per forged event); now a listing or two and an event or two.
    assert reads_for(scenario.fake, victim, before) <= 6
    assert inbox_of(scenario, "patient-000") == []
    assert scenario.fake.answered_429() == []


def test_a_flood_pushes_no_other_athletes_event_out_of_the_inbox(
        scenario: Scenario, callback: str) -> None:
    victim, other = scenario.strava_ids["patient-000"], scenario.strava_ids["patient-001"]

    with httpx.Client(timeout=5) as client:
        client.post(callback, json=forged(other, GENUINE_ID))
        for n in range(600):
            client.post(callback, json=forged(victim, 90_000_000 + n))

        for n in range(50):  # athlete events (revokes) about anyone but their owner
            client.post(callback, json=forged(victim, 1 + n, object_type="athlete",
                                              aspect_type="update"))
        client.post(callback, json=forged(victim, victim, object_type="athlete",
                                          aspect_type="update",
                                          updates={"authorized": "false"}))

    assert [e["object_id"] for e in inbox_of(scenario, "patient-001")] == [GENUINE_ID]
    waiting = inbox_of(scenario, "patient-000")
    assert len(waiting) == PER_ATHLETE_CAP + 1  # the activity events' cap, and one revoke
    assert [e["object_id"] for e in waiting if e["object_type"] == "athlete"] == [victim]


def test_a_newly_connected_patients_first_sync_runs_during_a_flood(
        scenario: Scenario, callback: str) -> None:
    victim = scenario.strava_ids["patient-000"]
    newcomer = scenario.clinic.app("patient-002")
    with scenario.clinic.store.write() as tx:  # patient-002 connects only now
        tx.execute(delete(SyncStateRow).where(SyncStateRow.athlete_id == newcomer.athlete_id))
    credentials = DbCredentialStore(scenario.clinic.store, newcomer.athlete_id,
                                    prefix="strava.")
    credentials.save("tokens", scenario.fake.issue_tokens(
        athlete_id=scenario.strava_ids["patient-002"], expires_in=timedelta(days=3)))
    coordinator = StravaCoordinator(scenario.clinic)

    with httpx.Client(timeout=5) as client:
        for n in range(200):
            client.post(callback, json=forged(victim, 90_000_000 + n))
    scenario.clock.advance(minutes=1)
    report = coordinator.tick(scenario.clock.now)

    assert ("patient-002", Kind.NEW) in {(d.athlete, d.kind) for d in report.done}
    assert [d.outcome for d in report.done if d.athlete == "patient-000"] == ["listed"]


# -- what a forged event may cost the database -----------------------------------------------


def db_size(db: Path) -> int:
    """The database file's size with the write-ahead log folded in."""
    with sqlite3.connect(db) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


def test_forged_big_events_do_not_grow_the_database(scenario: Scenario, callback: str) -> None:
    victim = scenario.strava_ids["patient-000"]
    db = Path(str(scenario.clinic.store.engine.url.database))
    size = db_size(db)
    huge = "x" * (2 * 1024 * 1024)

    with httpx.Client(timeout=10) as client:
        refused = [client.post(callback, json=forged(victim, 90_000_000 + n,
                                                     updates={"title": huge}))
                   for n in range(20)]
        # Within the body cap: the event is kept, its title cut to Strava's length.
        kept = [client.post(callback, json=forged(victim, 91_000_000 + n, updates={
            "title": "\x1b[2J" + "a" * 3000, "type": "Run", "private": True,
            "note": "y" * 300})) for n in range(30)]

    assert {r.status_code for r in refused} == {413}
    assert {r.status_code for r in kept} == {200}
    assert db_size(db) - size <= 64 * 1024  # was 20 x 2 MB and more
    stored = inbox_of(scenario, "patient-000")
    assert len(stored) == PER_ATHLETE_CAP
    assert {tuple(sorted(e["updates"].items())) for e in stored} == {
        (("private", "true"), ("title", "[2J" + "a" * 252), ("type", "Run"))}


def test_events_sent_far_from_now_are_dropped(scenario: Scenario, callback: str) -> None:
    owner = scenario.strava_ids["patient-000"]
    sent = {"8 days ago": START - timedelta(days=8), "2 days ahead": START + timedelta(days=2),
            "an hour ago": START - timedelta(hours=1)}

    with httpx.Client(timeout=5) as client:
        for n, moment in enumerate(sent.values()):
            client.post(callback, json=forged(owner, 100 + n,
                                              event_time=int(moment.timestamp())))

    assert [e["object_id"] for e in inbox_of(scenario, "patient-000")] == [102]


# -- the callback tells a stranger nothing ------------------------------------------------------


def test_every_event_gets_the_same_answer_and_only_the_log_says_why(
        scenario: Scenario, callback: str) -> None:
    owner = scenario.strava_ids["patient-000"]
    old = int((START - timedelta(days=30)).timestamp())
    cases = {
        "accepted": forged(owner, 501),
        "duplicate": forged(owner, 501),
        "not our subscription": forged(owner, 502, subscription_id=SUBSCRIPTION_ID + 1),
        "unknown athlete": forged(123_456_789, 503),
        "sent too far from now": forged(owner, 504, event_time=old),
    }

    with structlog.testing.capture_logs() as logs, httpx.Client(timeout=5) as client:
        answers = {case: client.post(callback, json=body) for case, body in cases.items()}

    shapes = {(a.status_code, a.content, tuple(sorted((k, v) for k, v in a.headers.items()
                                                       if k != "date")))
              for a in answers.values()}
    assert len(shapes) == 1, shapes
    assert answers["accepted"].json() == {"status": "accepted"}
    assert [e["reason"] for e in logs if e["event"] == "strava event ignored"] == [
        "not our subscription", "unknown athlete", "sent too far from now"]


# -- the events' reserve ------------------------------------------------------------------------


def test_events_leave_a_reserve_that_first_syncs_may_spend() -> None:
    window, day = DEFAULT_LIMITS
    budget = BudgetView(window, 17, day, 500, START + timedelta(minutes=15),
                        START + timedelta(days=1))
    events = [Work(Kind.EVENT, "patient-000", 2, START - timedelta(seconds=n))
              for n in range(30)]
    first_sync = Work(Kind.NEW, "patient-002", 6, START)

    chosen = choose(START, budget, [*events, first_sync], athletes=3,
                    settings=QuotaSettings())

    # 17 reads left of 100: events stop at a fifth; the first sync may go down to a tenth.
    assert chosen == [first_sync]
