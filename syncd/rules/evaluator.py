"""Runs every rule over a window of local days and returns the findings: data in, findings out.

The evaluator is pure. The caller loads the history the window needs
(:func:`history_start`), passes today's local date, and writes the findings with the store,
which raises new alerts and resolves those no longer found inside the same window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from syncd.models import Finding, OtherActivity, PainReport, Session
from syncd.plan import PlanWeek, week_start
from syncd.rules.absence import (
    first_data_day,
    last_data_day,
    missed_session,
    no_data,
    plan_running,
)
from syncd.rules.context import LOOKBACK, Athlete, History, Week
from syncd.rules.daily import morning_pain_rising, red_flag
from syncd.rules.gear import shoe_mileage
from syncd.rules.load import load_ratio, session_spike
from syncd.rules.pain import pain_persistent, pain_rising, pain_stop
from syncd.rules.progression import Position, positions, walk, walk_start
from syncd.rules.session import session_rules
from syncd.rules.week import rest_day, week_rules

DAYS_7 = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Window:
    """Local days ``first``..``last`` (inclusive) whose findings are evaluated; widened to
    whole weeks by the evaluator."""

    first: date
    last: date


def history_start(athlete: Athlete, window: Window, anchor: Position | None = None) -> date:
    """The first local day of history the evaluation of ``window`` needs.

    Gated progression walks the plan from ``anchor`` (where the plan stood in an earlier
    week, as an earlier evaluation stored it) or else from the plan start, since whether a
    week repeated depends on every week before it; otherwise :data:`LOOKBACK` before the
    window is enough.
    """
    first = week_start(window.first, athlete.plan_start)
    return min(first, walk_start(athlete, first, anchor)) - LOOKBACK


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The findings of a window, and where the plan stood each week the evaluation walked
    (what the store keeps so that the next evaluation need not walk them again)."""

    findings: list[Finding]
    positions: list[Position]


def evaluate(athlete: Athlete, history: History, window: Window, today: date,
             anchor: Position | None = None) -> list[Finding]:
    """Every finding whose subject falls inside ``window`` (whole weeks), plus shoe mileage
    and today's silence (``no_data``), which every evaluation checks whatever its window.

    ``today`` is the athlete's local date: in gated progression a week counts as ended (and
    so can advance the plan) only once it is over. ``anchor``: see :func:`evaluate_window`.
    """
    return evaluate_window(athlete, history, window, today, anchor).findings


def evaluate_window(athlete: Athlete, history: History, window: Window, today: date,
                    anchor: Position | None = None) -> Evaluation:
    """:func:`evaluate`, with the positions it walked. A gated plan is walked from
    ``anchor`` (a stored position at or before the window's first week) when given, else
    from the plan start; ``history`` must reach :func:`history_start` of the same anchor."""
    grouped = GroupedHistory(athlete, history, today)
    first = week_start(window.first, athlete.plan_start)
    last = week_start(window.last, athlete.plan_start)
    findings: dict[tuple[str, str], Finding] = {}
    walked: list[Position] = []
    for position, found in walk(athlete, grouped, first, last, today, anchor):
        walked.append(position)
        if position.start >= first:
            for finding in found:
                findings.setdefault(finding.dedupe_key, finding)
    for finding in shoe_mileage(history.gear, athlete.limits):
        findings.setdefault(finding.dedupe_key, finding)
    # Today's silence, whatever the window: it depends on today as much as on the data.
    running = plan_running(athlete, walked, grouped, today)
    for finding in no_data(athlete, last_data_day(athlete, history, today), today, running):
        findings.setdefault(finding.dedupe_key, finding)
    return Evaluation(list(findings.values()), walked)


class GroupedHistory:
    """The history grouped by week start, and the findings of one week."""

    def __init__(self, athlete: Athlete, history: History, today: date | None = None) -> None:
        self.athlete = athlete
        self.history = history
        self.today = today  # None: no week counts as over (no missed sessions)
        self.watched_from = first_data_day(athlete, history)
        self.sessions: dict[date, list[Session]] = defaultdict(list)
        self.others: dict[date, list[OtherActivity]] = defaultdict(list)
        for activity in history.others:
            self.others[self.week_of(activity.local_date)].append(activity)
        self.pain: dict[date, list[tuple[PainReport, date]]] = defaultdict(list)
        for session in history.sessions:
            self.sessions[self.week_of(session.local_date)].append(session)
        for report in history.pain:
            day = report.local_at.date() if report.local_at else athlete.local_date(report.at_utc)
            self.pain[self.week_of(day)].append((report, day))

    def week_of(self, day: date) -> date:
        """The start of the week containing ``day``."""
        return week_start(day, self.athlete.plan_start)

    def week(self, start: date, plan_week: PlanWeek | None) -> Week:
        """The week starting at ``start``."""
        previous = sum(s.run_s for s in self.sessions.get(start - DAYS_7, ()))
        return Week(start, plan_week, self.sessions.get(start, []), previous)

    def week_findings(self, start: date, plan_week: PlanWeek | None) -> Iterator[Finding]:
        """Every finding anchored in the week starting at ``start``."""
        limits, history = self.athlete.limits, self.history
        week = self.week(start, plan_week)
        for session in week.sessions:
            if plan_week is not None:
                yield from session_rules(session, plan_week, limits)
                if not plan_week.walk_only:
                    yield from rest_day(session, history, limits)
            else:
                yield from session_spike(session, history, limits)
            yield from pain_persistent(session, history, limits)
            yield from pain_rising(session, history)
        if plan_week is not None:
            yield from week_rules(week, limits)
            if self.today is not None:
                yield from missed_session(week, self.others.get(start, ()), self.today,
                                          self.watched_from)
        chronic = sum(s.duration_s for k in range(4)
                      for s in self.sessions.get(start - DAYS_7 * k, ()))
        yield from load_ratio(week, chronic, history.first_session_date, limits)
        for report, day in self.pain.get(start, ()):
            yield from pain_stop(report, day, history, limits)
            yield from red_flag(report, day, history)
            yield from morning_pain_rising(report, day, history)


def plan_weeks(athlete: Athlete, grouped: GroupedHistory, first: date, last: date,
                today: date) -> Iterator[tuple[date, PlanWeek | None]]:
    """(week start, plan week) for every week from ``first`` to ``last``, as the evaluator
    counts them (see :func:`syncd.rules.progression.positions`)."""
    for position in positions(athlete, grouped, first, last, today):
        number = position.number
        yield position.start, athlete.plan.week(number) if athlete.plan and number else None


def plan_positions(athlete: Athlete, history: History, first: date, last: date, today: date,
                   anchor: Position | None = None) -> list[Position]:
    """Which plan week each week from ``first`` to ``last`` (week starts) is, and how a gated
    plan got there: the one answer the evaluator and every view share. ``history`` must
    reach :func:`history_start` of ``anchor`` in gated progression (no history is needed in
    calendar progression)."""
    grouped = GroupedHistory(athlete, history, today)
    return positions(athlete, grouped, first, last, today, anchor)
