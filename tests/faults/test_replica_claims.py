"""Two ``syncd run`` replicas on one PostgreSQL database: when the one holding delivery
claims is killed, the survivor takes its claims over within the leadership check interval
(1 s here), not when their lease runs out (14 s on this webhook), and every alert still reaches
every channel under one id.

The first replica starts alone and claims the alerts of the athletes' first runs; the webhook
receiver holds every request until the kill, so the claims are in flight when it comes.
"""

from __future__ import annotations

import os
import signal
import threading
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
    rows,
    settled,
)
from .support import Zygote

LEADERSHIP_CHECK_S = 1.0  # what replica_support's configurations say


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


def _claims_of(engine: object, pid: int) -> int:
    """How many pending deliveries are claimed by process ``pid``."""
    found = rows(engine, "SELECT claimed_by FROM alert_deliveries"  # type: ignore[arg-type]
                         " WHERE status = 'pending' AND claimed_by IS NOT NULL")
    return sum(1 for (holder,) in found if holder.split(":")[-2:-1] == [str(pid)])


@pytest.mark.postgres
def test_the_survivor_takes_the_dead_replicas_claims_within_a_leadership_check(
        clinic: ClinicWorld, pair: Pair) -> None:
    import random

    rng = random.Random(7)
    held, release = threading.Event(), threading.Event()

    def hold_until_the_kill(got: object) -> tuple[int, dict[str, str]]:
        held.set()
        release.wait(30)
        return 200, {}

    clinic.receiver.responder = hold_until_the_kill
    for name in [*STRAVA_ATHLETES, GARMIN_ATHLETE]:
        clinic.publish(name, rng)
    first, second = pair.replicas
    pair.start(first)
    engine = create_engine(clinic.database_url)
    try:
        assert held.wait(120), "the first replica sent nothing"
        assert first.pid is not None
        claimed = _claims_of(engine, first.pid)
        assert claimed > 0
        pair.start(second)
        wait_until(second.serving, 30, "the second replica to serve")
        victim = first.pid
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        pair.zygote.reap(victim)
        first.pid = None
        release.set()
        wait_until(lambda: _claims_of(engine, victim) == 0, 30, "the claims to be taken over",
                   every=0.02)
        took = time.monotonic() - killed_at
        wait_until(lambda: settled(clinic, engine), 60, "everything delivered", every=0.2)
        delivered = check_deliveries(clinic, engine)
        pair.stop(second)
    finally:
        engine.dispose()
    print(f"\n{claimed} deliveries claimed by the killed replica, taken over after "
          f"{took:.2f} s; {delivered}")
    assert took <= LEADERSHIP_CHECK_S + 0.5  # the check, then one claim transaction
