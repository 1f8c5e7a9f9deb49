"""A clinic on PostgreSQL: one new activity, the therapist's overview, and Strava's requests.

    .venv/bin/python benchmarks/clinic.py [--short] [--sample 20] [--url ADMIN_URL]

One fresh database per size (``syncd_bench_<random>``, created on the server of ``--url``, by
default the test suite's ``test`` database, and dropped at the end) is filled with 10, 100
and 1,000 athletes with two years of history each (``--short``: 10, 100 and 300 with one
year). The sizes are then measured in one run, taking turns measurement by measurement: on a
shared, busy machine a slow moment weighs on every size alike.

Each athlete is an ``[[athletes]]`` entry on the shipped hip plan (one in five on gated
progression), in one of six time zones, four in five in the middle of the plan and the rest
past it. Their histories come from a seed: three or four runs a week before an injury (two
in five with walk breaks), a few weeks of walks, the plan's run/walk sessions (now and then
longer than prescribed, with longer bouts, or on two days running; a gated week that did not
end clean is repeated), then running again for those past the plan; pain reported after one
session in two during the plan and one in ten otherwise (a low baseline with flares), two
pairs of shoes, a Strava sync state, and the raw Strava record beside every activity. The
rows are written with COPY; the alerts are then what ``App.evaluate_all()`` (``syncd
reevaluate --all``) raises for every athlete, ``--workers`` processes at a time, and the
tables are analyzed, as autovacuum would.

Printed at each size:

- **one new activity**: ``App.ingest([activity])`` for ``--sample`` athletes picked at
  random (at 10 athletes, each two or three times), after three untimed ones: what a sync
  pass does with a new run, in one transaction (upsert and identity, the incremental
  re-evaluation, alerts and their outbox, the commit). Median, p95 and the median CPU time
  of this process (the rest is waiting for PostgreSQL, or for a busy machine). The goal is
  under 50 ms, and no slower at the largest size than at 10 athletes;
- **the overview**: ``syncd.web.overview.overview(clinic, now)``, its first call and then the
  median of 5, and ``GET /`` with the bearer token through the ASGI app (median of 5, a
  fresh app each time so that nothing is cached). Goal: under a second.

Then Strava's requests per athlete and day, counted by the fake Strava of the test suite on a
simulated clock (SQLite here: the database does not change what is requested): 20 athletes
connected just before a UTC day, one new activity each during it, the coordinator ticked
every 45 s; once with webhooks (events posted to syncd's callback, a reconciliation poll
every 6 hours) and once polling every 15 minutes without them. The application's limits are
raised for this so that both modes run at their configured interval (at Strava's 1,000 reads
a day, 20 athletes polled every 15 minutes would need the interval stretched); the planner's
capacity at the real limit is printed beside each mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.logs import configure_logging
from syncd.models import Activity, Segment, SegmentKind, SportFamily
from syncd.plan import Plan, load_plan
from syncd.store import Store, display_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the fake Strava and the test clock live in the tests package
HIP_PLAN = REPO / "config" / "plans" / "hip-return-run-walk.toml"

from tests.support.clock import Clock  # noqa: E402

ADMIN_URL = os.environ.get("SYNCD_TEST_POSTGRES",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
END = date(2026, 11, 15)  # the last day of the generated histories (a Sunday)
NOW = datetime(2026, 11, 16, 20, 0, tzinfo=UTC)  # when the overview is looked at
ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles",
         "Asia/Tokyo", "Australia/Sydney")
GOAL_MS = 50.0


# -- the athletes and their histories ---------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One athlete of the clinic, as its ``[[athletes]]`` entry says."""

    index: int
    name: str
    timezone: str
    plan_start: date
    gated: bool


def member(index: int) -> Member:
    """Athlete ``index``: four in five in the middle of the plan, the rest past it."""
    rng = random.Random(f"member:{index}")
    week = rng.randint(1, 14) if rng.random() < 0.8 else rng.randint(15, 30)
    start = END + timedelta(days=1 - 7 * (week - 1) - rng.randint(0, 6))
    return Member(index, f"patient-{index:04d}", ZONES[index % len(ZONES)], start,
                  gated=rng.random() < 0.2)


@dataclass
class Diary:
    """One athlete's generated history: activities, and pain as (at_utc, local_at, score)."""

    activities: list[Activity] = field(default_factory=list)
    pain: list[tuple[datetime, datetime, int]] = field(default_factory=list)


