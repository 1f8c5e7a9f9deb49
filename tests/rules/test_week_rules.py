"""Week rules: weekly_increase, sessions_per_week and rest_day, with exact alert numbers."""

from __future__ import annotations

from typing import Any

import pytest

from syncd.models import Session

from .builders import athlete, evaluate_all, plan, run, summary

# Plan week k starts on Monday 2026-03-02 + 7(k-1); maintenance from Monday 2026-03-30.
PLAN = plan(
    (7, 0, 15),  # week 1, Mar 2-8: walking only
    (3, 1.5, 13.5, 30),  # week 2, Mar 9-15: 4.5 min of running prescribed
    (3, 2, 15, 120),  # week 3, Mar 16-22: 6 min prescribed
    (3, 4, 13, 120),  # week 4, Mar 23-29: 12 min prescribed
)
RUNNER = athlete(PLAN, "2026-03-02")
# A plan that runs from its first week, so week 1 has no previous week to grow from.
RUNNING_FROM_WEEK_1 = athlete(plan((3, 2, 15), (3, 2, 15)), "2026-03-02")


def key(day: str, clock: str = "07:00") -> str:
    """The subject key of the session on ``day`` at ``clock``."""
    return f"activity:test:{day}T{clock}"


def jogs(*day_and_run_min: tuple[str, float]) -> list[Session]:
    """17-minute sessions with the given running minutes, split into short bouts."""
    return [run(day, run_min=m, longest_s=30) for day, m in day_and_run_min]


# Week 1 of RUNNING_FROM_WEEK_1 at its limit, 6.6 min: week 2 (6 min prescribed again) grows
# from the larger of the two.
WEEK_1_AT_LIMIT = jogs(("2026-03-03", 2.2), ("2026-03-05", 2.2), ("2026-03-07", 2.2))

WEEKLY_INCREASE: list[tuple[str, Any, list[Session], list[tuple[Any, ...]]]] = [
    ("last week 6.6 min, this week exactly 6.6 min + 10 %", RUNNING_FROM_WEEK_1,
     [*WEEK_1_AT_LIMIT, *jogs(("2026-03-10", 2.42), ("2026-03-12", 2.42), ("2026-03-14", 2.42))],
     []),
    ("last week 6.6 min, this week 7.27 min", RUNNING_FROM_WEEK_1,
     [*WEEK_1_AT_LIMIT, *jogs(("2026-03-10", 2.42), ("2026-03-12", 2.42), ("2026-03-14", 2.43))],
     [("weekly_increase", "warning", "week:2026-03-09", 7.27, 7.26, "min")]),
    ("the week so far: two sessions are already over", RUNNING_FROM_WEEK_1,
     [*WEEK_1_AT_LIMIT, *jogs(("2026-03-10", 4), ("2026-03-12", 4))],
     [("weekly_increase", "warning", "week:2026-03-09", 8.0, 7.26, "min")]),
    ("last week below the prescription: 6 min + 10 % is the base", RUNNER,
     [*jogs(("2026-03-10", 1), ("2026-03-12", 1), ("2026-03-14", 1)),
      *jogs(("2026-03-17", 2.2), ("2026-03-19", 2.2), ("2026-03-21", 2.2))], []),
    ("last week below the prescription, this week 6.7 min", RUNNER,
     [*jogs(("2026-03-10", 1), ("2026-03-12", 1), ("2026-03-14", 1)),
      *jogs(("2026-03-17", 2.2), ("2026-03-19", 2.2), ("2026-03-21", 2.3))],
     [("weekly_increase", "warning", "week:2026-03-16", 6.7, 6.6, "min")]),
    ("week 1 with no previous week, at 6 min + 10 %", RUNNING_FROM_WEEK_1,
     jogs(("2026-03-03", 2.2), ("2026-03-05", 2.2), ("2026-03-07", 2.2)), []),
    ("week 1 with no previous week, 6.65 min", RUNNING_FROM_WEEK_1,
     jogs(("2026-03-03", 2.2), ("2026-03-05", 2.2), ("2026-03-07", 2.25)),
     [("weekly_increase", "warning", "week:2026-03-02", 6.65, 6.6, "min")]),
    ("a walk-only week after no running has no base", RUNNER,
     jogs(("2026-03-03", 1), ("2026-03-05", 1)), []),
    ("a walk-only week after a running week grows from it",
     athlete(plan((3, 2, 15), (7, 0, 15)), "2026-03-02"),
     [*jogs(("2026-03-03", 2), ("2026-03-05", 2), ("2026-03-07", 2)),
      *jogs(("2026-03-10", 3.5), ("2026-03-12", 3.5))],
     [("weekly_increase", "warning", "week:2026-03-09", 7.0, 6.6, "min")]),
    ("maintenance weeks are not prescribed", RUNNER,
     [*jogs(("2026-03-24", 4)), *jogs(("2026-03-31", 17), ("2026-04-02", 17))], []),
]

