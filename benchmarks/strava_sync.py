"""How many requests a Strava backfill costs, and how long it takes, against the floor.

    .venv/bin/python benchmarks/strava_sync.py [--activities 2000] [--runs 1500] [--repeat 3]

The fake Strava server of the test suite (tests/strava/fake_strava.py, a real HTTP server on
127.0.0.1) holds ``--activities`` activities, ``--runs`` of them runs: half with laps that
separate running from walking, half with one lap and a 1 Hz speed stream; the rest are rides,
swims and workouts. Its rate limits are raised out of the way: this measures the work, not
the waiting.

It prints:

1. the requests of a full backfill against the minimum: the list pages (200 activities each;
   the list ends at the first page shorter than that, so 2,000 activities take 11), one laps
   request per run, and a streams request only for the runs whose laps do not separate
   running from walking. The two must be equal;
2. the requests of a steady-state poll when nothing is new (must be 1);
3. the wall time of the backfill (fetch and normalize, no database) against a bare
   ``requests`` session fetching the same pages, laps and streams and decoding their JSON
   (the floor), and the ratio of the two. The goal is within 1.5x. Best of ``--repeat`` runs
   of each, taken in turn. The fake server runs in its own process; the client processes'
   CPU time is printed too, since on a busy machine the wall time mostly measures waiting.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test suite's fake server, in the tests package

from connectors.base import ConnectorContext  # noqa: E402
from connectors.strava import StravaConnector  # noqa: E402
from syncd.config.sections import StravaSection  # noqa: E402
from syncd.logs import configure_logging  # noqa: E402
from tests.strava.fake_strava import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    FakeStrava,
    Limits,
    bouts_laps,
    bouts_streams,
    summary,
)

FIRST = datetime(2024, 1, 1, 6, 0, tzinfo=UTC)
SEPARATING = [(120, 2.8), (600, 1.4)] * 4  # a run/walk watch mode: one lap per bout
STEADY = [(240, 3.0), (60, 1.3)] * 6  # one lap; only the speed stream tells the bouts apart
OTHERS = ("Ride", "Swim", "Workout", "Yoga")


class MemoryCredentials:
    """Tokens kept in a dict: the benchmark measures Strava traffic, not the database."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    def load(self, name: str) -> dict[str, Any] | None:
        """The stored value."""
        return self.values.get(name)

    def save(self, name: str, value: dict[str, Any]) -> None:
        """Keep a copy."""
        self.values[name] = dict(value)

    def delete(self, name: str) -> None:
        """Forget it."""
        self.values.pop(name, None)


def populate(fake: FakeStrava, activities: int, runs: int) -> tuple[int, int]:
    """Publish the activities, the runs spread evenly among them; return (runs, runs whose
    laps do not separate running from walking)."""
    step = timedelta(hours=8)
    published_runs = streams = 0
    for n in range(activities):
        start = FIRST + n * step
        activity_id = 1_000_000 + n
        if (n + 1) * runs // activities > n * runs // activities:
            bouts = SEPARATING if published_runs % 2 == 0 else STEADY
            elapsed = sum(s for s, _ in bouts)
            distance = round(sum(s * v for s, v in bouts), 1)
            laps = bouts if bouts is SEPARATING else [(elapsed, distance / elapsed)]
            fake.add(summary(activity_id, start, elapsed_s=elapsed, distance_m=distance),
                     bouts_laps(activity_id, start, laps),
                     bouts_streams(bouts) if bouts is STEADY else None)
            published_runs += 1
            streams += bouts is STEADY
        else:
            fake.add(summary(activity_id, start, sport_type=OTHERS[n % len(OTHERS)]))
    return published_runs, streams


