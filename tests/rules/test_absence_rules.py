"""What did not happen: missed_session (a plan week that ended short) and no_data (a silence
while the plan runs), with exact numbers at the edges: the last day of a week, the night the
clocks change, a Sunday 23:30 run, exactly ``silence_days`` days of silence and one more."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from syncd.models import OtherActivity, PainReport, Session
from syncd.rules import Athlete, History, Window, evaluate

from .builders import athlete, other, pain, plan, run, summary

# Week 1 is Monday 2026-10-19 to Sunday 2026-10-25, the night Berlin's clocks go back.
AUTUMN = athlete(plan((3, 2, 15), (3, 2, 15)), "2026-10-19")
# Week 1 is Monday 2026-03-23 to Sunday 2026-03-29, the night Berlin's clocks go forward.
SPRING = athlete(plan((3, 2, 15), (3, 2, 15)), "2026-03-23")
# A walking week (7 walks) from Monday 2026-03-02, then a running week.
WALKING = athlete(plan((7, 0, 15), (3, 2, 15)), "2026-03-02")
# Four running weeks from Monday 2026-03-02 to Sunday 2026-03-29.
FOUR_WEEKS = athlete(plan(*[(3, 2, 15)] * 4), "2026-03-02")
PATIENT = athlete(plan(*[(3, 2, 15)] * 4, silence_days=7), "2026-03-02")

Case = tuple[str, Athlete, list[Session], list[OtherActivity], list[PainReport], str,
             list[tuple[Any, ...]]]


def missed(week_start: str, done: float, prescribed: float) -> tuple[Any, ...]:
    """The numbers of a missed_session alert."""
    return ("missed_session", "info", f"week:{week_start}", done, prescribed, "sessions")


def silence(since: str, days: float, limit: float = 4.0) -> tuple[Any, ...]:
    """The numbers of a no_data alert."""
    return ("no_data", "warning", f"silence:{since}", days, limit, "days")


TWO_AUTUMN_RUNS = [run("2026-10-20", run_min=2), run("2026-10-22", run_min=2)]
SIX_WALKS = [other(f"2026-03-0{d}", sport="walk", sport_type="Walk") for d in range(2, 8)]

MISSED_SESSION: list[Case] = [
    ("week 1 still running on its last day (the clocks go back tonight)", AUTUMN,
     TWO_AUTUMN_RUNS, [], [], "2026-10-25", []),
    ("week 1 ended on the night of the change with 2 of 3", AUTUMN,
     TWO_AUTUMN_RUNS, [], [], "2026-10-26", [missed("2026-10-19", 2.0, 3.0)]),
    ("a Sunday 23:30 run after the change counts in its week", AUTUMN,
     [*TWO_AUTUMN_RUNS, run("2026-10-25", "23:30", run_min=2)], [], [], "2026-10-26", []),
    ("a Sunday 23:30 run on the night the clocks go forward counts in its week", SPRING,
     [run("2026-03-24", run_min=2), run("2026-03-26", run_min=2),
      run("2026-03-29", "23:30", run_min=2)], [], [], "2026-03-30", []),
    ("the spring week ended with 1 of 3", SPRING,
     [run("2026-03-29", "23:30", run_min=2)], [], [], "2026-03-30",
     [missed("2026-03-23", 1.0, 3.0)]),
    ("cross-training is welcome but is not a run session", AUTUMN,
     TWO_AUTUMN_RUNS, [other("2026-10-24")], [], "2026-10-26", [missed("2026-10-19", 2.0, 3.0)]),
    ("a walking week of 7 walks", WALKING, [],
     [*SIX_WALKS, other("2026-03-08", sport="hike", sport_type="Hike")], [], "2026-03-09", []),
    ("a walking week of 6 walks and a ride", WALKING, [], [*SIX_WALKS, other("2026-03-08")],
     [], "2026-03-09", [missed("2026-03-02", 6.0, 7.0)]),
    ("a jog in the walking week still shows up", WALKING, [run("2026-03-08", run_min=1)],
     SIX_WALKS, [], "2026-03-09", []),
    ("weeks before the first data are not judged (joining mid-plan)", AUTUMN,
     [run("2026-10-27", run_min=2), run("2026-10-29", run_min=2), run("2026-10-31", run_min=2)],
     [], [], "2026-11-02", []),
    ("a pain report is the first data: its week is judged", AUTUMN,
     [run("2026-10-27", run_min=2), run("2026-10-29", run_min=2), run("2026-10-31", run_min=2)],
     [], [pain("2026-10-25", "20:00", 1)], "2026-11-02", [missed("2026-10-19", 0.0, 3.0)]),
    ("maintenance after the plan has no prescription", athlete(plan((3, 2, 15)), "2026-03-02"),
     [run("2026-03-03", run_min=2), run("2026-03-05", run_min=2), run("2026-03-07", run_min=2),
      run("2026-03-10", run_min=2)], [], [], "2026-03-30", []),
]

NO_DATA: list[Case] = [
    ("last run Tuesday the 10th: exactly 4 days later", FOUR_WEEKS,
     [run("2026-03-10", run_min=2)], [], [], "2026-03-14", []),
    ("last run Tuesday the 10th: one day more", FOUR_WEEKS,
     [run("2026-03-10", run_min=2)], [], [], "2026-03-15", [silence("2026-03-10", 5.0)]),
    ("a late-evening run is data on its local day", FOUR_WEEKS,
     [run("2026-03-10", "23:30", run_min=2)], [], [], "2026-03-15",
     [silence("2026-03-10", 5.0)]),
    ("a pain report is data", FOUR_WEEKS,
     [run("2026-03-10", run_min=2)], [], [pain("2026-03-11", "08:00", 1)], "2026-03-15", []),
    ("a ride is data", FOUR_WEEKS, [run("2026-03-10", run_min=2)], [other("2026-03-13")], [],
     "2026-03-18", [silence("2026-03-13", 5.0)]),
    ("nothing since the plan started Monday the 2nd: Friday", FOUR_WEEKS,
     [], [], [], "2026-03-05", []),
    ("nothing since the plan started Monday the 2nd: Saturday", FOUR_WEEKS,
     [], [], [], "2026-03-06", [silence("2026-03-01", 5.0)]),
    ("silence_days = 7: exactly 7 days", PATIENT,
     [run("2026-03-10", run_min=2)], [], [], "2026-03-17", []),
    ("silence_days = 7: 8 days", PATIENT,
     [run("2026-03-10", run_min=2)], [], [], "2026-03-18", [silence("2026-03-10", 8.0, 7.0)]),
    ("before the plan starts", FOUR_WEEKS, [], [], [], "2026-02-27", []),
    ("after the plan's last week", FOUR_WEEKS,
     [run("2026-03-27", run_min=2)], [], [], "2026-04-10", []),
    ("no plan", athlete(), [run("2026-03-10", run_min=2)], [], [], "2026-04-10", []),
]

TABLES = {"missed_session": MISSED_SESSION, "no_data": NO_DATA}


def evaluate_to_today(who: Athlete, sessions: list[Session], others: list[OtherActivity],
                      reports: list[PainReport], today: date) -> list[Any]:
    """Every finding from the plan start (or the first data) to ``today``."""
    days = [s.local_date for s in sessions] + [a.local_date for a in others]
    first = min([*days, *([who.plan_start] if who.plan_start else []), today])
    history = History(sessions=sessions, pain=reports, others=others,
                      first_session_date=min((s.local_date for s in sessions), default=None))
    return evaluate(who, history, Window(first, today), today)


def _cases() -> list[Any]:
    return [pytest.param(rule, *case[1:], id=f"{rule}: {case[0]}")
            for rule, table in TABLES.items() for case in table]


@pytest.mark.parametrize(("rule", "who", "sessions", "others", "reports", "today", "expected"),
                         _cases())
def test_absence_rule(rule: str, who: Athlete, sessions: list[Session],
                      others: list[OtherActivity], reports: list[PainReport], today: str,
                      expected: list[tuple[Any, ...]]) -> None:
    """The situation gives exactly these alerts of the rule under test."""
    found = evaluate_to_today(who, sessions, others, reports, date.fromisoformat(today))
    assert summary(found, rule) == expected


def test_a_caller_that_knows_older_data_is_believed() -> None:
    """An incremental evaluation loads a few weeks of history; the last data day the store
    read (a ride long before the window) still counts as the start of the silence."""
    history = History(sessions=[], last_data_day=date(2026, 3, 12))
    found = evaluate(FOUR_WEEKS, history, Window(date(2026, 3, 16), date(2026, 3, 16)),
                     date(2026, 3, 16))
    assert summary(found, "no_data") == []
    found = evaluate(FOUR_WEEKS, history, Window(date(2026, 3, 17), date(2026, 3, 17)),
                     date(2026, 3, 17))
    assert summary(found, "no_data") == [silence("2026-03-12", 5.0)]


def test_the_silence_is_found_whatever_the_window() -> None:
    """An evaluation of an old week (a late upload) still says whether today is silent."""
    sessions = [run("2026-03-03", run_min=2), run("2026-03-10", run_min=2)]
    old_week = Window(date(2026, 3, 3), date(2026, 3, 3))
    found = evaluate(FOUR_WEEKS, History(sessions=sessions), old_week, date(2026, 3, 20))
    assert summary(found, "no_data") == [silence("2026-03-10", 10.0)]


def test_missed_session_reads_as_the_week_it_is_about() -> None:
    found = evaluate_to_today(AUTUMN, TWO_AUTUMN_RUNS, [], [], date(2026, 10, 26))
    (alert,) = [f for f in found if f.rule == "missed_session"]
    assert alert.message == ("Week 1 ended with 2 of 3 run sessions "
                             "(2026-10-19 to 2026-10-25).")
    assert alert.subject.as_dict() == {"kind": "week", "plan_week": 1,
                                       "week_start": "2026-10-19"}
    assert alert.activity_ids == tuple(s.key for s in TWO_AUTUMN_RUNS)
