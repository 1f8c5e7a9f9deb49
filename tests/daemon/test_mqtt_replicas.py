"""Two ``syncd run`` replicas on one database, both with ``[mqtt]``: only the leader
publishes, so Home Assistant sees syncd go offline when the leader is killed and online again
once the standby has taken the lead."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.config import write_config
from tests.support.mosquitto import Listener, Mosquitto, broker_or_skip
from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import HISTORY, Daemon, start_daemon


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from broker_or_skip(tmp_path / "broker")


def replica(folder: Path, database: str, broker: Mosquitto) -> Daemon:
    """One replica: the sample runner's files, the shared database, its own port."""
    folder.mkdir()
    port = free_port()
    config = write_config(folder, athlete={"name": "sample-runner"}, database={"url": database},
                          files={"watch": [HISTORY], "poll_interval": "1s"},
                          server={"listen": f"127.0.0.1:{port}", "leadership_check": "1s"},
                          log={"format": "json"},
                          mqtt={"url": broker.url, "publish_interval": "2s"})
    return start_daemon(config, port)


def test_the_standby_says_online_once_it_leads(tmp_path: Path, db_url: str,
                                               broker: Mosquitto) -> None:
    database = db_url
    listener = Listener(broker)
    first = replica(tmp_path / "a", database, broker)
    second: Daemon | None = None
    try:
        listener.wait_for("syncd/status", "online", timeout=60)
        listener.wait_json("syncd/sample_runner/state", lambda s: s["last_sync"] is not None)
        second = replica(tmp_path / "b", database, broker)
        wait_until(lambda: "scheduler started" in second.events(), 60, "the standby's start")
        statuses = [m.payload for m in listener.received() if m.topic == "syncd/status"]
        first.signal(signal.SIGKILL)
        first.process.wait(10)
        listener.wait_for("syncd/status", "offline", timeout=10)
        wait_until(lambda: "scheduling as the leader" in second.events(), 60,
                   "the standby to take the lead")
        listener.wait_for("syncd/status", "online", timeout=30)
        # While the first led, the standby said nothing: one "online" only.
        assert statuses == ["online"]
        state = listener.wait_json("syncd/sample_runner/state")
        assert state["last_sync"] is not None
    finally:
        listener.close()
        for daemon in (first, second):
            if daemon is not None:
                daemon.stop()
