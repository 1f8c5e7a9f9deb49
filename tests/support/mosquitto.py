"""A real Mosquitto broker on 127.0.0.1 for the Home Assistant tests, and a subscriber that
listens as Home Assistant does (paho, every topic, retained messages included).

The broker is Debian's ``mosquitto`` (``.ci/run`` installs it); without it the tests skip,
saying so. It keeps nothing on disk, so a restart forgets every retained message, as a
broker whose store was lost does.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.net import free_port
from tests.support.waiting import wait_until

USER, PASSWORD = "syncd", "mqtt-pass-7f3a9c"


def mosquitto_binary() -> str | None:
    """Debian's broker: on the PATH, or in /usr/sbin (outside a normal user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


@dataclass
class Mosquitto:
    """One broker on ``port``; ``kill()`` and ``start()`` again to restart it on the port."""

    folder: Path
    port: int = field(default_factory=free_port)
    with_password: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``[mqtt] url`` of this broker."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the broker and wait until it accepts connections."""
        binary = mosquitto_binary()
        assert binary is not None
        config = self.folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false",
                 f"allow_anonymous {'false' if self.with_password else 'true'}"]
        if os.geteuid() == 0:  # as root, mosquitto would switch to a user of its own
            lines.append(f"user {getpass.getuser()}")
        if self.with_password:
            lines.append(f"password_file {self._password_file()}")
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        with open(self.folder / "mosquitto.log", "ab") as log:
            self.process = subprocess.Popen([binary, "-c", str(config)], stdout=log,
                                            stderr=subprocess.STDOUT)
        wait_until(self._accepting, 10, f"mosquitto on port {self.port}")

    def _accepting(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.folder / "mosquitto.log").read_text(errors="replace")
            raise AssertionError(f"mosquitto exited: {log[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    def _password_file(self) -> Path:
        path = self.folder / "passwords"
        tool = shutil.which("mosquitto_passwd")
        if tool is None:
            pytest.skip("mosquitto_passwd (Debian's mosquitto package) is not installed")
        subprocess.run([tool, "-b", "-c", str(path), USER, PASSWORD], check=True,
                       capture_output=True)
        path.chmod(0o600)
        return path

    def kill(self) -> None:
        """Kill the broker at once (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None


@dataclass
class Received:
    """One message as a subscriber got it."""

    topic: str
    payload: str
    retained: bool


class Listener:
    """Subscribes to every topic, as Home Assistant does to its discovery prefix and to the
    topics the configs name, and keeps what arrives."""

    def __init__(self, broker: Mosquitto, *, username: str | None = None,
                 password: str | None = None) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"ha-{free_port()}")
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = lambda client, *_: client.subscribe("#", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.connect_async("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, client: paho.Client, userdata: object,
                    message: paho.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, message.payload.decode(),
                                          bool(message.retain)))

    def received(self) -> list[Received]:
        """Everything received so far, oldest first."""
        with self._lock:
            return list(self.messages)

    def latest(self, topic: str) -> str | None:
        """The last payload on ``topic`` (``None``: nothing came)."""
        found = [m.payload for m in self.received() if m.topic == topic]
        return found[-1] if found else None

    def wait_for(self, topic: str, payload: str | None = None, timeout: float = 15) -> str:
        """The latest payload on ``topic`` once it is there (and equals ``payload``)."""
        wait_until(lambda: self.latest(topic) is not None
                   and payload in (None, self.latest(topic)), timeout,
                   f"{payload or 'a message'} on {topic}")
        latest = self.latest(topic)
        assert latest is not None
        return latest

    def wait_json(self, topic: str, check: Callable[[dict[str, Any]], bool] = lambda _: True,
                  timeout: float = 15) -> dict[str, Any]:
        """The latest JSON object on ``topic`` once one passes ``check``."""
        def passes() -> bool:
            latest = self.latest(topic)
            return latest is not None and check(json.loads(latest))

        wait_until(passes, timeout, f"a message passing the check on {topic}")
        return dict(json.loads(self.latest(topic) or "{}"))

    def topics(self, prefix: str) -> dict[str, Received]:
        """The latest message of every topic under ``prefix``."""
        return {m.topic: m for m in self.received() if m.topic.startswith(prefix)}

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def broker_or_skip(folder: Path, *, with_password: bool = False) -> Iterator[Mosquitto]:
    """A started broker in ``folder`` (for a fixture to yield), killed afterwards; skips
    the test when Debian's mosquitto is not installed."""
    if mosquitto_binary() is None:
        pytest.skip("mosquitto (Debian's package) is not installed; .ci/run installs it")
    folder.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(folder, with_password=with_password)
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()


def settle(seconds: float = 0.3) -> None:
    """Give the broker a moment to pass on messages already sent (to show none more came)."""
    time.sleep(seconds)
