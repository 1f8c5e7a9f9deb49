"""Per-session rules against the plan week: session_length, session_run_time, run_interval,
run_in_walk_week. Each row is one situation and the exact alert numbers it must produce."""

from __future__ import annotations

from typing import Any

import pytest

from .builders import athlete, evaluate_all, plan, run, summary

# Plan week k starts on Monday 2026-03-02 + 7(k-1); after week 4 the runner is in maintenance.
PLAN = plan(
    (7, 0, 15),  # week 1, Mar 2-8: walking only
    (3, 1.5, 13.5, 30),  # week 2, Mar 9-15: 15-min sessions, 30-s jogs
    (3, 2, 15, 120),  # week 3, Mar 16-22: 17-min sessions, 2-min jogs
    (3, 4, 13),  # week 4, Mar 23-29: no bout length prescribed
)
RUNNER = athlete(PLAN, "2026-03-02")


def key(day: str, clock: str = "07:00") -> str:
    """The subject key of the session on ``day`` at ``clock``."""
    return f"activity:test:{day}T{clock}"


# (case id, session keyword arguments, expected findings of the rule under test)
SESSION_LENGTH: list[tuple[str, dict[str, Any], list[tuple[Any, ...]]]] = [
    ("week 3 as prescribed", {"day": "2026-03-17", "minutes": 17, "run_min": 2}, []),
    ("week 3 exactly at 17 min + 10 %", {"day": "2026-03-17", "minutes": 18.7, "run_min": 2},
     []),
    ("week 3 just over", {"day": "2026-03-17", "minutes": 18.75, "run_min": 2},
     [("session_length", "warning", key("2026-03-17"), 18.75, 18.7, "min")]),
    ("week 2 at 15 min + 10 %", {"day": "2026-03-10", "minutes": 16.5, "run_min": 1.5}, []),
    ("week 2 over", {"day": "2026-03-10", "minutes": 16.6, "run_min": 1.5},
     [("session_length", "warning", key("2026-03-10"), 16.6, 16.5, "min")]),
    ("walk-only week still has a length", {"day": "2026-03-03", "minutes": 17, "run_min": 0},
     [("session_length", "warning", key("2026-03-03"), 17.0, 16.5, "min")]),
    ("maintenance has no prescription", {"day": "2026-03-31", "minutes": 60}, []),
    ("before the plan starts", {"day": "2026-02-24", "minutes": 60}, []),
]

SESSION_RUN_TIME: list[tuple[str, dict[str, Any], list[tuple[Any, ...]]]] = [
    ("week 3 exactly at 2 min + 10 %", {"day": "2026-03-17", "run_min": 2.2}, []),
    ("week 3 just over", {"day": "2026-03-17", "run_min": 2.25},
     [("session_run_time", "warning", key("2026-03-17"), 2.25, 2.2, "min")]),
    ("week 2 at 1.5 min + 10 %", {"day": "2026-03-10", "minutes": 15, "run_min": 1.65}, []),
    ("week 2 over", {"day": "2026-03-10", "minutes": 15, "run_min": 1.7},
     [("session_run_time", "warning", key("2026-03-10"), 1.7, 1.65, "min")]),
    ("no run/walk split: the whole session counts as running", {"day": "2026-03-24"},
     [("session_run_time", "warning", key("2026-03-24"), 17.0, 4.4, "min")]),
    ("a walk-only week leaves it to run_in_walk_week",
     {"day": "2026-03-03", "minutes": 15, "run_min": 3}, []),
    ("maintenance", {"day": "2026-04-01", "minutes": 30}, []),
]

RUN_INTERVAL: list[tuple[str, dict[str, Any], list[tuple[Any, ...]]]] = [
    ("week 2 bouts at 30 s + 10 %",
     {"day": "2026-03-10", "minutes": 15, "run_min": 1.5, "longest_s": 33}, []),
    ("week 2 bout of 34 s", {"day": "2026-03-10", "minutes": 15, "run_min": 1.5, "longest_s": 34},
     [("run_interval", "warning", key("2026-03-10"), 34.0, 33.0, "s")]),
    ("week 3 bouts at 120 s + 10 %", {"day": "2026-03-17", "run_min": 2, "longest_s": 132}, []),
    ("week 3 bout of 133 s", {"day": "2026-03-17", "run_min": 2.2, "longest_s": 133},
     [("run_interval", "warning", key("2026-03-17"), 133.0, 132.0, "s")]),
    ("no split: one bout as long as the running, at the limit",
     {"day": "2026-03-18", "minutes": 17, "run_min": 2.2}, []),
    ("no split and over", {"day": "2026-03-18", "minutes": 17},
     [("run_interval", "warning", key("2026-03-18"), 1020.0, 132.0, "s")]),
    ("week 4 prescribes no bout length", {"day": "2026-03-24", "run_min": 4, "longest_s": 240},
     []),
    ("walk-only week", {"day": "2026-03-03", "minutes": 15, "run_min": 1, "longest_s": 60},
     []),
]

