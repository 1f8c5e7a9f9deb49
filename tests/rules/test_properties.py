"""Properties of the evaluator over random histories: order does not matter, a window gives
what the full evaluation gives inside it, and a change touches only its affected window."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.models import Finding, PainReport, Session
from syncd.plan import Plan, parse_plan, week_start
from syncd.rules import LOOKBACK, Athlete, History, Window, evaluate, history_start

BASE = date(2026, 8, 3)  # a Monday; 150 days from here cross both autumn clock changes
SPAN_DAYS = 150
ZONES = ("Europe/Berlin", "America/New_York", "America/Los_Angeles", "Australia/Sydney", "UTC")
# Few distinct times of day, so that runs and reports often start at the same instant.
MINUTES_OF_DAY = (30, 6 * 60, 7 * 60, 12 * 60, 18 * 60, 23 * 60, 23 * 60 + 30)
EVERYTHING = Window(BASE - timedelta(days=70), BASE + timedelta(days=SPAN_DAYS + 70))

PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


@dataclass(frozen=True)
class Scenario:
    """A runner, their history and the day they look at it."""

    athlete: Athlete
    sessions: tuple[Session, ...]
    pain: tuple[PainReport, ...]
    today: date


def _instant(day: int, minute: int) -> datetime:
    """UTC instant ``day`` days and ``minute`` minutes after BASE's midnight UTC."""
    return datetime(BASE.year, BASE.month, BASE.day, tzinfo=UTC) + timedelta(
        days=day, minutes=minute)


def _local(moment: datetime, tz: str) -> datetime:
    """The naive wall-clock time of ``moment`` in ``tz``."""
    return moment.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


DURATIONS_MIN = (10, 15, 17, 18, 19, 25, 30, 45, 60, 90)
RUN_SHARES = (0.0, 0.1, 0.12, 0.25, 0.5, 1.0)
BOUT_SHARES = (0.1, 0.5, 1.0)
PACES_M_PER_MIN = (None, 150.0, 180.0, 200.0)  # None: no distance (a treadmill, a manual entry)

# Flat tuples draw much faster than one composite per run, which keeps the suite quick.
SESSION_FIELDS = st.tuples(st.integers(0, SPAN_DAYS), st.sampled_from(MINUTES_OF_DAY),
                           st.sampled_from(DURATIONS_MIN), st.sampled_from(RUN_SHARES),
                           st.sampled_from(BOUT_SHARES), st.sampled_from(PACES_M_PER_MIN))
PAIN_FIELDS = st.tuples(st.integers(0, SPAN_DAYS), st.sampled_from(MINUTES_OF_DAY),
                        st.integers(0, 6), st.booleans())


def make_session(fields: tuple[int, int, int, float, float, float | None], tz: str,
                 key: str) -> Session:
    """A run from drawn fields: day, minute of day, minutes, running and bout shares, pace."""
    day, minute, duration_min, run_share, bout_share, pace = fields
    start = _instant(day, minute)
    duration_s = 60.0 * duration_min
    return Session(key=key, start_utc=start, local_start=_local(start, tz),
                   duration_s=duration_s, run_s=duration_s * run_share,
                   longest_run_s=duration_s * run_share * bout_share,
                   distance_m=None if pace is None else duration_min * pace)


def make_pain(fields: tuple[int, int, int, bool], tz: str, report_id: str) -> PainReport:
    """A pain report from drawn fields: day, minute of day, score, whether the local time is
    known."""
    day, minute, score, with_local = fields
    at = _instant(day, minute)
    return PainReport(id=report_id, at_utc=at, score=score,
                      local_at=_local(at, tz) if with_local else None)


def sessions(tz: str, key: str) -> st.SearchStrategy[Session]:
    """One run somewhere in the span."""
    return SESSION_FIELDS.map(lambda fields: make_session(fields, tz, key))