class Writer:
    """Makes one athlete's activities, numbering their Strava ids."""

    def __init__(self, who: Member, rng: random.Random, plan: Plan, first_id: int = 1) -> None:
        self.who, self.rng, self.plan = who, rng, plan
        self.zone = ZoneInfo(who.timezone)
        self.ids = iter(range(who.index * 10_000_000 + first_id, (who.index + 1) * 10_000_000))
        self.over = False  # set by a session over its prescription

    def activity(self, day: date, bouts: list[tuple[SegmentKind, float]], sport: SportFamily,
                 gear: str | None) -> Activity:
        """An activity on ``day`` made of ``bouts`` ((kind, seconds), in order)."""
        rng = self.rng
        local = datetime(day.year, day.month, day.day, rng.randint(6, 19), rng.randrange(60))
        start = local.replace(tzinfo=self.zone).astimezone(UTC)
        pace = rng.uniform(2.6, 3.2)
        segments, offset = [], 0.0
        for kind, seconds in bouts:
            speed = pace if kind == "run" else 1.4
            segments.append(Segment(kind, offset, seconds, round(seconds * speed, 1)))
            offset += seconds
        run_s = sum(s.duration_s for s in segments if s.kind == "run")
        distance = round(sum(s.distance_m or 0.0 for s in segments), 1)
        strava_id = next(self.ids)
        sport_type = "Run" if sport == "run" else "Walk"
        name = f"{sport_type} {day:%a}"
        raw = {"activity": {
            "id": strava_id, "resource_state": 3, "name": name,
            "sport_type": sport_type, "type": sport_type, "distance": distance,
            "moving_time": int(offset), "elapsed_time": int(offset),
            "start_date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "start_date_local": local.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "timezone": f"(GMT) {self.who.timezone}", "gear_id": gear,
            "average_speed": round(distance / offset, 3), "total_elevation_gain": 12.0,
            "laps": [{"lap_index": i, "elapsed_time": int(s.duration_s),
                      "distance": s.distance_m, "average_speed": pace if s.kind == "run"
                      else 1.4} for i, s in enumerate(segments, start=1)]}}
        return Activity(
            source="strava", source_id=str(strava_id), sport=sport,
            sport_type=sport_type, start_utc=start, local_start=local, elapsed_s=offset,
            timezone=self.who.timezone, moving_s=offset, distance_m=distance, run_s=run_s,
            walk_s=offset - run_s, segments=tuple(segments) if sport == "run" else (),
            gear_id=gear, name=name, athlete=self.who.name, raw=raw)

    def run_walk(self, day: date, number: int, gear: str) -> Activity:
        """A session of plan week ``number``: as prescribed, or over it the ways patients go
        over it (longer, or longer bouts)."""
        week = self.plan.week(number)
        assert week is not None and not week.walk_only
        rng = self.rng
        bout = week.run_interval_s or week.run_min * 60
        count = max(1, round(week.run_min * 60 / bout))
        stretch = rng.uniform(0.95, 1.05)
        if rng.random() < 0.05:
            stretch, self.over = rng.uniform(1.15, 1.3), True
        if rng.random() < 0.04:
            bout, count, self.over = bout * 1.5, max(1, count - 1), True
        walk = week.walk_min * 60 / count
        bouts: list[tuple[SegmentKind, float]] = []
        for _ in range(count):
            bouts.append(("run", round(bout * stretch)))
            if walk:
                bouts.append(("walk", round(walk * stretch)))
        return self.activity(day, bouts, "run", gear)

    def continuous(self, day: date, minutes: float, gear: str,
                   walk_breaks: bool = False) -> Activity:
        """A run; with ``walk_breaks``, a minute's walk after every five minutes' running
        (how many runners train, and go back to after an injury)."""
        seconds = round(minutes * 60)
        if not walk_breaks:
            return self.activity(day, [("run", seconds)], "run", gear)
        bouts: list[tuple[SegmentKind, float]] = []
        while seconds > 0:
            bouts.append(("run", min(300, seconds)))
            seconds -= 360
            if seconds > 0:
                bouts.append(("walk", 60))
        return self.activity(day, bouts, "run", gear)

    def walk(self, day: date, minutes: float) -> Activity:
        """A walk (stored, but no session for the rules)."""
        return self.activity(day, [("walk", round(minutes * 60))], "walk", None)


