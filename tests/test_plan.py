"""The plan file: the shipped plan, validation that lists every problem, and week arithmetic."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from syncd.errors import PlanError
from syncd.plan import (
    Limits,
    PlanWeek,
    block_index,
    calendar_week_number,
    load_plan,
    parse_plan,
    week_dates,
    week_start,
)

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "plans" / "hip-return-run-walk.toml"


def write(tmp_path: Path, text: str) -> Path:
    """A plan file with ``text`` in it."""
    path = tmp_path / "plan.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[str]:
    """The problems :func:`load_plan` reports for a plan file with ``text``."""
    path = write(tmp_path, text)
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert caught.value.source == str(path)
    return caught.value.problems


# -- the shipped plan ------------------------------------------------------------------------


def test_shipped_plan_loads_with_its_fourteen_weeks() -> None:
    """The hip plan: 14 weeks, walking first, then 30-second jogs in week 2."""
    hip = load_plan(SHIPPED)
    assert hip.name == "Hip: return to running (run/walk)"
    assert len(hip.weeks) == 14
    assert hip.week(1) == PlanWeek(number=1, sessions=7, run_min=0, walk_min=15, session_min=15)
    assert hip.week(2) == PlanWeek(number=2, sessions=3, run_min=1.5, walk_min=13.5,
                                   session_min=15, run_interval_s=30)
    assert hip.weeks[0].walk_only and not hip.weeks[1].walk_only
    assert hip.weeks[1].prescribed_run_s == 270


def test_shipped_plan_follows_the_run_walk_table() -> None:
    """Weeks 4-6 are the 2/15, 4/13, 6/11 table of 17-minute sessions; week 14 is 30 minutes
    of continuous running; there is no week 15 (maintenance)."""
    hip = load_plan(SHIPPED)
    table = [(w.run_min, w.walk_min, w.session_min) for w in hip.weeks[3:6]]
    assert table == [(2, 15, 17), (4, 13, 17), (6, 11, 17)]
    last = hip.weeks[-1]
    assert (last.number, last.run_min, last.walk_min, last.run_interval_s) == (14, 30, 0, 1800)
    assert hip.week(15) is None and hip.week(0) is None


def test_shipped_plan_limits_are_the_documented_defaults() -> None:
    """The shipped limits are DESIGN's defaults, calendar progression included; a plan that
    is switched to gated progression steps back after pain (regression = "step_back")."""
    assert load_plan(SHIPPED).limits == Limits(regression="step_back")


def test_regression_defaults_to_repeat_and_takes_step_back() -> None:
    """Without ``regression`` a gated week with pain repeats (the behaviour before it
    existed); ``step_back`` is read as given."""
    weeks = [{"sessions": 2, "run_min": 2}]
    assert parse_plan({"name": "p", "weeks": weeks}).limits.regression == "repeat"
    given = parse_plan({"name": "p", "limits": {"progression": "gated",
                                                "regression": "step_back"}, "weeks": weeks})
    assert (given.limits.progression, given.limits.regression) == ("gated", "step_back")


def test_unknown_regression_names_the_key_and_the_choices(tmp_path: Path) -> None:
    """A misspelt regression is refused with the key and both allowed values."""
    text = "\n".join(['name = "p"', '[limits]', 'regression = "back"',
                      '[[weeks]]', 'sessions = 3', 'run_min = 2'])
    assert problems_of(tmp_path, text) == [
        "limits.regression: Input should be 'repeat' or 'step_back'"]


def test_silence_days_defaults_to_four_and_is_checked(tmp_path: Path) -> None:
    """``no_data``'s silence_days: 4 unless given, a whole number of days from 1 to 60."""
    weeks = [{"sessions": 3, "run_min": 2}]
    assert parse_plan({"name": "p", "weeks": weeks}).limits.silence_days == 4
    given = parse_plan({"name": "p", "limits": {"silence_days": 7}, "weeks": weeks})
    assert given.limits.silence_days == 7
    for bad, problem in (("0", "greater than or equal to 1"), ("61", "less than or equal to 60"),
                         ('"a week"', "valid integer")):
        text = "\n".join(['name = "p"', '[limits]', f"silence_days = {bad}",
                          '[[weeks]]', 'sessions = 3', 'run_min = 2'])
        (found,) = problems_of(tmp_path, text)
        assert found.startswith("limits.silence_days: ") and problem in found


