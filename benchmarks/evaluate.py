"""How fast the rules evaluate a long history, in full and incrementally after one new run.

    .venv/bin/python benchmarks/evaluate.py [--repeat 5] [--progression calendar|gated]

A generated history (seeded, so every run is the same): the shipped hip plan's 14 weeks run
as prescribed, then a run on about 24 of every 25 days for the rest of ten years (about
3,400 runs, some with a run/walk split, some without a distance), a pain report after about
one run in three, and three pairs of shoes. The evaluator is pure, so no database
is involved: this measures the rules alone.

It prints, for the ten-year history:

- the full evaluation (every week, the whole history loaded), the work of ``syncd
  reevaluate --all`` minus the database;
- the incremental evaluation after one new run at the end: the window that run affects
  (from the run before it to the run's day) with only the history that window needs
  (``history_start(window)`` to a week after the window, as the store loads it);
- their ratio; then, for calendar and for gated progression, the full and incremental times
  at 1, 5 and 10 years of history side by side, with their ratio.

In gated progression the incremental evaluation starts from where the plan stood at the
window's first week, as the store remembers it (``plan_positions``; taken here from the full
evaluation's positions, outside the timing), so it reads the same short history as in
calendar progression; the column "replayed" times the same window walked from the plan start
instead (the history since then loaded), as syncd did before it remembered.

Goals: full under 2 s, incremental under 5 % of full and flat with history length. Times
are wall-clock seconds, the best of ``--repeat`` runs, and include building the ``History``
(sorting, indexing) since the caller pays for that too.
"""

from __future__ import annotations

import argparse
import bisect
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from syncd.models import Finding, Gear, PainReport, Session
from syncd.plan import PlanWeek, load_plan, week_start
from syncd.rules import LOOKBACK, Athlete, History, Window, evaluate, history_start
from syncd.rules.evaluator import evaluate_window
from syncd.rules.progression import Position

REPO = Path(__file__).resolve().parents[1]
PLAN = REPO / "config" / "plans" / "hip-return-run-walk.toml"
ZONE = "Europe/Berlin"
FIRST_DAY = date(2016, 1, 4)  # a Monday, ten years before the end of 2025


@dataclass(frozen=True)
class Runner:
    """A generated history: runs and pain reports sorted by time, and the shoes."""

    sessions: list[Session]
    pain: list[PainReport]
    gear: tuple[Gear, ...]


