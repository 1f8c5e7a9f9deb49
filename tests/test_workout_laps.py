"""Compliance per step: a session recorded with the workout on the watch has one lap per step,
typed by the step (Garmin's lap ``intensityType``, a FIT lap's ``intensity``). Its running and
walking time and its longest bout then come from the steps, whatever the pace: a slow rehab jog
under the run/walk speed threshold still counts as running, and a session done exactly as
prescribed raises no session finding."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fit_tool.profile.profile_type import Intensity, Sport
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connectors.garmin.normalize import build_activity
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.models import Session
from syncd.pipeline.sync import sync_source
from syncd.plan import Limits, PlanWeek, load_plan
from syncd.rules.session import session_rules
from syncd.workouts import Workout, prescribed_seconds, workout_for
from tests.connectors.fit_builders import Bout, Leg, activity_fit
from tests.garmin.fake_garmin import make_entry, make_laps
from tests.support.config import write_config
from tests.test_workouts import SHIPPED, plan_weeks

THRESHOLD = 1.9  # syncd's default run/walk speed threshold (m/s)
# What a Garmin watch writes in a lap's intensityType for each step type of the workout.
GARMIN_INTENSITY = {"warmup": "WARMUP", "jog": "INTERVAL", "walk": "RECOVERY",
                    "cooldown": "COOLDOWN"}
FIT_INTENSITY = {"warmup": Intensity.WARMUP, "jog": Intensity.ACTIVE,
                 "walk": Intensity.RECOVERY, "cooldown": Intensity.COOLDOWN}


def alternates(workout: Workout) -> bool:
    """True when no two jogs follow each other (a plan with walking between its bouts)."""
    kinds = ["jog" if s.is_run else "walk" for s in workout.flat()]
    return "jog jog" not in " ".join(kinds)


@settings(max_examples=100, deadline=None)
@given(plan_weeks(), st.floats(1.0, 3.5), st.floats(0.8, 1.6))
def test_laps_of_the_workout_give_exactly_the_prescription(
        week: PlanWeek, jog_mps: float, walk_mps: float) -> None:
    """Garmin laps equal to the workout's steps, through the Garmin connector: the session's
    running is the prescribed running, its longest bout the workout's longest jog, and the
    session rules find nothing."""
    workout = workout_for(week)
    assume(workout.run_s > 0 and alternates(workout))
    laps = [(float(s.seconds), s.seconds * (jog_mps if s.is_run else walk_mps),
             GARMIN_INTENSITY[s.kind]) for s in workout.flat()]
    total = float(sum(prescribed_seconds(week)))
    entry = make_entry(4242, datetime(2026, 11, 16, 8, 0), duration=total,
                       distance=sum(lap[1] for lap in laps), laps=len(laps),
                       split_summaries=False)
    entry["movingDuration"] = total  # every step was moving
    activity = build_activity({"activity": entry, "laps": make_laps(entry, laps)},
                              athlete="ana", athlete_zone="Europe/Berlin",
                              run_speed_threshold=THRESHOLD)
    session = Session.from_activity(activity)
    assert session.run_s == workout.run_s == prescribed_seconds(week)[0]
    assert session.longest_run_s == workout.longest_jog_s
    assert activity.walk_s == workout.walk_s
    found = [f.rule for f in session_rules(session, week, Limits())]
    assert found == [], found


def test_a_slow_week_5_recorded_from_a_fit_workout_counts_its_jogs(tmp_path: Path) -> None:
    """Week 5 done on a watch that took the FIT workout: jogs at 1.6 m/s (slower than the
    threshold, so speed alone would call them walking), laps typed by the steps. Read from the
    watched folder, the week shows 4 min of running in one session, and no alert is raised."""
    week5 = load_plan(SHIPPED).weeks[4]
    workout = workout_for(week5)
    bouts = tuple(Bout(s.seconds, s.seconds * (1.6 if s.is_run else 1.2),
                       FIT_INTENSITY[s.kind]) for s in workout.flat())
    start = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)  # Monday of plan week 5
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "week5.fit").write_bytes(activity_fit(start, (Leg(Sport.RUNNING, bouts),)))
    config = write_config(tmp_path, athlete={"plan_start": date(2026, 10, 12)},
                          files={"watch": [inbox]})
    app = open_app(load_settings(config), clock=lambda: start + timedelta(hours=3))
    try:
        assert sync_source(app, "files", force=True).inserted == 1
        [week] = app.weeks(start.date(), start.date())
        alerts = app.alerts()
    finally:
        app.close()
    assert (week.plan_week, week.sessions, week.run_min) == (5, 1, 4)
    assert [a.finding.rule for a in alerts] == []
