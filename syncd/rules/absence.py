"""Rules about what did not happen: a plan week that ended with sessions missing, and a
silence (no activity, no pain report) while a plan is running.

Both depend on today as well as on the data, so they change as days pass: the daemon
re-evaluates every athlete shortly after each local midnight (``syncd.runtime.daily``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from syncd.models import Finding, OtherActivity, PainReport, Subject
from syncd.plan import week_start
from syncd.rules.context import Athlete, History, Week
from syncd.rules.progression import Position, WeekFindings, positions


def missed_session(week: Week, others: Sequence[OtherActivity], today: date,
                   watched_from: date | None) -> Iterator[Finding]:
    """A plan week that has ended (its last local day is before ``today``) with fewer sessions
    than prescribed.

    Only weeks from the one holding the athlete's first data (``watched_from``: the first
    activity or pain report syncd has) are judged: before it syncd was not watching (an
    athlete joining mid-plan), and a silence since the plan start is ``no_data``'s to tell.

    In a running week only runs count (the plan prescribes run/walk sessions). In a walk-only
    week the prescribed sessions are walks: walks and hikes count, and so do runs (already a
    ``run_in_walk_week`` finding, but the runner did turn up). Cross-training never counts.
    """
    plan_week = week.plan_week
    if plan_week is None or week.last_day >= today:
        return
    if watched_from is None or week.last_day < watched_from:
        return
    done = len(week.sessions)
    if plan_week.walk_only:
        done += sum(1 for activity in others if activity.walking)
    if done >= plan_week.sessions:
        return
    kind = "walking" if plan_week.walk_only else "run"
    yield Finding(
        rule="missed_session", severity="info",
        subject=Subject.week(week.start, plan_week.number),
        observed=float(done), limit=float(plan_week.sessions), unit="sessions",
        message=f"{week.label} ended with {done} of {plan_week.sessions} {kind} sessions "
                f"({week.start} to {week.last_day}).",
        advice="A missed session is no reason to double up: carry on with the plan, and "
               "repeat the week if it felt hard.",
        activity_ids=tuple(s.key for s in week.sessions))


def plan_running(athlete: Athlete, walked: Sequence[Position], history: WeekFindings,
                 today: date) -> bool:
    """True when ``today`` falls in a plan week: read from the positions an evaluation walked
    when they reach today's week, else walked to it (a window that ends earlier)."""
    plan, start = athlete.plan, athlete.plan_start
    if plan is None or start is None or today < start:
        return False
    current = week_start(today, start)
    found = ([p for p in walked if p.start == current]
             or positions(athlete, history, current, current, today))
    number = found[0].number if found else None
    return number is not None and plan.week(number) is not None


def first_data_day(athlete: Athlete, history: History) -> date | None:
    """The first local day with an activity or a pain report: the earlier of what the caller
    knew (``history.first_data_day``) and what the history holds."""
    days = [history.sessions[0].local_date] if history.sessions else []
    days += [history.others[0].local_date] if history.others else []
    days += [_pain_day(athlete, history.pain[0])] if history.pain else []
    if history.first_data_day is not None:
        days.append(history.first_data_day)
    return min(days, default=None)


def _pain_day(athlete: Athlete, report: PainReport) -> date:
    """The local day of a pain report."""
    return report.local_at.date() if report.local_at else athlete.local_date(report.at_utc)


def last_data_day(athlete: Athlete, history: History, today: date) -> date | None:
    """The last local day up to ``today`` with an activity (any sport) or a pain report: the
    later of what the caller knew (``history.last_data_day``) and what the history holds."""
    days = [s.local_date for s in history.sessions]
    days += [a.local_date for a in history.others]
    days += [_pain_day(athlete, p) for p in history.pain]
    if history.last_data_day is not None:
        days.append(history.last_data_day)
    return max((day for day in days if day <= today), default=None)


def no_data(athlete: Athlete, last_day: date | None, today: date,
            running: bool) -> Iterator[Finding]:
    """No activity and no pain report for more than ``silence_days`` days while the plan
    runs (``running``: today is in a plan week).

    The silence is counted in local days from the last day with data (``last_day``, or the
    day before the plan started when nothing came since): with ``silence_days = 4`` and the
    last run on the 1st, the 5th is quiet (4 days) and the 6th raises ``no_data`` (5 days).
    """
    start = athlete.plan_start
    if not running or start is None:
        return
    since = start - timedelta(days=1)
    if last_day is not None and last_day > since:
        since = last_day
    days, limit = (today - since).days, athlete.limits.silence_days
    if days <= limit:
        return
    yield Finding(
        rule="no_data", severity="warning", subject=Subject.silence(since),
        observed=float(days), limit=float(limit), unit="days",
        message=f"Nothing recorded for {days} days: no activity and no pain report since "
                f"{since} (limit {limit} days).",
        advice="Sync your watch or report how the hip feels (syncd pain SCORE); if you are "
               "resting because of pain, tell your physical therapist.")