def pain_reports(tz: str, report_id: str) -> st.SearchStrategy[PainReport]:
    """One pain report somewhere in the span."""
    return PAIN_FIELDS.map(lambda fields: make_pain(fields, tz, report_id))


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """A short plan with a few weeks and varied limits."""
    weeks = []
    for _ in range(draw(st.integers(1, 4))):
        run_min = draw(st.sampled_from((0, 1, 2, 4, 10)))
        walk_min = draw(st.sampled_from((0, 5, 13))) or (0 if run_min else 15)
        week = {"sessions": draw(st.integers(1, 4)), "run_min": run_min, "walk_min": walk_min}
        bout = draw(st.sampled_from((None, 30, 60, 120)))
        if bout is not None and bout <= run_min * 60:
            week["run_interval_s"] = bout
        weeks.append(week)
    limits = {
        "progression": draw(st.sampled_from(("calendar", "gated"))),
        "rest_days_between_runs": draw(st.integers(0, 2)),
        "pain_persist_hours": draw(st.sampled_from((24, 48))),
        "session_tolerance": draw(st.sampled_from((0.0, 0.1))),
    }
    return parse_plan({"name": "random", "limits": limits, "weeks": weeks})


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A runner with or without a plan, up to 40 runs and 15 pain reports."""
    tz = draw(st.sampled_from(ZONES))
    plan = draw(st.one_of(st.none(), plans()))
    start = BASE + timedelta(days=draw(st.integers(-14, 60))) if plan is not None else None
    runs = tuple(make_session(fields, tz, f"s{i}") for i, fields
                 in enumerate(draw(st.lists(SESSION_FIELDS, max_size=40))))
    reports = tuple(make_pain(fields, tz, f"p{i}") for i, fields
                    in enumerate(draw(st.lists(PAIN_FIELDS, max_size=15))))
    today = BASE + timedelta(days=draw(st.integers(0, SPAN_DAYS + 14)))
    return Scenario(Athlete("runner", tz, plan, start), runs, reports, today)


def _by_time(runs: Iterable[Session], reports: Iterable[PainReport]) -> tuple[
        list[Session], list[PainReport]]:
    """Sorted by start as the caller sorts them (stable: ties keep the order given)."""
    return (sorted(runs, key=lambda s: s.start_utc), sorted(reports, key=lambda p: p.at_utc))


def _evaluate(scenario: Scenario, runs: Sequence[Session], reports: Sequence[PainReport],
              window: Window = EVERYTHING, first_session: date | None = None) -> list[Finding]:
    """Evaluate ``window`` over the given history, sorted by time."""
    ordered_runs, ordered_reports = _by_time(runs, reports)
    if first_session is None and ordered_runs:
        first_session = min(s.local_date for s in ordered_runs)
    # The first day with data, as the store knows it whatever the window (missed_session).
    days = [s.local_date for s in scenario.sessions]
    days += [_report_day(scenario.athlete, p) for p in scenario.pain]
    history = History(ordered_runs, ordered_reports, first_session_date=first_session,
                      first_data_day=min(days, default=None))
    return evaluate(scenario.athlete, history, window, scenario.today)


def _report_day(athlete: Athlete, report: PainReport) -> date:
    """The local day of a pain report, as the evaluator places it."""
    return report.local_at.date() if report.local_at else athlete.local_date(report.at_utc)


def _in(window: Window, findings: Iterable[Finding]) -> set[Finding]:
    """The findings anchored inside ``window``."""
    return {f for f in findings
            if f.subject.anchor is not None and window.first <= f.subject.anchor <= window.last}


@PROPERTY_SETTINGS
@given(scenario=scenarios(), shuffler=st.randoms(use_true_random=False))
def test_findings_do_not_depend_on_input_order(scenario: Scenario,
                                               shuffler: random.Random) -> None:
    """Twice the same history, or the same history shuffled then sorted by start (runs or
    reports at the same instant in any order), gives the same findings, each once."""
    first = _evaluate(scenario, scenario.sessions, scenario.pain)
    again = _evaluate(scenario, scenario.sessions, scenario.pain)
    runs, reports = list(scenario.sessions), list(scenario.pain)
    shuffler.shuffle(runs)
    shuffler.shuffle(reports)
    shuffled = _evaluate(scenario, runs, reports)
    assert set(first) == set(again) == set(shuffled)
    keys = [f.dedupe_key for f in shuffled]
    assert len(keys) == len(set(keys))


@st.composite
def windows(draw: st.DrawFn) -> Window:
    """A window of up to five weeks somewhere in (or just around) the span."""
    first = BASE + timedelta(days=draw(st.integers(-10, SPAN_DAYS)))
    return Window(first, first + timedelta(days=draw(st.integers(0, 35))))


def restrict(scenario: Scenario, window: Window) -> tuple[list[Session], list[PainReport]]:
    """The history an incremental evaluation of ``window`` loads (the :class:`History`
    contract): local days from :func:`history_start` to a week after the window, plus the
    first run after that and the pain reports up to it, where the last run's pain ends."""
    first, last = history_start(scenario.athlete, window), window.last + timedelta(days=7)
    runs = [s for s in scenario.sessions if first <= s.local_date <= last]
    later = sorted((s for s in scenario.sessions if s.local_date > last),
                   key=lambda s: (s.start_utc, s.key))
    following = later[0] if later else None
    reports = [p for p in scenario.pain if first <= _report_day(scenario.athlete, p)
               and (_report_day(scenario.athlete, p) <= last or following is None
                    or p.at_utc < following.start_utc)]
    return runs + ([following] if following else []), reports


