"""Properties of gated progression over random histories: a step-back never moves the plan
forward, and walking on from a remembered position finds exactly what walking from the plan
start finds (what lets an incremental evaluation skip the weeks before its window)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from syncd.models import Finding
from syncd.plan import Plan, parse_plan, week_start
from syncd.rules import History, Window, history_start
from syncd.rules.evaluator import Evaluation, evaluate_window
from syncd.rules.progression import STEP_BACK_RULES, Position

from .test_properties import (
    BASE,
    EVERYTHING,
    MINUTES_OF_DAY,
    PROPERTY_SETTINGS,
    Scenario,
    _in,
    _report_day,
    make_pain,
    scenarios,
    windows,
)


@st.composite
def gated_plans(draw: st.DrawFn) -> Plan:
    """A gated plan of 3 to 10 weeks that steps back (mostly) or repeats."""
    # Mostly walking weeks: they advance without runs, so random runners get far enough to
    # step back (a running week with no run in it repeats).
    weeks = [{"sessions": draw(st.integers(1, 4)),
              "run_min": draw(st.sampled_from((0, 0, 0, 1, 4))), "walk_min": 13}
             for _ in range(draw(st.integers(3, 10)))]
    limits = {"progression": "gated",
              "regression": draw(st.sampled_from(("step_back", "step_back", "repeat"))),
              "rest_days_between_runs": draw(st.integers(0, 1)),
              "pain_persist_hours": draw(st.sampled_from((24, 48)))}
    return parse_plan({"name": "random gated", "limits": limits, "weeks": weeks})


@st.composite
def gated_scenarios(draw: st.DrawFn) -> Scenario:
    """A runner of :func:`scenarios` on a gated plan starting near the first runs."""
    scenario = draw(scenarios())
    offset = draw(st.integers(-14, 40))
    plan = draw(gated_plans())
    athlete = replace(scenario.athlete, plan=plan, plan_start=BASE + timedelta(days=offset))
    # A few reports at or above the stop inside the plan's weeks, so that steps back happen.
    inside = st.tuples(st.integers(max(offset, 0), offset + 7 * len(plan.weeks)),
                       st.sampled_from(MINUTES_OF_DAY), st.integers(4, 6), st.booleans())
    extra = tuple(make_pain(fields, athlete.timezone, f"stop{i}")
                  for i, fields in enumerate(draw(st.lists(inside, max_size=3))))
    return replace(scenario, athlete=athlete, pain=scenario.pain + extra)


def _full(scenario: Scenario) -> Evaluation:
    """Every week, over the whole history."""
    history = History(sorted(scenario.sessions, key=lambda s: s.start_utc),
                      sorted(scenario.pain, key=lambda p: p.at_utc),
                      first_session_date=_first_ever(scenario),
                      first_data_day=_first_data_day(scenario))
    return evaluate_window(scenario.athlete, history, EVERYTHING, scenario.today)


def _first_ever(scenario: Scenario) -> date | None:
    """The athlete's first run day."""
    return min((s.local_date for s in scenario.sessions), default=None)


def _first_data_day(scenario: Scenario) -> date | None:
    """The athlete's first day with any data, as the store knows it whatever the window."""
    days = [s.local_date for s in scenario.sessions]
    days += [_report_day(scenario.athlete, p) for p in scenario.pain]
    return min(days, default=None)


def _pained(findings: list[Finding], position: Position) -> bool:
    """True when the week of ``position`` holds a finding that steps a plan back."""
    last = position.start + timedelta(days=6)
    return any(f.rule in STEP_BACK_RULES and f.subject.anchor is not None
               and position.start <= f.subject.anchor <= last for f in findings)


@PROPERTY_SETTINGS
@given(scenario=gated_scenarios())
def test_a_step_back_never_moves_the_plan_forward(scenario: Scenario) -> None:
    """After a plan week with pain_stop or pain_persistent the next week's plan week is never
    higher; with step_back it is one lower (never below 1), with repeat the same."""
    full = _full(scenario)
    steps_back = scenario.athlete.limits.regression == "step_back"
    for before, after in zip(full.positions, full.positions[1:], strict=False):
        in_plan = before.number is not None and before.step is not None
        if not in_plan or not _pained(full.findings, before):
            continue
        assert before.number is not None and after.number is not None
        assert after.number <= before.number
        expected = max(before.number - 1, 1) if steps_back else before.number
        assert after.number == expected
        assert after.step == ("step_back" if expected < before.number else "repeat")
    raised = [f for f in full.findings if f.rule == "plan_step_back"]
    event(f"step-backs: {min(len(raised), 3)}")
    assert len({f.dedupe_key for f in raised}) == len(raised)
    assert steps_back or not raised


def _anchor(full: Evaluation, window: Window, scenario: Scenario) -> Position | None:
    """What the store would hand the evaluation of ``window``: the latest position inside
    the plan of a week that has begun, at or before the window's first week."""
    athlete = scenario.athlete
    first = week_start(window.first, athlete.plan_start)
    this_week = week_start(scenario.today, athlete.plan_start)
    kept = [p for p in full.positions
            if p.number is not None and p.start <= first and p.start <= this_week]
    return kept[-1] if kept else None


def _restricted(scenario: Scenario, window: Window, first: date) -> History:
    """The history the store loads for ``window`` from local day ``first``: to a week after
    the window, the first run after that and the pain reports up to it."""
    athlete = scenario.athlete
    last = week_start(window.last, athlete.plan_start) + timedelta(days=6)
    runs = sorted((s for s in scenario.sessions if first <= s.local_date),
                  key=lambda s: (s.start_utc, s.key))
    inside = [s for s in runs if s.local_date <= last]
    following = next((s for s in runs if s.local_date > last), None)
    reports = [p for p in scenario.pain if first - timedelta(days=1) <= _report_day(athlete, p)
               and (following is None or p.at_utc < following.start_utc)]
    return History([*inside, *([following] if following else [])],
                   sorted(reports, key=lambda p: p.at_utc),
                   first_session_date=_first_ever(scenario),
                   first_data_day=_first_data_day(scenario))


@PROPERTY_SETTINGS
@given(scenario=gated_scenarios(), window=windows())
def test_walking_on_from_a_stored_position_equals_the_full_walk(scenario: Scenario,
                                                                window: Window) -> None:
    """A window evaluated from the position the full walk had at (or before) its first week,
    over only the history from there, finds inside the window exactly what the full
    evaluation finds, and gives every week it walks the same position."""
    full = _full(scenario)
    anchor = _anchor(full, window, scenario)
    first = history_start(scenario.athlete, window, anchor)
    windowed = evaluate_window(scenario.athlete, _restricted(scenario, window, first), window,
                               scenario.today, anchor)
    assert _in(window, windowed.findings) == _in(window, full.findings)
    by_week = {p.start: p for p in full.positions}
    assert all(by_week[p.start] == p for p in windowed.positions)
    if anchor is not None:
        assert windowed.positions[0] == anchor
