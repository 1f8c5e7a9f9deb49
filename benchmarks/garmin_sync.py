"""Benchmark: a Garmin backfill of 2,000 activities from the fake Garmin server.

Prints two comparisons:

1. **Requests** the connector made against the minimum the API allows: list pages (100
   entries a page; the listing ends on the first short page) plus, per activity, only the
   calls for what the list lacks (typed splits for runs with several run/walk bouts, laps for
   runs without Garmin's detection, the detail for runs listed without split summaries), plus
   the daily gear (the list and each active pair's distance). The two must be equal; the
   script exits 1 otherwise.
2. **Wall time** of the connector (fetch and normalize, all passes of the backfill) against a
   bare HTTP client (``requests.Session``) fetching the same URLs with the same headers and
   decoding the same JSON: the floor. Goal: within 1.5x. The fake server runs in a child
   process, as a remote server would not share this process's interpreter lock.

``--store`` also times the whole ``syncd sync --source garmin --since`` path into a SQLite
file (storing and evaluating included), for information.

Usage: .venv/bin/python benchmarks/garmin_sync.py [--activities 2000] [--repeat 3] [--store]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fake lives with the tests, in the tests package

from connectors.base import ConnectorContext  # noqa: E402
from connectors.garmin import GarminConnector  # noqa: E402
from connectors.garmin.fetching import Policy  # noqa: E402
from connectors.garmin.session import new_garmin  # noqa: E402
from connectors.garmin.tokens import save_profile  # noqa: E402
from syncd.config.sections import GarminSection  # noqa: E402
from tests.garmin.fake_garmin import (  # noqa: E402
    PROFILE,
    FakeGarmin,
    Logged,
    make_entry,
    make_gear,
    make_laps,
    make_typed_splits,
)

FIRST_DAY = datetime(2021, 1, 4, 6, 30)
GOAL = 1.5


@dataclass
class Needs:
    """What the generated history needs beyond the list, counted by construction."""

    typed_splits: int = 0
    laps: int = 0
    details: int = 0
    gear_stats: int = 0


def generate(fake: FakeGarmin, count: int, seed: int = 7) -> Needs:
    """``count`` activities, about one a day, in the mix a run/walk runner's history has."""
    rng = random.Random(seed)
    needs = Needs()
    for n in range(count):
        local = FIRST_DAY + timedelta(hours=21 * n + rng.randint(0, 120) / 60)
        kind = rng.random()
        entry = _one(fake, rng, 10_000_000 + n, local, kind, needs)
        entry.update(_padding(rng))  # the list's other fields, as Garmin sends them
        fake.activities.append(entry)
    for i, (name, status) in enumerate([("Pegasus", "active"), ("Clifton", "active"),
                                        ("Ghost", "retired")]):
        gear, stats = make_gear(f"{i:032x}", name, 300_000.0 * (i + 1), status=status)
        fake.gear.append(gear)
        fake.gear_stats[gear["uuid"]] = stats
        needs.gear_stats += status == "active"
    fake.gear.append(make_gear("f" * 32, "Bike", 1e6, kind="Bike")[0])
    return needs


def _one(fake: FakeGarmin, rng: random.Random, activity_id: int, local: datetime, kind: float,
         needs: Needs) -> dict[str, Any]:
    key = str(activity_id)
    if kind < 0.45:  # a run/walk run with Garmin's detection
        bouts = rng.choice([1, 1, 3, 5, 8, 12])
        entry = make_entry(activity_id, local, run_walk=(90.0 * bouts, 60.0 * bouts),
                           bouts=(bouts, bouts))
        if bouts >= 2:
            fake.typed_splits[key] = make_typed_splits(entry, [90.0] * bouts, [60.0] * bouts)
            needs.typed_splits += 1
        return entry
    if kind < 0.55:  # a run from a watch without the detection: laps, when there are some
        laps = rng.choice([1, 4])
        entry = make_entry(activity_id, local, laps=laps)
        if laps >= 2:
            fake.laps[key] = make_laps(entry, [(450.0, 1000.0, None)] * laps)
            needs.laps += 1
        return entry
    if kind < 0.60:  # a run listed without split summaries: the detail has them
        entry = make_entry(activity_id, local, split_summaries=False)
        full = make_entry(activity_id, local, run_walk=(600.0, 400.0), bouts=(4, 4))
        fake.details[key] = {"activityId": activity_id,
                             "splitSummaries": full["splitSummaries"],
                             "summaryDTO": {"directWorkoutFeel": 50, "directWorkoutRpe": 40}}
        fake.typed_splits[key] = make_typed_splits(entry, [150.0] * 4, [100.0] * 4)
        needs.details += 1
        needs.typed_splits += 1
        return entry
    type_key = "walking" if kind < 0.85 else "hiking" if kind < 0.95 else "cycling"
    return make_entry(activity_id, local, type_key=type_key, run_walk=(0.0, 2400.0))


