"""The plan on the watch and in a calendar, from ``syncd plan``:

- ``--fit DIR [--week N]`` writes one FIT workout file per plan week (or week N) into DIR,
  ``syncd-week-NN.fit``, for watches and apps that import workout files;
- ``--calendar-url`` prints the address of the athlete's calendar feed
  (``GET /calendar/{key}.ics``) on ``[server] public_url`` or the dashboard's address. Only a
  hash of the key is kept, so every call makes a new key, which replaces the old one (the old
  address stops working); ``--calendar-url --revoke`` ends the feed.

The address goes to standard output only, never to a log.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.errors import ConfigError, SyncdError
from syncd.pipeline.checkins import link_base
from syncd.plan import Plan, PlanWeek
from syncd.store.calendar_keys import new_calendar_key, revoke_calendar_key
from syncd.web.calendar import LINK_PATH
from syncd.workout_fit import fit_workout
from syncd.workouts import clock, summary, workout_for

if TYPE_CHECKING:
    from syncd.app import App


def add_options(plan: argparse.ArgumentParser) -> None:
    """Add the FIT file and calendar feed options to ``syncd plan``."""
    plan.add_argument("--fit", type=Path, default=None, metavar="DIR",
                      help="write FIT workout files (one per plan week) into DIR")
    plan.add_argument("--week", type=int, default=None, metavar="N",
                      help="with --fit: only plan week N")
    plan.add_argument("--calendar-url", action="store_true",
                      help="print the address of the plan's calendar feed (a new key each "
                           "time: it replaces the old address)")
    plan.add_argument("--revoke", action="store_true",
                      help="with --calendar-url: end the calendar feed")


def wanted(args: argparse.Namespace) -> bool:
    """True when ``syncd plan`` was asked for files or the feed rather than the listing."""
    return bool(args.fit is not None or args.calendar_url or args.week is not None
                or args.revoke)


def run(app: App, args: argparse.Namespace) -> int:
    """Write the FIT files, or print (or revoke) the calendar feed's address."""
    if args.week is not None and args.fit is None:
        raise ConfigError(["--week: goes with --fit DIR"])
    if args.revoke and not args.calendar_url:
        raise ConfigError(["--revoke: goes with --calendar-url"])
    if args.fit is not None:
        return write_fit(app, _plan(app), args.fit, args.week)
    return calendar_url(app, revoke=args.revoke)


def _plan(app: App) -> Plan:
    if app.plan is None:
        raise ConfigError(["athlete.plan: no plan configured; name a shipped plan or a file"])
    return app.plan


def write_fit(app: App, plan: Plan, folder: Path, number: int | None) -> int:
    """Write the FIT workout of every plan week (or of week ``number``) into ``folder``."""
    weeks: list[PlanWeek | None] = list(plan.weeks) if number is None else [plan.week(number)]
    if weeks == [None]:
        raise ConfigError([f"--week {number}: the plan has weeks 1 to {len(plan.weeks)}"])
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SyncdError(f"cannot create {folder}: {err.strerror}",
                         hint="name a folder you can write to") from None
    for week in weeks:
        if week is not None:
            path = _write(folder, week, app)
            print(f"week {week.number:>2}: {path} ({summary(workout_for(week))})")
    return 0


def _write(folder: Path, week: PlanWeek, app: App) -> Path:
    """One week's file, written whole or not at all (through a temporary file)."""
    workout = workout_for(week)
    data = fit_workout(workout, fit_name(week), app.clock())
    path = folder / f"syncd-week-{week.number:02d}.fit"
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as err:
        raise SyncdError(f"cannot write {path}: {err.strerror}",
                         hint="name a folder you can write to") from None
    return path


def fit_name(week: PlanWeek) -> str:
    """The workout's name in a FIT file (short: a watch shows few characters)."""
    workout = workout_for(week)
    if workout.run_s == 0:
        return f"syncd W{week.number} walk {clock(workout.walk_s)}"
    return f"syncd W{week.number} {clock(workout.run_s)} jog/{clock(workout.walk_s)} walk"


def calendar_url(app: App, *, revoke: bool) -> int:
    """Print a new feed address (replacing the old one), or end the feed."""
    with app.store.write() as tx:
        if revoke:
            ended = revoke_calendar_key(tx, app.athlete_id)
        else:
            key = new_calendar_key(tx, app.athlete_id, app.clock())
    if revoke:
        print("calendar feed ended" if ended else "no calendar feed to end")
        return 0
    print(f"{link_base(app.settings)}{LINK_PATH}/{key}.ics")
    return 0
