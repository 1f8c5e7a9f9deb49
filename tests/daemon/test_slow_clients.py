"""Clients that never finish their request cannot starve ``syncd run``: half-sent requests are
closed by the server, ``/healthz`` answers all along, and running short of file descriptors is
one log line, not thousands."""

from __future__ import annotations

import asyncio
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncd.runtime.server import AcceptErrorLog
from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import REPO, Daemon, write_config

HALF_SENT = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _start(config: Path, port: int, fd_limit: int | None = None) -> Daemon:
    def limit() -> None:
        if fd_limit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    log_path = config.parent / "daemon.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncd.cli", "--config", str(config), "run"],
            stdout=log_file, stderr=subprocess.STDOUT, text=True, cwd=REPO,
            preexec_fn=limit)
    daemon = Daemon(process, port, log_path)
    wait_until(lambda: _healthy(daemon), 60, "/healthz")
    return daemon


def _healthy(daemon: Daemon) -> bool:
    try:
        return daemon.get("/healthz", timeout=3)[0] == 200
    except OSError:
        return False


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.signal(signal.SIGTERM)
        try:
            daemon.process.wait(30)
        finally:
            daemon.stop()


def _half_sent(port: int, count: int) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(HALF_SENT)
        sockets.append(sock)
    return sockets


def _closed_by_server(sockets: list[socket.socket], within_s: float,
                      daemon: Daemon) -> tuple[float, list[int]]:
    """Wait until the server has closed every socket, checking /healthz every half second;
    (seconds it took, the /healthz statuses seen)."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    start = time.monotonic()
    open_count, health = len(sockets), []
    next_check = start
    while open_count and time.monotonic() - start < within_s:
        for key, _ in selector.select(timeout=0.1):
            try:
                data = key.fileobj.recv(4096)  # type: ignore[union-attr]
            except ConnectionResetError:
                data = b""
            if data == b"":
                selector.unregister(key.fileobj)
                open_count -= 1
        if time.monotonic() >= next_check:
            health.append(daemon.get("/healthz", timeout=3)[0])
            next_check += 0.5
    selector.close()
    assert open_count == 0, f"{open_count} half-sent requests still open after {within_s} s"
    return time.monotonic() - start, health


def test_half_sent_requests_are_closed_and_health_answers_throughout(
        tmp_path: Path, daemon_factory: list[Daemon]) -> None:
    port = free_port()
    daemon = _start(write_config(tmp_path, port), port)
    daemon_factory.append(daemon)
    # One connection gets a whole request and its answer first, then half of a second one.
    keep_alive = socket.create_connection(("127.0.0.1", port), timeout=5)
    keep_alive.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert keep_alive.recv(4096).startswith(b"HTTP/1.1 200")
    keep_alive.sendall(HALF_SENT)
    sockets = [keep_alive, *_half_sent(port, 200)]

    took, health = _closed_by_server(sockets, 30, daemon)

    assert took < 30
    assert health and set(health) == {200}, health
    for sock in sockets:
        sock.close()


def test_with_few_file_descriptors_health_answers_and_the_log_stays_short(
        tmp_path: Path, daemon_factory: list[Daemon]) -> None:
    port = free_port()
    daemon = _start(write_config(tmp_path, port, poll="1h"), port, fd_limit=256)
    daemon_factory.append(daemon)
    lines_before = len(daemon.log_path.read_text().splitlines())
    sockets = _half_sent(port, 300)
    try:
        statuses = [daemon.get("/healthz", timeout=3)[0] for _ in range(10)]
        time.sleep(2)
    finally:
        for sock in sockets:
            sock.close()
    assert statuses == [200] * 10
    new_lines = daemon.log_path.read_text().splitlines()[lines_before:]
    assert len(new_lines) <= 5, new_lines[:5]


def test_failed_accepts_are_logged_once_and_their_end_once() -> None:
    loop = asyncio.new_event_loop()
    handler = AcceptErrorLog(quiet_s=0.2)
    loop.set_exception_handler(handler)
    report = {"message": "socket.accept() out of system resource",
              "exception": OSError(24, "Too many open files")}
    try:
        with capture_logs() as logs:
            for _ in range(5000):
                loop.call_exception_handler(report)
            loop.run_until_complete(asyncio.sleep(0.5))
    finally:
        loop.close()
    assert [entry["event"] for entry in logs] == [
        "cannot accept connections: the process is out of file descriptors or memory; new "
        "connections wait (raise LimitNOFILE, or look for a client holding many connections)",
        "accepting connections again"]
    assert logs[1]["failed_accepts"] == 5000
