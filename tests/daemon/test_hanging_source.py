"""A source whose server hangs (a fake Strava on 127.0.0.1 that accepts requests and answers
none for 5 minutes) delays neither another source's passes nor the HTTP API, and does not
hold up a SIGTERM beyond the stop bound."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import REPO, start_daemon, write_config

HANG_S = 300.0


class FakeStrava(ThreadingHTTPServer):
    """Answers the token exchange and ``/athlete`` while ``answering``; then holds every
    request open until :meth:`release` (or five minutes)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answering = True
        self.released = threading.Event()
        self.hanging = 0

    @property
    def url(self) -> str:
        """The base URL to configure as ``[strava] api_url``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def release(self) -> None:
        """Let every held request end (with a 503)."""
        self.released.set()


class _Handler(BaseHTTPRequestHandler):
    server: FakeStrava

    def _answer(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-RateLimit-Limit", "200,2000")
        self.send_header("X-RateLimit-Usage", "1,1")
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.server.answering and self.path.startswith("/oauth/token"):
            self._answer({"token_type": "Bearer", "access_token": "access-1",
                          "refresh_token": "refresh-2", "expires_at": int(time.time()) + 21600,
                          "expires_in": 21600})
        elif self.server.answering and self.path.startswith("/api/v3/athlete"):
            self._answer({"id": 4242, "firstname": "Sam"})
        else:
            self.server.hanging += 1
            self.server.released.wait(HANG_S)
            self.send_error(503)

    def do_GET(self) -> None:
        """Token exchange and athlete while answering, else hang."""
        self._handle()

    def do_POST(self) -> None:
        """As GET."""
        self._handle()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def strava() -> Iterator[FakeStrava]:
    """The fake Strava, serving in a thread."""
    server = FakeStrava()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release()
    server.shutdown()
    server.server_close()


def test_a_hanging_source_delays_neither_files_nor_http(tmp_path: Path,
                                                        strava: FakeStrava) -> None:
    port = free_port()
    config = write_config(tmp_path, port, extra=f'''
[strava]
client_id = "1"
client_secret = "app-secret"
api_url = "{strava.url}"
poll_interval = "1h"
''')
    auth = subprocess.run([sys.executable, "-m", "syncd.cli", "--config", str(config), "auth",
                           "strava", "--refresh-token", "refresh-1"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert auth.returncode == 0, auth.stderr
    strava.answering = False  # from now on, Strava hangs

    daemon = start_daemon(config, port, "--stop-timeout", "1")
    try:
        wait_until(lambda: strava.hanging > 0, 30, "the strava pass to reach the server")
        seen: set[str] = set()
        latencies: list[float] = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            started = time.monotonic()
            status = daemon.status()
            latencies.append(time.monotonic() - started)
            assert status["sources"]["strava"]["running"] is True
            if status["sources"]["files"]["last_success_at"]:
                seen.add(status["sources"]["files"]["last_success_at"])
            time.sleep(0.2)
        code, health = daemon.get("/healthz")
        sent = time.monotonic()
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(10) == 0
        took = time.monotonic() - sent
    finally:
        daemon.stop()
    # The files source (every second) kept its schedule while Strava hung.
    assert len(seen) >= 3, seen
    assert max(latencies) < 1.0, latencies
    assert (code, health["scheduler"]) == (200, "ok")
    assert took < 4.0
    assert strava.hanging == 1  # one pass, held; no second one piled up behind it
