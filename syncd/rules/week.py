"""Rules about a whole week: volume growth, number of sessions, rest days."""

from __future__ import annotations

from collections.abc import Iterator

from syncd.models import Finding, Session, Subject
from syncd.plan import Limits
from syncd.rules.context import History, Week, minutes, over


def week_rules(week: Week, limits: Limits) -> Iterator[Finding]:
    """Every per-week finding for a week inside the plan."""
    yield from weekly_increase(week, limits)
    yield from sessions_per_week(week)


def _subject(week: Week) -> Subject:
    return Subject.week(week.start, week.plan_week.number if week.plan_week else None)


def weekly_increase(week: Week, limits: Limits) -> Iterator[Finding]:
    """The week's running so far exceeds max(last week, the prescription) plus 10 %.

    A walk-only week following a week without running has no base to grow from; any running
    in it is already a ``run_in_walk_week`` finding, so this rule stays quiet there.
    """
    prescribed = week.plan_week.prescribed_run_s if week.plan_week else 0.0
    base = max(week.previous_run_s, prescribed)
    if base <= 0:
        return
    limit_s = base * (1 + limits.max_weekly_increase)
    if over(week.run_s, limit_s):
        observed, limit = minutes(week.run_s), minutes(limit_s)
        yield Finding(
            rule="weekly_increase", severity="warning", subject=_subject(week),
            observed=observed, limit=limit, unit="min",
            message=f"{week.label}: {observed:g} min of running, above the {limit:g} min limit "
                    f"(+{limits.max_weekly_increase:.0%}).",
            advice="Hold this week's volume; repeat the week before progressing.",
            activity_ids=tuple(s.key for s in week.sessions))


def sessions_per_week(week: Week) -> Iterator[Finding]:
    """More run sessions in the week than prescribed."""
    plan_week = week.plan_week
    if plan_week is None or plan_week.walk_only:
        return
    count = len(week.sessions)
    if count > plan_week.sessions:
        yield Finding(
            rule="sessions_per_week", severity="warning", subject=_subject(week),
            observed=float(count), limit=float(plan_week.sessions), unit="sessions",
            message=f"{week.label}: {count} run sessions, {plan_week.sessions} prescribed.",
            advice=f"Keep to {plan_week.sessions} run sessions a week; walk or rest on the "
                   "other days.",
            activity_ids=tuple(s.key for s in week.sessions))


def rest_day(session: Session, history: History, limits: Limits) -> Iterator[Finding]:
    """``session`` came too few local days after the previous run day (across week ends too).

    Only the first session of a day is compared, with the last earlier run day: two sessions
    on one day are counted by ``sessions_per_week`` instead.
    """
    needed = limits.rest_days_between_runs
    previous = history.previous_session(session)
    if needed < 1 or previous is None:
        return
    if previous.local_date >= session.local_date:
        # A second session that day (or a time zone change): the first one carries it.
        return
    gap = (session.local_date - previous.local_date).days - 1
    if 0 <= gap < needed:
        yield Finding(
            rule="rest_day", severity="warning",
            subject=Subject.activity(session.key, session.local_date),
            observed=float(gap), limit=float(needed), unit="days",
            message=f"Runs on {previous.local_date} and {session.local_date} with {gap} rest "
                    f"day{'s' if gap != 1 else ''} between; the plan asks for {needed}.",
            advice=f"Leave at least {needed} rest day{'s' if needed != 1 else ''} between run "
                   "days; walk or cross-train instead.",
            activity_ids=(previous.key, session.key))