def _padding(rng: random.Random) -> dict[str, Any]:
    """Fields of a real list entry that syncd does not read (sizes as in the recordings)."""
    out: dict[str, Any] = {f"hrTimeInZone_{i}": rng.random() * 900 for i in range(1, 6)}
    out.update({f"powerTimeInZone_{i}": rng.random() * 600 for i in range(1, 6)})
    out.update({"ownerFullName": PROFILE["fullName"], "locationName": "Somewhere",
                "ownerProfileImageUrlSmall": "https://example.org/" + "x" * 90,
                "ownerProfileImageUrlMedium": "https://example.org/" + "y" * 90,
                "ownerProfileImageUrlLarge": "https://example.org/" + "z" * 90,
                "summarizedDiveInfo": {"summarizedDiveGases": []},
                "privacy": {"typeId": 2, "typeKey": "private"}, "vO2MaxValue": 45.0,
                "trainingEffectLabel": "AEROBIC_BASE", "activityTrainingLoad": 50.9})
    return out


def minimum(count: int, page_size: int, needs: Needs) -> Counter[str]:
    """The fewest requests the API allows for this history."""
    return Counter({"list pages": count // page_size + 1, "typed splits": needs.typed_splits,
                    "laps": needs.laps, "details": needs.details,
                    "gear": 1 + needs.gear_stats})


API_PREFIXES = ("/mobile/", "/portal/", "/di-oauth2-service/")


def made(log: list[Logged]) -> Counter[str]:
    """The requests the fake received, by kind."""
    kinds: Counter[str] = Counter()
    for call in log:
        path = call.path
        kinds["sign-in or token" if path.startswith(API_PREFIXES) else
              "list pages" if path.endswith("/search/activities") else
              "typed splits" if path.endswith("/typedsplits") else
              "laps" if path.endswith("/splits") else
              "gear" if path.startswith("/gear-service/") else
              "details" if path.startswith("/activity-service/activity/") else path] += 1
    return kinds


class Server:
    """The fake Garmin in a child process, so that serving does not compete with the client
    for this process's interpreter lock (as a remote server would not)."""

    def __init__(self, fake: FakeGarmin) -> None:
        context = multiprocessing.get_context("fork")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(fake, child), daemon=True)
        self._process.start()
        self.url: str = self._pipe.recv()

    def log(self) -> list[Logged]:
        """The requests received since the last :meth:`clear`."""
        self._pipe.send("log")
        received: list[Logged] = self._pipe.recv()
        return received

    def clear(self) -> None:
        """Forget the requests received so far."""
        self._pipe.send("clear")
        self._pipe.recv()

    def stop(self) -> None:
        """Stop serving and wait for the child process."""
        self._pipe.send("stop")
        self._process.join(10)


def _serve(fake: FakeGarmin, pipe: Any) -> None:
    with fake.running():
        pipe.send(fake.url)
        while (command := pipe.recv()) != "stop":
            if command == "clear":
                fake.requests.clear()
            pipe.send(list(fake.requests))


@contextmanager
def serving(fake: FakeGarmin) -> Iterator[Server]:
    """Serve ``fake`` from a child process for the duration of the block."""
    server = Server(fake)
    try:
        yield server
    finally:
        server.stop()


@dataclass(frozen=True)
class Timing:
    """One timed run: wall seconds, this process's CPU seconds, and the wall seconds spent
    normalizing (the connector's work beyond fetching)."""

    wall: float
    cpu: float
    normalizing: float = 0.0


def run_connector(url: str, token_dir: Path, since: date) -> tuple[Timing, int, int]:
    """One backfill through the connector, as the sync runs it: timing, activities, passes."""
    context = ConnectorContext(athlete="bench", timezone="Europe/Berlin",
                               now=lambda: datetime(2026, 6, 1, tzinfo=UTC))
    connector = GarminConnector(GarminSection(api_url=url, token_store=token_dir), context)
    started, cpu = time.perf_counter(), time.process_time()
    cursor, activities, passes, first, normalizing = None, 0, 0, True, 0.0
    while True:
        fetched = connector.fetch(cursor, since=since if first else None)
        before = time.perf_counter()
        normalized, failures = connector.normalize_all(fetched.records)
        normalizing += time.perf_counter() - before
        assert not failures and not fetched.failures, (failures, fetched.failures)
        activities += len(normalized)
        cursor, passes, first = fetched.cursor, passes + 1, False
        if not fetched.more:
            break
    timing = Timing(time.perf_counter() - started, time.process_time() - cpu, normalizing)
    return timing, activities, passes


