"""Small builders for the rules' inputs: sessions, pain reports, gear, plans and athletes.

Times are given the way a runner reads them (a local day and a wall-clock time in a zone);
the builders derive the UTC instant, so a test reads like the situation it describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from syncd.models import Finding, Gear, OtherActivity, PainReport, Session, SportFamily
from syncd.plan import Plan, parse_plan
from syncd.rules import Athlete, History, Window, evaluate

BERLIN = "Europe/Berlin"
# Rules about what was not recorded (a week that ended short, a silence): they depend on
# today as much as on the data, and have tables of their own (test_absence_rules.py).
ABSENCE_RULES = frozenset({"missed_session", "no_data"})


def local_moment(day: date | str, clock: str, tz: str, fold: int = 0) -> tuple[datetime, datetime]:
    """(naive local wall-clock time, aware UTC instant) of ``clock`` on local ``day`` in ``tz``.

    ``fold=1`` picks the second occurrence of a wall-clock time that happens twice when the
    clocks go back.
    """
    if isinstance(day, str):
        day = date.fromisoformat(day)
    local = datetime.combine(day, time.fromisoformat(clock))
    aware = local.replace(tzinfo=ZoneInfo(tz), fold=fold)
    return local, aware.astimezone(UTC)


def run(day: date | str, clock: str = "07:00", *, minutes: float = 17,
        run_min: float | None = None, longest_s: float | None = None, km: float | None = None,
        tz: str = BERLIN, key: str | None = None, gear: str | None = None,
        fold: int = 0) -> Session:
    """A session on local ``day`` at ``clock`` lasting ``minutes``.

    ``run_min`` defaults to the whole session (no run/walk split known) and ``longest_s``
    to all the running in one bout, as :meth:`Session.from_activity` does.
    """
    local, start = local_moment(day, clock, tz, fold)
    run_s = (minutes if run_min is None else run_min) * 60
    return Session(
        key=key or f"test:{local.isoformat(timespec='minutes')}",
        start_utc=start,
        local_start=local,
        duration_s=minutes * 60,
        run_s=run_s,
        longest_run_s=run_s if longest_s is None else longest_s,
        distance_m=None if km is None else km * 1000,
        gear_id=gear,
    )


def pain(day: date | str, clock: str, score: int, *, tz: str = BERLIN,
         report_id: str | None = None, with_local: bool = True) -> PainReport:
    """A pain report of ``score`` at ``clock`` on local ``day``.

    ``with_local=False`` leaves the local time out, as a source that only knows the instant
    does; the evaluator then places the report with the athlete's time zone.
    """
    local, at = local_moment(day, clock, tz)
    return PainReport(id=report_id or f"pain:{local.isoformat(timespec='minutes')}",
                      at_utc=at, score=score, local_at=local if with_local else None)


def shoes(gear_id: str, km: float, *, retired: bool = False, name: str | None = None) -> Gear:
    """A pair of shoes that has covered ``km``."""
    return Gear(id=gear_id, name=name, distance_m=km * 1000, retired=retired)


def plan(*weeks: Sequence[float], **limits: Any) -> Plan:
    """A plan from ``(sessions, run_min, walk_min[, run_interval_s])`` tuples and limits."""
    rows = []
    for week in weeks:
        row: dict[str, Any] = {"sessions": week[0], "run_min": week[1], "walk_min": week[2]}
        if len(week) > 3:
            row["run_interval_s"] = week[3]
        rows.append(row)
    return parse_plan({"name": "test plan", "limits": limits, "weeks": rows})


def athlete(training_plan: Plan | None = None, start: date | str | None = None,
            tz: str = BERLIN) -> Athlete:
    """An athlete following ``training_plan`` from local day ``start``."""
    if isinstance(start, str):
        start = date.fromisoformat(start)
    return Athlete(name="runner", timezone=tz, plan=training_plan, plan_start=start)


def history(sessions: Iterable[Session] = (), pain_reports: Iterable[PainReport] = (),
            gear: Iterable[Gear] = (), first_session: date | None = None) -> History:
    """A history sorted as the caller sorts it; the first session defaults to the earliest."""
    ordered = sorted(sessions, key=lambda s: s.start_utc)
    if first_session is None and ordered:
        first_session = min(s.local_date for s in ordered)
    return History(sessions=ordered, pain=sorted(pain_reports, key=lambda p: p.at_utc),
                   gear=tuple(gear), first_session_date=first_session)


def evaluate_all(who: Athlete, sessions: Iterable[Session] = (),
                 pain_reports: Iterable[PainReport] = (), gear: Iterable[Gear] = (),
                 today: date | str = "2030-01-01",
                 first_session: date | None = None) -> list[Finding]:
    """Every finding over a window wide enough for all of the given history, but those of
    :data:`ABSENCE_RULES` (what was not recorded has tables of its own)."""
    sessions, pain_reports = list(sessions), list(pain_reports)
    if isinstance(today, str):
        today = date.fromisoformat(today)
    days = [s.local_date for s in sessions]
    days += [p.local_at.date() if p.local_at else who.local_date(p.at_utc) for p in pain_reports]
    if who.plan_start is not None:
        days.append(who.plan_start)
    window = Window(min(days, default=today), max(days, default=today))
    found = evaluate(who, history(sessions, pain_reports, gear, first_session), window, today)
    return [f for f in found if f.rule not in ABSENCE_RULES]


def summary(findings: Iterable[Finding], rule: str | None = None) -> list[tuple[Any, ...]]:
    """(rule, severity, subject key, observed, limit, unit) of each finding, sorted: the
    numbers a user reads in an alert. Without ``rule``: every rule but :data:`ABSENCE_RULES`
    (a test about what was recorded is not about what was not)."""
    rows = [(f.rule, f.severity, f.subject.key, f.observed, f.limit, f.unit)
            for f in findings
            if f.rule == rule or (rule is None and f.rule not in ABSENCE_RULES)]
    return sorted(rows)


def other(day: date | str, clock: str = "07:00", sport: SportFamily = "other", *,
          sport_type: str = "Ride", minutes: float = 45, tz: str = BERLIN,
          key: str | None = None) -> OtherActivity:
    """An activity that is not a run (a ride unless told: ``sport="walk"``, ``"hike"``)."""
    local, start = local_moment(day, clock, tz)
    return OtherActivity(key=key or f"other:{local.isoformat(timespec='minutes')}",
                         sport=sport, sport_type=sport_type, start_utc=start, local_start=local,
                         duration_s=minutes * 60)
