"""``syncd run`` as a service: start-up time, idle memory, and ``/status`` under load, against
a bare uvicorn app serving the same JSON (the floor).

    .venv/bin/python benchmarks/daemon.py [--duration 30] [--rate 200]

On a fresh SQLite database with the sample history (the files source, 28 activities):

- **start to READY**: from launching ``syncd run`` to ``READY=1`` on a fake ``NOTIFY_SOCKET``
  (a bound datagram socket), on a new database (migration included) and on a migrated one;
  goal under 2 s. Python's own start-up (imports) is part of it.
- **idle RSS**: ``VmRSS`` of the daemon 5 s after its first sync finished; goal under 120 MB.
- **/status under load**: a second process sends ``GET /status`` at a fixed rate (open loop:
  request *i* is due at ``start + i / rate``; latency counts from that due time, so a stall
  shows instead of hiding) over 32 keep-alive connections, for ``--duration`` seconds; p50, p99
  and max; goal p99 under 50 ms. The same load then runs against a bare uvicorn app returning
  the captured ``/status`` bytes: the floor, and the ratio to it.

Printed, not asserted: these are measurements of this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
HISTORY = REPO / "examples" / "history"


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_config(folder: Path, port: int) -> Path:
    """The sample runner, files source, SQLite in ``folder``."""
    path = folder / "syncd.toml"
    path.write_text(f'''
[database]
url = "sqlite:///{folder / "syncd.db"}"
[athlete]
name = "sample-runner"
timezone = "Europe/Berlin"
plan = "hip-return-run-walk"
plan_start = 2026-09-07
[files]
watch = ["{HISTORY}"]
poll_interval = "15m"
[server]
listen = "127.0.0.1:{port}"
[log]
format = "json"
level = "warning"
''')
    return path


def get(url: str) -> bytes:
    """The body of a GET."""
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: bytes = answer.read()
        return body


def wait_ready(notify: socket.socket, process: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from ``started`` to READY=1."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"syncd run exited with {process.returncode} before READY")
        try:
            data = notify.recv(4096)
        except TimeoutError:
            continue
        if b"READY=1" in data.split(b"\n"):
            return time.monotonic() - started
    raise SystemExit("no READY=1 within 60 s")


def start_daemon(folder: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    """Launch ``syncd run``; return the process and its time to READY."""
    sock_path = folder / f"notify-{time.monotonic_ns()}.sock"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(sock_path))
    notify.settimeout(0.05)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_path)}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "syncd.cli", "--config", str(write_config(folder, port)), "run"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    try:
        return process, wait_ready(notify, process, started)
    finally:
        notify.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait."""
    process.terminate()
    process.wait(30)


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_first_sync(port: int) -> None:
    """Until the files source has synced once."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = json.loads(get(f"http://127.0.0.1:{port}/status"))
        if status["sources"]["files"]["last_success_at"]:
            return
        time.sleep(0.2)
    raise SystemExit("the first sync did not finish within 120 s")


# -- the load generator (run in a second process) --------------------------------------------


async def _fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 request: bytes) -> bool:
    """One keep-alive GET on an open connection; True on a 200 with its whole body."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200")


async def _load(url: str, rate: float, duration: float) -> dict[str, Any]:
    """Open-loop load: request *i* is due at ``start + i / rate``; a pool of keep-alive
    connections (raw asyncio streams: the generator must cost far less than the server)
    takes the due requests in order."""
    parts = urllib.parse.urlsplit(url)
    request = (f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               "Connection: keep-alive\r\n\r\n").encode()
    total = int(rate * duration)
    due_times: asyncio.Queue[float] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    start = time.monotonic() + 0.5

    async def connection() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        while True:
            due = await due_times.get()
            if due < 0:
                break
            try:
                ok = await _fetch(reader, writer, request)
            except (OSError, asyncio.IncompleteReadError):
                ok = False
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            if ok:
                latencies.append(time.monotonic() - due)
            else:
                errors += 1
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(32)]
    for index in range(total):
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        due_times.put_nowait(due)
    for _ in workers:
        due_times.put_nowait(-1.0)
    await asyncio.gather(*workers)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {"requests": total, "errors": errors, "p50_ms": pct(0.50), "p90_ms": pct(0.90),
            "p99_ms": pct(0.99), "max_ms": latencies[-1] * 1000}


