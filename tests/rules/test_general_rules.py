"""The rules that hold outside the plan too: session_spike, load_ratio and shoe_mileage."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from syncd.models import Gear, Session

from .builders import athlete, evaluate_all, plan, run, shoes, summary

NO_PLAN = athlete()
# A two-week plan from Monday 2026-03-02: in plan weeks the spike rule stays quiet.
RUNNER = athlete(plan((3, 2, 15), (3, 2, 15)), "2026-03-02")
# The longest run of the 30 days before Friday 2026-03-20 is 10 km (or 60 min).
BEFORE = [run("2026-03-02", minutes=60, km=10), run("2026-03-05", minutes=50, km=8)]
SPIKE_KEY = "activity:test:2026-03-20T07:00"

Case = tuple[str, Any, list[Session], list[tuple[Any, ...]]]

SESSION_SPIKE: list[Case] = [
    ("+9 %", NO_PLAN, [*BEFORE, run("2026-03-20", minutes=65, km=10.9)], []),
    ("exactly +10 %", NO_PLAN, [*BEFORE, run("2026-03-20", minutes=65, km=11)], []),
    ("+11 %", NO_PLAN, [*BEFORE, run("2026-03-20", minutes=66, km=11.1)],
     [("session_spike", "warning", SPIKE_KEY, 11.1, 11.0, "km")]),
    ("+35 %", NO_PLAN, [*BEFORE, run("2026-03-20", minutes=80, km=13.5)],
     [("session_spike", "warning", SPIKE_KEY, 13.5, 11.0, "km")]),
    ("exactly +100 % is still a warning", NO_PLAN,
     [*BEFORE, run("2026-03-20", minutes=120, km=20)],
     [("session_spike", "warning", SPIKE_KEY, 20.0, 11.0, "km")]),
    ("+120 % is critical", NO_PLAN, [*BEFORE, run("2026-03-20", minutes=130, km=22)],
     [("session_spike", "critical", SPIKE_KEY, 22.0, 11.0, "km")]),
    ("a longer run 31 days before does not count", NO_PLAN,
     [run("2026-02-17", minutes=120, km=20), *BEFORE, run("2026-03-20", minutes=66, km=11.1)],
     [("session_spike", "warning", SPIKE_KEY, 11.1, 11.0, "km")]),
    ("a longer run 30 days before does", NO_PLAN,
     [run("2026-02-18", minutes=120, km=20), *BEFORE, run("2026-03-20", minutes=66, km=11.1)],
     []),
    ("time when there is no distance: +10 %", NO_PLAN,
     [run("2026-03-02", minutes=60), run("2026-03-20", minutes=66)], []),
    ("time when there is no distance: +15 %", NO_PLAN,
     [run("2026-03-02", minutes=60), run("2026-03-20", minutes=69)],
     [("session_spike", "warning", SPIKE_KEY, 69.0, 66.0, "min")]),
    ("no run in the 30 days before", NO_PLAN, [run("2026-03-20", minutes=90, km=15)], []),
    ("inside a plan week the plan's rules judge", RUNNER,
     [run("2026-03-02", minutes=17, km=2), run("2026-03-04", minutes=30, km=5)], []),
    ("after the plan it watches again", RUNNER,
     [run("2026-03-12", minutes=17, km=2), run("2026-03-20", minutes=30, km=5)],
     [("session_spike", "critical", SPIKE_KEY, 5.0, 2.2, "km")]),
]


def weekly(*minutes_per_week: float, first_day: str = "2026-03-02") -> list[Session]:
    """One session each Monday from ``first_day`` with these session minutes."""
    start = date.fromisoformat(first_day)
    return [run(start + timedelta(days=7 * i), minutes=m, run_min=m / 4)
            for i, m in enumerate(minutes_per_week)]


LOAD_RATIO: list[Case] = [
    ("exactly 1.5 times the 28-day average", NO_PLAN, weekly(60, 60, 60, 108), []),
    ("1.6 times", NO_PLAN, weekly(60, 60, 60, 120),
     [("load_ratio", "info", "week:2026-03-23", 1.6, 1.5, "ratio")]),
    ("two sessions make the week", NO_PLAN,
     [*weekly(60, 60, 60, 60), run("2026-03-25", minutes=90)],
     [("load_ratio", "info", "week:2026-03-23", 1.82, 1.5, "ratio")]),
    ("fewer than 28 days of history", NO_PLAN,
     weekly(60, 60, 60, 120, first_day="2026-03-03"), []),
    ("a week without sessions has no load", NO_PLAN, weekly(60, 60, 60), []),
    ("a plan week", athlete(plan((3, 10, 5), (3, 10, 5), (3, 10, 5), (3, 10, 5)), "2026-03-02"),
     weekly(60, 60, 60, 120),
     [("load_ratio", "info", "week:2026-03-23", 1.6, 1.5, "ratio")]),
    ("the plan's limit of 2", athlete(plan((3, 10, 5), load_ratio_max=2.0), "2026-03-02"),
     weekly(60, 60, 60, 120), []),
]

SHOE_MILEAGE: list[tuple[str, Any, list[Gear], list[tuple[Any, ...]]]] = [
    ("new shoes", NO_PLAN, [shoes("a", 120)], []),
    ("exactly 483 km", NO_PLAN, [shoes("a", 483)], []),
    ("past 483 km", NO_PLAN, [shoes("a", 483.1)],
     [("shoe_mileage", "info", "gear:a:warn", 483.1, 483.0, "km")]),
    ("exactly 805 km", NO_PLAN, [shoes("a", 805)],
     [("shoe_mileage", "info", "gear:a:warn", 805.0, 483.0, "km")]),
    ("past 805 km", NO_PLAN, [shoes("a", 805.1)],
     [("shoe_mileage", "info", "gear:a:warn", 805.1, 483.0, "km"),
      ("shoe_mileage", "warning", "gear:a:replace", 805.1, 805.0, "km")]),
    ("retired shoes are left alone", NO_PLAN, [shoes("a", 1200, retired=True)], []),
    ("each pair on its own", NO_PLAN, [shoes("a", 500), shoes("b", 100)],
     [("shoe_mileage", "info", "gear:a:warn", 500.0, 483.0, "km")]),
    ("the plan's bands", athlete(plan((3, 2, 15), shoe_warn_km=300, shoe_replace_km=500)),
     [shoes("a", 500.5)],
     [("shoe_mileage", "info", "gear:a:warn", 500.5, 300.0, "km"),
      ("shoe_mileage", "warning", "gear:a:replace", 500.5, 500.0, "km")]),
]


def _cases() -> list[Any]:
    tables = {"session_spike": SESSION_SPIKE, "load_ratio": LOAD_RATIO}
    return [pytest.param(rule, who, sessions, expected, id=f"{rule}: {name}")
            for rule, table in tables.items() for name, who, sessions, expected in table]


@pytest.mark.parametrize(("rule", "who", "sessions", "expected"), _cases())
def test_general_rule(rule: str, who: Any, sessions: list[Session],
                      expected: list[tuple[Any, ...]]) -> None:
    """The runs give exactly these alerts of the rule under test."""
    assert summary(evaluate_all(who, sessions), rule) == expected


@pytest.mark.parametrize(("who", "gear", "expected"),
                         [pytest.param(who, gear, expected, id=f"shoe_mileage: {name}")
                          for name, who, gear, expected in SHOE_MILEAGE])
def test_shoe_mileage(who: Any, gear: list[Gear], expected: list[tuple[Any, ...]]) -> None:
    """Shoes give an info alert past the warning band and a warning past replacement."""
    assert summary(evaluate_all(who, gear=gear)) == expected


def test_spike_message_gives_the_increase() -> None:
    """The runner reads how much longer the run was than the longest of the last 30 days."""
    findings = evaluate_all(NO_PLAN, [*BEFORE, run("2026-03-20", minutes=130, km=22)])
    (finding,) = [f for f in findings if f.rule == "session_spike"]
    assert finding.message == ("The run on 2026-03-20 (22.00 km) is +120% on the longest of "
                               "the previous 30 days (10.00 km).")


def test_spike_compares_time_when_earlier_runs_lack_distance() -> None:
    """A treadmill month (no distance) then an outdoor run: minutes are compared."""
    sessions = [run("2026-03-02", minutes=40), run("2026-03-20", minutes=45, km=8)]
    assert summary(evaluate_all(NO_PLAN, sessions), "session_spike") == [
        ("session_spike", "warning", SPIKE_KEY, 45.0, 44.0, "min")]