def run_floor(url: str, requests_made: list[Logged], headers: dict[str, str]) -> Timing:
    """The same GETs with a bare HTTP client, JSON decoded and nothing else. It sends the
    headers garminconnect sends (Garmin's API expects them), so that the fake server's cost
    of reading them is the same on both sides."""
    session = requests.Session()
    started, cpu = time.perf_counter(), time.process_time()
    for call in (c for c in requests_made if c.method == "GET"):
        response = session.get(url + call.path, params=call.query, headers=headers, timeout=30)
        response.raise_for_status()
        response.json()
    return Timing(time.perf_counter() - started, time.process_time() - cpu)


def api_headers(tokens: dict[str, Any]) -> dict[str, str]:
    """The headers garminconnect puts on every API request for these tokens."""
    garmin = new_garmin(None)
    garmin.client.loads(json.dumps(tokens))
    return dict(garmin.client.get_api_headers())


def run_store(url: str, token_dir: Path, since: date, folder: Path) -> float:
    """The whole ``syncd sync --source garmin --since`` into SQLite (all passes)."""
    from syncd.clinic import open_app
    from syncd.config import load_settings
    from syncd.pipeline.sync import sync_source

    config = folder / "syncd.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{folder / "bench.db"}"\n'
                      '[athlete]\ntimezone = "Europe/Berlin"\nplan_start = 2021-01-04\n'
                      f'[garmin]\napi_url = "{url}"\ntoken_store = "{token_dir}"\n')
    app = open_app(load_settings(config, env={"STATE_DIRECTORY": str(folder / "state")}))
    started = time.perf_counter()
    result = sync_source(app, "garmin", since=since, force=True)
    while result.ok and result.more:
        result = sync_source(app, "garmin", force=True)
    elapsed = time.perf_counter() - started
    assert result.ok, result.error
    app.close()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the comparisons; exit 1 when requests exceed the minimum."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", action="store_true", help="also time the sync into SQLite")
    args = parser.parse_args(argv)
    fake = FakeGarmin()
    needs = generate(fake, args.activities)
    since = FIRST_DAY.date()
    with tempfile.TemporaryDirectory() as tmp:
        token_dir = Path(tmp) / "garmin"
        tokens = fake.write_token_store(token_dir, access_ttl=24 * 3600)
        save_profile(token_dir, PROFILE["profileId"], PROFILE["displayName"])
        with serving(fake) as server:
            connector_times, floor_times = [], []
            for _ in range(args.repeat):  # interleaved, best of each: the host may be busy
                server.clear()
                timing, activities, passes = run_connector(server.url, token_dir, since)
                connector_times.append(timing)
                requests_made = server.log()
                floor_times.append(run_floor(server.url, requests_made, api_headers(tokens)))
            store_seconds = (run_store(server.url, token_dir, since, Path(tmp))
                             if args.store else None)
    best = min(connector_times, key=lambda t: t.wall)
    floor = min(floor_times, key=lambda t: t.wall)
    cpu = (min(t.cpu for t in connector_times), min(t.cpu for t in floor_times))
    return report(args.activities, activities, passes, made(requests_made),
                  minimum(args.activities, Policy().page_size, needs), best, floor, cpu,
                  store_seconds)


def report(count: int, activities: int, passes: int, counted: Counter[str],
           least: Counter[str], connector: Timing, floor: Timing, cpu: tuple[float, float],
           store_s: float | None) -> int:
    """Print the comparisons; 1 when the requests are not the minimum."""
    def line(counts: Counter[str]) -> str:
        return " + ".join(f"{n} {k}" for k, n in counts.items() if n) + f" = {counts.total()}"

    print(f"Garmin backfill of {count:,} activities from the fake server "
          f"({activities:,} normalized, {passes} passes of at most 1,000)")
    print(f"requests: {line(counted)}")
    print(f"minimum:  {line(least)}")
    equal = counted == least
    print("          -> equal" if equal else "          -> NOT equal: requests beyond the minimum")
    ratio = connector.wall / floor.wall
    verdict = "goal met" if ratio <= GOAL else "goal missed"
    print(f"wall time (best of runs): connector {connector.wall:.2f} s (normalizing "
          f"{connector.normalizing:.2f} s of it), bare HTTP client {floor.wall:.2f} s "
          f"-> {ratio:.2f}x ({verdict}: <= {GOAL}x)")
    print(f"client CPU (best of runs): connector {cpu[0]:.2f} s, bare HTTP client {cpu[1]:.2f} s; "
          f"host load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if store_s is not None:
        print(f"whole sync into SQLite (store and evaluation included): {store_s:.2f} s")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
