"""Weeks are counted in the runner's local days: late-evening runs, far-west time zones and
the nights the clocks change."""

from __future__ import annotations

from datetime import date

from .builders import athlete, evaluate_all, pain, plan, run, summary

# Three plain weeks of three 17-minute sessions with 2 minutes of running (6 min a week).
THREE_WEEKS = plan((3, 2, 15), (3, 2, 15), (3, 2, 15))
LA = "America/Los_Angeles"
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"


def test_late_evening_run_in_los_angeles_belongs_to_its_local_week() -> None:
    """Sunday 23:30 in Los Angeles is Monday in UTC, but it is the last day of plan week 1:
    it counts in week 1's volume, not as a fourth session of week 2 or a run the day before
    Tuesday's."""
    runner = athlete(THREE_WEEKS, "2026-04-06", tz=LA)
    late = run("2026-04-12", "23:30", run_min=3, longest_s=60, tz=LA)
    assert late.start_utc.date().isoformat() == "2026-04-13"
    sessions = [
        run("2026-04-07", run_min=2, tz=LA), run("2026-04-09", run_min=2, tz=LA), late,
        run("2026-04-14", run_min=2, tz=LA), run("2026-04-16", run_min=2, tz=LA),
        run("2026-04-18", run_min=2, tz=LA),
    ]
    assert summary(evaluate_all(runner, sessions)) == [
        ("session_run_time", "warning", "activity:test:2026-04-12T23:30", 3.0, 2.2, "min"),
        ("weekly_increase", "warning", "week:2026-04-06", 7.0, 6.6, "min"),
    ]


def test_berlin_autumn_clock_change_keeps_weeks_on_local_days() -> None:
    """Plan week 2 runs Sunday 2026-10-25 (clocks go back at 03:00) to Saturday 10-31.

    01:30 on the 25th is still Saturday in UTC and 00:30 on November 1st is still October in
    UTC; each belongs to its local week, so week 2 holds exactly 3 + 2 + 2 = 7 min of running.
    """
    runner = athlete(THREE_WEEKS, "2026-10-18", tz=BERLIN)
    night_of_change = run("2026-10-25", "01:30", run_min=3, longest_s=60)
    first_of_november = run("2026-11-01", "00:30", run_min=2)
    assert night_of_change.start_utc.isoformat() == "2026-10-24T23:30:00+00:00"
    assert first_of_november.start_utc.isoformat() == "2026-10-31T23:30:00+00:00"
    sessions = [
        run("2026-10-18", run_min=2), run("2026-10-20", run_min=2), run("2026-10-22", run_min=2),
        night_of_change, run("2026-10-27", run_min=2), run("2026-10-29", run_min=2),
        first_of_november,
    ]
    assert summary(evaluate_all(runner, sessions)) == [
        ("session_run_time", "warning", "activity:test:2026-10-25T01:30", 3.0, 2.2, "min"),
        ("weekly_increase", "warning", "week:2026-10-25", 7.0, 6.6, "min"),
    ]


def test_new_york_fall_back_night_places_the_repeated_hour_on_its_local_day() -> None:
    """The plan starts Sunday 2026-11-01, the night New York's 01:00-02:00 happens twice.

    Saturday 23:30 (already November 1st in UTC) is before the plan; 01:30 in the second,
    standard-time pass is plan week 1. The two runs are on consecutive local days, so the
    later one misses its rest day, and week 1 holds only the 3 minutes of the second run.
    """
    runner = athlete(THREE_WEEKS, "2026-11-01", tz=NEW_YORK)
    saturday = run("2026-10-31", "23:30", tz=NEW_YORK)
    repeated_hour = run("2026-11-01", "01:30", run_min=3, longest_s=60, tz=NEW_YORK, fold=1)
    assert saturday.start_utc.isoformat() == "2026-11-01T03:30:00+00:00"
    assert repeated_hour.start_utc.isoformat() == "2026-11-01T06:30:00+00:00"
    assert summary(evaluate_all(runner, [saturday, repeated_hour])) == [
        ("rest_day", "warning", "activity:test:2026-11-01T01:30", 0.0, 1.0, "days"),
        ("session_run_time", "warning", "activity:test:2026-11-01T01:30", 3.0, 2.2, "min"),
    ]


def test_pain_hours_are_real_hours_across_the_autumn_change() -> None:
    """A run ending Saturday 07:17 CEST and pain on Monday 07:00 CET: the wall clock says
    47 h 43 min, but 48.7 hours have passed (the night was an hour longer)."""
    saturday = run("2026-10-24", "07:00")
    reports = [pain("2026-10-26", "07:00", 2)]
    assert summary(evaluate_all(athlete(), [saturday], reports), "pain_persistent") == [
        ("pain_persistent", "warning", "activity:test:2026-10-24T07:00", 48.7, 48.0, "h")]


def test_pain_hours_are_real_hours_across_the_spring_change() -> None:
    """Berlin springs forward on 2026-03-29: from a run ending Saturday 07:17 CET to Monday
    07:30 CEST is 48 h 13 min on the wall clock but only 47.2 real hours: not yet 48 h."""
    saturday = run("2026-03-28", "07:00")
    reports = [pain("2026-03-30", "07:30", 2)]
    assert summary(evaluate_all(athlete(), [saturday], reports), "pain_persistent") == []


def test_pain_report_without_local_time_on_the_night_of_the_change() -> None:
    """A report known only as 23:30 UTC on Saturday 10-24 is 01:30 Sunday in Berlin: plan
    week 2's, not week 1's."""
    runner = athlete(THREE_WEEKS, "2026-10-18", tz=BERLIN)
    report = pain("2026-10-25", "01:30", 5, report_id="p1", with_local=False)
    (finding,) = evaluate_all(runner, [], [report])
    assert (finding.rule, finding.subject.anchor) == ("pain_stop", date(2026, 10, 25))
