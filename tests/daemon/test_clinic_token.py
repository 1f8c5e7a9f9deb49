"""A clinic served without ``[server] token`` starts (on loopback) but says, once, that every
program and user of the machine can read the athletes' data."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support.config import write_config
from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import HISTORY, start_daemon

WARNING = ("a clinic without [server] token: every program and user on this machine can read "
           "the athletes' data; set token (or token_file)")


def _clinic(folder: Path, port: int, server: str = "") -> Path:
    # [server] last, so that the bare keys in ``server`` belong to it.
    return write_config(folder, athletes=[{"name": "ana", "sources": ["files"]},
                                          {"name": "ben", "sources": ["files"]}],
                        files={"watch": [HISTORY], "poll_interval": "1h"},
                        log={"format": "json"}, server={"listen": f"127.0.0.1:{port}"},
                        extra=server)


def _warnings(folder: Path, server: str) -> list[str]:
    port = free_port()
    daemon = start_daemon(_clinic(folder, port, server), port)
    try:
        wait_until(lambda: "syncd running" in daemon.events(), 60, "syncd running")
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(30) == 0
    finally:
        daemon.stop()
    return [event for event in daemon.events() if event == WARNING]


def test_a_clinic_without_a_token_warns_once(tmp_path: Path) -> None:
    assert _warnings(tmp_path, "") == [WARNING]


def test_a_clinic_with_a_token_does_not(tmp_path: Path) -> None:
    assert _warnings(tmp_path, 'token = "clinic-token-0123456789"') == []
