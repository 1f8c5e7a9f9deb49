"""Leadership, fetch claims and the replica registry, between real processes.

The other replica is a real Python process (this virtualenv's interpreter) that takes a lock
and waits: it lets go when its stdin closes, or dies by SIGKILL as a crashed machine would.
"""

from __future__ import annotations

import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syncd.store import Store
from syncd.store.leases import Leadership, fetch_claim, source_lock_key
from syncd.store.replicas import (
    beat,
    forget_replica,
    live_replicas,
    new_replica_id,
    prune_replicas,
    register_replica,
)

from .conftest import NOW

HOLDER_SCRIPT = """
import sys
import structlog
structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
from syncd.store import Store
from syncd.store.leases import Leadership, fetch_claim

store = Store.open(sys.argv[1], migrate=False)
if sys.argv[2] == "leader":
    leadership = Leadership(store, "other")
    print("leader" if leadership.try_acquire() else "standby", flush=True)
    sys.stdin.read()
else:
    with fetch_claim(store, int(sys.argv[3]), sys.argv[4]) as granted:
        print("granted" if granted else "refused", flush=True)
        sys.stdin.read()
"""
TAKE_OVER_LIMIT_S = 30.0


class Holder:
    """Another syncd process holding (or failing to take) a lock."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER_SCRIPT, *args], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def answer(self, timeout_s: float = 20.0) -> str:
        """The process's verdict: leader/standby, granted/refused."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        assert ready, "the other process did not answer"
        return self.process.stdout.readline().strip()

    def finish(self) -> None:
        """Let it leave its block and exit normally."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(10) == 0

    def kill(self) -> None:
        """SIGKILL: no clean-up code runs."""
        self.process.kill()
        self.process.wait(10)


@pytest.fixture
def holder() -> Iterator[Callable[..., Holder]]:
    """Start other processes; any still running at the end is killed."""
    started: list[Holder] = []

    def start(*args: object) -> Holder:
        started.append(Holder(*(str(arg) for arg in args)))
        return started[-1]

    yield start
    for other in started:
        if other.process.poll() is None:
            other.kill()


def wait_for(condition: Callable[[], bool], limit_s: float) -> float:
    """Poll ``condition`` until true; returns the seconds it took (fails past ``limit_s``)."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < limit_s, f"not true within {limit_s} s"
        time.sleep(0.05)
    return time.monotonic() - started


def granted(store: Store, athlete_id: int, source: str) -> bool:
    """Whether a claim is granted right now (it is let go straight after)."""
    with fetch_claim(store, athlete_id, source) as claim:
        return claim


@pytest.fixture
def postgres_store(postgres_database: str) -> Iterator[Store]:
    """The session's PostgreSQL database, migrated."""
    store = Store.open(postgres_database)
    yield store
    store.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """A migrated SQLite file."""
    store = Store.open(sqlite_url)
    yield store
    store.close()


