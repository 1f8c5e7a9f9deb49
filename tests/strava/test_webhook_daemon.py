"""The public Strava callback of a real ``syncd run`` on loopback: a huge body is refused
without being read (the process's memory, read from /proc, barely moves), a deeply nested one
is a bad request, and a flood of forged events costs the fake Strava a handful of reads."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.sources.strava.callback import CALLBACK_PATH
from syncd.store import DbCredentialStore
from tests.strava.fake_strava import ATHLETE_ID, CLIENT_ID, CLIENT_SECRET, FakeStrava, Limits
from tests.strava.strava_support import RUN_WALK, publish
from tests.support.config import write_config
from tests.support.net import free_port
from tests.support.waiting import wait_until

SUBSCRIPTION_ID = 66001
VERIFY = "verify-daemon-5e1b"
MB = 1024 * 1024

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(),
                                reason="reads the process's memory from /proc")


@dataclass
class Running:
    """A ``syncd run`` serving one athlete whose Strava is at the fake."""

    process: subprocess.Popen[bytes]
    port: int
    fake: FakeStrava
    db: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def rss(self) -> int:
        """The process's resident memory now, in bytes."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS in /proc")



def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def started(folder: Path) -> Iterator[Running]:
    """``syncd run`` for athlete "ana", connected to Strava with a webhook subscription."""
    fake = FakeStrava(limits=Limits(overall=(10**6, 10**7), read=(10**6, 10**7))).start()
    fake.subscriptions[SUBSCRIPTION_ID] = {"id": SUBSCRIPTION_ID}
    port = free_port()
    db = folder / "syncd.db"
    config = write_config(
        folder, athlete={"plan": None, "plan_start": None}, database={"url": f"sqlite:///{db}"},
        strava={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_url": fake.url,
                "webhook_verify_token": VERIFY, "poll_interval": "1h"},
        server={"listen": f"127.0.0.1:{port}"}, log={"format": "json"})
    env = {"STATE_DIRECTORY": str(folder / "state"),
           **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}}
    app = open_app(load_settings(config, env=env))
    try:
        credentials = DbCredentialStore(app.store, app.athlete_id, prefix="strava.")
        credentials.save("tokens", fake.issue_tokens(expires_in=timedelta(days=1)))
        credentials.save("subscription", {"id": SUBSCRIPTION_ID, "callback_url": "x"})
    finally:
        app.close()
    syncd = Path(sys.executable).with_name("syncd")
    with (folder / "syncd.log").open("wb") as log:
        process = subprocess.Popen([str(syncd), "--config", str(config), "run"],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   env={"PATH": "/usr/bin:/bin", **env})
    running = Running(process, port, fake, db)
    try:
        wait_until(lambda: answers(f"http://127.0.0.1:{port}/healthz"), 30, "syncd run")
        yield running
    finally:
        process.terminate()
        process.wait(30)
        fake.stop()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One ``syncd run`` for the tests that only post bodies it refuses."""
    with started(tmp_path_factory.mktemp("daemon")) as running:
        yield running


@pytest.fixture
def fresh_daemon(tmp_path: Path) -> Iterator[Running]:
    """A ``syncd run`` of the test's own (what its events may read is the test's)."""
    with started(tmp_path) as running:
        yield running


class PeakRss:
    """Samples a process's resident memory every few milliseconds while the block runs."""

    def __init__(self, running: Running) -> None:
        self.running = running
        self.peak = self.baseline = running.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.running.rss())
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.3)  # what the server still does with the body shows now
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def send_huge(port: int, size: int, *, declared: bool) -> bytes:
    """POST ``size`` bytes to the callback over a raw socket (declaring the length, or
    chunked); the server's answer, read as soon as it comes."""
    length = f"Content-Length: {size}" if declared else "Transfer-Encoding: chunked"
    chunk = b"[" * (256 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST {CALLBACK_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Content-Type: application/json\r\n{length}\r\n\r\n".encode())
        sent = 0
        answer = b""
        try:
            while sent < size and not answer:
                frame = chunk if declared else b"%x\r\n%s\r\n" % (len(chunk), chunk)
                sock.sendall(frame)
                sent += len(chunk)
                sock.settimeout(0.0)
                with contextlib.suppress(BlockingIOError):
                    answer += sock.recv(65536)
                sock.settimeout(10)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: the rest of the body is not read
        return answer + _rest(sock)


def _rest(sock: socket.socket) -> bytes:
    """What the server still sends before it closes."""
    sock.settimeout(5)
    rest = b""
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while data := sock.recv(65536):
            rest += data
    return rest


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_64_mb_body_is_refused_without_the_memory_to_hold_it(daemon: Running,
                                                               declared: bool) -> None:
    with PeakRss(daemon) as rss:
        answer = send_huge(daemon.port, 64 * MB, declared=declared)

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    print(f"\n64 MB POST ({'declared' if declared else 'chunked'}): peak RSS growth "
          f"{rss.growth / MB:.1f} MB")
    assert rss.growth < 48 * MB
    assert answers(f"http://127.0.0.1:{daemon.port}/healthz")


def test_a_body_past_the_callbacks_own_cap_is_refused(daemon: Running) -> None:
    answer = httpx.post(daemon.url, content=b" " * 5000, timeout=5)

    assert (answer.status_code, answer.json()) == (
        413, {"detail": "the body is longer than 4096 bytes"})


def test_deeply_nested_json_is_a_bad_request_not_a_crash(daemon: Running) -> None:
    answer = httpx.post(daemon.url, content=b"[" * 2000 + b"]" * 2000, timeout=5)

    assert (answer.status_code, answer.json()) == (400,
                                                   {"detail": "the body is not a Strava event"})
    log = (daemon.db.parent / "syncd.log").read_text()
    assert "RecursionError" not in log and "Traceback" not in log


def test_a_flood_of_forged_events_costs_a_handful_of_reads(fresh_daemon: Running) -> None:
    fake = fresh_daemon.fake
    # The first sync of the start-up is done once the fake has served its list.
    wait_until(lambda: any("/athlete/activities" in c.path for c in fake.api_calls()), 30,
               "the first sync")
    time.sleep(1)
    publish(fake, 4_400_001, datetime.now(UTC) - timedelta(hours=1), laps=RUN_WALK)
    fake.post_event(fresh_daemon.url, 4_400_001)  # a genuine upload is read at once
    wait_until(lambda: any(c.path.endswith("/activities/4400001") for c in fake.api_calls()),
               10, "the genuine activity read")
    before = len(fake.api_calls())
    now = int(datetime.now(UTC).timestamp())

    with httpx.Client(timeout=5) as client:
        for n in range(300):
            answer = client.post(fresh_daemon.url, json={
                "aspect_type": "create", "event_time": now, "object_id": 90_000_000 + n,
                "object_type": "activity", "owner_id": ATHLETE_ID,
                "subscription_id": SUBSCRIPTION_ID, "updates": {}})
            assert answer.json() == {"status": "accepted"}
    time.sleep(3)  # the events worker drains what it may

    reads = fake.api_calls()[before:]
    assert len(reads) <= 5, [c.path for c in reads]  # was 300, one per forged event