# -- what a plan may leave out ---------------------------------------------------------------


def test_minimal_plan_takes_defaults() -> None:
    """Only a name and one week: default limits, no walking, session = run minutes."""
    only = parse_plan({"name": "short", "weeks": [{"sessions": 2, "run_min": 20}]})
    assert only.limits == Limits()
    assert only.week(1) == PlanWeek(number=1, sessions=2, run_min=20, walk_min=0,
                                    session_min=20)


def test_explicit_session_minutes_win_over_the_sum() -> None:
    """``session_min`` given (a warm-up walk not in the run/walk split) is kept as given."""
    given = parse_plan({"name": "p", "limits": {"progression": "gated", "pain_stop": 5},
                        "weeks": [{"sessions": 3, "run_min": 4, "walk_min": 13,
                                   "session_min": 25}]})
    assert given.weeks[0].session_min == 25
    assert (given.limits.progression, given.limits.pain_stop) == ("gated", 5)


# -- malformed plans: each problem, and all of them at once ----------------------------------

MALFORMED = [
    ("negative minutes",
     'name = "p"\n[[weeks]]\nsessions = 3\nrun_min = -2\nwalk_min = 15\n',
     ["weeks[0] (week 1).run_min: Input should be greater than or equal to 0"]),
    ("zero sessions with run minutes",
     'name = "p"\n[[weeks]]\nsessions = 3\nrun_min = 2\n[[weeks]]\nsessions = 0\nrun_min = 2\n',
     ["weeks[1] (week 2): a week with run minutes needs at least one session"]),
    ("unknown keys at every level",
     'name = "p"\ncolour = "red"\n[limits]\npain_stopp = 4\n'
     '[[weeks]]\nsessions = 3\nrun_min = 2\nrn_interval_s = 30\n',
     ["limits.pain_stopp: unknown key; remove it or check its spelling",
      "weeks[0] (week 1).rn_interval_s: unknown key; remove it or check its spelling",
      "colour: unknown key; remove it or check its spelling"]),
    ("missing weeks", 'name = "p"\n[limits]\npain_stop = 4\n', ["weeks: Field required"]),
    ("an empty list of weeks", 'name = "p"\nweeks = []\n',
     ["weeks: List should have at least 1 item after validation, not 0"]),
    ("a week with neither running nor walking",
     'name = "p"\n[[weeks]]\nsessions = 3\nrun_min = 0\n',
     ["weeks[0] (week 1): a session needs running or walking minutes (run_min + walk_min > 0)"]),
    ("a bout longer than the running",
     'name = "p"\n[[weeks]]\nsessions = 3\nrun_min = 1\nwalk_min = 10\nrun_interval_s = 90\n',
     ["weeks[0] (week 1): run_interval_s is longer than the session's running minutes"]),
    ("shoe bands the wrong way round",
     'name = "p"\n[limits]\nshoe_warn_km = 900\nshoe_replace_km = 800\n'
     '[[weeks]]\nsessions = 3\nrun_min = 2\n',
     ["limits: shoe_replace_km must not be below shoe_warn_km"]),
]


@pytest.mark.parametrize(("text", "expected"),
                         [pytest.param(text, expected, id=name)
                          for name, text, expected in MALFORMED])
def test_malformed_plan_names_each_problem(tmp_path: Path, text: str,
                                          expected: list[str]) -> None:
    """Each malformed plan raises PlanError naming the key (and the week, counted from 1)."""
    assert problems_of(tmp_path, text) == expected


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    """A plan with a problem in every part reports all of them in one error, including the
    cross-field ones next to field errors of the same table."""
    text = "\n".join([
        '[limits]', 'max_weekly_increase = -0.1', 'progression = "fast"',
        'shoe_warn_km = 900', 'shoe_replace_km = 800',
        '[[weeks]]', 'sessions = 3', 'run_min = -1', 'walk_min = 15',
        '[[weeks]]', 'sessions = 0', 'run_min = 2', 'typo = 1',
        '[[weeks]]', 'sessions = 3', 'run_min = 1', 'run_interval_s = 90', 'note = 5',
        '[[weeks]]', 'sessions = "three"', 'run_min = 2',
    ])
    problems = problems_of(tmp_path, text)
    assert sorted(problems) == sorted([
        "name: Field required",
        "limits.max_weekly_increase: Input should be greater than or equal to 0",
        "limits.progression: Input should be 'calendar' or 'gated'",
        "limits: shoe_replace_km must not be below shoe_warn_km",
        "weeks[0] (week 1).run_min: Input should be greater than or equal to 0",
        "weeks[1] (week 2).typo: unknown key; remove it or check its spelling",
        "weeks[1] (week 2): a week with run minutes needs at least one session",
        "weeks[2] (week 3).note: Input should be a valid string",
        "weeks[2] (week 3): run_interval_s is longer than the session's running minutes",
        "weeks[3] (week 4).sessions: Input should be a valid integer, unable to parse string "
        "as an integer",
    ])


