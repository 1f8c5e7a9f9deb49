"""Rules about one session against its plan week: length, running time, bouts, walk weeks."""

from __future__ import annotations

from collections.abc import Iterator

from syncd.models import Finding, Session, Subject
from syncd.plan import Limits, PlanWeek
from syncd.rules.context import minutes, over


def session_rules(session: Session, week: PlanWeek, limits: Limits) -> Iterator[Finding]:
    """Every per-session finding for ``session`` in plan week ``week``."""
    yield from session_length(session, week, limits)
    yield from session_run_time(session, week, limits)
    yield from run_interval(session, week, limits)
    yield from run_in_walk_week(session, week)


def _finding(rule: str, session: Session, observed: float, limit: float, unit: str,
             message: str, advice: str) -> Finding:
    return Finding(rule=rule, severity="warning",
                   subject=Subject.activity(session.key, session.local_date),
                   observed=observed, limit=limit, unit=unit, message=message, advice=advice,
                   activity_ids=(session.key,))


def session_length(session: Session, week: PlanWeek, limits: Limits) -> Iterator[Finding]:
    """The session lasted longer than the prescribed session plus the tolerance."""
    limit_s = week.session_min * 60 * (1 + limits.session_tolerance)
    if over(session.duration_s, limit_s):
        observed, limit = minutes(session.duration_s), minutes(limit_s)
        yield _finding(
            "session_length", session, observed, limit, "min",
            f"Week {week.number}: a {observed:g} min session on {session.local_date}, above "
            f"the {limit:g} min limit ({week.session_min:g} min prescribed "
            f"+{limits.session_tolerance:.0%}).",
            f"Keep sessions to {week.session_min:g} min; stop when the prescribed time is up.")


def session_run_time(session: Session, week: PlanWeek, limits: Limits) -> Iterator[Finding]:
    """The session had more running than prescribed plus the tolerance."""
    if week.walk_only:
        return  # run_in_walk_week says it better
    limit_s = week.run_min * 60 * (1 + limits.session_tolerance)
    if over(session.run_s, limit_s):
        observed, limit = minutes(session.run_s), minutes(limit_s)
        yield _finding(
            "session_run_time", session, observed, limit, "min",
            f"Week {week.number}: {observed:g} min of running on {session.local_date}, above "
            f"the {limit:g} min limit ({week.run_min:g} min prescribed).",
            f"Run only the prescribed {week.run_min:g} min and walk the rest of the session.")


def run_interval(session: Session, week: PlanWeek, limits: Limits) -> Iterator[Finding]:
    """The longest continuous running bout was longer than the plan's interval allows."""
    if week.run_interval_s is None or week.walk_only:
        return
    limit_s = week.run_interval_s * (1 + limits.session_tolerance)
    if over(session.longest_run_s, limit_s):
        observed, limit = round(session.longest_run_s, 1), round(limit_s, 1)
        yield _finding(
            "run_interval", session, observed, limit, "s",
            f"Week {week.number}: a continuous run of {observed:g} s on {session.local_date}, "
            f"above the {limit:g} s limit ({week.run_interval_s:g} s bouts prescribed).",
            f"Break the running into bouts of at most {week.run_interval_s:g} s "
            "with walking between them.")


def run_in_walk_week(session: Session, week: PlanWeek) -> Iterator[Finding]:
    """Any running at all in a walk-only week.

    A running activity whose run/walk split shows no running (a run/walk session walked
    throughout) is what the week asks for, so it says nothing.
    """
    if not week.walk_only or session.run_s <= 0:
        return
    observed = minutes(session.run_s)
    yield _finding(
        "run_in_walk_week", session, observed, 0.0, "min",
        f"Week {week.number} is a walking week, but {session.local_date} had {observed:g} min "
        "of running.",
        "Walk only this week; the plan adds short jogs next week.")