RUN_IN_WALK_WEEK: list[tuple[str, dict[str, Any], list[tuple[Any, ...]]]] = [
    ("a one-minute jog in the walking week",
     {"day": "2026-03-03", "minutes": 15, "run_min": 1, "longest_s": 30},
     [("run_in_walk_week", "warning", key("2026-03-03"), 1.0, 0.0, "min")]),
    ("a whole run on the walking week's last day", {"day": "2026-03-08", "minutes": 15},
     [("run_in_walk_week", "warning", key("2026-03-08"), 15.0, 0.0, "min")]),
    ("a run/walk activity walked throughout",
     {"day": "2026-03-04", "minutes": 15, "run_min": 0, "longest_s": 0}, []),
    ("the first day of the jogging week", {"day": "2026-03-09", "minutes": 15, "run_min": 1.5},
     []),
    ("before the plan starts", {"day": "2026-03-01", "minutes": 15}, []),
]

TABLES = {
    "session_length": SESSION_LENGTH,
    "session_run_time": SESSION_RUN_TIME,
    "run_interval": RUN_INTERVAL,
    "run_in_walk_week": RUN_IN_WALK_WEEK,
}


def _cases() -> list[Any]:
    return [pytest.param(rule, kwargs, expected, id=f"{rule}: {name}")
            for rule, table in TABLES.items() for name, kwargs, expected in table]


@pytest.mark.parametrize(("rule", "kwargs", "expected"), _cases())
def test_session_rule(rule: str, kwargs: dict[str, Any], expected: list[tuple[Any, ...]]) -> None:
    """One session in a plan week: the rule's alert carries exactly these numbers."""
    findings = evaluate_all(RUNNER, [run(**kwargs)])
    assert summary(findings, rule) == expected


def test_a_session_over_everything_raises_each_alert_once() -> None:
    """25 min of continuous running in week 3 breaks the three session rules and, alone, the
    week's volume (6 min prescribed + 10 %): each alert once."""
    findings = evaluate_all(RUNNER, [run("2026-03-19", minutes=25)])
    assert summary(findings) == [
        ("run_interval", "warning", key("2026-03-19"), 1500.0, 132.0, "s"),
        ("session_length", "warning", key("2026-03-19"), 25.0, 18.7, "min"),
        ("session_run_time", "warning", key("2026-03-19"), 25.0, 2.2, "min"),
        ("weekly_increase", "warning", "week:2026-03-16", 25.0, 6.6, "min"),
    ]


def test_session_alert_reads_in_the_runners_terms() -> None:
    """The message names the plan week, the day, the numbers and what to do."""
    (finding,) = evaluate_all(RUNNER, [run("2026-03-17", minutes=18.75, run_min=2)])
    assert finding.message == ("Week 3: a 18.75 min session on 2026-03-17, above the 18.7 min "
                               "limit (17 min prescribed +10%).")
    assert finding.advice == "Keep sessions to 17 min; stop when the prescribed time is up."
    assert finding.activity_ids == ("test:2026-03-17T07:00",)
    assert finding.subject.as_dict() == {"kind": "activity",
                                         "activity_id": "test:2026-03-17T07:00",
                                         "date": "2026-03-17"}


def test_tolerance_comes_from_the_plan() -> None:
    """With a 25 % session tolerance, 21 min of a 17-min session is allowed, 21.5 is not."""
    lenient = athlete(plan((3, 2, 15), session_tolerance=0.25), "2026-03-02")
    assert summary(evaluate_all(lenient, [run("2026-03-03", minutes=21.25, run_min=2)])) == []
    assert summary(evaluate_all(lenient, [run("2026-03-03", minutes=21.5, run_min=2)])) == [
        ("session_length", "warning", key("2026-03-03"), 21.5, 21.25, "min")]
