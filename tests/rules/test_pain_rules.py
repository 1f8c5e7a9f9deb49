"""Pain rules: pain_stop, pain_persistent and pain_rising, with exact alert numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from syncd.models import PainReport, Session

from .builders import athlete, evaluate_all, pain, plan, run, summary

RUNNER = athlete(plan((3, 2, 15), (3, 4, 13)), "2026-03-02")
NO_PLAN = athlete()
# The run every case hangs on: Tuesday 2026-03-17, 07:00-07:17 Berlin time (maintenance).
TUESDAY = run("2026-03-17", "07:00", minutes=17)
TUESDAY_KEY = "activity:test:2026-03-17T07:00"

Case = tuple[str, Any, list[Session], list[PainReport], list[tuple[Any, ...]]]

PAIN_STOP: list[Case] = [
    ("pain 3 is below the stop", NO_PLAN, [TUESDAY], [pain("2026-03-17", "20:00", 3)], []),
    ("pain 4 means stop", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "20:00", 4, report_id="p1")],
     [("pain_stop", "critical", "pain:p1", 4.0, 4.0, "pain")]),
    ("pain 9 without any run", NO_PLAN, [], [pain("2026-03-17", "20:00", 9, report_id="p1")],
     [("pain_stop", "critical", "pain:p1", 9.0, 4.0, "pain")]),
    ("inside a plan week", RUNNER, [run("2026-03-03")],
     [pain("2026-03-03", "09:00", 4, report_id="p1")],
     [("pain_stop", "critical", "pain:p1", 4.0, 4.0, "pain")]),
    ("the plan's threshold: 5 under a stop at 6",
     athlete(plan((3, 2, 15), pain_stop=6), "2026-03-02"), [],
     [pain("2026-03-03", "09:00", 5)], []),
    ("the plan's threshold: 6 at a stop at 6",
     athlete(plan((3, 2, 15), pain_stop=6), "2026-03-02"), [],
     [pain("2026-03-03", "09:00", 6, report_id="p1")],
     [("pain_stop", "critical", "pain:p1", 6.0, 6.0, "pain")]),
]

# TUESDAY ends at 07:17, so 47 h later is Thursday 06:17 and 49 h later Thursday 08:17.
PAIN_PERSISTENT: list[Case] = [
    ("still there after 47 h", NO_PLAN, [TUESDAY], [pain("2026-03-19", "06:17", 2)], []),
    ("still there after 49 h", NO_PLAN, [TUESDAY], [pain("2026-03-19", "08:17", 2)],
     [("pain_persistent", "warning", TUESDAY_KEY, 49.0, 48.0, "h")]),
    ("exactly 48 h", NO_PLAN, [TUESDAY], [pain("2026-03-19", "07:17", 1)],
     [("pain_persistent", "warning", TUESDAY_KEY, 48.0, 48.0, "h")]),
    ("reported the evening after and again after 49 h", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "20:00", 2), pain("2026-03-19", "08:17", 2)],
     [("pain_persistent", "warning", TUESDAY_KEY, 49.0, 48.0, "h")]),
    ("a pain-free report between cancels it", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "20:00", 2), pain("2026-03-18", "13:17", 0),
      pain("2026-03-19", "08:17", 2)], []),
    ("the next run takes over as the last session", NO_PLAN,
     [TUESDAY, run("2026-03-19", "06:00", minutes=17)], [pain("2026-03-19", "08:17", 2)], []),
    ("inside a plan week", RUNNER, [run("2026-03-03", run_min=2)],
     [pain("2026-03-05", "10:00", 3)],
     [("pain_persistent", "warning", "activity:test:2026-03-03T07:00", 50.7, 48.0, "h")]),
    ("a plan allowing 72 h: 49 h is fine",
     athlete(plan((3, 2, 15), pain_persist_hours=72), "2026-03-02"),
     [run("2026-03-03", run_min=2)], [pain("2026-03-05", "08:17", 2)], []),
    ("a plan allowing 72 h: 73 h is not",
     athlete(plan((3, 2, 15), pain_persist_hours=72), "2026-03-02"),
     [run("2026-03-03", run_min=2)], [pain("2026-03-06", "08:17", 2)],
     [("pain_persistent", "warning", "activity:test:2026-03-03T07:00", 73.0, 72.0, "h")]),
]

PAIN_RISING: list[Case] = [
    ("1 before, 3 after", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "06:00", 1), pain("2026-03-17", "10:00", 3)],
     [("pain_rising", "warning", TUESDAY_KEY, 3.0, 1.0, "pain")]),
    ("the same after as before", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "06:00", 2), pain("2026-03-17", "10:00", 2)], []),
    ("lower after", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "06:00", 2), pain("2026-03-17", "10:00", 1)], []),
    ("nothing before to compare with", NO_PLAN, [TUESDAY], [pain("2026-03-17", "10:00", 3)],
     []),
    ("only the first report after counts", NO_PLAN, [TUESDAY],
     [pain("2026-03-16", "21:00", 1), pain("2026-03-17", "09:00", 1),
      pain("2026-03-17", "20:00", 3)], []),
    ("the last report before counts, not an earlier one", NO_PLAN, [TUESDAY],
     [pain("2026-03-15", "21:00", 0), pain("2026-03-16", "21:00", 2),
      pain("2026-03-17", "09:00", 3)],
     [("pain_rising", "warning", TUESDAY_KEY, 3.0, 2.0, "pain")]),
    ("the first report after is 24 h and 1 min after the run", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "06:00", 1), pain("2026-03-18", "07:18", 3)], []),
    ("just within 24 h after the run", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "06:00", 1), pain("2026-03-18", "07:16", 3)],
     [("pain_rising", "warning", TUESDAY_KEY, 3.0, 1.0, "pain")]),
    ("the last report before is exactly 28 days old", NO_PLAN, [TUESDAY],
     [pain("2026-02-17", "07:00", 1), pain("2026-03-17", "10:00", 3)],
     [("pain_rising", "warning", TUESDAY_KEY, 3.0, 1.0, "pain")]),
    ("the last report before is older than 28 days: nothing to compare with", NO_PLAN,
     [TUESDAY], [pain("2026-02-17", "06:59", 1), pain("2026-03-17", "10:00", 3)], []),
    ("pain reported during the run", NO_PLAN, [TUESDAY],
     [pain("2026-03-17", "06:00", 0), pain("2026-03-17", "07:10", 2)],
     [("pain_rising", "warning", TUESDAY_KEY, 2.0, 0.0, "pain")]),
    ("inside a plan week", RUNNER, [run("2026-03-03", run_min=2)],
     [pain("2026-03-02", "20:00", 0), pain("2026-03-03", "12:00", 1)],
     [("pain_rising", "warning", "activity:test:2026-03-03T07:00", 1.0, 0.0, "pain")]),
]

TABLES = {"pain_stop": PAIN_STOP, "pain_persistent": PAIN_PERSISTENT, "pain_rising": PAIN_RISING}


def _cases() -> list[Any]:
    return [pytest.param(rule, who, sessions, reports, expected, id=f"{rule}: {name}")
            for rule, table in TABLES.items() for name, who, sessions, reports, expected in table]


@pytest.mark.parametrize(("rule", "who", "sessions", "reports", "expected"), _cases())
def test_pain_rule(rule: str, who: Any, sessions: list[Session], reports: list[PainReport],
                   expected: list[tuple[Any, ...]]) -> None:
    """The runs and pain reports give exactly these alerts of the rule under test."""
    assert summary(evaluate_all(who, sessions, reports), rule) == expected


def test_pain_stop_names_the_runs_of_the_24_hours_before() -> None:
    """The alert lists the runs that may have caused the pain: those of the last 24 hours."""
    sessions = [run("2026-03-16", "07:00"), run("2026-03-16", "21:00"), TUESDAY]
    (finding,) = evaluate_all(NO_PLAN, sessions, [pain("2026-03-17", "20:00", 5)])
    assert finding.activity_ids == ("test:2026-03-16T21:00", "test:2026-03-17T07:00")
    assert finding.message == "Pain 5/10 reported on 2026-03-17: at or above 4/10."
    assert finding.subject.anchor == date(2026, 3, 17)


def test_pain_stop_is_dated_on_the_runners_local_day() -> None:
    """A report at 00:30 in Berlin is 23:30 UTC the evening before: the alert is dated on the
    local day, even when the source only knows the instant."""
    report = pain("2026-03-18", "00:30", 4, report_id="p1", with_local=False)
    assert report.at_utc.date().isoformat() == "2026-03-17"
    (finding,) = evaluate_all(NO_PLAN, [], [report])
    assert finding.subject.anchor == date(2026, 3, 18)
    assert finding.message == "Pain 4/10 reported on 2026-03-18: at or above 4/10."