class Pain:
    """How an athlete's pain goes: steady at a low baseline, now and then a flare (a point
    higher at each report, up to the stop threshold at times) that settles again."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.baseline = rng.choice((0, 0, 1, 1, 2))
        self.score = self.baseline

    def report(self) -> int:
        """The next score the athlete reports."""
        rng = self.rng
        if rng.random() < 0.06:
            self.score = min(self.score + 1, 6)
        elif self.score > self.baseline and rng.random() < 0.5:
            self.score -= 1
        return self.score


def diary(who: Member, first: date, last: date, plan: Plan) -> Diary:
    """``who``'s activities from ``first`` to ``last`` and the pain they reported (after one
    session in two during the plan, one in ten otherwise). On gated progression a week that
    did not end clean (a session over its prescription, pain rising or at the stop
    threshold) is repeated, as the athlete is told to."""
    rng = random.Random(f"diary:{who.index}")
    writer = Writer(who, rng, plan)
    pain = Pain(rng)
    injury = who.plan_start - timedelta(weeks=rng.randint(3, 8))
    base = rng.uniform(30, 50)  # the easy run's minutes before the injury
    breaks = rng.random() < 0.4
    shoes = (f"g{who.index}a", f"g{who.index}b")
    number, week_began, clean, plan_end = 1, who.plan_start, True, None
    out = Diary()
    day = first
    while day <= last:
        if plan_end is None and (day - week_began).days == 7:
            week_began = day
            number += 1 if clean or not who.gated else 0
            clean = True
            plan_end = day if number > len(plan.weeks) else None
        weekday = day.weekday()
        in_plan = who.plan_start <= day and plan_end is None
        writer.over = False
        made: Activity | None = None
        if day < injury:  # easy runs on Tuesday and Thursday (and Saturday), long on Sunday
            if weekday in (1, 3) or (weekday == 5 and rng.random() < 0.5):
                made = writer.continuous(day, base * rng.uniform(0.92, 1.08), shoes[0], breaks)
            elif weekday == 6:
                made = writer.continuous(day, base * rng.uniform(1.3, 1.4), shoes[0], breaks)
        elif day < who.plan_start:
            if weekday in (0, 3, 5):
                out.activities.append(writer.walk(day, rng.uniform(20, 40)))
        elif in_plan:
            offset = (day - week_began).days
            if number == 1:
                if offset != 3:
                    out.activities.append(writer.walk(day, 15 * rng.uniform(0.9, 1.1)))
            elif offset in (0, 2, 4) or (offset == 1 and rng.random() < 0.03):
                made = writer.run_walk(day, number, shoes[1])
                writer.over |= offset == 1  # two days running: no rest day
        elif plan_end is not None and (weekday in (1, 3, 6) or (weekday == 5
                                                               and rng.random() < 0.4)):
            weeks_after = (day - plan_end).days // 7
            made = writer.continuous(day, min(30 + 2 * weeks_after, 45) * rng.uniform(0.9, 1.05),
                                     shoes[1], breaks)
        if made is not None:
            out.activities.append(made)
            clean &= not writer.over
            if rng.random() < (0.5 if in_plan else 0.1):
                at = made.start_utc + timedelta(seconds=made.elapsed_s, hours=rng.choice(
                    (1, 3, 12, 20, 30)))
                local = at.astimezone(writer.zone).replace(tzinfo=None)
                before = pain.score
                score = pain.report()
                clean &= score <= before and score < 4
                out.pain.append((at, local, score))
        day += timedelta(days=1)
    return out


# -- filling the database ---------------------------------------------------------------------


_ACTIVITY_COLUMNS = (
    "id", "athlete_id", "source", "source_id", "sport", "sport_type", "start_utc",
    "local_start", "timezone", "elapsed_s", "moving_s", "distance_m", "run_s", "walk_s",
    "gear_id", "name", "manual", "deleted", "external_id", "canonical_id", "extra", "raw",
    "created_at", "updated_at")


class Filler:
    """Writes athletes and their histories with COPY, numbering rows itself."""

    def __init__(self, store: Store, years: int) -> None:
        self.store = store
        self.first = END - timedelta(days=365 * years - 1)
        self.plan = load_plan(HIP_PLAN)
        self.counts = {"activities": 0, "segments": 0, "pain_reports": 0}

    def add(self, members: list[Member], batch: int = 100) -> float:
        """Store ``members`` with their histories, in one transaction; seconds taken."""
        began = time.perf_counter()
        connection = self.store.engine.raw_connection()
        try:
            psycopg = connection.driver_connection
            assert psycopg is not None
            with psycopg.cursor() as cursor:
                for start in range(0, len(members), batch):  # bounded memory
                    ids = {table: cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table}")
                           .fetchone()[0] for table in ("athletes", *self.counts)}
                    self._copy(cursor, members[start:start + batch], ids)
                for table in ids:
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"(SELECT coalesce(max(id), 1) FROM {table}))")
            psycopg.commit()
        finally:
            connection.close()
        return time.perf_counter() - began

    def _copy(self, cursor: Any, members: list[Member], ids: dict[str, int]) -> None:
        created = datetime.combine(self.first, datetime.min.time(), tzinfo=UTC)
        athlete_ids = {who.index: ids["athletes"] + n for n, who in enumerate(members, 1)}
        with cursor.copy("COPY athletes (id, name, timezone, created_at, origin) "
                         "FROM STDIN") as copy:
            for who in members:
                copy.write_row((athlete_ids[who.index], who.name, who.timezone, created,
                                "config"))
        activity_id, segment_id, pain_id = (ids["activities"], ids["segments"],
                                            ids["pain_reports"])
        # psycopg allows one COPY at a time per connection: activities first (their segments
        # and pain kept for the next statements).
        segments: list[tuple[Any, ...]] = []
        pain: list[tuple[Any, ...]] = []
        with cursor.copy(f"COPY activities ({', '.join(_ACTIVITY_COLUMNS)}) FROM STDIN"
                         ) as copy:
            for who in members:
                athlete_id = athlete_ids[who.index]
                made = diary(who, self.first, END, self.plan)
                for activity in made.activities:
                    activity_id += 1
                    copy.write_row(_activity_row(activity_id, athlete_id, activity, created))
                    for seq, s in enumerate(activity.segments):
                        segment_id += 1
                        segments.append((segment_id, activity_id, seq, s.kind, s.offset_s,
                                         s.duration_s, s.distance_m))
                for at, local, score in made.pain:
                    pain_id += 1
                    pain.append((pain_id, athlete_id, at, local, score, at))
                self.counts["activities"] += len(made.activities)
        with cursor.copy("COPY segments (id, activity_id, seq, kind, offset_s, duration_s, "
                         "distance_m) FROM STDIN") as copy:
            for row in segments:
                copy.write_row(row)
        with cursor.copy("COPY pain_reports (id, athlete_id, at_utc, local_at, score, "
                         "created_at) FROM STDIN") as copy:
            for row in pain:
                copy.write_row(row)
        self.counts["segments"] += len(segments)
        self.counts["pain_reports"] += len(pain)
        self._gear_and_state(cursor, members, athlete_ids)

    def _gear_and_state(self, cursor: Any, members: list[Member],
                        athlete_ids: dict[int, int]) -> None:
        """Two pairs of shoes each, and a Strava sync state (synced in the last half hour)."""
        with cursor.copy("COPY gear (athlete_id, source, gear_id, name, distance_m, retired, "
                         "updated_at) FROM STDIN") as copy:
            for who in members:
                for suffix, name in (("a", "Old trainers"), ("b", "New trainers")):
                    copy.write_row((athlete_ids[who.index], "strava", f"g{who.index}{suffix}",
                                    name, 0.0, suffix == "a", NOW))
        with cursor.copy("COPY sync_state (athlete_id, source, last_success_at, error_count, "
                         "details, updated_at) FROM STDIN") as copy:
            for who in members:
                synced = NOW - timedelta(minutes=random.Random(who.index).randrange(30))
                copy.write_row((athlete_ids[who.index], "strava", synced, 0, "{}", synced))


def _activity_row(row_id: int, athlete_id: int, activity: Activity,
                  created: datetime) -> tuple[Any, ...]:
    """The ``activities`` row of ``activity``, as ``upsert_activities`` would write it."""
    return (row_id, athlete_id, activity.source, activity.source_id, activity.sport,
            activity.sport_type, activity.start_utc, activity.local_start, activity.timezone,
            activity.elapsed_s, activity.moving_s, activity.distance_m, activity.run_s,
            activity.walk_s, activity.gear_id, activity.name, False, False, None, None, "{}",
            json.dumps(activity.raw), created, created)


# -- the clinic -------------------------------------------------------------------------------


def open_clinic(folder: Path, url: str, members: list[Member], token: str,
                clock: Clock) -> Clinic:
    """The clinic of ``members`` on ``url``: Strava as their source, the clinic's webhook as
    their alerts' channel, the API behind a bearer token."""
    gated = folder / "hip-gated.toml"
    gated.write_text(HIP_PLAN.read_text().replace('progression = "calendar"',
                                                  'progression = "gated"'))
    athletes = "".join(
        f'[[athletes]]\nname = "{m.name}"\ntimezone = "{m.timezone}"\n'
        f'plan = "{gated if m.gated else "hip-return-run-walk"}"\n'
        f"plan_start = {m.plan_start.isoformat()}\n" for m in members)
    config = folder / "syncd.toml"
    config.write_text(
        f'[database]\nurl = "{url}"\n[server]\ntoken = "{token}"\n'
        '[webhook]\nurl = "http://127.0.0.1:9/syncd"\n'
        f'secret = "whsec_{secrets.token_hex(16)}"\n'
        '[strava]\nclient_id = "4242"\nclient_secret = "bench-client-secret"\n' + athletes,
        encoding="utf-8")
    return Clinic(load_settings(config, env={"STATE_DIRECTORY": str(folder / "state")}),
                  clock=clock)


