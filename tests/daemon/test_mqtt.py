"""``syncd run`` with ``[mqtt]``, against a real Mosquitto that wants a password: Home
Assistant sees syncd online with the sample runner's figures, and offline once the process is
killed (the broker sends its last will) or stopped; the password never reaches the log."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.mosquitto import PASSWORD, USER, Listener, Mosquitto, broker_or_skip
from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import Daemon, start_daemon, write_config


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from broker_or_skip(tmp_path / "broker", with_password=True)


@pytest.fixture
def listener(broker: Mosquitto) -> Iterator[Listener]:
    found = Listener(broker, username=USER, password=PASSWORD)
    yield found
    found.close()


def start(tmp_path: Path, broker: Mosquitto, password: str = PASSWORD) -> Iterator[Daemon]:
    (tmp_path / "mqtt_password").write_text(password + "\n", encoding="utf-8")
    port = free_port()
    config = write_config(tmp_path, port, extra=(
        f'[mqtt]\nurl = "{broker.url}"\nusername = "{USER}"\n'
        'password_file = "mqtt_password"\npublish_interval = "2s"\n'))
    daemon = start_daemon(config, port)
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def daemon(tmp_path: Path, broker: Mosquitto) -> Iterator[Daemon]:
    yield from start(tmp_path, broker)


def test_killing_syncd_flips_home_assistant_to_offline(
        daemon: Daemon, broker: Mosquitto, listener: Listener) -> None:
    listener.wait_for("syncd/status", "online", timeout=60)
    # The first pass of the files source read the sample history: the last sync shows.
    state = listener.wait_json("syncd/sample_runner/state", lambda s: s["last_sync"] is not None)
    assert datetime.fromisoformat(state["last_sync"].replace("Z", "+00:00")).tzinfo is not None
    config = listener.wait_json("homeassistant/sensor/syncd_sample_runner/running/config")
    assert config["availability"][0]["topic"] == "syncd/status"

    daemon.signal(signal.SIGKILL)
    daemon.process.wait(10)
    listener.wait_for("syncd/status", "offline", timeout=10)
    # Home Assistant starting afterwards learns it from the retained message.
    late = Listener(broker, username=USER, password=PASSWORD)
    assert late.wait_for("syncd/status") == "offline"
    late.close()
    assert PASSWORD not in daemon.log_path.read_text()


def test_stopping_syncd_says_offline_itself(daemon: Daemon, listener: Listener) -> None:
    listener.wait_for("syncd/status", "online", timeout=60)
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(30) == 0
    assert listener.wait_for("syncd/status", "offline", timeout=5) == "offline"


WRONG = "not-the-mqtt-password"


@pytest.fixture
def refused_daemon(tmp_path: Path, broker: Mosquitto) -> Iterator[Daemon]:
    yield from start(tmp_path, broker, password=WRONG)


def test_a_wrong_password_is_one_log_line_and_syncd_keeps_running(
        refused_daemon: Daemon, listener: Listener) -> None:
    daemon = refused_daemon
    refused = "the MQTT broker refused the connection; check [mqtt] username and password"
    wait_until(lambda: refused in daemon.events(), 60, "the refusal in the log")
    time.sleep(4)  # paho tries again after 1 s, 2 s...: still one line
    assert daemon.events().count(refused) == 1
    assert daemon.process.poll() is None
    assert daemon.get("/healthz")[0] == 200
    text = daemon.log_path.read_text()
    assert WRONG not in text and PASSWORD not in text
    assert listener.latest("syncd/status") is None
