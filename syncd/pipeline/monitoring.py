"""The monthly monitoring report (DESIGN section 13): for each athlete, the days with data in
the month and in each 30-day period overlapping it, sessions done against prescribed, pain
reports and their trend, and the alerts raised with who acknowledged them, when, and the
notes. How days and periods are counted: :mod:`syncd.pipeline.monitoring_counts`.

**Monitoring start** is the athlete's ``plan_start`` (the programme's first day), else the
local day syncd first stored the athlete; nothing before it counts. **Covered**: the data up
to now, and, for a patient who withdrew their consent to share, up to the moment of the
withdrawal (the report says when); nothing after it is read.

**Sessions** are those of the plan weeks that overlap the covered part of the month (whole
weeks, as ``/weeks`` counts them). In a clinic the alerts are shown as the therapist may see
them (Strava-safe: rule, severity, date and band).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from syncd.models import utc_iso
from syncd.pipeline.monitoring_counts import (
    PERIOD_DAYS,
    PainTrend,
    local_day,
    month_bounds,
    periods,
)
from syncd.sharing import safe_alert
from syncd.store.acks import ack_fields, acks_of, alerts_created_between
from syncd.store.consents import withdrawn_since
from syncd.store.monitoring import activity_moments, athlete_created_at, pain_moments

if TYPE_CHECKING:
    from syncd.app import App

DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Span:
    """One athlete's part of the month: the local days covered and the UTC moments read."""

    zone: ZoneInfo
    start: date  # the monitoring start
    first: date  # the first local day of the month counted
    last: date  # the last local day of the month counted
    covered_to: date  # the last local day with data read (today, or the withdrawal's day)
    until: datetime  # UTC: nothing at or after this is read
    withdrawn: datetime | None


def monitoring_report(apps: Sequence[App], month: str, now: datetime) -> dict[str, Any]:
    """The report of ``month`` (``YYYY-MM``) for ``apps`` at ``now``. Raises
    :class:`ValueError` for a malformed month."""
    first, last = month_bounds(month)
    return {"month": month, "generated_at": utc_iso(now),
            "athletes": [athlete_report(app, first, last, now) for app in apps]}


def athlete_report(app: App, first: date, last: date, now: datetime) -> dict[str, Any]:
    """One athlete's part of the report of the month ``first``-``last``."""
    span = _span(app, first, last, now)
    base = {"athlete": app.athlete.name, "timezone": app.athlete.timezone,
            "monitoring_start": span.start.isoformat(),
            "covered": {"from": span.first.isoformat(), "to": span.last.isoformat(),
                        "sharing_withdrawn_at": utc_iso(span.withdrawn)
                        if span.withdrawn else None}}
    if span.first > span.last:  # not monitored in this month (not yet, or no longer)
        return {**base, "covered": None, **_empty(first, last)}
    return {**base, **_figures(app, span, first, last)}


def _span(app: App, first: date, last: date, now: datetime) -> Span:
    zone = ZoneInfo(app.athlete.timezone)
    with app.store.read() as tx:
        created = athlete_created_at(tx, app.athlete_id) or now
        withdrawn = withdrawn_since(tx, [app.athlete_id]).get(app.athlete_id)
    start = app.athlete.plan_start or created.astimezone(zone).date()
    until = min(now, withdrawn) if withdrawn is not None else now
    covered_to = until.astimezone(zone).date()
    return Span(zone, start, max(first, start), min(last, covered_to), covered_to, until,
                withdrawn)


def _utc(day: date, zone: ZoneInfo) -> datetime:
    """The UTC moment of ``day``'s local midnight in ``zone``."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _figures(app: App, span: Span, first: date, last: date) -> dict[str, Any]:
    """Days, periods, sessions, pain and alerts of a monitored month."""
    read_from = _utc(max(span.start, first - timedelta(days=PERIOD_DAYS)), span.zone)
    read_to = min(span.until, _utc(last + timedelta(days=PERIOD_DAYS + 1), span.zone))
    with app.store.read() as tx:
        moments = activity_moments(tx, app.athlete_id, read_from, read_to)
        pains = pain_moments(tx, app.athlete_id, read_from, read_to)
    days = {d for d in (local_day(m.at_utc, m.local, span.zone)
                        for m in [*moments, *(p.moment for p in pains)]) if d >= span.start}
    in_month = sorted(d for d in days if span.first <= d <= span.last)
    scores = tuple(p.score for p in pains
                   if span.first <= local_day(p.moment.at_utc, p.moment.local, span.zone)
                   <= span.last)
    return {"days_with_data": {"month": len(in_month), "dates": [d.isoformat() for d in in_month]},
            "periods": [p.as_dict() for p in periods(span.start, first, last, span.covered_to,
                                                     days)],
            "sessions": _sessions(app, span), "pain": PainTrend(scores).as_dict(),
            "alerts": _alerts(app, span)}


def _empty(first: date, last: date) -> dict[str, Any]:
    return {"days_with_data": {"month": 0, "dates": []}, "periods": [],
            "sessions": {"done": 0, "prescribed": 0, "weeks": []},
            "pain": PainTrend(()).as_dict(), "alerts": {"raised": 0, "acknowledged": 0,
                                                         "items": []}}


def _sessions(app: App, span: Span) -> dict[str, Any]:
    """Sessions done and prescribed in the plan weeks overlapping the covered days."""
    weeks = [w for w in app.weeks(span.first, span.last) if w.end >= span.first]
    rows = [{"plan_week": w.plan_week, "from": w.start.isoformat(), "to": w.end.isoformat(),
             "done": w.sessions,
             "prescribed": w.prescribed_sessions if w.plan_week is not None else 0}
            for w in weeks if w.start <= span.last]
    return {"done": sum(r["done"] for r in rows),
            "prescribed": sum(r["prescribed"] for r in rows), "weeks": rows}


def _alerts(app: App, span: Span) -> dict[str, Any]:
    """The alerts first raised on the covered days, each with its acknowledgements."""
    with app.store.read() as tx:
        raised = alerts_created_between(tx, app.athlete_id, _utc(span.first, span.zone),
                                        min(span.until, _utc(span.last + DAY, span.zone)))
        acks = acks_of(tx, [a.id for a in raised])
    items = []
    for alert in raised:
        data = alert.payload_data()
        shown = safe_alert(data) if app.settings.clinic else data
        items.append({key: shown.get(key) for key in (
            "id", "rule", "severity", "status", "created_at", "resolved_at", "message")}
            | ack_fields(acks.get(alert.id, [])))
    return {"raised": len(items), "acknowledged": sum(1 for i in items if i["acknowledged"]),
            "items": items}
