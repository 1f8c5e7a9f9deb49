"""How fast the dispatcher empties a large outbox, against a bare HTTP client as the floor.

    .venv/bin/python benchmarks/dispatch.py [--alerts 10000] [--concurrency 8] [--batch 32]

10,000 pending alerts (one webhook delivery each) in a fresh SQLite database, delivered to a
local receiver (uvicorn in a subprocess, answering 200 and counting). Printed:

- the bare floor: an ``httpx.Client`` posting the same signed bodies with the same number of
  threads, nothing else (no database, no bookkeeping);
- the dispatcher: ``Dispatcher.run_once`` claiming, sending, and recording every attempt
  (one claim and one record transaction per batch, ``synchronous=FULL``), and writing its
  JSON log line per attempt (to /dev/null);
- deliveries per second of each, their ratio (goal: within 1.5x of the floor), and the
  dispatcher's peak resident memory above the process's size before the pass.

Both runs must deliver every alert (the receiver's count is checked). Times are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from syncd.alerts import Dispatcher
from syncd.alerts.webhook import render_body, signed_headers, signer
from syncd.clinic import open_app
from syncd.config import Settings
from syncd.logs import configure_logging
from syncd.models import Finding, Subject, SubjectKind
from syncd.store import queries
from syncd.store.alerts import apply_findings
from syncd.store.database import Store

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


# -- the receiver (a subprocess) ------------------------------------------------------------------


def serve(port: int) -> None:
    """A minimal ASGI receiver: 200 to every POST, ``GET /count`` says how many it took."""
    import uvicorn

    count = 0

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal count
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        body = b""
        if scope["method"] == "POST":
            count += 1
        else:
            body = str(count).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.get(url + "/count", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the receiver did not start")


def received(url: str) -> int:
    return int(httpx.get(url + "/count").text)


# -- the outbox ---------------------------------------------------------------------------------


def fill_outbox(store: Store, count: int) -> None:
    """``count`` alerts with one pending webhook delivery each, as the evaluation writes them."""
    now = datetime.now(UTC)
    with store.write() as tx:
        athlete_id = queries.ensure_athlete(tx, "bench", "UTC")
        findings = [Finding(
            rule="session_length", severity="warning",
            subject=Subject(SubjectKind.ACTIVITY, f"activity:bench:{n}", date(2026, 11, 16),
                            (("activity_id", f"bench:{n}"), ("date", "2026-11-16"))),
            observed=19.0, limit=18.7, unit="min",
            message=f"Session {n}: 19.0 min, above the 18.7 min limit (17 min + 10 %).",
            advice="Keep the next session to the prescribed 17 minutes.",
            activity_ids=(f"bench:{n}",)) for n in range(count)]
        apply_findings(tx, athlete_id, "bench", findings, lambda _: False, now, ["webhook"])


def pending_bodies(store: Store) -> list[tuple[str, bytes]]:
    """(event id, body) of every event, as the dispatcher would send them."""
    from sqlalchemy import select

    from syncd.store.tables import AlertEventRow

    with store.read() as tx:
        return [(row.id, render_body(row.payload)) for row in tx.scalars(select(AlertEventRow))]


# -- the two runs ---------------------------------------------------------------------------------


def bare(url: str, bodies: list[tuple[str, bytes]], concurrency: int) -> float:
    """Seconds for a plain httpx client to POST every signed body."""
    hook = signer(SECRET, "secret")
    with httpx.Client(timeout=15, follow_redirects=False,
                      limits=httpx.Limits(max_connections=concurrency,
                                          max_keepalive_connections=concurrency)) as client:
        def post(item: tuple[str, bytes]) -> int:
            event_id, body = item
            return client.post(url + "/hook", content=body,
                               headers=signed_headers(hook, event_id, body)).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            statuses = list(pool.map(post, bodies))
        elapsed = time.perf_counter() - started
    assert set(statuses) == {200}
    return elapsed


def rss_kib() -> int:
    """This process's resident memory now, in KiB (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    """Samples this process's resident memory every 10 ms while running."""

    def __init__(self) -> None:
        self.before = self.peak = rss_kib()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, rss_kib())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib())


def dispatch(dispatcher: Dispatcher, count: int) -> float:
    """Seconds for one dispatcher pass delivering ``count`` due alerts."""
    started = time.perf_counter()
    report = dispatcher.run_once(limit=count)
    elapsed = time.perf_counter() - started
    assert report.channels["webhook"].delivered == count, report
    return elapsed


def compare(store: Store, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Alternate bare and dispatcher rounds (so that a machine whose load drifts weighs on
    both alike) and add up wall and CPU time of each."""
    bodies = pending_bodies(store)
    settings = Settings.model_validate({"webhook": {"url": url + "/hook", "secret": SECRET}})
    size = -(-len(bodies) // args.rounds)
    wall = {"bare": 0.0, "dispatcher": 0.0}
    cpu = dict(wall)
    with Dispatcher(open_app(settings, store=store), concurrency=args.concurrency,
                    batch_size=args.batch) as dispatcher, PeakRss() as memory:
        for start in range(0, len(bodies), size):
            chunk = bodies[start:start + size]
            for name, run in (("bare", lambda c=chunk: bare(url, c, args.concurrency)),
                              ("dispatcher", lambda c=chunk: dispatch(dispatcher, len(c)))):
                cpu_before = time.process_time()
                wall[name] += run()
                cpu[name] += time.process_time() - cpu_before
    assert received(url) == 2 * len(bodies)
    return {"wall": wall, "cpu": cpu, "rss_before": memory.before, "rss_peak": memory.peak}


def main(argv: list[str] | None = None) -> int:
    """Run both and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternate bare and dispatcher this many times (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    # As under systemd: one JSON line per attempt, written (here to /dev/null), not skipped.
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    configure_logging("info", "json", stream=sink)
    receiver, url = start_receiver()
    try:
        with tempfile.TemporaryDirectory() as folder:
            store = Store.open(f"sqlite:///{Path(folder) / 'bench.db'}")
            fill_outbox(store, args.alerts)
            result = compare(store, url, args)
            store.close()
    finally:
        receiver.terminate()
        receiver.wait()
    wall, cpu = result["wall"], result["cpu"]
    figures = {
        "alerts": args.alerts, "concurrency": args.concurrency, "batch": args.batch,
        "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 1),
        "bare_per_s": round(args.alerts / wall["bare"]),
        "dispatcher_per_s": round(args.alerts / wall["dispatcher"]),
        "ratio": round(wall["dispatcher"] / wall["bare"], 2),
        "cpu_ms_per_delivery": {k: round(v * 1000 / args.alerts, 3) for k, v in cpu.items()},
        "cpu_ratio": round(cpu["dispatcher"] / cpu["bare"], 2),
        "rss_before_mib": round(result["rss_before"] / 1024, 1),
        "rss_peak_increase_mib": round((result["rss_peak"] - result["rss_before"]) / 1024, 1),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    per = figures["cpu_ms_per_delivery"]
    print(f"{args.alerts} alerts, {args.concurrency} threads, batches of {args.batch}, "
          f"{args.rounds} alternating rounds, {figures['cpus']} CPUs "
          f"(load average {figures['load_average']})")
    print(f"  bare httpx client:  {figures['bare_per_s']:>6} deliveries/s "
          f"({wall['bare']:.2f} s, {per['bare']:.3f} ms CPU each)")
    print(f"  dispatcher:         {figures['dispatcher_per_s']:>6} deliveries/s "
          f"({wall['dispatcher']:.2f} s, {per['dispatcher']:.3f} ms CPU each), every claim "
          "and attempt recorded")
    print(f"  ratio:              {figures['ratio']:.2f}x the floor's time (goal: within 1.5x), "
          f"{figures['cpu_ratio']:.2f}x its CPU")
    print(f"  dispatcher memory:  +{figures['rss_peak_increase_mib']} MiB peak RSS over "
          f"{figures['rss_before_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
