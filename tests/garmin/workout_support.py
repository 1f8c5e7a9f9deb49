"""Shared bits of the workout-push tests: a five-week plan, an athlete on it with Garmin's
push turned on against the fake, and one Garmin pass as the scheduler runs it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import ConnectorContext
from connectors.garmin import GarminConnector
from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import Activity
from syncd.pipeline.sync import SourceResult, sync_source
from tests.garmin.fake_garmin import FakeGarmin
from tests.garmin.garmin_support import FAST_RETRY
from tests.support.clock import Clock
from tests.support.config import write_config

BERLIN = ZoneInfo("Europe/Berlin")
START = date(2026, 9, 7)  # a Monday: B1 Sep 7, B2 Sep 14, B3 Sep 21, B4 Sep 28, B5 Oct 5
# Five weeks of three run/walk sessions, plan week k: 2k minutes of jogging in 1-minute bouts.
WEEK = "[[weeks]]\nsessions = 3\nrun_min = {run}\nwalk_min = {walk}\nrun_interval_s = 60\n"
PLAN_HEAD = ('name = "Five weeks"\n[limits]\nprogression = "{progression}"\n'
             'regression = "step_back"\nrest_days_between_runs = 1\n')


def plan_text(progression: str = "calendar", runs: tuple[int, ...] = (2, 4, 6, 8, 10)) -> str:
    """The plan's TOML: week k jogs ``runs[k-1]`` minutes of a 17-minute session."""
    return PLAN_HEAD.format(progression=progression) + "".join(
        WEEK.format(run=run, walk=17 - run) for run in runs)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """The UTC instant of a Berlin wall-clock time."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def open_athlete(folder: Path, fake: FakeGarmin, token_dir: Path, clock: Clock, *,
                 plan: str | None = None, plan_start: date = START,
                 athlete: dict[str, Any] | None = None, **garmin: Any) -> App:
    """An athlete in Berlin on the plan (``plan`` text, default :func:`plan_text`) with
    ``[garmin] push_workouts = true`` pointed at ``fake`` (``garmin`` overrides)."""
    path = folder / "plan.toml"
    path.write_text(plan or plan_text(), encoding="utf-8")
    config = write_config(
        folder, athlete={"plan": str(path), "plan_start": plan_start, **(athlete or {})},
        garmin={"api_url": fake.url, "token_store": token_dir, "backoff": "6h",
                "push_workouts": True, **garmin})
    return open_app(load_settings(config, env={"STATE_DIRECTORY": str(folder / "state")}),
                    clock=clock)


def garmin_pass(app: App, clock: Clock) -> SourceResult:
    """One Garmin pass of ``app``'s athlete, as the scheduler runs it (fast retries)."""
    context = ConnectorContext(athlete=app.athlete.name, timezone=app.athlete.timezone,
                               now=clock)
    connector = GarminConnector(app.settings.garmin, context, retry=FAST_RETRY, timeout=5.0)
    return sync_source(app, "garmin", connector=connector)


def run(day: date, key: str, run_min: float = 1) -> Activity:
    """A 17-minute run/walk at 07:00 Berlin with ``run_min`` minutes of running."""
    return Activity(source="file", source_id=key, sport="run", sport_type="running",
                    start_utc=local(day, 7), local_start=datetime(day.year, day.month, day.day, 7),
                    elapsed_s=17 * 60, timezone="Europe/Berlin", distance_m=2000.0,
                    run_s=run_min * 60, walk_s=(17 - run_min) * 60)


def days(*text: str) -> list[date]:
    """Dates from ``"2026-09-14"``-style text."""
    return [date.fromisoformat(t) for t in text]