SESSIONS_PER_WEEK: list[tuple[str, Any, list[Session], list[tuple[Any, ...]]]] = [
    ("three of three", RUNNER, jogs(("2026-03-16", 2), ("2026-03-18", 2), ("2026-03-20", 2)), []),
    ("a fourth session", RUNNER,
     jogs(("2026-03-16", 2), ("2026-03-18", 2), ("2026-03-20", 2), ("2026-03-22", 0.5)),
     [("sessions_per_week", "warning", "week:2026-03-16", 4.0, 3.0, "sessions")]),
    ("two sessions on one day count twice", RUNNER,
     [*jogs(("2026-03-16", 1), ("2026-03-18", 1), ("2026-03-20", 1)),
      run("2026-03-20", "18:00", run_min=1, longest_s=30)],
     [("sessions_per_week", "warning", "week:2026-03-16", 4.0, 3.0, "sessions")]),
    ("jogs in the walking week are run_in_walk_week's business", RUNNER,
     jogs(("2026-03-02", 1), ("2026-03-04", 1), ("2026-03-06", 1), ("2026-03-08", 1)), []),
    ("maintenance", RUNNER,
     jogs(("2026-03-30", 5), ("2026-03-31", 5), ("2026-04-01", 5), ("2026-04-02", 5)), []),
]

REST_DAY: list[tuple[str, Any, list[Session], list[tuple[Any, ...]]]] = [
    ("back-to-back days", RUNNER, jogs(("2026-03-17", 2), ("2026-03-18", 2)),
     [("rest_day", "warning", key("2026-03-18"), 0.0, 1.0, "days")]),
    ("one rest day between", RUNNER, jogs(("2026-03-17", 2), ("2026-03-19", 2)), []),
    ("back-to-back across the week boundary: the later activity", RUNNER,
     jogs(("2026-03-22", 2), ("2026-03-23", 4)),
     [("rest_day", "warning", key("2026-03-23"), 0.0, 1.0, "days")]),
    ("from a jog on the walking week's last day into week 2", RUNNER,
     jogs(("2026-03-08", 1), ("2026-03-09", 1.5)),
     [("rest_day", "warning", key("2026-03-09"), 0.0, 1.0, "days")]),
    ("twice on one day is not a missing rest day", RUNNER,
     [run("2026-03-17", "07:00", run_min=1, longest_s=30),
      run("2026-03-17", "19:00", run_min=1, longest_s=30)], []),
    ("the morning run after yesterday's evening run", RUNNER,
     [run("2026-03-17", "21:00", run_min=1, longest_s=30),
      run("2026-03-18", "06:00", run_min=1, longest_s=30)],
     [("rest_day", "warning", key("2026-03-18", "06:00"), 0.0, 1.0, "days")]),
    ("walking week: only run_in_walk_week", RUNNER, jogs(("2026-03-03", 1), ("2026-03-04", 1)),
     []),
    ("maintenance", RUNNER, jogs(("2026-03-31", 5), ("2026-04-01", 5)), []),
    ("rest_days_between_runs = 0 allows back-to-back days",
     athlete(plan((3, 2, 15), rest_days_between_runs=0), "2026-03-02"),
     jogs(("2026-03-03", 2), ("2026-03-04", 2)), []),
    ("rest_days_between_runs = 2 with one rest day",
     athlete(plan((3, 2, 15), rest_days_between_runs=2), "2026-03-02"),
     jogs(("2026-03-03", 2), ("2026-03-05", 2), ("2026-03-08", 2)),
     [("rest_day", "warning", key("2026-03-05"), 1.0, 2.0, "days")]),
]

TABLES = {
    "weekly_increase": WEEKLY_INCREASE,
    "sessions_per_week": SESSIONS_PER_WEEK,
    "rest_day": REST_DAY,
}


def _cases() -> list[Any]:
    return [pytest.param(rule, who, sessions, expected, id=f"{rule}: {name}")
            for rule, table in TABLES.items() for name, who, sessions, expected in table]


@pytest.mark.parametrize(("rule", "who", "sessions", "expected"), _cases())
def test_week_rule(rule: str, who: Any, sessions: list[Session],
                   expected: list[tuple[Any, ...]]) -> None:
    """The week's sessions give exactly these alerts of the rule under test."""
    assert summary(evaluate_all(who, sessions), rule) == expected


def test_weekly_increase_names_the_week_and_its_sessions() -> None:
    """The alert is about plan week 2 and lists the sessions that made up its volume."""
    sessions = [*WEEK_1_AT_LIMIT, *jogs(("2026-03-10", 4), ("2026-03-12", 4))]
    (finding,) = [f for f in evaluate_all(RUNNING_FROM_WEEK_1, sessions)
                  if f.rule == "weekly_increase"]
    assert finding.subject.as_dict() == {"kind": "week", "plan_week": 2,
                                         "week_start": "2026-03-09"}
    assert finding.message == "Week 2: 8 min of running, above the 7.26 min limit (+10%)."
    assert finding.activity_ids == ("test:2026-03-10T07:00", "test:2026-03-12T07:00")


def test_rest_day_lists_both_runs() -> None:
    """The rest-day alert names both run days and both activities."""
    (finding,) = evaluate_all(RUNNER, jogs(("2026-03-22", 2), ("2026-03-23", 4)))
    assert finding.activity_ids == ("test:2026-03-22T07:00", "test:2026-03-23T07:00")
    assert finding.message == ("Runs on 2026-03-22 and 2026-03-23 with 0 rest days between; "
                               "the plan asks for 1.")
