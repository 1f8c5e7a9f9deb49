"""A plan that steps back: with gated progression and ``regression = "step_back"``, a week with
``pain_stop`` or ``pain_persistent`` sends the next week back one plan week (never below week
1) and raises ``plan_step_back`` (info) in the week it happened; a clean week then moves on."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from syncd.models import PainReport, Session
from syncd.rules import Athlete, Window
from syncd.rules.evaluator import evaluate_window

from .builders import athlete, evaluate_all, history, pain, plan, run, summary

# Five weeks of three run/walk sessions: plan week k prescribes 2k minutes of running.
WEEKS = tuple((3, 2 * k, 17 - 2 * k) for k in range(1, 6))
START = date(2026, 9, 7)  # a Monday: blocks B1 Sep 7-13, B2 Sep 14, B3 Sep 21, B4 Sep 28...
STEP_BACK = athlete(plan(*WEEKS, progression="gated", regression="step_back"), START)
REPEAT = athlete(plan(*WEEKS, progression="gated"), START)
TODAY = date(2026, 12, 1)


def runs(first: date, blocks: int, days: tuple[int, ...] = (0, 2, 4)) -> list[Session]:
    """Three short clean runs (1 min of running, well within every week) on ``days`` (0:
    Monday) of ``blocks`` blocks from ``first``."""
    return [run(first + timedelta(days=7 * b + d), run_min=1)
            for b in range(blocks) for d in days]


CLEAN = runs(START, 6)
PAIN_B3 = pain("2026-09-24", "20:00", 5, report_id="p3")
PAIN_B1 = pain("2026-09-09", "20:00", 4, report_id="p1")
# 2 days and 2 hours after Friday's run (07:00-07:17) of B3, before Monday's.
LASTING_B3 = pain("2026-09-27", "09:30", 2, report_id="lasting")

# The DST week: Berlin's clocks go back on Sunday 2026-10-25. From Monday 10-05, the third
# block (10-19..10-25) holds the change.
DST_START = date(2026, 10, 5)
DST = athlete(plan(*WEEKS, progression="gated", regression="step_back"), DST_START)
# Monday, Wednesday, Saturday: pain until Monday 00:30 is under 48 h after Saturday's run.
DST_RUNS = runs(DST_START, 5, (0, 2, 5))
# Sunday 23:30 local after the change (22:30 UTC): still the third block.
DST_SUNDAY = pain("2026-10-25", "23:30", 6, report_id="sun", with_local=False)
# Monday 00:30 local: the fourth block.
DST_MONDAY = pain("2026-10-26", "00:30", 6, report_id="mon", with_local=False)


def numbers(who: Athlete, sessions: list[Session], reports: list[PainReport],
            blocks: int = 6, first: date = START) -> list[tuple[int | None, str | None]]:
    """(plan week, step) of each of ``blocks`` blocks from ``first``, as the evaluator walks
    them."""
    last = first + timedelta(days=7 * (blocks - 1))
    walked = evaluate_window(who, history(sessions, reports), Window(first, last), TODAY)
    return [(p.number, p.step) for p in walked.positions]


POSITIONS: list[tuple[str, Athlete, list[Session], list[PainReport], list[Any]]] = [
    ("clean weeks advance one by one", STEP_BACK, CLEAN, [],
     [(1, "start"), (2, "advance"), (3, "advance"), (4, "advance"), (5, "advance"),
      (6, None)]),
    ("pain_stop in week 3: week 4 is plan week 2, then week 3 again", STEP_BACK, CLEAN,
     [PAIN_B3],
     [(1, "start"), (2, "advance"), (3, "advance"), (2, "step_back"), (3, "advance"),
      (4, "advance")]),
    ("pain_persistent in week 3 steps back too", STEP_BACK, CLEAN, [LASTING_B3],
     [(1, "start"), (2, "advance"), (3, "advance"), (2, "step_back"), (3, "advance"),
      (4, "advance")]),
    ("a step-back in week 1 stays at week 1", STEP_BACK, CLEAN, [PAIN_B1],
     [(1, "start"), (1, "repeat"), (2, "advance"), (3, "advance"), (4, "advance"),
      (5, "advance")]),
    ("repeat mode: the week repeats, as before", REPEAT, CLEAN, [PAIN_B3],
     [(1, "start"), (2, "advance"), (3, "advance"), (3, "repeat"), (4, "advance"),
      (5, "advance")]),
    ("after a step-back a week with a warning holds the plan", STEP_BACK,
     [*CLEAN, run("2026-09-29", run_min=1)], [PAIN_B3],
     [(1, "start"), (2, "advance"), (3, "advance"), (2, "step_back"), (2, "repeat"),
      (3, "advance")]),
    ("two painful weeks step back twice", STEP_BACK, CLEAN,
     [PAIN_B3, pain("2026-09-30", "20:00", 4, report_id="p4")],
     [(1, "start"), (2, "advance"), (3, "advance"), (2, "step_back"), (1, "step_back"),
      (2, "advance")]),
]


@pytest.mark.parametrize(("who", "sessions", "reports", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in POSITIONS])
def test_plan_week_of_each_block(who: Athlete, sessions: list[Session],
                                 reports: list[PainReport], expected: list[Any]) -> None:
    """The plan week (and how it was reached) of each block, in order."""
    assert numbers(who, sessions, reports) == expected


PLAN_STEP_BACK = [
    ("pain_stop in week 3", STEP_BACK, CLEAN, [PAIN_B3],
     [("plan_step_back", "info", "week:2026-09-21", 2.0, 3.0, "plan week")]),
    ("pain_persistent in week 3", STEP_BACK, CLEAN, [LASTING_B3],
     [("plan_step_back", "info", "week:2026-09-21", 2.0, 3.0, "plan week")]),
    ("pain in week 1: nothing to step back to", STEP_BACK, CLEAN, [PAIN_B1], []),
    ("repeat mode", REPEAT, CLEAN, [PAIN_B3], []),
    ("calendar progression", athlete(plan(*WEEKS, regression="step_back"), START), CLEAN,
     [PAIN_B3], []),
    ("pain 3 is below the stop", STEP_BACK, CLEAN,
     [pain("2026-09-24", "20:00", 3, report_id="p3")], []),
    ("DST week, Sunday 23:30 local", DST, DST_RUNS, [DST_SUNDAY],
     [("plan_step_back", "info", "week:2026-10-19", 2.0, 3.0, "plan week")]),
    ("DST week, Monday 00:30 local is the next block", DST, DST_RUNS, [DST_MONDAY],
     [("plan_step_back", "info", "week:2026-10-26", 3.0, 4.0, "plan week")]),
]
TABLES = {"plan_step_back": PLAN_STEP_BACK}


@pytest.mark.parametrize(("who", "sessions", "reports", "expected"),
                         [pytest.param(*case[1:], id=case[0]) for case in PLAN_STEP_BACK])
def test_plan_step_back(who: Athlete, sessions: list[Session], reports: list[PainReport],
                        expected: list[Any]) -> None:
    """The step-back alerts, with the plan weeks they go from and to."""
    findings = evaluate_all(who, sessions, reports, today=TODAY)
    assert summary(findings, "plan_step_back") == expected


def test_step_back_across_the_dst_change() -> None:
    """Pain on the Sunday the clocks go back steps the next block back to plan week 2; pain
    half an hour later (Monday) belongs to the next block, which stays plan week 4."""
    assert numbers(DST, DST_RUNS, [DST_SUNDAY], 5, DST_START) == [
        (1, "start"), (2, "advance"), (3, "advance"), (2, "step_back"), (3, "advance")]
    assert numbers(DST, DST_RUNS, [DST_MONDAY], 5, DST_START) == [
        (1, "start"), (2, "advance"), (3, "advance"), (4, "advance"), (3, "step_back")]


def test_message_names_the_weeks() -> None:
    """The alert says what happened, from which plan week to which, and for which week."""
    (finding,) = [f for f in evaluate_all(STEP_BACK, CLEAN, [PAIN_B3], today=TODAY)
                  if f.rule == "plan_step_back"]
    assert finding.message == ("Week 3: pain at or above the stop threshold, so the plan "
                               "steps back from week 3 to week 2 for the week of 2026-09-28.")
    assert finding.subject.as_dict() == {"kind": "week", "plan_week": 3,
                                         "week_start": "2026-09-21"}
    assert finding.advice.startswith("Follow week 2's sessions")


def test_step_back_shows_in_the_week_it_happens() -> None:
    """Pain on Thursday of the current block: the step-back is known at once (the next block
    can only be the lower week), while a clean block advances only once it is over."""
    who, sessions = STEP_BACK, runs(START, 3)
    walked = evaluate_window(who, history(sessions, [PAIN_B3]),
                             Window(START, date(2026, 9, 28)), date(2026, 9, 25))
    assert [(p.number, p.step) for p in walked.positions] == [
        (1, "start"), (2, "advance"), (3, "advance"), (2, "step_back")]
    assert "plan_step_back" in {f.rule for f in walked.findings}


def test_the_runs_of_a_stepped_back_week_are_judged_by_it() -> None:
    """After the step-back, block 4 is plan week 2 (4.4 min allowed): a run of 5 minutes of
    running there is over, though it would fit plan week 3 (6.6)."""
    sessions = [*CLEAN, run("2026-10-02", "18:00", run_min=5)]
    rows = summary(evaluate_all(STEP_BACK, sessions, [PAIN_B3], today=TODAY),
                   "session_run_time")
    assert rows == [("session_run_time", "warning", "activity:test:2026-10-02T18:00", 5.0,
                     4.4, "min")]
