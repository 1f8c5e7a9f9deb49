"""Properties of red_flag and morning_pain_rising over random histories of runs and pain
reports with timing and symptoms (check-ins among them): reports inserted one by one in any
order, each followed by the incremental evaluation syncd runs for it, leave exactly the
alerts a full evaluation finds, each raised once; and a window finds what the full
evaluation finds inside it."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from syncd.models import PAIN_WHENS, SYMPTOMS, Finding, PainReport, Session
from syncd.plan import parse_plan, week_start
from syncd.rules import LOOKBACK, Athlete, History, Window, evaluate

from .test_properties import (
    BASE,
    MINUTES_OF_DAY,
    PROPERTY_SETTINGS,
    SESSION_FIELDS,
    ZONES,
    Scenario,
    _instant,
    _local,
    make_session,
    restrict,
    windows,
)

SPAN_DAYS = 100
TODAY = BASE + timedelta(days=SPAN_DAYS + 7)
# The rules whose subject is a pain report (the daily loop's, and pain_stop beside them).
PAIN_RULES = frozenset({"red_flag", "morning_pain_rising", "pain_stop"})
CALENDAR = parse_plan({"name": "calendar", "weeks": [
    {"sessions": 3, "run_min": 2, "walk_min": 15}, {"sessions": 3, "run_min": 4, "walk_min": 13}]})
# Most reports are check-ins, so that mornings follow each other closely enough to compare.
WHENS = st.sampled_from((*PAIN_WHENS, "next_morning", "next_morning", "next_morning"))
REPORT_FIELDS = st.tuples(st.integers(0, SPAN_DAYS), st.sampled_from(MINUTES_OF_DAY),
                          st.integers(0, 6), WHENS,
                          st.lists(st.sampled_from(SYMPTOMS), max_size=2), st.booleans())


def make_report(fields: tuple[int, int, int, str, list[str], bool], tz: str,
                report_id: str) -> PainReport:
    """A report from drawn fields: day, minute, score, when, symptoms, local time known."""
    day, minute, score, when, symptoms, with_local = fields
    at = _instant(day, minute)
    return PainReport(id=report_id, at_utc=at, score=score, when=when,
                      symptoms=tuple(symptoms), local_at=_local(at, tz) if with_local else None)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A runner with no plan or a calendar plan, up to 12 runs and 10 reports."""
    tz = draw(st.sampled_from(ZONES))
    start = BASE + timedelta(days=draw(st.integers(-10, 20)))
    athlete = Athlete("runner", tz, *draw(st.sampled_from([(None, None), (CALENDAR, start)])))
    runs = tuple(make_session(fields, tz, f"s{i}") for i, fields
                 in enumerate(draw(st.lists(SESSION_FIELDS, max_size=12))))
    reports = tuple(make_report(fields, tz, f"p{i}") for i, fields
                    in enumerate(draw(st.lists(REPORT_FIELDS, min_size=1, max_size=10))))
    return Scenario(athlete, runs, reports, TODAY)


def _day(athlete: Athlete, report: PainReport) -> date:
    return report.local_at.date() if report.local_at else athlete.local_date(report.at_utc)


def _evaluate(scenario: Scenario, runs: Sequence[Session], reports: Sequence[PainReport],
              window: Window) -> list[Finding]:
    history = History(sorted(runs, key=lambda s: s.start_utc),
                      sorted(reports, key=lambda p: p.at_utc),
                      first_session_date=min((s.local_date for s in runs), default=None))
    return evaluate(scenario.athlete, history, window, scenario.today)


def _pain(findings: Iterable[Finding]) -> dict[tuple[str, str], Finding]:
    return {f.dedupe_key: f for f in findings if f.rule in PAIN_RULES}


def everything(scenario: Scenario) -> list[Finding]:
    """The full evaluation (from before the first day to today)."""
    window = Window(BASE - timedelta(days=14), scenario.today)
    return _evaluate(scenario, scenario.sessions, scenario.pain, window)


