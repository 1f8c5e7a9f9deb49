"""``syncd run`` under a fake systemd: READY once serving, WATCHDOG while the scheduler lives,
STOPPING on SIGTERM, and exit 0 within the bound while a sync pass is running.

A pass is held "running" by the test taking SQLite's write lock (``BEGIN IMMEDIATE``) from
outside, as another writer would: the daemon's next files pass waits for it in its store
transaction.
"""

from __future__ import annotations

import itertools
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import Daemon, NotifySocket, start_daemon, write_config

WATCHDOG_USEC = 400_000  # pings every 0.2 s


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    """A datagram socket standing in for systemd's notify socket."""
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def _start(tmp_path: Path, notify: NotifySocket, *args: str) -> Daemon:
    port = free_port()
    config = write_config(tmp_path, port)
    return start_daemon(config, port, *args, env={
        "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)})


def _hold_a_pass(daemon: Daemon, database: Path) -> sqlite3.Connection:
    """Take the write lock and wait until the files pass is running (blocked on it)."""
    wait_until(lambda: daemon.status()["sources"]["files"]["last_success_at"] is not None,
               20, "the first files pass")
    lock = sqlite3.connect(database, isolation_level=None, timeout=10)
    lock.execute("BEGIN IMMEDIATE")
    wait_until(lambda: daemon.status()["sources"]["files"]["running"], 10,
               "a files pass to start and wait for the lock")
    return lock


def test_ready_watchdog_stopping_and_a_clean_exit_while_a_pass_runs(
        tmp_path: Path, notify: NotifySocket) -> None:
    daemon = _start(tmp_path, notify, "--stop-timeout", "10")
    try:
        ready = notify.wait_for("READY=1", 20)
        code, health = daemon.get("/healthz")
        assert (code, health["status"]) == (200, "ok")
        lock = _hold_a_pass(daemon, tmp_path / "syncd.db")
        pings = [t for t in notify.times("WATCHDOG=1") if t > ready]
        assert len(pings) >= 3
        # Half of WATCHDOG_USEC apart (0.2 s), give or take the event loop's scheduling.
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert all(0.1 < gap < 0.6 for gap in gaps), gaps

        sent = time.monotonic()
        daemon.signal(signal.SIGTERM)
        notify.wait_for("STOPPING=1", 5)
        time.sleep(1.0)
        assert daemon.process.poll() is None, "exited without waiting for the running pass"
        lock.rollback()
        lock.close()
        assert daemon.process.wait(10) == 0
        assert time.monotonic() - sent < 10
    finally:
        daemon.stop()
    events = daemon.events()
    assert "waiting for running passes" in events and "stopped" in events
    assert not any("still running" in event for event in events)
    # The pass that was waiting did finish and recorded its success.
    database = sqlite3.connect(tmp_path / "syncd.db")
    (errors,) = database.execute("SELECT error_count FROM sync_state").fetchone()
    assert errors == 0


def test_a_pass_that_outlives_the_bound_does_not_hold_the_exit(
        tmp_path: Path, notify: NotifySocket) -> None:
    daemon = _start(tmp_path, notify, "--stop-timeout", "1")
    try:
        notify.wait_for("READY=1", 20)
        lock = _hold_a_pass(daemon, tmp_path / "syncd.db")
        sent = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(8) == 0
        took = time.monotonic() - sent
        lock.rollback()
        lock.close()
    finally:
        daemon.stop()
    assert 1.0 <= took < 4.0
    assert notify.times("STOPPING=1")
    assert any("still running" in event for event in daemon.events())


def test_no_watchdog_pings_without_watchdog_usec(tmp_path: Path,
                                                 notify: NotifySocket) -> None:
    port = free_port()
    daemon = start_daemon(write_config(tmp_path, port), port,
                          env={"NOTIFY_SOCKET": str(notify.path)})
    try:
        notify.wait_for("READY=1", 20)
        time.sleep(0.5)
        daemon.signal(signal.SIGINT)
        assert daemon.process.wait(10) == 0
    finally:
        daemon.stop()
    assert notify.times("WATCHDOG=1") == []
    assert notify.times("STOPPING=1")
