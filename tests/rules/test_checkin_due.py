"""Which morning a check-in is due for (DESIGN section 10), at the edges: a run late on a
Sunday, the mornings the clocks change in Berlin, no run yesterday, pain that means stop."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.rules.checkin import DueCheckin, checkin_question, due_checkin

from .builders import BERLIN, run

EIGHT = time(8, 0)


def berlin_now(utc: str) -> datetime:
    """The athlete's naive wall clock at the UTC instant ``utc`` (as the caller passes it)."""
    moment = datetime.fromisoformat(utc).astimezone(ZoneInfo(BERLIN))
    return moment.replace(tzinfo=None)


@pytest.mark.parametrize(("case", "runs", "pain", "now_utc", "expected"), [
    # A run at 23:30 on Sunday (local) is a Sunday run: Monday morning's check-in, from 08:00
    # Berlin time (07:00 UTC in winter), not a minute before.
    ("sunday 23:30 run, monday 07:59", [("2026-11-15", "23:30")], None,
     "2026-11-16T06:59:00+00:00", None),
    ("sunday 23:30 run, monday 08:00", [("2026-11-15", "23:30")], None,
     "2026-11-16T07:00:00+00:00", DueCheckin(date(2026, 11, 16), "run")),
    ("sunday 23:30 run, monday evening", [("2026-11-15", "23:30")], None,
     "2026-11-16T21:00:00+00:00", DueCheckin(date(2026, 11, 16), "run")),
    # ... and not on Tuesday: the morning after is one morning.
    ("sunday 23:30 run, tuesday 08:00", [("2026-11-15", "23:30")], None,
     "2026-11-17T07:00:00+00:00", None),
    # The same run just after midnight is a Monday run: nothing on Monday morning.
    ("monday 00:10 run, monday 08:00", [("2026-11-16", "00:10")], None,
     "2026-11-16T07:00:00+00:00", None),
    # Clocks go forward on 29 March 2026 at 02:00: 08:00 CEST is 06:00 UTC.
    ("spring DST, 07:59 CEST", [("2026-03-28", "18:00")], None,
     "2026-03-29T05:59:00+00:00", None),
    ("spring DST, 08:00 CEST", [("2026-03-28", "18:00")], None,
     "2026-03-29T06:00:00+00:00", DueCheckin(date(2026, 3, 29), "run")),
    # Clocks go back on 25 October 2026 at 03:00: 08:00 CET is 07:00 UTC (06:00 UTC is
    # 07:00 local, an hour early).
    ("autumn DST, 07:00 CET", [("2026-10-24", "18:00")], None,
     "2026-10-25T06:00:00+00:00", None),
    ("autumn DST, 08:00 CET", [("2026-10-24", "18:00")], None,
     "2026-10-25T07:00:00+00:00", DueCheckin(date(2026, 10, 25), "run")),
    # No run yesterday: nothing (a run two days ago, or this morning, does not count).
    ("no run yesterday", [("2026-11-14", "07:00"), ("2026-11-16", "06:30")], None,
     "2026-11-16T09:00:00+00:00", None),
    ("no run at all", [], None, "2026-11-16T09:00:00+00:00", None),
    # Pain that means stop (the plan's 4) is unresolved: every morning, run or not.
    ("pain 4 unresolved, no run", [], 4, "2026-11-16T07:00:00+00:00",
     DueCheckin(date(2026, 11, 16), "pain")),
    ("pain 4 unresolved, before 08:00", [], 4, "2026-11-16T06:59:00+00:00", None),
    ("pain 4 unresolved and a run", [("2026-11-15", "07:00")], 4,
     "2026-11-16T07:00:00+00:00", DueCheckin(date(2026, 11, 16), "pain")),
    # A later report below 4 resolves it: the run rule alone is left.
    ("pain resolved by a 3", [], 3, "2026-11-16T07:00:00+00:00", None),
])
def test_the_morning_due(case: str, runs: list[tuple[str, str]], pain: int | None,
                         now_utc: str, expected: DueCheckin | None) -> None:
    sessions = [run(day, clock) for day, clock in runs]
    assert due_checkin(sessions, pain, 4, berlin_now(now_utc), EIGHT) == expected, case


def test_the_configured_time_moves_the_morning() -> None:
    sessions = [run("2026-11-15", "18:00")]
    late = time(9, 30)
    assert due_checkin(sessions, None, 4, datetime(2026, 11, 16, 9, 29), late) is None
    assert due_checkin(sessions, None, 4, datetime(2026, 11, 16, 9, 30), late) == DueCheckin(
        date(2026, 11, 16), "run")


def test_a_plan_with_a_higher_pain_stop_asks_later() -> None:
    assert due_checkin([], 5, 6, datetime(2026, 11, 16, 9), EIGHT) is None
    assert due_checkin([], 6, 6, datetime(2026, 11, 16, 9), EIGHT) == DueCheckin(
        date(2026, 11, 16), "pain")


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
       st.times(), st.integers(0, 10), st.booleans())
def test_only_today_is_ever_due(now: datetime, at: time, score: int, ran: bool) -> None:
    """Whatever the data, the due morning is today's and only from the configured time."""
    sessions = [run(now.date().fromordinal(now.date().toordinal() - 1), "12:00")] if ran else []
    due = due_checkin(sessions, score, 4, now, at)
    if due is not None:
        assert due.morning == now.date() and now.time() >= at
    assert (due is not None) == (now.time() >= at and (ran or score >= 4))


@pytest.mark.parametrize(("plan", "question"), [
    ("Hip: return to running (run/walk)", "How does your hip feel this morning?"),
    ("Knee rehab, run/walk", "How does your knee feel this morning?"),
    ("Achilles loading and return to run", "How does your Achilles feel this morning?"),
    ("Back to running after a break", "How does it feel this morning?"),
    ("Couch to 5k", "How does it feel this morning?"),
    (None, "How does it feel this morning?"),
])
def test_the_question_names_the_part_the_plan_is_about(plan: str | None, question: str) -> None:
    assert checkin_question(plan) == question
