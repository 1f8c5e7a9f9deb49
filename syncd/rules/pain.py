"""Rules about pain: a score that means stop, pain that lasts, pain that rises after a run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from syncd.models import Finding, PainReport, Session, Subject
from syncd.plan import Limits
from syncd.rules.context import History

# How far back the last pain report may lie and still say how the runner felt before a run.
# Older scores say little about today, and the limit must stay inside LOOKBACK: an
# incremental evaluation loads only that much history, and must find what a full one finds.
PAIN_BASELINE = timedelta(days=28)


def pain_stop(report: PainReport, local_day: date, history: History,
              limits: Limits) -> Iterator[Finding]:
    """A pain score at or above the stop threshold."""
    if report.score < limits.pain_stop:
        return
    recent = history.sessions_between(report.at_utc - timedelta(hours=24), report.at_utc)
    yield Finding(
        rule="pain_stop", severity="critical", subject=Subject.pain(report, local_day),
        observed=float(report.score), limit=float(limits.pain_stop), unit="pain",
        message=f"Pain {report.score}/10 reported on {local_day}: at or above "
                f"{limits.pain_stop}/10.",
        advice="Stop running and contact your physical therapist before the next session.",
        activity_ids=tuple(s.key for s in recent))


def pain_persistent(session: Session, history: History, limits: Limits) -> Iterator[Finding]:
    """Pain still reported ``pain_persist_hours`` after ``session`` with no pain-free report in
    between and no later session (then that later session is "the last session")."""
    following = history.next_session(session)
    until = following.start_utc if following is not None else None
    for report in history.pain_between(session.end_utc, until):
        if report.score == 0:
            return
        hours = (report.at_utc - session.end_utc).total_seconds() / 3600
        if hours >= limits.pain_persist_hours:
            yield Finding(
                rule="pain_persistent", severity="warning",
                subject=Subject.activity(session.key, session.local_date),
                observed=round(hours, 1), limit=float(limits.pain_persist_hours), unit="h",
                message=f"Pain {report.score}/10 is still reported {hours:.0f} h after the "
                        f"run on {session.local_date} (limit {limits.pain_persist_hours:g} h).",
                advice="Pain that lasts this long means slow down: go back to the previous "
                       "week of the plan and tell your physical therapist.",
                activity_ids=(session.key,))
            return


def pain_rising(session: Session, history: History) -> Iterator[Finding]:
    """The first pain report within 24 h after ``session`` is higher than the last one before.

    With no report in the :data:`PAIN_BASELINE` before the session there is nothing to
    compare with, so nothing is said.
    """
    before = history.last_pain_before(session.start_utc)
    if before is not None and before.at_utc < session.start_utc - PAIN_BASELINE:
        before = None
    after = history.pain_between(session.start_utc, session.end_utc + timedelta(hours=24))
    if before is None or not after or after[0].score <= before.score:
        return
    first = after[0]
    yield Finding(
        rule="pain_rising", severity="warning",
        subject=Subject.activity(session.key, session.local_date),
        observed=float(first.score), limit=float(before.score), unit="pain",
        message=f"Pain rose from {before.score}/10 before the run on {session.local_date} "
                f"to {first.score}/10 after it.",
        advice="Pain must not increase with running: drop back to the previous week's volume "
               "and watch how it settles.",
        activity_ids=(session.key,))
