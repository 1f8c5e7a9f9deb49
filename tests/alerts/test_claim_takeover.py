"""Claims whose holder is gone are taken over at once; a live holder keeps its lease.

Each test leaves one alert claimed in the name of some process (as a dispatcher that took it
and then died, or is still sending, would), then runs a dispatcher pass before the lease runs
out and looks at what reached the webhook receiver.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from syncd.alerts.dispatcher import Dispatcher
from syncd.app import App
from syncd.clinic import open_app
from syncd.store import outbox, replicas
from tests.support.clock import Clock

from .support import Receiver, finding, raise_alerts, settings, webhook

LEASE = timedelta(minutes=10)


@pytest.fixture
def app(tmp_path: Path, receiver: Receiver) -> Iterator[App]:
    """One athlete whose alerts go to the receiver."""
    opened = open_app(settings(tmp_path, webhook=webhook(receiver.url)), Clock())
    yield opened
    opened.close()


def _claimed_by(app: App, holder: str) -> datetime:
    """Raise one alert and claim its delivery for ``holder``; returns the moment after."""
    now = app.clock()
    raise_alerts(app, [finding(1)], now)
    with app.store.write() as tx:
        [claim] = outbox.claim_due(tx, "webhook", now, 10, now + LEASE, holder=holder)
    assert claim.event.alert_id is not None
    return now + timedelta(seconds=1)


def _pass(app: App, now: datetime, receiver: Receiver) -> int:
    """One dispatcher pass at ``now``; how many requests the receiver has had."""
    with Dispatcher(app, app.clock, jitter=0) as dispatcher:
        dispatcher.run_once(now)
    return len(receiver.requests)


def _ended_process() -> int:
    """The pid of a process that has ended and been reaped."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _host() -> str:
    return socket.gethostname()[:80]


def test_the_claims_of_a_process_that_ended_are_sent_at_once(
        app: App, receiver: Receiver) -> None:
    now = _claimed_by(app, f"{_host()}:{_ended_process()}:dead0001")
    assert _pass(app, now, receiver) == 1


def test_a_claim_made_under_this_pid_by_an_earlier_process_is_taken_over(
        app: App, receiver: Receiver) -> None:
    # A restart given the pid its predecessor had (pid 1 in a container, say).
    now = _claimed_by(app, f"{_host()}:{os.getpid()}:before01")
    assert _pass(app, now, receiver) == 1


def test_the_claims_of_a_killed_process_not_yet_reaped_are_taken_over(
        app: App, receiver: Receiver) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(process.pid, signal.SIGKILL)
        os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)  # a zombie now
        now = _claimed_by(app, f"{_host()}:{process.pid}:zombie01")
        assert _pass(app, now, receiver) == 1
    finally:
        process.wait()


def test_a_live_holder_keeps_its_claim_until_the_lease_runs_out(
        app: App, receiver: Receiver) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        now = _claimed_by(app, f"{_host()}:{process.pid}:alive001")
        assert _pass(app, now, receiver) == 0  # slow, not gone
        assert _pass(app, now + LEASE, receiver) == 1
    finally:
        process.kill()
        process.wait()


def test_a_replica_on_another_machine_loses_its_claims_once_it_stops_beating(
        app: App, receiver: Receiver) -> None:
    holder = "elsewhere.example:4242:remote01"
    now = _claimed_by(app, holder)
    replicas.register_replica(app.store, holder, "elsewhere.example", 4242, now)
    assert _pass(app, now + timedelta(seconds=5), receiver) == 0  # it beat 5 s ago
    assert _pass(app, now + timedelta(seconds=16), receiver) == 1  # three checks missed


def test_a_command_on_another_machine_keeps_its_claim_for_the_lease(
        app: App, receiver: Receiver) -> None:
    # Nothing tells whether a `syncd deliver` elsewhere is alive: its lease decides.
    now = _claimed_by(app, "elsewhere.example:4242:command1")
    assert _pass(app, now + timedelta(minutes=5), receiver) == 0
    assert _pass(app, now + LEASE, receiver) == 1