def make_connector(url: str, tokens: dict[str, Any]) -> StravaConnector:
    """A connector on the fake, with the tokens in memory."""
    credentials = MemoryCredentials()
    credentials.save("tokens", tokens)
    settings = StravaSection.model_validate(
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_url": url})
    return StravaConnector(settings, ConnectorContext(
        athlete="bench", timezone="Europe/Berlin", credentials=credentials,
        now=lambda: datetime.now(UTC)))


Timing = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def syncd_backfill(connector: StravaConnector) -> tuple[Timing, int, str | None]:
    """Backfill everything through the connector; (timing, records, cursor)."""
    began, cpu = time.perf_counter(), time.process_time()
    result = connector.fetch(None, since=date(2023, 12, 31))
    records = connector.normalize_all(result.records)[0]
    while result.more:
        result = connector.fetch(result.cursor)
        records += connector.normalize_all(result.records)[0]
    return (time.perf_counter() - began, time.process_time() - cpu), len(records), result.cursor


def bare_backfill(url: str, token: str) -> Timing:
    """The floor: the same pages, laps and streams with a plain session, JSON decoded."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    base = url + "/api/v3"
    after = int(datetime(2023, 12, 30, 23, 0, tzinfo=UTC).timestamp()) - 1
    began, cpu = time.perf_counter(), time.process_time()
    while True:
        page = session.get(f"{base}/athlete/activities",
                           params={"after": after, "per_page": 200, "page": 1}).json()
        for item in page:
            if item["sport_type"] != "Run":
                continue
            laps = session.get(f"{base}/activities/{item['id']}/laps").json()
            if len(laps) == 1:
                session.get(f"{base}/activities/{item['id']}/streams",
                            params={"keys": "time,velocity_smooth,distance",
                                    "key_by_type": "true"}).json()
        if len(page) < 200:
            break
        after = max(_start(item) for item in page)
    return time.perf_counter() - began, time.process_time() - cpu


def _start(item: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(item["start_date"].replace("Z", "+00:00")).timestamp())


def serve(conn: Connection, activities: int, runs: int) -> None:
    """The fake server's own process, so that its work does not compete with the client's
    for one interpreter: answers ``tokens``, ``calls`` and ``stop`` over ``conn``."""
    configure_logging("warning", "console")
    fake = FakeStrava(limits=Limits(overall=(10**7, 10**8), read=(10**7, 10**8))).start()
    conn.send((fake.url, populate(fake, activities, runs)))
    while True:
        command = conn.recv()
        if command == "tokens":
            conn.send(fake.issue_tokens(expires_in=timedelta(days=1)))
        elif command == "calls":
            conn.send(len(fake.api_calls()))
        else:
            fake.stop()
            conn.send(None)
            return


def main() -> int:
    """Run the benchmark; exit 1 when the request counts miss their marks."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=1500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    configure_logging("warning", "console")  # a log line per request would be measured too

    here, there = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(there, args.activities, args.runs), daemon=True)
    server.start()
    try:
        url, (runs, streams) = here.recv()
        pages = args.activities // 200 + 1
        minimum = pages + runs + streams

        here.send("tokens")
        connector = make_connector(url, here.recv())
        timing, delivered, cursor = syncd_backfill(connector)
        here.send("calls")
        made = here.recv()
        connector.fetch(cursor)
        here.send("calls")
        poll = here.recv() - made

        here.send("tokens")
        token = here.recv()["access_token"]
        syncd_times, bare_times = [timing], []
        for i in range(args.repeat):
            bare_times.append(bare_backfill(url, token))
            if i + 1 < args.repeat:
                here.send("tokens")
                syncd_times.append(syncd_backfill(make_connector(url, here.recv()))[0])
    finally:
        here.send("stop")
        here.recv()
        server.join(10)

    best_syncd, best_bare = min(t[0] for t in syncd_times), min(t[0] for t in bare_times)
    cpu_syncd, cpu_bare = min(t[1] for t in syncd_times), min(t[1] for t in bare_times)
    print(f"backfill of {args.activities} activities ({runs} runs, {streams} without "
          f"separating laps), {delivered} delivered")
    print(f"  requests made     {made}")
    print(f"  minimum           {minimum}  ({pages} list pages + {runs} laps + {streams} "
          "streams)")
    print(f"  equal             {'yes' if made == minimum else 'NO'}")
    print(f"steady-state poll   {poll} request{'s' if poll != 1 else ''} (must be 1)")
    print(f"wall time           syncd {best_syncd:.2f} s, bare client {best_bare:.2f} s, "
          f"ratio {best_syncd / best_bare:.2f}x (goal <= 1.5x; best of {args.repeat})")
    print(f"client CPU          syncd {cpu_syncd:.2f} s, bare client {cpu_bare:.2f} s "
          f"(the fake server runs in its own process)")
    return 0 if made == minimum and poll == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
