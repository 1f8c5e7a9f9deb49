"""Rules of the daily loop (DESIGN section 10): a warning symptom reported with pain, and
next-morning pain that creeps up from one morning report to the next."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from syncd.models import SYMPTOM_LABELS, Finding, PainReport, PainWhen, Subject
from syncd.rules.context import History
from syncd.rules.pain import PAIN_BASELINE

# What to do about each symptom, after the seed table: urgent for swelling or numbness.
RED_FLAG_ADVICE: dict[str, str] = {
    "swelling": "Swelling: get an urgent medical evaluation.",
    "numbness": "Numbness: get an urgent medical evaluation.",
    "trouble_walking": "Trouble walking: stop and get checked by a professional.",
    "locking": "Locking or clicking: get a medical assessment.",
    "night_pain": "Pain at night: see a professional.",
}
# Next-morning pain at or below this may go up and down (the pain-monitoring model allows
# mild pain); above it, a rise from the previous morning is a warning.
MORNING_PAIN_FLOOR = 2
# How far back the previous next-morning report may lie. The same bound as PAIN_BASELINE,
# for the same reason: inside LOOKBACK, so an incremental evaluation (which re-evaluates
# LOOKBACK after a new report) finds every morning report a late one changes.
MORNING_BASELINE = PAIN_BASELINE
DAY = timedelta(hours=24)


def red_flag(report: PainReport, local_day: date, history: History) -> Iterator[Finding]:
    """Any warning symptom reported, whatever the score: one alert naming them all."""
    if not report.symptoms:
        return
    named = _listed([SYMPTOM_LABELS[s] for s in report.symptoms])
    recent = history.sessions_between(report.at_utc - DAY, report.at_utc)
    yield Finding(
        rule="red_flag", severity="critical", subject=Subject.pain(report, local_day),
        observed=float(len(report.symptoms)), limit=0.0, unit="symptoms",
        message=f"Red flag on {local_day}: {named} reported with pain "
                f"{report.score}/10.",
        advice=" ".join(RED_FLAG_ADVICE[s] for s in report.symptoms)
               + " Do not run until you have been seen.",
        activity_ids=tuple(s.key for s in recent))


def morning_pain_rising(report: PainReport, local_day: date,
                        history: History) -> Iterator[Finding]:
    """A next-morning score above the previous next-morning score (within
    :data:`MORNING_BASELINE`) and above :data:`MORNING_PAIN_FLOOR`."""
    if report.when != PainWhen.NEXT_MORNING or report.score <= MORNING_PAIN_FLOOR:
        return
    previous = previous_morning(report, history)
    if previous is None or report.score <= previous.score:
        return
    since = history.sessions_between(previous.at_utc, report.at_utc)
    yield Finding(
        rule="morning_pain_rising", severity="warning", subject=Subject.pain(report, local_day),
        observed=float(report.score), limit=float(max(previous.score, MORNING_PAIN_FLOOR)),
        unit="pain",
        message=f"Next-morning pain rose from {previous.score}/10 on {_day(previous)} to "
                f"{report.score}/10 on {local_day}.",
        advice="Morning pain must not creep up: cut back running time (more walking), take "
               "an extra rest day and tell your physical therapist.",
        activity_ids=tuple(s.key for s in since))


def previous_morning(report: PainReport, history: History) -> PainReport | None:
    """The last next-morning report strictly before ``report`` (an earlier instant: two at
    the same instant are not each other's previous, whatever order they were stored in),
    no older than :data:`MORNING_BASELINE`."""
    earlier = history.pain_between(report.at_utc - MORNING_BASELINE, report.at_utc)
    return next((p for p in reversed(earlier) if p.when == PainWhen.NEXT_MORNING), None)


def _day(report: PainReport) -> date:
    """The report's local day (its UTC day for a report stored without one)."""
    return (report.local_at or report.at_utc).date()


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