@PROPERTY_SETTINGS
@given(scenario=scenarios(), window=windows())
def test_window_gives_what_the_full_evaluation_gives_inside_it(scenario: Scenario,
                                                               window: Window) -> None:
    """Evaluating a window over only the history it needs finds, inside the window, exactly
    what evaluating everything finds there: what makes incremental evaluation correct."""
    everyone = [s.local_date for s in scenario.sessions]
    first_ever = min(everyone) if everyone else None
    full = _evaluate(scenario, scenario.sessions, scenario.pain, first_session=first_ever)
    runs, reports = restrict(scenario, window)
    windowed = _evaluate(scenario, runs, reports, window, first_session=first_ever)
    assert _in(window, windowed) == _in(window, full)


def _affected(scenario: Scenario, day: date, moment: datetime,
              reach_back: timedelta = timedelta(0)) -> tuple[date, date | None]:
    """First and last anchor a change at ``moment`` (local ``day``) may alter.

    From the week of the run before it (whose pain findings end where the next run starts,
    or ``reach_back`` before the day) to :data:`LOOKBACK` after it; in gated progression
    everything after, since a repeated week shifts every later one.
    """
    earlier = [s.local_date for s in scenario.sessions if s.start_utc < moment]
    first = min([day - reach_back, max(earlier)]) if earlier else day - reach_back
    athlete = scenario.athlete
    first = week_start(first, athlete.plan_start)
    if athlete.plan is not None and athlete.limits.progression == "gated":
        return first, None
    # A change before the first day of data moves it: the weeks up to the old first day (to
    # today when there was none) change whether they are judged (missed_session), as the App
    # re-evaluates them (pipeline.evaluation.with_watched_span).
    watched = min([s.local_date for s in scenario.sessions]
                  + [_report_day(athlete, p) for p in scenario.pain], default=None)
    if watched is None or day < watched:
        return first, max(day + LOOKBACK, (watched or scenario.today) + timedelta(days=6))
    return first, day + LOOKBACK


def _changed(before: Iterable[Finding], after: Iterable[Finding]) -> set[Finding]:
    """Findings raised, resolved or altered between two evaluations."""
    return set(before) ^ set(after)


def _within(findings: Iterable[Finding], first: date, last: date | None) -> bool:
    """True when every finding (except shoe mileage, which has no day) is anchored inside."""
    return all(f.subject.anchor is None or
               (first <= f.subject.anchor and (last is None or f.subject.anchor <= last))
               for f in findings)


