"""A harness for ``syncd run`` as a real process: a config on the sample history, a fake
systemd notify socket (a bound datagram socket, as systemd's), and polling helpers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.config import write_config as build_config
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
HISTORY = REPO / "examples" / "history"


def write_config(folder: Path, port: int, extra: str = "", poll: str = "1s") -> Path:
    """The sample runner with the files source polling every ``poll``."""
    return build_config(folder, athlete={"name": "sample-runner"},
                        files={"watch": [HISTORY], "poll_interval": poll},
                        server={"listen": f"127.0.0.1:{port}"}, log={"format": "json"},
                        extra=extra)


@dataclass
class NotifySocket:
    """Collects what the daemon sends to ``$NOTIFY_SOCKET``, with arrival times."""

    path: Path
    messages: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.settimeout(0.1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def times(self, line: str) -> list[float]:
        """Arrival times of every message ``line``."""
        return [at for at, text in list(self.messages) if text == line]

    def wait_for(self, line: str, timeout: float) -> float:
        """When ``line`` first arrived (waiting up to ``timeout`` seconds)."""
        wait_until(lambda: bool(self.times(line)), timeout, f"{line} on NOTIFY_SOCKET")
        return self.times(line)[0]

    def close(self) -> None:
        """Stop listening."""
        self._closed.set()
        self._thread.join(1)
        self._sock.close()



@dataclass
class Daemon:
    """A running ``syncd run`` and its port."""

    process: subprocess.Popen[str]
    port: int
    log_path: Path

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, Any]:
        """GET ``path`` over real HTTP; (status, parsed JSON or text)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}",
                                        timeout=timeout) as answer:
                body = answer.read().decode()
                status = answer.status
        except urllib.error.HTTPError as err:
            body, status = err.read().decode(), err.code
        try:
            return status, json.loads(body)
        except ValueError:
            return status, body

    def status(self) -> dict[str, Any]:
        """``GET /status``."""
        code, body = self.get("/status")
        assert code == 200, body
        return dict(body)

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the daemon."""
        self.process.send_signal(sig)

    def log(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def events(self) -> list[str]:
        """The ``event`` of every log line so far."""
        return [str(entry.get("event")) for entry in self.log()]

    def stop(self) -> None:
        """Make sure the process is gone (tests stop it properly themselves)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def start_daemon(config: Path, port: int, *args: str, env: dict[str, str] | None = None
                 ) -> Daemon:
    """Start ``syncd --config CONFIG run ARGS`` with its log in a file beside the config."""
    log_path = config.parent / "daemon.log"
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                                "INVOCATION_ID", "JOURNAL_STREAM")}
    environment.update(env or {})
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncd.cli", "--config", str(config), "run", *args],
            stdout=log_file, stderr=subprocess.STDOUT, env=environment, text=True, cwd=REPO)
    return Daemon(process, port, log_path)
