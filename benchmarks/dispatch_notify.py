"""How fast the dispatcher empties an outbox onto a notify channel (Apprise to ntfy), against
calling Apprise directly as the floor.

    .venv/bin/python benchmarks/dispatch_notify.py [--alerts 2000] [--concurrency 8]

``--alerts`` pending alerts (one ``notify:bench`` delivery each) in a fresh SQLite database,
pushed to a local ntfy-compatible server (the test suite's, in this process) through the
Apprise URL ``ntfy://127.0.0.1:PORT/bench``. Printed:

- the floor: Apprise called directly (``Apprise(url).notify`` with the same title and text,
  from the same number of threads), nothing else;
- the dispatcher: ``Dispatcher.run_once`` claiming, sending (a fresh plugin per attempt, each
  on a thread bounded by the channel's timeout), recording every attempt, and writing its
  JSON log line per attempt (to /dev/null);
- pushes per second of each and their ratio (goal: within 1.5x of the floor).

Both runs must deliver every alert (the server's count is checked). Times are wall-clock, the
two alternating in rounds so that a machine whose load drifts weighs on both alike.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from apprise import Apprise

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the ntfy-compatible server lives with the tests

from syncd.alerts import Dispatcher  # noqa: E402
from syncd.alerts.pushes import NOTIFY_TYPES, Push, push_of  # noqa: E402
from syncd.app import App  # noqa: E402
from syncd.clinic import open_app  # noqa: E402
from syncd.config import Settings  # noqa: E402
from syncd.logs import configure_logging  # noqa: E402
from syncd.models import Finding, Subject, SubjectKind  # noqa: E402
from syncd.store.alerts import apply_findings  # noqa: E402
from syncd.store.outbox import OutboxEvent  # noqa: E402
from tests.support.ntfy import NtfyServer  # noqa: E402

CHANNEL = "notify:bench"


def fill_outbox(app: App, count: int) -> list[Push]:
    """``count`` alerts with one pending notify delivery each, as the evaluation writes them;
    the pushes the dispatcher will make of them."""
    now = datetime.now(UTC)
    findings = [Finding(
        rule="session_length", severity="warning",
        subject=Subject(SubjectKind.ACTIVITY, f"activity:bench:{n}", date(2026, 11, 16),
                        (("activity_id", f"bench:{n}"), ("date", "2026-11-16"))),
        observed=19.0, limit=18.7, unit="min",
        message=f"Session {n}: 19.0 min, above the 18.7 min limit (17 min + 10 %).",
        advice="Keep the next session to the prescribed 17 minutes.",
        activity_ids=(f"bench:{n}",)) for n in range(count)]
    with app.store.write() as tx:
        result = apply_findings(tx, app.athlete_id, "bench", findings, lambda _: False, now,
                                [CHANNEL])
    return [push_of(OutboxEvent("x", "alert.raised", {"data": {
        "message": a.finding.message, "advice": a.finding.advice, "rule": a.finding.rule,
        "severity": a.finding.severity}}, now)) for a in result.raised]


def direct(url: str, pushes: list[Push], concurrency: int) -> float:
    """Seconds for Apprise, called directly, to send every push: an Apprise object per push,
    as the channel makes a plugin per attempt (a plugin reused waits 5.5 s between two
    requests, Apprise's politeness toward a service it sends to in a loop)."""
    def send(push: Push) -> bool:
        return bool(Apprise(url).notify(body=push.body, title=push.title,
                                        notify_type=NOTIFY_TYPES[push.level]))

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        sent = list(pool.map(send, pushes))
    elapsed = time.perf_counter() - started
    assert all(sent)
    return elapsed


def dispatch(dispatcher: Dispatcher, count: int) -> float:
    """Seconds for one dispatcher pass delivering ``count`` due alerts."""
    started = time.perf_counter()
    report = dispatcher.run_once(limit=count)
    elapsed = time.perf_counter() - started
    assert report.channels[CHANNEL].delivered == count, report
    return elapsed


def compare(app: App, url: str, pushes: list[Push], args: argparse.Namespace
            ) -> dict[str, float]:
    """Alternate the floor and the dispatcher in rounds; their summed wall times."""
    size = -(-len(pushes) // args.rounds)
    wall = {"apprise": 0.0, "dispatcher": 0.0}
    with Dispatcher(app, concurrency=args.concurrency, batch_size=args.batch) as dispatcher:
        for start in range(0, len(pushes), size):
            chunk = pushes[start:start + size]
            wall["apprise"] += direct(url, chunk, args.concurrency)
            wall["dispatcher"] += dispatch(dispatcher, len(chunk))
    return wall


def main(argv: list[str] | None = None) -> int:
    """Run both and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4,
                        help="alternate the floor and the dispatcher this many times")
    args = parser.parse_args(argv)
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    configure_logging("info", "json", stream=sink)
    server = NtfyServer()
    try:
        with tempfile.TemporaryDirectory() as folder:
            url = server.url("bench")
            app = open_app(Settings.model_validate({
                "database": {"url": f"sqlite:///{Path(folder) / 'bench.db'}"},
                "athlete": {"name": "bench", "plan": None},
                "notify": [{"name": "bench", "url": url}]}))
            try:
                pushes = fill_outbox(app, args.alerts)
                wall = compare(app, url, pushes, args)
            finally:
                app.close()
        assert len(server.on("bench")) == 2 * args.alerts
    finally:
        server.close()
    ratio = wall["dispatcher"] / wall["apprise"]
    print(f"{args.alerts} alerts on a notify channel (Apprise to a local ntfy), "
          f"{args.concurrency} threads, batches of {args.batch}, {args.rounds} alternating "
          f"rounds, {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})")
    print(f"  Apprise directly:   {args.alerts / wall['apprise']:>6.0f} pushes/s "
          f"({wall['apprise']:.2f} s)")
    print(f"  dispatcher:         {args.alerts / wall['dispatcher']:>6.0f} pushes/s "
          f"({wall['dispatcher']:.2f} s), every claim and attempt recorded")
    print(f"  ratio:              {ratio:.2f}x the floor's time (goal: within 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