def evaluate_everyone(config: Path, names: list[str], workers: int) -> tuple[float, int]:
    """``App.evaluate_all()`` for each athlete of ``names`` (what ``syncd reevaluate --all``
    does), ``workers`` processes at a time; (seconds, alerts raised)."""
    chunks = [chunk for chunk in (names[n::workers] for n in range(workers)) if chunk]
    began = time.perf_counter()
    with ProcessPoolExecutor(len(chunks), mp_context=get_context("spawn")) as pool:
        raised = sum(pool.map(evaluate_all, [str(config)] * len(chunks), chunks))
    return time.perf_counter() - began, raised


def evaluate_all(config: str, names: list[str]) -> int:
    """In a worker process: evaluate the whole history of athletes ``names`` of the clinic
    configured in ``config``; the alerts raised."""
    configure_logging("warning", "json", stream=open(os.devnull, "w"))  # noqa: SIM115
    path = Path(config)
    clinic = Clinic(load_settings(path, env={"STATE_DIRECTORY": str(path.parent / "state")}),
                    clock=lambda: NOW)
    try:
        apps = {app.athlete.name: app for app in clinic.apps()}
        return sum(len(apps[name].evaluate_all().raised) for name in names)
    finally:
        clinic.close()


def analyze(store: Store) -> None:
    """Fresh planner statistics, as autovacuum keeps them on a growing database."""
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))


