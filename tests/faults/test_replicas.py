"""Two ``syncd run`` replicas of a clinic on one PostgreSQL database, the leader killed with
SIGKILL twenty times while new activities keep arriving: each time the other replica takes
over within 30 s; afterwards every activity is stored once and was never fetched by both
replicas at once, and every alert reached each of its channels under one id.

Each cycle: find the leader, SIGKILL it, time until the survivor logs "leadership gained",
start the killed one again (it comes back as the standby), publish new activities (Strava
events posted to either replica, as a load balancer would), wait a random moment so that the
next kill lands somewhere else in the work. ``SYNCD_REPLICA_KILLS`` sets the number of kills.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.support.waiting import wait_until

from .replica_support import (
    GARMIN_ATHLETE,
    STRAVA_ATHLETES,
    ClinicWorld,
    Pair,
    TimedGarmin,
    check_deliveries,
    open_clinic,
    overlapping,
    replicas_rows,
    settled,
    sleep_watching,
    stored_activities,
)
from .support import Zygote

KILLS = int(os.environ.get("SYNCD_REPLICA_KILLS", "20"))
TAKEOVER_LIMIT_S = 30.0


@pytest.fixture
def clinic(tmp_path: Path, postgres_database: str) -> Iterator[ClinicWorld]:
    """Four athletes (three on Strava, one on Garmin) connected, on an empty database."""
    garmin = TimedGarmin()
    with garmin.running():
        opened = open_clinic(tmp_path, postgres_database, garmin)
        try:
            yield opened
        finally:
            opened.close()


@pytest.fixture
def pair(clinic: ClinicWorld, zygote: Zygote, tmp_path: Path) -> Iterator[Pair]:
    """The two replica slots, nothing started yet."""
    started = Pair(clinic, zygote, tmp_path)
    yield started
    started.close()


@pytest.mark.postgres
def test_twenty_sigkills_of_the_leader_lose_and_double_nothing(clinic: ClinicWorld,
                                                               pair: Pair) -> None:
    seed = int.from_bytes(os.urandom(4))
    rng = random.Random(seed)
    athletes = [*STRAVA_ATHLETES, GARMIN_ATHLETE]
    for name in athletes:
        clinic.publish(name, rng)  # found by each athlete's first sync
    first, second = pair.replicas
    pair.start(first)
    wait_until(first.leads, 30, "the first replica to lead")
    pair.start(second)
    wait_until(second.serving, 30, "the second replica to serve")

    takeovers: list[float] = []
    started = time.monotonic()
    for n in range(KILLS):
        [leader] = pair.leaders()
        survivor = pair.other(leader)
        killed_at = time.monotonic()
        pair.kill(leader)
        wait_until(survivor.leads, TAKEOVER_LIMIT_S + 5, f"take-over {n + 1}", every=0.02)
        takeovers.append(time.monotonic() - killed_at)
        assert takeovers[-1] < TAKEOVER_LIMIT_S, f"take-over {n + 1}: {takeovers[-1]:.1f} s"
        pair.start(leader)
        wait_until(leader.serving, 30, "the killed replica to serve again")
        assert not leader.leads(), "a restarted replica took the lead from a live one"
        for name in rng.sample(athletes, 2):
            activity_id = clinic.publish(name, rng)
            if name != GARMIN_ATHLETE:
                clinic.post_event(activity_id, rng.choice(pair.ports()))
        sleep_watching(pair, rng.uniform(0.2, 2.5))
    killing = time.monotonic() - started

    engine = create_engine(clinic.database_url)
    try:
        wait_until(lambda: settled(clinic, engine), 90, "everything stored and delivered",
                   every=0.5)
        [leader] = pair.leaders()
        wait_until(lambda: [pid for pid, leads in replicas_rows(engine) if leads]
                   == [leader.pid], 15, "the replicas table to name the leader")
        for replica in pair.replicas:
            pair.stop(replica)

        stored = stored_activities(engine)
        assert set(stored) == clinic.expected_activities()
        assert [key for key, count in stored.items() if count > 1] == []
        strava_overlaps = list(clinic.strava.overlaps)
        garmin_overlaps = overlapping(clinic.garmin.spans)
        assert strava_overlaps == [], strava_overlaps
        assert garmin_overlaps == [], garmin_overlaps
        delivered = check_deliveries(clinic, engine)
    finally:
        engine.dispose()

    strava_reads = sum(1 for s in clinic.strava.served if "/activities/" in s.path)
    print(f"\nseed {seed}: {KILLS} SIGKILLs of the leader in {killing:.0f} s; take-over "
          f"times {', '.join(f'{t:.1f}' for t in takeovers)} s (max {max(takeovers):.1f} s); "
          f"{len(stored)} activities stored once ({clinic.events_posted} Strava events, "
          f"{strava_reads} Strava activity reads, {len(clinic.garmin.spans)} Garmin reads, "
          f"no overlap); {delivered}")
    assert len(takeovers) == KILLS >= 20 or "SYNCD_REPLICA_KILLS" in os.environ
