"""General rules that hold outside the plan too: 30-day spikes and acute:chronic load."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from syncd.models import Finding, Session, Severity, Subject
from syncd.plan import Limits
from syncd.rules.context import History, Week, minutes, over


def session_spike(session: Session, history: History, limits: Limits) -> Iterator[Finding]:
    """A run longer than the longest of the previous 30 days by more than the limit.

    Distance is compared when this run and the earlier ones have it, time otherwise
    (Frandsen et al., BJSM 2025: +10 % raised injury rate; above +100 % it more than doubled).
    """
    earlier = history.sessions_between(session.start_utc - timedelta(days=30), session.start_utc)
    distances = [s.distance_m for s in earlier if s.distance_m]
    if session.distance_m and distances:
        observed, longest, unit = session.distance_m / 1000, max(distances) / 1000, "km"
    elif earlier:
        longest_s = max(s.duration_s for s in earlier)
        observed, longest, unit = session.duration_s / 60, longest_s / 60, "min"
    else:
        return
    limit = longest * (1 + limits.spike_vs_longest_30d)
    if not over(observed, limit):
        return
    increase = observed / longest - 1
    severity: Severity = "critical" if increase > 1.0 + 1e-9 else "warning"
    yield Finding(
        rule="session_spike", severity=severity,
        subject=Subject.activity(session.key, session.local_date),
        observed=round(observed, 2), limit=round(limit, 2), unit=unit,
        message=f"The run on {session.local_date} ({observed:.2f} {unit}) is {increase:+.0%} "
                f"on the longest of the previous 30 days ({longest:.2f} {unit}).",
        advice=f"Keep each run within {limits.spike_vs_longest_30d:.0%} of your longest run of "
               "the last 30 days.",
        activity_ids=(session.key,))


def load_ratio(week: Week, chronic_s: float, first_session: date | None,
               limits: Limits) -> Iterator[Finding]:
    """The week's load (session minutes) against the average week of the 28 days ending with
    it (``chronic_s``). Needs 28 days of history before the week ends (Gabbett, BJSM 2016;
    contested since, so info only)."""
    if first_session is None or (week.last_day - first_session).days < 27 or not week.sessions:
        return
    acute = sum(s.duration_s for s in week.sessions)
    if chronic_s <= 0:
        return
    ratio = acute / (chronic_s / 4)
    if over(ratio, limits.load_ratio_max):
        yield Finding(
            rule="load_ratio", severity="info",
            subject=Subject.week(week.start, week.plan_week.number if week.plan_week else None),
            observed=round(ratio, 2), limit=limits.load_ratio_max, unit="ratio",
            message=f"{week.label}: {minutes(acute):g} min of running sessions, {ratio:.2f} "
                    f"times the average week of the last 28 days "
                    f"(limit {limits.load_ratio_max:g}).",
            advice="This week's load is well above your recent average; ease off for a few days.",
            activity_ids=tuple(s.key for s in week.sessions))