class NewRuns:
    """Each athlete's next session, every other day after the history ends."""

    def __init__(self) -> None:
        self.plan = load_plan(HIP_PLAN)
        self.days: dict[int, date] = {}

    def next(self, who: Member) -> Activity:
        """The athlete's next session: the plan's (a week-1 walker jumps ahead to running, as
        patients do), or a continuous run after the plan."""
        day = self.days.get(who.index, END + timedelta(days=1))
        self.days[who.index] = day + timedelta(days=2)
        rng = random.Random(f"new:{who.index}:{day}")
        writer = Writer(who, rng, self.plan, first_id=5_000_000 + (day - END).days)
        number = (day - who.plan_start).days // 7 + 1
        if number <= len(self.plan.weeks):
            return writer.run_walk(day, max(2, number), f"g{who.index}b")
        return writer.continuous(day, rng.uniform(30, 45), f"g{who.index}b")


@dataclass
class Site:
    """One size of clinic in its own database, and what was measured on it."""

    members: list[Member]
    clinic: Clinic
    clock: Clock
    token: str
    runs: NewRuns = field(default_factory=NewRuns)
    ingest_ms: list[float] = field(default_factory=list)
    ingest_cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time
    raised: int = 0
    overview_ms: list[float] = field(default_factory=list)  # the first call first
    page_ms: list[float] = field(default_factory=list)

    @property
    def size(self) -> int:
        """The number of athletes."""
        return len(self.members)

    def ingest(self, who: Member, timed: bool = True) -> None:
        """Store and evaluate ``who``'s next session with ``App.ingest``, as a sync pass does
        (the clock a quarter of an hour after the session ended)."""
        app = self.clinic.app(who.name)
        _ = app.athlete_id  # looked up on the App's first use: a running service's are warm
        activity = self.runs.next(who)
        self.clock.now = activity.start_utc + timedelta(seconds=activity.elapsed_s, minutes=15)
        began, cpu = time.perf_counter(), time.process_time()
        done = app.ingest([activity])
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        assert done.upsert.inserted == 1 and done.evaluation is not None, done
        if timed:
            self.ingest_ms.append(elapsed * 1000)
            self.ingest_cpu_ms.append(cpu * 1000)
            self.raised += len(done.evaluation.raised)

    def overview(self) -> None:
        """Time ``overview(clinic, now)`` once."""
        from syncd.web.overview import overview

        began = time.perf_counter()
        rows = overview(self.clinic, NOW)
        self.overview_ms.append((time.perf_counter() - began) * 1000)
        assert len(rows) == self.size

    def page(self) -> None:
        """Time ``GET /`` with the token once, on a fresh ASGI app (so nothing is cached), the
        clinic's clock at :data:`NOW` as for the overview."""
        from syncd.web import create_app

        self.clock.now = NOW

        async def get() -> None:
            web = create_app(self.clinic.apps()[0])
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web),
                                         base_url="http://127.0.0.1") as client:
                began = time.perf_counter()
                answer = await client.get("/", headers={"Authorization": f"Bearer {self.token}"})
                self.page_ms.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, answer.status_code
            assert answer.text.count("data-athlete=") == self.size

        asyncio.run(get())

    def figures(self) -> dict[str, Any]:
        """The measured figures, in ms."""
        ordered = sorted(self.ingest_ms)
        return {"ingest_median_ms": round(statistics.median(ordered), 1),
                "ingest_p95_ms": round(ordered[-(-95 * len(ordered) // 100) - 1], 1),
                "ingest_cpu_median_ms": round(statistics.median(self.ingest_cpu_ms), 1),
                "ingest_alerts_raised": self.raised,
                "overview_first_ms": round(self.overview_ms[0], 1),
                "overview_median_ms": round(statistics.median(self.overview_ms[1:]), 1),
                "page_median_ms": round(statistics.median(self.page_ms), 1)}


def measure(sites: list[Site], sample: int, rng: random.Random, repeat: int = 5) -> None:
    """Time new activities, the overview and the page on every site in turn, round after
    round (each round in another order), so that a busy moment of the machine weighs on
    every size alike."""
    picked: dict[int, list[Member]] = {}
    for site in sites:
        site.clinic.apps()  # the Apps of a running service exist already
        chosen: list[Member] = []
        while len(chosen) < sample + 3:
            chosen += rng.sample(site.members, min(site.size, sample + 3 - len(chosen)))
        picked[site.size] = chosen
        for who in chosen[:3]:  # statements are compiled once per process: untimed
            site.ingest(who, timed=False)
        site.overview()  # the first call, kept apart
    for turn in range(max(sample, repeat)):
        for site in sites[turn % len(sites):] + sites[:turn % len(sites)]:
            if turn < sample:
                site.ingest(picked[site.size][3 + turn])
            if turn < repeat:
                site.overview()
                site.page()


# -- Strava's requests, webhooks against polling ----------------------------------------------


STRAVA_DAY = datetime(2026, 11, 3, tzinfo=UTC)  # a Tuesday, UTC midnight
TICK = timedelta(seconds=45)
SUBSCRIPTION_ID = 7001


def strava_day(folder: Path, athletes: int, *, webhooks: bool) -> dict[str, Any]:
    """One simulated UTC day of ``athletes`` with one new activity each, against the fake
    Strava; the requests it received that day, and the planner's capacity at Strava's real
    limits for the mode."""
    from syncd.sources.strava.coordinator import StravaCoordinator
    from syncd.sources.strava.polls import capacity
    from syncd.store import DbCredentialStore
    from syncd.store.tables import ActivityRow
    from tests.strava.fake_strava import CLIENT_ID, CLIENT_SECRET, FakeStrava, Limits
    from tests.strava.strava_support import RUN_WALK, STEADY, publish

    clock = Clock(STRAVA_DAY - timedelta(hours=1))  # connected just before the day
    fake = FakeStrava(clock=clock, limits=Limits(overall=(2000, 20000), read=(1000, 10000)))
    fake.start()
    members = "".join(f'[[athletes]]\nname = "patient-{i:03d}"\ntimezone = "Europe/Berlin"\n'
                      "plan_start = 2026-10-26\n" for i in range(athletes))
    verify = 'webhook_verify_token = "verify-7f3a"\n' if webhooks else ""
    config = folder / "syncd.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{folder / "syncd.db"}"\n'
                      f'[strava]\nclient_id = "{CLIENT_ID}"\nclient_secret = "{CLIENT_SECRET}"\n'
                      f'api_url = "{fake.url}"\n{verify}{members}', encoding="utf-8")
    clinic = Clinic(load_settings(config, env={"STATE_DIRECTORY": str(folder / "state")}),
                    clock=clock)
    owners: dict[str, int] = {}
    for i, app in enumerate(clinic.apps()):
        owners[app.athlete.name] = 600_000 + i
        fake.add_athlete(owners[app.athlete.name], firstname=app.athlete.name)
        tokens = DbCredentialStore(clinic.store, app.athlete_id, prefix="strava.")
        tokens.save("tokens", fake.issue_tokens(athlete_id=owners[app.athlete.name],
                                                expires_in=timedelta(days=3)))
        if webhooks and i == 0:
            tokens.save("subscription", {"id": SUBSCRIPTION_ID, "callback_url": "bench"})
    if webhooks:
        fake.subscriptions[SUBSCRIPTION_ID] = {"id": SUBSCRIPTION_ID}
    rng = random.Random(athletes)
    uploads = sorted((STRAVA_DAY + timedelta(hours=6, seconds=rng.randrange(14 * 3600)), name,
                      9_000_000 + n) for n, name in enumerate(sorted(owners)))
    coordinator = StravaCoordinator(clinic, limits=(1000, 10000))
    server = None
    try:
        callback, server = serve_callback(clinic) if webhooks else (None, None)
        while clock.now < STRAVA_DAY + timedelta(days=1):
            while uploads and uploads[0][0] <= clock.now:
                at, name, activity_id = uploads.pop(0)
                bouts = {"stream": STEADY} if activity_id % 10 == 0 else {"laps": RUN_WALK}
                publish(fake, activity_id, at - timedelta(minutes=40), athlete_id=owners[name],
                        **bouts)
                if callback is not None:
                    fake.post_event(callback, activity_id).raise_for_status()
            coordinator.tick(clock.now)
            clock.now += TICK
        with clinic.store.read() as tx:
            stored = tx.query(ActivityRow).count()
        settings = coordinator.settings(clock.now, athletes)
        interval = timedelta(seconds=coordinator.quota_status(clock.now)["poll_interval_s"])
    finally:
        if server is not None:
            server.should_exit = True
        fake.stop()
        clinic.close()
    day = [s for s in fake.served if STRAVA_DAY <= s.at < STRAVA_DAY + timedelta(days=1)]
    assert stored == athletes, f"{stored} of {athletes} activities stored"
    assert not fake.answered_429()
    served = capacity(athletes, 1000, settings)
    return {"requests_per_athlete_day": len(day) / athletes, "stored": stored,
            "poll_interval_min": interval.total_seconds() / 60,
            "servable": served.servable, "servable_at_most": served.servable_at_most}


def serve_callback(clinic: Clinic) -> tuple[str, Any]:
    """syncd's HTTP API on loopback (uvicorn in a thread), where Strava posts its events;
    they wait in the athletes' inboxes for the coordinator."""
    import uvicorn

    from syncd.sources.strava.callback import CALLBACK_PATH
    from syncd.web import create_app

    web = create_app(clinic.apps()[0])
    web.state.on_strava_event = lambda app, event: None
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return f"http://127.0.0.1:{port}{CALLBACK_PATH}", server


# -- the run ----------------------------------------------------------------------------------


@contextmanager
def bench_database(admin_url: str, keep: bool = False) -> Iterator[str]:
    """A new database ``syncd_bench_<random>`` on the server of ``admin_url``, dropped after
    unless ``keep``."""
    name = f"syncd_bench_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def loadavg() -> str:
    """The load averages (1, 5, 15 min) from /proc/loadavg."""
    with open("/proc/loadavg", encoding="ascii") as source:
        return " / ".join(source.read().split()[:3])


def build_site(stack: ExitStack, args: argparse.Namespace, size: int, years: int,
               folder: Path, emit: Callable[[str], None]) -> tuple[Site, dict[str, Any]]:
    """A database of ``size`` athletes with their histories and alerts; the site and how
    filling it went."""
    url = stack.enter_context(bench_database(args.url, args.keep))
    store = Store.open(url)
    stack.callback(store.close)
    members = [member(i) for i in range(size)]
    filler = Filler(store, years)
    fill_s = filler.add(members)
    clock = Clock(NOW)
    token = secrets.token_urlsafe(24)
    clinic = open_clinic(folder, url, members, token, clock)
    stack.callback(clinic.close)
    evaluate_s, alerts = evaluate_everyone(folder / "syncd.toml", [m.name for m in members],
                                           args.workers)
    analyze(store)
    filled = {"athletes": size, **filler.counts, "copy_s": round(fill_s, 1),
              "evaluate_all_s": round(evaluate_s, 1), "alerts": alerts}
    emit(f"  {size:5d} athletes: {filler.counts['activities']:,} activities, "
         f"{filler.counts['segments']:,} segments, {filler.counts['pain_reports']:,} pain "
         f"reports (COPY {fill_s:.1f} s); evaluate_all {evaluate_s:.1f} s, {alerts:,} alerts; "
         f"load {loadavg()}" + (f"; kept {display_url(url)}" if args.keep else ""))
    return Site(members, clinic, clock, token), filled


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--short", action="store_true",
                        help="10, 100 and 300 athletes with one year each (default: 10, 100 "
                             "and 1,000 with two years)")
    parser.add_argument("--sample", type=int, default=20,
                        help="new activities timed at each size (default 20)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the databases (their URLs are printed) instead of dropping "
                             "them")
    parser.add_argument("--workers", type=int, default=4,
                        help="processes re-evaluating the histories while filling (default 4)")
    parser.add_argument("--sizes", help="athlete counts to measure at, e.g. 10,50 (instead of "
                        "the mode's)")
    parser.add_argument("--years", type=int, help="years of history (instead of the mode's)")
    parser.add_argument("--strava-athletes", type=int, default=20,
                        help="athletes of the simulated Strava day (default 20)")
    parser.add_argument("--url", default=ADMIN_URL,
                        help="a database on the PostgreSQL server to use; the benchmark creates "
                             "its own databases there and drops them at the end")
    args = parser.parse_args(argv)
    sizes: tuple[int, ...] = (10, 100, 300) if args.short else (10, 100, 1000)
    years = 1 if args.short else 2
    if args.sizes:
        sizes = tuple(int(n) for n in args.sizes.split(","))
    years = args.years or years
    sink = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    configure_logging("warning", "json", stream=sink)

    def emit(line: str) -> None:
        print(line, flush=True)

    emit(f"{'short' if args.short else 'full'} mode: {', '.join(map(str, sizes))} athletes, "
         f"{years} year{'s' if years > 1 else ''} of history each, on PostgreSQL "
         f"({os.cpu_count()} CPUs, load average {loadavg()})")
    began = time.perf_counter()
    emit("filling one database per size:")
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        sites, filled = [], []
        for size in sizes:
            (Path(folder) / str(size)).mkdir()
            site, fill = build_site(stack, args, size, years, Path(folder) / str(size), emit)
            sites.append(site)
            filled.append(fill)
        measure(sites, args.sample, random.Random(9))
        results = [{**fill, **site.figures()} for fill, site in zip(filled, sites, strict=True)]
    strava: dict[str, Any] = {}
    for mode, webhooks in (("webhooks", True), ("polling", False)):
        with tempfile.TemporaryDirectory() as folder:
            strava[mode] = strava_day(Path(folder), args.strava_athletes, webhooks=webhooks)
    report(results, strava, args, emit)
    emit(f"took {time.perf_counter() - began:.0f} s; load average after: {loadavg()}")
    emit("figures: " + json.dumps({"mode": "short" if args.short else "full", "years": years,
                                   "sizes": results, "strava": strava}))
    return 0


def report(results: list[dict[str, Any]], strava: dict[str, Any], args: argparse.Namespace,
           emit: Callable[[str], None]) -> None:
    """The table of figures, with the goals where there are some."""
    emit(f"one new activity (App.ingest: upsert, re-evaluation, outbox, commit), "
         f"{args.sample} at each size, the sizes taking turns:")
    for r in results:
        emit(f"  {r['athletes']:5d} athletes: p95 {r['ingest_p95_ms']:6.1f} ms, CPU "
             f"{r['ingest_cpu_median_ms']:5.1f} ms, median {r['ingest_median_ms']:6.1f} ms "
             f"(goal < {GOAL_MS:.0f} ms)")
    first, last = results[0], results[-1]
    ratio = last["ingest_median_ms"] / first["ingest_median_ms"]
    emit(f"  median at {last['athletes']} athletes against {first['athletes']}: "
         f"{ratio:.2f}x (goal: within 1.5x)")
    emit("the therapist's overview (overview(clinic, now); GET / with the token):")
    for r in results:
        emit(f"  {r['athletes']:5d} athletes: first call {r['overview_first_ms']:7.1f} ms, "
             f"GET / {r['page_median_ms']:7.1f} ms, "
             f"overview {r['overview_median_ms']:7.1f} ms (goal < 1000 ms)")
    hooks, polls = strava["webhooks"], strava["polling"]
    emit(f"Strava requests per athlete per day ({args.strava_athletes} athletes, one new "
         "activity each, measured against the fake):")
    emit(f"  webhooks, reconciled every {hooks['poll_interval_min']:.0f} min: "
         f"{hooks['requests_per_athlete_day']:5.1f}; 1,000 reads a day serve "
         f"{hooks['servable']} athletes at this interval, {hooks['servable_at_most']} at most")
    emit(f"  polling every {polls['poll_interval_min']:.0f} min:       "
         f"{polls['requests_per_athlete_day']:5.1f}; 1,000 reads a day serve "
         f"{polls['servable']} athletes at this interval, {polls['servable_at_most']} at most "
         "(the interval stretches)")
    ratio = polls["requests_per_athlete_day"] / hooks["requests_per_athlete_day"]
    emit(f"  polling / webhooks: {ratio:.1f}x the requests")


if __name__ == "__main__":
    sys.exit(main())