def generate(years: int, seed: int = 2016) -> Runner:
    """``years`` of running from :data:`FIRST_DAY`: the plan's weeks as prescribed (Monday,
    Wednesday and Friday), then a run on about 24 days in 25, with pain reports."""
    rng = random.Random(seed)
    zone = ZoneInfo(ZONE)
    plan = load_plan(PLAN)
    sessions: list[Session] = []
    pain: list[PainReport] = []
    for offset in range(years * 365):
        day = FIRST_DAY + timedelta(days=offset)
        local = datetime(day.year, day.month, day.day, rng.choice((6, 7, 12, 18)),
                         rng.choice((0, 15, 30, 45)))
        week = plan.week(offset // 7 + 1)
        if week is not None:
            if not week.walk_only and day.weekday() in (0, 2, 4):
                sessions.append(_prescribed(week, f"bench:{offset}", local, zone))
            continue
        if rng.random() < 0.04:
            continue  # about one rest day in 25
        session = _session(rng, f"bench:{offset}", local, zone)
        sessions.append(session)
        if rng.random() < 0.33:
            at = session.end_utc + timedelta(hours=rng.choice((1, 3, 20, 50)))
            pain.append(PainReport(id=f"pain:{offset}", at_utc=at, score=rng.choice(
                (0, 0, 1, 1, 2, 3, 4)), local_at=at.astimezone(zone).replace(tzinfo=None)))
    pain.sort(key=lambda p: p.at_utc)
    gear = (Gear("old", distance_m=900_000.0), Gear("worn", distance_m=500_000.0),
            Gear("new", distance_m=50_000.0))
    return Runner(sessions, pain, gear)


def _prescribed(week: PlanWeek, key: str, local: datetime, zone: ZoneInfo) -> Session:
    """A run/walk session exactly as plan week ``week`` prescribes it."""
    return Session(key=key, start_utc=local.replace(tzinfo=zone).astimezone(UTC),
                   local_start=local, duration_s=week.session_min * 60,
                   run_s=week.run_min * 60, longest_run_s=week.run_interval_s or 0.0,
                   distance_m=week.session_min * 120)


def _session(rng: random.Random, key: str, local: datetime, zone: ZoneInfo) -> Session:
    """One run starting at the naive local time ``local``."""
    duration_s = 60.0 * rng.choice((17, 20, 25, 30, 35, 40, 45, 60, 75, 90))
    split = rng.random() < 0.5
    run_s = duration_s * (rng.choice((0.5, 0.7, 0.9)) if split else 1.0)
    distance = None if rng.random() < 0.1 else duration_s / 60 * rng.uniform(150, 200)
    return Session(key=key, start_utc=local.replace(tzinfo=zone).astimezone(UTC),
                   local_start=local, duration_s=duration_s, run_s=run_s,
                   longest_run_s=run_s / (4 if split else 1), distance_m=distance,
                   gear_id=rng.choice(("old", "worn", "new")))


def full(athlete: Athlete, runner: Runner, today: date) -> list[Finding]:
    """Every week of the history, with all of it loaded."""
    history = History(runner.sessions, runner.pain, runner.gear,
                      first_session_date=runner.sessions[0].local_date)
    window = Window(runner.sessions[0].local_date, today)
    return evaluate(athlete, history, window, today)


def affected_window(runner: Runner, new: Session, today: date) -> Window:
    """The days a new run can change: from the run before it to its day (it is the latest,
    so nothing after it exists yet); the store widens it the same way."""
    previous = runner.sessions[-1].local_date if runner.sessions else new.local_date
    return Window(min(previous, new.local_date), max(new.local_date,
                                                     min(new.local_date + LOOKBACK, today)))


def stored_anchor(athlete: Athlete, runner: Runner, window: Window,
                  today: date) -> Position | None:
    """Where the plan stood at the window's first week, as the store hands it to the
    evaluation (the full evaluation's position of the latest week begun at or before it)."""
    history = History(runner.sessions, runner.pain, runner.gear,
                      first_session_date=runner.sessions[0].local_date)
    walked = evaluate_window(athlete, history, Window(runner.sessions[0].local_date, today),
                             today).positions
    first = min(week_start(window.first, athlete.plan_start),
                week_start(today, athlete.plan_start))
    kept = [p for p in walked if p.number is not None and p.start <= first]
    return kept[-1] if kept else None


def incremental(athlete: Athlete, runner: Runner, new: Session, today: date,
                anchor: Position | None = None) -> Callable[[], list[Finding]]:
    """The evaluation after ``new`` arrives, over the history its window needs (from
    ``anchor`` in gated progression; from the plan start without one).

    The slicing stands in for the store's indexed range query and is done once, outside the
    timing; building the History and evaluating are timed.
    """
    window = affected_window(runner, new, today)
    first = history_start(athlete, window, anchor)
    sessions = [*_between(runner.sessions, first, window.last + timedelta(days=7)), new]
    start = datetime.combine(first - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    times = [p.at_utc for p in runner.pain]
    pain = runner.pain[bisect.bisect_left(times, start):]
    first_ever = runner.sessions[0].local_date

    def run() -> list[Finding]:
        history = History(sessions, pain, runner.gear, first_session_date=first_ever)
        return evaluate(athlete, history, window, today, anchor)

    return run


def _between(sessions: Sequence[Session], first: date, last: date) -> list[Session]:
    """The sessions on local days ``first``..``last`` (the list is sorted by start)."""
    days = [s.local_date for s in sessions]
    return list(sessions[bisect.bisect_left(days, first):bisect.bisect_right(days, last)])


def best_of(repeat: int, work: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs of ``work``, in seconds."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def scenario(years: int, progression: str) -> tuple[Athlete, Runner, Session, date]:
    """The athlete, ``years`` of history, the next run and the day it arrives."""
    plan = load_plan(PLAN)
    if progression != plan.limits.progression:
        plan = replace(plan, limits=replace(plan.limits, progression=progression))
    athlete = Athlete("bench", ZONE, plan, FIRST_DAY)
    runner = generate(years)
    day = runner.sessions[-1].local_date + timedelta(days=1)
    new = _session(random.Random(years), "bench:new",
                   datetime(day.year, day.month, day.day, 7, 0), ZoneInfo(ZONE))
    return athlete, runner, new, day


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5, help="runs of each timing (best)")
    parser.add_argument("--progression", choices=("calendar", "gated"), default="calendar")
    args = parser.parse_args(argv)

    athlete, runner, new, today = scenario(10, args.progression)
    with_new = Runner([*runner.sessions, new], runner.pain, runner.gear)
    findings = full(athlete, with_new, today)
    full_s = best_of(args.repeat, lambda: full(athlete, with_new, today))
    window = affected_window(runner, new, today)
    step = incremental(athlete, runner, new, today, stored_anchor(athlete, runner, window, today))
    incremental_s = best_of(args.repeat * 20, step)
    print(f"history: {len(with_new.sessions)} runs, {len(runner.pain)} pain reports over 10 "
          f"years, {args.progression} progression; {len(findings)} findings in full")
    print(f"full evaluation:        {full_s * 1000:8.1f} ms   (goal < 2000 ms)")
    print(f"incremental, one run:   {incremental_s * 1000:8.3f} ms   "
          f"({len(step())} findings in its window)")
    print(f"incremental / full:     {incremental_s / full_s:8.2%}   (goal < 5 %)")
    print("by history length (ms; incremental after one new run; goal: flat, < 5 % of full):")
    print("  progression  years  runs    full  incremental  incr/full  replayed")
    for progression in ("calendar", "gated"):
        for years in (1, 5, 10):
            print(by_length(progression, years, args.repeat))
    return 0


def by_length(progression: str, years: int, repeat: int) -> str:
    """One line of the table: full and incremental times at ``years`` of history."""
    athlete, runner, new, today = scenario(years, progression)
    with_new = Runner([*runner.sessions, new], runner.pain, runner.gear)
    full_s = best_of(repeat, lambda: full(athlete, with_new, today))
    anchor = stored_anchor(athlete, runner, affected_window(runner, new, today), today)
    incremental_s = best_of(repeat * 20, incremental(athlete, runner, new, today, anchor))
    replayed = "-"
    if progression == "gated":
        replayed_s = best_of(repeat * 4, incremental(athlete, runner, new, today))
        replayed = f"{replayed_s * 1000:8.2f}"
    return (f"  {progression:11}  {years:5d}  {len(runner.sessions):4d}  "
            f"{full_s * 1000:6.0f}  {incremental_s * 1000:11.3f}  "
            f"{incremental_s / full_s:9.2%}  {replayed}")


if __name__ == "__main__":
    sys.exit(main())
