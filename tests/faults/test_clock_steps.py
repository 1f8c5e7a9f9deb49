"""A real ``syncd run`` whose wall clock steps forward an hour, then back an hour (libfaketime
moves the process's wall clock; its monotonic clock runs on): the files source, polled every
2 s, is polled as often in the 12 s after each step as in the 12 s before, neither skipped
(back) nor doubled or dropped as a misfire (forward), and the log names each step."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from tests.daemon.support import Daemon, start_daemon, write_config
from tests.support.net import free_port
from tests.support.waiting import wait_until

LIBFAKETIME = next((p for p in (Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"),
                                Path("/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"),
                                Path("/usr/lib/faketime/libfaketime.so.1"))
                    if p.exists()), None)
pytestmark = pytest.mark.skipif(LIBFAKETIME is None,
                                reason="libfaketime not installed (apt-get install faketime)")
POLL_S = 2.0
WINDOW_S = 12.0
EXPECTED = WINDOW_S / POLL_S


def _runs(daemon: Daemon) -> int:
    """Scheduled passes of the files source so far, from ``/metrics``."""
    code, body = daemon.get("/metrics")
    assert code == 200, body
    found = re.findall(r'^syncd_sync_runs_total\{outcome="(\w+)",source="files"\} (\S+)$',
                       str(body), re.MULTILINE)
    return int(sum(float(count) for _, count in found))


def _serving(daemon: Daemon) -> bool:
    try:
        return daemon.get("/healthz", timeout=1)[0] == 200
    except OSError:  # not listening yet
        return False


def _window(daemon: Daemon) -> int:
    """Passes counted over :data:`WINDOW_S` seconds of real time."""
    before = _runs(daemon)
    time.sleep(WINDOW_S)
    return _runs(daemon) - before


def test_polls_keep_their_pace_when_the_clock_steps_forward_and_back(tmp_path: Path) -> None:
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    port = free_port()
    daemon = start_daemon(write_config(tmp_path, port, poll=f"{POLL_S:g}s"), port, env={
        "LD_PRELOAD": str(LIBFAKETIME), "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_CACHE_DURATION": "1"})
    try:
        wait_until(lambda: _serving(daemon), 30, "syncd to serve")
        wait_until(lambda: _runs(daemon) >= 2, 30, "the first passes")
        steady = _window(daemon)
        offset.write_text("+1h\n")  # forward an hour
        forward = _window(daemon)
        offset.write_text("+0\n")  # and back
        back = _window(daemon)
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(30) == 0
    finally:
        daemon.stop()
    counts = {"steady": steady, "forward": forward, "back": back}
    assert all(abs(n - EXPECTED) <= 1 for n in counts.values()), counts
    steps = [e for e in daemon.log() if e.get("event") == "the wall clock stepped; polls keep "
             "their pace"]
    assert [round(float(e["step_s"]) / 3600) for e in steps] == [1, -1], steps