def load(url: str, rate: float, duration: float) -> dict[str, Any]:
    """Run the load from a second process; its JSON result."""
    out = subprocess.run([sys.executable, __file__, "--load", url, str(rate), str(duration)],
                         capture_output=True, text=True, check=True, cwd=REPO)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


# -- the floor: bare uvicorn serving fixed bytes ---------------------------------------------


def floor_app(body: bytes) -> Any:
    """An ASGI app answering every request with ``body`` as JSON."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    return app


def serve_floor(port: int, body_file: str) -> None:
    """Serve the floor app (in its own process)."""
    import uvicorn

    uvicorn.run(floor_app(Path(body_file).read_bytes()), host="127.0.0.1", port=port,
                log_level="warning", access_log=False, lifespan="off")


def start_floor(folder: Path, body: bytes) -> tuple[subprocess.Popen[bytes], int]:
    """Launch the floor server; wait until it answers."""
    body_file = folder / "status.json"
    body_file.write_bytes(body)
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--floor", str(port), str(body_file)],
                               cwd=REPO)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            get(f"http://127.0.0.1:{port}/status")
            return process, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the floor server did not start")


# -- the run -------------------------------------------------------------------------------------


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        daemon, cold = start_daemon(folder, port)
        wait_first_sync(port)
        stop(daemon)
        daemon, warm = start_daemon(folder, port)
        try:
            wait_first_sync(port)
            time.sleep(5)
            idle = rss_mb(daemon.pid)
            body = get(f"http://127.0.0.1:{port}/status")
            syncd_load = load(f"http://127.0.0.1:{port}/status", args.rate, args.duration)
            loaded = rss_mb(daemon.pid)
        finally:
            stop(daemon)
        floor, floor_port = start_floor(folder, body)
        try:
            floor_load = load(f"http://127.0.0.1:{floor_port}/status", args.rate, args.duration)
        finally:
            floor.terminate()
            floor.wait(10)
    report(cold, warm, idle, loaded, syncd_load, floor_load, args)


def report(cold: float, warm: float, idle: float, loaded: float, syncd_load: dict[str, Any],
           floor_load: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the figures, the goals and the ratios to the floor."""
    print(f"syncd run, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"  start to READY, new database:      {cold:6.2f} s   (goal < 2 s)")
    print(f"  start to READY, migrated database: {warm:6.2f} s   (goal < 2 s)")
    print(f"  idle RSS after the first sync:     {idle:6.1f} MB  (goal < 120 MB)")
    print(f"  RSS after the load:                {loaded:6.1f} MB")
    print(f"GET /status at {args.rate:g}/s for {args.duration:g} s from a second process:")
    print(f"  {'':14}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}")
    for name, stats in (("syncd", syncd_load), ("bare uvicorn", floor_load)):
        print(f"  {name:14}{stats['p50_ms']:9.1f}{stats['p90_ms']:9.1f}{stats['p99_ms']:9.1f}"
              f"{stats['max_ms']:9.1f}{stats['errors']:8d}")
    ratio = syncd_load["p99_ms"] / max(floor_load["p99_ms"], 1e-9)
    print(f"  p99 ratio syncd / floor: {ratio:.1f}x   (goal: syncd p99 < 50 ms)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        url, rate, duration = sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
        print(json.dumps(asyncio.run(_load(url, rate, duration))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--floor":
        serve_floor(int(sys.argv[2]), sys.argv[3])
    else:
        main()