@dataclass
class Alerts:
    """The alerts table as the store keeps it: one per (rule, subject), open or resolved,
    and how often each was raised."""

    open: dict[tuple[str, str], Finding] = field(default_factory=dict)
    raised: dict[tuple[str, str], int] = field(default_factory=dict)

    def apply(self, findings: Iterable[Finding], first: date, last: date) -> None:
        """Raise what is new, resolve what the evaluation of weeks ``first``..``last`` no
        longer finds."""
        wanted = _pain(findings)
        for key, finding in wanted.items():
            if key not in self.open:
                self.raised[key] = self.raised.get(key, 0) + 1
            self.open[key] = finding
        for key, finding in list(self.open.items()):
            anchor = finding.subject.anchor
            if key not in wanted and anchor is not None and first <= anchor <= last:
                del self.open[key]


def record(scenario: Scenario, alerts: Alerts, stored: list[PainReport],
           new: PainReport) -> None:
    """Store ``new`` and evaluate what syncd evaluates for it: from its day (or the run
    before it) to :data:`LOOKBACK` after, up to today, in whole weeks."""
    stored.append(new)
    athlete, day = scenario.athlete, _day(scenario.athlete, new)
    earlier = [s.local_date for s in scenario.sessions if s.local_start.date() < day]
    window = Window(min([day, *earlier[-1:]]) if earlier else day,
                    max(day, min(day + LOOKBACK, scenario.today)))
    partial = Scenario(athlete, scenario.sessions, tuple(stored), scenario.today)
    runs, reports = restrict(partial, window)
    first = week_start(window.first, athlete.plan_start)
    last = week_start(window.last, athlete.plan_start) + timedelta(days=6)
    alerts.apply(_evaluate(partial, runs, reports, window), first, last)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), shuffler=st.randoms(use_true_random=False))
def test_reports_in_any_order_leave_the_full_evaluations_alerts_each_raised_once(
        scenario: Scenario, shuffler: random.Random) -> None:
    """Whatever order the reports (check-ins, late entries, imports) arrive in, the open
    alerts end as the full evaluation's; a red flag is raised exactly once and never
    resolved; and evaluating everything again raises nothing."""
    order = list(scenario.pain)
    shuffler.shuffle(order)
    alerts, stored = Alerts(), list[PainReport]()
    for report in order:
        record(scenario, alerts, stored, report)
    full = _pain(everything(scenario))
    assert alerts.open == full
    flags = {key for key in full if key[0] == "red_flag"}
    assert flags == {("red_flag", f"pain:{p.id}") for p in scenario.pain if p.symptoms}
    assert all(alerts.raised[key] == 1 for key in flags)
    before = dict(alerts.raised)
    alerts.apply(everything(scenario), BASE - timedelta(days=14), scenario.today)
    assert alerts.raised == before and alerts.open == full


@PROPERTY_SETTINGS
@given(scenario=scenarios(), window=windows())
def test_a_window_finds_what_the_full_evaluation_finds_inside_it(scenario: Scenario,
                                                                 window: Window) -> None:
    """With only the history an incremental evaluation loads (``LOOKBACK`` before the
    window), the daily rules find inside the window exactly what the full evaluation finds:
    the previous morning they compare with is never further back than that."""
    runs, reports = restrict(scenario, window)
    windowed = _pain(_evaluate(scenario, runs, reports, window))
    full = _pain(everything(scenario))

    def inside(found: dict[tuple[str, str], Finding]) -> dict[tuple[str, str], Finding]:
        return {k: f for k, f in found.items()
                if f.subject.anchor is not None
                and window.first <= f.subject.anchor <= window.last}

    assert inside(windowed) == inside(full)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), shuffler=st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_the_order_reports_are_given(scenario: Scenario,
                                                               shuffler: random.Random) -> None:
    """Reports at the same instant, given in any order, give the same alerts, each once."""
    reports = list(scenario.pain)
    shuffler.shuffle(reports)
    shuffled = Scenario(scenario.athlete, scenario.sessions, tuple(reports), scenario.today)
    first, again = everything(scenario), everything(shuffled)
    assert set(first) == set(again)
    assert len({f.dedupe_key for f in again}) == len(again)
