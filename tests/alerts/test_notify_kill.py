"""At least once on a notify channel too: the real ``syncd deliver`` killed with SIGKILL while
a push is on its way, then started again, loses nothing."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from syncd.clinic import open_app
from syncd.store.outbox import DELIVERED, PENDING
from syncd.store.tables import AlertDeliveryRow, DeliveryAttemptRow
from tests.support.config import write_config
from tests.support.ntfy import NtfyServer, Published

from .support import finding, raise_alerts, settings, wait_for


def _config(tmp_path: Path, ntfy: NtfyServer) -> Path:
    # With a 0.5 s timeout a claimed batch is leased for 3 s: what a restart waits at most.
    return write_config(tmp_path, athlete={"name": None, "plan": None, "plan_start": None},
                        notify=[{"name": "phone", "url": ntfy.url(), "timeout": "0.5s"}])


def _deliver(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``syncd deliver`` that keeps going while a retry or an expired claim is due soon."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "syncd.cli", "--config", str(config), "deliver", "--wait",
             "8s"], stdout=out, stderr=subprocess.STDOUT, cwd=config.parent)


def _alerts(tmp_path: Path, ntfy: NtfyServer, count: int) -> set[str]:
    """``count`` alerts in the outbox; their messages' first words ("Session n")."""
    app = open_app(settings(tmp_path, notify=[{"name": "phone", "url": ntfy.url()}]))
    try:
        raise_alerts(app, [finding(n) for n in range(count)], app.clock())
    finally:
        app.close()
    return {f"Session {n}" for n in range(count)}


def _rows(tmp_path: Path) -> tuple[list[AlertDeliveryRow], int]:
    app = open_app(settings(tmp_path))
    try:
        with app.store.read() as tx:
            rows = list(tx.scalars(select(AlertDeliveryRow)))
            attempts = len(list(tx.scalars(select(DeliveryAttemptRow))))
        return rows, attempts
    finally:
        app.close()


def _session(message: Published) -> str:
    return message.message.split(":")[0]


def test_killed_after_the_push_before_the_record_pushes_again(
        tmp_path: Path, ntfy: NtfyServer) -> None:
    _alerts(tmp_path, ntfy, 1)
    arrived, killed = threading.Event(), threading.Event()

    def hold_the_first(got: Published) -> int:
        if not arrived.is_set():
            arrived.set()
            killed.wait(20)  # answer only once the dispatcher is dead
        return 200

    ntfy.responder = hold_the_first
    config, log = _config(tmp_path, ntfy), tmp_path / "deliver.log"
    first = _deliver(config, log)
    assert arrived.wait(60), log.read_text()
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed.set()
    [row], attempts = _rows(tmp_path)
    assert (row.status, row.attempts, attempts) == (PENDING, 0, 0)  # nothing was recorded

    second = _deliver(config, log)
    assert second.wait(60) == 0, log.read_text()
    assert [_session(m) for m in ntfy.on("syncd-alerts")] == ["Session 0", "Session 0"]
    [row], attempts = _rows(tmp_path)
    assert (row.status, row.attempts, attempts) == (DELIVERED, 1, 1)


def test_random_kills_over_60_alerts_lose_none(tmp_path: Path, ntfy: NtfyServer) -> None:
    expected = _alerts(tmp_path, ntfy, 60)
    rng = random.Random(int.from_bytes(os.urandom(4)))
    kill_points = iter([*sorted(rng.sample(range(1, 60), 3)), 10**9])
    next_kill = [next(kill_points)]
    due, killed = threading.Event(), threading.Event()
    seen = [0]

    def kill_on_schedule(got: Published) -> int:
        seen[0] += 1
        if seen[0] >= next_kill[0] and not due.is_set():
            due.set()
            killed.wait(10)  # this push (and those in flight) die unrecorded
        return 200

    ntfy.responder = kill_on_schedule
    config, log = _config(tmp_path, ntfy), tmp_path / "deliver.log"
    kills = 0
    while True:
        process = _deliver(config, log)
        exited = wait_for(lambda p=process: due.is_set() or p.poll() is not None, timeout=60)
        assert exited, log.read_text()
        if not due.is_set():
            assert process.wait() == 0, log.read_text()
            break
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        kills += 1
        next_kill[0] = next(kill_points)
        killed.set()
        due.clear()
        killed.clear()

    assert kills == 3
    arrived = [_session(m) for m in ntfy.on("syncd-alerts")]
    assert set(arrived) == expected  # none missing...
    rows, _ = _rows(tmp_path)
    assert {r.status for r in rows} == {DELIVERED}  # ...and every delivery is recorded
    assert len(rows) == 60