# The athlete's first run ever, long before the span: a late import of even older history
# moves it, and with it the 28-day gate of the load ratio everywhere (a full re-evaluation).
LONG_AGO = BASE - timedelta(days=400)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_adding_then_removing_a_run_touches_only_its_window(scenario: Scenario,
                                                            data: st.DataObject) -> None:
    """Removing a run gives back exactly the findings from before it was added, and the
    findings it raised or resolved are all anchored in its affected window."""
    new = data.draw(sessions(scenario.athlete.timezone, "new"))
    before = _evaluate(scenario, scenario.sessions, scenario.pain, first_session=LONG_AGO)
    added = _evaluate(scenario, [*scenario.sessions, new], scenario.pain,
                      first_session=LONG_AGO)
    removed = _evaluate(scenario, [s for s in [*scenario.sessions, new] if s.key != "new"],
                        scenario.pain, first_session=LONG_AGO)
    assert set(removed) == set(before)
    first, last = _affected(scenario, new.local_date, new.start_utc)
    assert _within(_changed(before, added), first, last)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_a_pain_report_touches_only_its_window(scenario: Scenario,
                                               data: st.DataObject) -> None:
    """A new pain report raises or resolves findings only inside its affected window; taking
    it back restores the findings from before."""
    new = data.draw(pain_reports(scenario.athlete.timezone, "new"))
    before = _evaluate(scenario, scenario.sessions, scenario.pain, first_session=LONG_AGO)
    added = _evaluate(scenario, scenario.sessions, [*scenario.pain, new],
                      first_session=LONG_AGO)
    assert set(_evaluate(scenario, scenario.sessions, scenario.pain,
                         first_session=LONG_AGO)) == set(before)
    # pain_rising: a report up to a day after a run's end, so two local days after its start
    first, last = _affected(scenario, _report_day(scenario.athlete, new), new.at_utc,
                            reach_back=timedelta(days=2))
    assert _within(_changed(before, added), first, last)


@PROPERTY_SETTINGS
@given(scenario=scenarios(), data=st.data())
def test_a_runs_findings_ignore_runs_more_than_35_days_later(scenario: Scenario,
                                                             data: st.DataObject) -> None:
    """Adding a run more than :data:`LOOKBACK` after every other run changes no finding of
    the earlier runs, except pain_persistent of the run just before it (its pain window
    now ends where the new run starts)."""
    last_day = max((s.local_date for s in scenario.sessions), default=BASE)
    late = data.draw(sessions(scenario.athlete.timezone, "late"))
    shift = last_day + LOOKBACK + timedelta(days=1) - late.local_date
    late = replace(late, start_utc=late.start_utc + shift, local_start=late.local_start + shift)
    before = _evaluate(scenario, scenario.sessions, scenario.pain, first_session=LONG_AGO)
    after = _evaluate(scenario, [*scenario.sessions, late], scenario.pain,
                      first_session=LONG_AGO)
    athlete = scenario.athlete
    if athlete.plan is not None and athlete.limits.progression == "gated":
        return  # a pain finding may repeat a week, and that shifts the plan up to here
    assert {f for f in _changed(before, after)
            if f.subject.anchor is not None and f.subject.anchor <= last_day
            and f.rule != "pain_persistent"} == set()


def test_old_pain_report_is_no_baseline_in_any_window() -> None:
    """Found by the pain-report property: pain 0 on 08-03, then nothing until a run on 09-17
    with pain 2 after it. The full evaluation compared the two; the run's window loads
    history only from 08-10 and could not. A baseline older than 28 days now counts in
    neither, so the two agree and the 08-03 report touches nothing six weeks later."""
    tz = "Europe/Berlin"
    late_run = make_session((45, 7 * 60, 30, 1.0, 1.0, None), tz, "s0")
    old, after = make_pain((0, 30, 0, True), tz, "p0"), make_pain((45, 12 * 60, 2, True), tz, "p1")
    scenario = Scenario(Athlete("runner", tz), (late_run,), (old, after), date(2026, 10, 1))
    window = Window(late_run.local_date, late_run.local_date)
    assert history_start(scenario.athlete, window) == date(2026, 8, 10)
    full = _evaluate(scenario, scenario.sessions, scenario.pain)
    windowed = _evaluate(scenario, *restrict(scenario, window), window)
    assert _in(window, windowed) == _in(window, full) == set()
    without_old = _evaluate(scenario, scenario.sessions, [after])
    assert set(without_old) == set(full)