def terminate_sessions(url: str, application_name: str) -> int:
    """End the named sessions from a third connection, as an administrator would; returns
    how many there were (waiting until each has ended)."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(conn.execute(text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"),
                {"name": application_name}).all())
    finally:
        admin.dispose()


# ---------------------------------------------------------------------------------------------
# Leadership


def take_over_after_kill(store: Store, holder: Callable[..., Holder], url: str) -> None:
    """The shared story: one leads, the other waits, the leader is killed, the other leads
    (soon), and a newcomer is then a standby."""
    first = holder(url, "leader")
    assert first.answer() == "leader"
    second = Leadership(store, "second")
    try:
        assert second.try_acquire() is False
        assert second.holds() is False

        first.kill()
        took = wait_for(second.try_acquire, TAKE_OVER_LIMIT_S)
        print(f"take-over after SIGKILL: {took:.3f} s")
        assert took < TAKE_OVER_LIMIT_S
        assert second.holds() is True
        assert holder(url, "leader").answer() == "standby"
    finally:
        second.release()


@pytest.mark.postgres
def test_postgres_standby_takes_over_when_the_leader_is_killed(
        postgres_store: Store, postgres_database: str,
        holder: Callable[..., Holder]) -> None:
    take_over_after_kill(postgres_store, holder, postgres_database)


def test_sqlite_standby_takes_over_when_the_leader_is_killed(
        sqlite_store: Store, sqlite_url: str, holder: Callable[..., Holder]) -> None:
    take_over_after_kill(sqlite_store, holder, sqlite_url)


@pytest.mark.postgres
def test_postgres_leadership_is_lost_when_the_server_ends_its_session(
        postgres_store: Store, postgres_database: str) -> None:
    ana, ben = Leadership(postgres_store, "ana"), Leadership(postgres_store, "ben")
    try:
        with structlog.testing.capture_logs() as logs:
            assert ana.try_acquire() is True
            assert ben.try_acquire() is False
            assert terminate_sessions(postgres_database, "syncd leader ana") == 1

            assert ana.holds() is False
            assert ana.holds() is False
            assert ben.try_acquire() is True
            assert ana.try_acquire() is False  # it reconnects, and finds ben leading
        events = [(entry["event"], entry["replica"]) for entry in logs]
        assert events == [("leadership gained", "ana"), ("leadership lost", "ana"),
                          ("leadership gained", "ben")]
    finally:
        ana.release()
        ben.release()


@pytest.mark.postgres
def test_postgres_leadership_outlives_the_servers_idle_session_timeout(
        postgres_store: Store, postgres_database: str) -> None:
    database = make_url(postgres_database).database
    admin = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    leader = Leadership(postgres_store, "quiet")
    plain_url = make_url(postgres_database).set(drivername="postgresql")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" SET idle_session_timeout = 500'))
        plain = psycopg.connect(plain_url.render_as_string(hide_password=False), autocommit=True)
        assert leader.try_acquire() is True
        time.sleep(1.2)

        with pytest.raises(psycopg.OperationalError):
            plain.execute("SELECT 1")  # an ordinary session was ended meanwhile
        assert leader.holds() is True
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{database}" RESET idle_session_timeout'))
        admin.dispose()
        leader.release()


def test_sqlite_leader_file_replaced_means_leadership_lost(sqlite_store: Store,
                                                           sqlite_url: str) -> None:
    ana, ben = Leadership(sqlite_store, "ana"), Leadership(sqlite_store, "ben")
    try:
        assert ana.try_acquire() is True
        assert ben.try_acquire() is False
        leader_file = Path(make_url(sqlite_url).database + ".leader")
        assert leader_file.read_text() == "ana\n"

        # Someone cleans up the folder: the next process locks a new file of that name.
        leader_file.unlink()
        assert ben.try_acquire() is True
        assert ana.holds() is False
        assert ana.try_acquire() is False
        assert leader_file.read_text() == "ben\n"
    finally:
        ana.release()
        ben.release()


def test_released_leadership_is_taken_at_once(sqlite_store: Store) -> None:
    ana, ben = Leadership(sqlite_store, "ana"), Leadership(sqlite_store, "ben")
    assert ana.try_acquire() is True
    ana.release()
    assert ana.holds() is False
    assert ben.try_acquire() is True
    ben.release()


def test_in_memory_database_is_always_led_by_its_process() -> None:
    store = Store.open("sqlite://", migrate=False)
    try:
        assert Leadership(store, "ana").try_acquire() is True
        assert Leadership(store, "ben").try_acquire() is True
    finally:
        store.close()


# ---------------------------------------------------------------------------------------------
# Fetch claims


@pytest.fixture
def claim_store(store_url: str) -> Iterator[Store]:
    """A SQLite file, then PostgreSQL (claims need no tables)."""
    store = Store.open(store_url, migrate=False)
    yield store
    store.close()


def test_fetch_claim_is_refused_while_another_process_holds_it(
        claim_store: Store, store_url: str, holder: Callable[..., Holder]) -> None:
    other = holder(store_url, "claim", 7, "strava")
    assert other.answer() == "granted"

    assert granted(claim_store, 7, "strava") is False
    assert granted(claim_store, 8, "strava") is True  # another athlete
    assert granted(claim_store, 7, "garmin") is True  # another source

    other.finish()
    assert granted(claim_store, 7, "strava") is True


def test_fetch_claim_of_a_killed_process_is_granted_again(
        claim_store: Store, store_url: str, holder: Callable[..., Holder]) -> None:
    other = holder(store_url, "claim", 7, "strava")
    assert other.answer() == "granted"
    other.kill()
    took = wait_for(lambda: granted(claim_store, 7, "strava"), 10.0)
    print(f"claim free after SIGKILL: {took:.3f} s")

    with fetch_claim(claim_store, 7, "strava") as mine:
        assert mine is True
        assert holder(store_url, "claim", 7, "strava").answer() == "refused"


def test_fetch_claims_serialize_threads_of_one_process(claim_store: Store) -> None:
    threads_count = 6
    all_tried = threading.Barrier(threads_count)
    verdicts: list[bool] = []

    def fetch() -> None:
        all_tried.wait()
        with fetch_claim(claim_store, 7, "strava") as claim:
            verdicts.append(claim)
            # Hold the claim until every thread has had its answer.
            wait_for(lambda: len(verdicts) == threads_count, 10.0)

    threads = [threading.Thread(target=fetch) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert sorted(verdicts) == [False] * (threads_count - 1) + [True]
    assert granted(claim_store, 7, "strava") is True


def test_in_memory_fetch_claims_serialize_threads() -> None:
    store = Store.open("sqlite://", migrate=False)
    entered, leave = threading.Event(), threading.Event()

    def fetch() -> None:
        with fetch_claim(store, 7, "strava") as claim:
            assert claim
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=fetch)
    thread.start()
    try:
        assert entered.wait(10)
        assert granted(store, 7, "strava") is False
    finally:
        leave.set()
        thread.join(10)
    assert granted(store, 7, "strava") is True
    store.close()


def test_source_lock_key_stays_the_same_across_versions() -> None:
    # Two replicas of different versions during a rolling upgrade must compute the same key.
    assert source_lock_key("strava") == -1436879570
    assert source_lock_key("garmin") == -1034410591
    assert source_lock_key("strava") != source_lock_key("garmin")


# ---------------------------------------------------------------------------------------------
# Replica registry


def test_replicas_register_beat_and_show_who_leads(store: Store) -> None:
    register_replica(store, "alpha:11:aa", "alpha", 11, NOW)
    register_replica(store, "beta:22:bb", "beta", 22, NOW)
    assert beat(store, "alpha:11:aa", True, NOW + timedelta(seconds=10)) is True
    assert beat(store, "beta:22:bb", False, NOW + timedelta(seconds=15)) is True

    live = live_replicas(store, NOW + timedelta(seconds=20))
    assert [(r.host, r.pid, r.leader, r.seen_at) for r in live] == [
        ("alpha", 11, True, NOW + timedelta(seconds=10)),
        ("beta", 22, False, NOW + timedelta(seconds=15))]
    assert live[0].as_dict() == {"id": "alpha:11:aa", "host": "alpha", "pid": 11,
                                 "leader": True, "started_at": "2026-03-10T12:00:00Z",
                                 "seen_at": "2026-03-10T12:00:10Z"}

    # beta took over (alpha died): its beat clears alpha's stale flag.
    assert beat(store, "beta:22:bb", True, NOW + timedelta(seconds=40)) is True
    assert [(r.host, r.leader) for r in live_replicas(store, NOW + timedelta(seconds=45))] == [
        ("alpha", False), ("beta", True)]


def test_replicas_not_seen_lately_are_left_out_then_pruned(store: Store) -> None:
    register_replica(store, "alpha:11:aa", "alpha", 11, NOW)
    register_replica(store, "beta:22:bb", "beta", 22, NOW)
    beat(store, "beta:22:bb", True, NOW + timedelta(seconds=50))

    assert [r.host for r in live_replicas(store, NOW + timedelta(seconds=90))] == ["beta"]
    assert [r.host for r in live_replicas(store, NOW + timedelta(seconds=90),
                                          within=timedelta(minutes=5))] == ["alpha", "beta"]

    # A day later a new replica starts: the two silent ones are pruned.
    later = NOW + timedelta(days=1, minutes=5)
    register_replica(store, "gamma:33:cc", "gamma", 33, later)
    assert [r.host for r in live_replicas(store, later, within=timedelta(days=30))] == ["gamma"]
    assert beat(store, "alpha:11:aa", False, later) is False  # gone: it must register again

    forget_replica(store, "gamma:33:cc")
    assert live_replicas(store, later) == []
    register_replica(store, "delta:44:dd", "delta", 44, later)
    assert prune_replicas(store, later + timedelta(days=2)) == 1


def test_new_replica_ids_name_the_host_and_process() -> None:
    host, pid, suffix = new_replica_id().split(":")
    assert host and int(pid) > 0 and len(suffix) == 8
    assert new_replica_id() != new_replica_id()
