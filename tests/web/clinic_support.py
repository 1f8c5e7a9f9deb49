"""A clinic for the HTTP tests: a configuration with several ``[[athletes]]`` on a real database
(SQLite or PostgreSQL), and runs stored through the App as a sync pass stores them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from syncd.app import App
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.models import Activity, Segment
from syncd.store.state import record_sync_error, record_sync_success
from tests.support.config import write_config

from .support import REPO

# Monday 2026-11-02, 02:00 UTC: already Monday in Berlin (03:00) and Tokyo (11:00), still
# Sunday evening in Los Angeles (18:00, the day after the clocks went back).
NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
HIP_PLAN = REPO / "config" / "plans" / "hip-return-run-walk.toml"


@dataclass(frozen=True)
class Member:
    """One ``[[athletes]]`` entry."""

    name: str
    timezone: str = "Europe/Berlin"
    plan_start: date | None = date(2026, 9, 7)
    plan: str = "hip-return-run-walk"


def gated_plan(folder: Path) -> Path:
    """The hip plan with gated progression (a week repeats until it ends clean)."""
    path = folder / "hip-gated.toml"
    path.write_text(HIP_PLAN.read_text().replace('progression = "calendar"',
                                                  'progression = "gated"'))
    return path


def write_clinic_config(folder: Path, db_url: str, members: list[Member],
                        extra: str = "") -> Path:
    """A clinic configuration: the database, every member, then ``extra`` TOML."""
    return write_config(folder, database={"url": db_url}, extra=extra, athletes=[
        {"name": m.name, "timezone": m.timezone, "plan": m.plan, "plan_start": m.plan_start}
        for m in members])


def open_clinic(folder: Path, db_url: str, members: list[Member], extra: str = "",
                now: datetime = NOW) -> Clinic:
    """The clinic of ``members`` on ``db_url``, its clock stopped at ``now``."""
    settings = load_settings(write_clinic_config(folder, db_url, members, extra))
    return Clinic(settings, clock=lambda: now)


def run(app: App, local: str, *, run_min: float, walk_min: float = 0.0,
          bouts: int = 1) -> Activity:
    """A session starting at ``local`` (the athlete's wall clock, ISO format): ``run_min``
    minutes of running in ``bouts`` equal bouts, each followed by its share of the walking."""
    local_start = datetime.fromisoformat(local)
    start = local_start.replace(tzinfo=ZoneInfo(app.athlete.timezone)).astimezone(UTC)
    run_s, walk_s = run_min * 60 / bouts, walk_min * 60 / bouts
    segments: list[Segment] = []
    for bout in range(bouts):
        offset = bout * (run_s + walk_s)
        segments.append(Segment("run", offset, run_s))
        if walk_s:
            segments.append(Segment("walk", offset + run_s, walk_s))
    seconds = (run_min + walk_min) * 60
    return Activity(source="file", source_id=f"{app.athlete.name}-{local}", sport="run",
                    sport_type="Run", start_utc=start, local_start=local_start,
                    elapsed_s=seconds, moving_s=seconds, run_s=run_min * 60,
                    walk_s=walk_min * 60, segments=tuple(segments),
                    timezone=app.athlete.timezone, athlete=app.athlete.name)


TOKEN = "clinic-token-for-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}
SERVER = f'[server]\ntoken = "{TOKEN}"\n'
STRAVA = '[strava]\nclient_id = "4711"\nclient_secret = "not-a-secret"\n'
# The three athletes of the hand-built week (see :func:`three_athletes`).
ANA = Member("ana")
BEN = Member("ben", "America/Los_Angeles")
CHIKA = Member("chika", "Asia/Tokyo", plan_start=date(2026, 11, 3))


def three_athletes(folder: Path, db_url: str, extra: str = "") -> Clinic:
    """A clinic of three athletes around the week boundary of :data:`NOW`:

    - ana (Berlin, plan week 9 since Monday 00:00): ran at 00:30 on Monday, after three
      runs last week, and reported pain 5 at 02:00: one run this week (12 of 36 minutes), a
      critical ``pain_stop`` and a ``rest_day`` warning (Sunday and Monday both ran).
    - ben (Los Angeles, still Sunday: plan week 8): three runs this week as prescribed, the
      last one this (Sunday) morning: 3 of 3, 30 of 30 minutes, no alert.
    - chika (Tokyo, her plan starts tomorrow): ran 20 minutes on Friday and still felt it
      (pain 3) on Sunday: a ``pain_persistent`` warning, no plan week yet.

    Sync states: ana's Strava succeeded at 01:00, ben's has failed twice since 00:30 after
    a success on Sunday 20:00 UTC, chika never synced.
    """
    clinic = open_clinic(folder, db_url, [ANA, BEN, CHIKA], SERVER + STRAVA + extra)
    ana, ben, chika = (clinic.app(m.name) for m in (ANA, BEN, CHIKA))
    last_week = ["2026-10-27T10:00", "2026-10-29T10:00", "2026-11-01T10:00"]
    ana.ingest([run(ana, t, run_min=10, walk_min=7, bouts=2) for t in last_week]
               + [run(ana, "2026-11-02T00:30", run_min=12, walk_min=5, bouts=2)])
    ana.record_pain(5, datetime(2026, 11, 2, 2, 0, tzinfo=ZoneInfo("Europe/Berlin")))
    week_7 = ["2026-10-19T07:00", "2026-10-21T07:00", "2026-10-23T07:00"]
    week_8 = ["2026-10-27T07:00", "2026-10-29T07:00", "2026-11-01T09:00"]
    ben.ingest([run(ben, t, run_min=8, walk_min=9, bouts=2) for t in week_7]
               + [run(ben, t, run_min=10, walk_min=7, bouts=2) for t in week_8])
    chika.ingest([run(chika, "2026-10-30T07:00", run_min=20)])
    chika.record_pain(3, datetime(2026, 11, 1, 20, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    with clinic.store.write() as tx:
        record_sync_success(tx, ana.athlete_id, "strava", datetime(2026, 11, 2, 1, tzinfo=UTC))
        record_sync_success(tx, ben.athlete_id, "strava", datetime(2026, 11, 1, 20, tzinfo=UTC))
        for minute in (30, 45):
            record_sync_error(tx, ben.athlete_id, "strava",
                              datetime(2026, 11, 2, 0, minute, tzinfo=UTC), "Strava answered 503")
    return clinic