def test_error_message_counts_and_lists_the_problems(tmp_path: Path) -> None:
    """What the user reads: how many problems, in which file, one per line."""
    path = write(tmp_path, 'name = "p"\ncolour = 1\n[[weeks]]\nsessions = -1\nrun_min = 2\n')
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    assert str(caught.value) == (
        f"2 problems in {path}:\n"
        "  - weeks[0] (week 1).sessions: Input should be greater than or equal to 0\n"
        "  - colour: unknown key; remove it or check its spelling")


def test_not_toml(tmp_path: Path) -> None:
    """A file that is not TOML says so, with where the parser stopped."""
    (problem,) = problems_of(tmp_path, 'name = "p"\n[[weeks]\nsessions = 3\n')
    assert problem.startswith("not valid TOML: ")
    assert "line 2" in problem


def test_missing_file(tmp_path: Path) -> None:
    """A plan path that does not exist is named in the error."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(PlanError) as caught:
        load_plan(missing)
    assert caught.value.problems == [f"plan file {missing} does not exist"]


def test_not_utf8(tmp_path: Path) -> None:
    """A binary file is reported as unreadable rather than crashing."""
    path = tmp_path / "plan.toml"
    path.write_bytes(b'name = "\xff\xfe"\n')
    (problem,) = problems_of_path(path)
    assert problem.startswith(f"cannot read plan file {path}: ")


def problems_of_path(path: Path) -> list[str]:
    """The problems :func:`load_plan` reports for ``path``."""
    with pytest.raises(PlanError) as caught:
        load_plan(path)
    return caught.value.problems


# -- week arithmetic in local days -----------------------------------------------------------


START = date(2026, 3, 4)  # a Wednesday: plan weeks run Wednesday to Tuesday


@pytest.mark.parametrize(("day", "expected_start", "block", "number"), [
    (date(2026, 3, 3), date(2026, 2, 25), -1, None),  # the day before the plan
    (date(2026, 3, 4), date(2026, 3, 4), 0, 1),
    (date(2026, 3, 10), date(2026, 3, 4), 0, 1),  # week 1's last day
    (date(2026, 3, 11), date(2026, 3, 11), 1, 2),
    (date(2026, 3, 31), date(2026, 3, 25), 3, 4),
    (date(2026, 4, 1), date(2026, 4, 1), 4, None),  # after a 4-week plan: maintenance
])
def test_plan_weeks_are_seven_local_days_from_the_start(day: date, expected_start: date,
                                                        block: int, number: int | None) -> None:
    """Week k covers start + 7(k-1) .. start + 7k - 1, whatever the weekday of the start."""
    four_weeks = parse_plan({"name": "p", "weeks": [{"sessions": 3, "run_min": 2}] * 4})
    assert week_start(day, START) == expected_start
    assert block_index(day, START) == block
    assert calendar_week_number(day, four_weeks, START) == number


def test_without_a_plan_start_weeks_are_iso_weeks() -> None:
    """No start date: weeks begin on Monday, and no day has a plan week."""
    one = parse_plan({"name": "p", "weeks": [{"sessions": 3, "run_min": 2}]})
    assert week_start(date(2026, 3, 8), None) == date(2026, 3, 2)  # a Sunday
    assert week_start(date(2026, 3, 9), None) == date(2026, 3, 9)
    assert calendar_week_number(date(2026, 3, 9), one, None) is None


def test_week_dates() -> None:
    """First and last local day of a plan week."""
    assert week_dates(START, 1) == (date(2026, 3, 4), date(2026, 3, 10))
    assert week_dates(START, 14) == (date(2026, 6, 3), date(2026, 6, 9))
