"""The weekly summary mail: the plan week that just ended, prescribed against actual.

Once a plan week is over (the first dispatcher pass after the athlete's local midnight on the
week boundary), its numbers are computed once and written to the outbox as an event whose id
is fixed by the athlete and the week (``summary_<athlete id>_<week start>``): however many
passes or processes run, the week gets one summary, and a re-send carries the same numbers.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from syncd.alerts.channel import EVENT_SUMMARY
from syncd.alerts.chart import Bar, weekly_chart
from syncd.models import Alert, Session, utc_iso
from syncd.pipeline.evaluation import local_midnight
from syncd.plan import week_start as plan_week_start
from syncd.progress import WeekSummary, step_text
from syncd.rules.context import over
from syncd.store import queries
from syncd.store.alerts import list_alerts
from syncd.store.outbox import add_event, event_exists

if TYPE_CHECKING:
    from syncd.app import App

WEEK = timedelta(days=7)
CHART_WEEKS = 8


def summary_event_id(athlete_id: int, first_day: date) -> str:
    """The outbox id of one athlete's summary of the week starting ``first_day``."""
    return f"summary_{athlete_id}_{first_day.isoformat()}"


def last_finished_week(app: App, now: datetime) -> date:
    """The first day of the (plan-aligned) week before the one ``now`` falls in."""
    today = app.athlete.local_date(now)
    return plan_week_start(today, app.athlete.plan_start) - WEEK


def queue_weekly_summary(app: App, now: datetime, channels: Sequence[str]) -> str | None:
    """Write the summary of the last finished week to the outbox unless it is there already
    or the week had neither a prescription nor a session. Returns the event id written."""
    first_day = last_finished_week(app, now)
    event_id = summary_event_id(app.athlete_id, first_day)
    with app.store.read() as tx:
        if event_exists(tx, event_id):
            return None
    data = build_summary(app, first_day, now)
    if data is None:
        return None
    data["id"] = event_id
    payload = {"type": EVENT_SUMMARY, "timestamp": utc_iso(now), "data": data}
    with app.store.write() as tx:
        written = add_event(tx, event_id, EVENT_SUMMARY, payload, now, channels,
                            athlete_id=app.athlete_id)
    return event_id if written else None


def build_summary(app: App, first_day: date, now: datetime) -> dict[str, Any] | None:
    """The numbers of the week starting ``first_day`` (``None`` when there is nothing to say):
    prescribed and actual sessions, run minutes and session lengths, each session's
    compliance, the week's alerts, next week's prescription and the chart's weeks."""
    chart_first = first_day - WEEK * (CHART_WEEKS - 1)
    if app.athlete.plan_start is not None and app.athlete.plan_start <= first_day:
        chart_first = max(chart_first, app.athlete.plan_start)
    weeks = app.weeks(chart_first, first_day + WEEK)
    week = next((w for w in weeks if w.start == first_day), None)
    if week is None or (week.plan_week is None and week.sessions == 0):
        return None
    following = next((w for w in weeks if w.start == first_day + WEEK), None)
    with app.store.read() as tx:
        sessions = queries.load_sessions(tx, app.athlete_id, local_midnight(first_day),
                                         local_midnight(first_day + WEEK))
        alerts = list_alerts(tx, app.athlete_id, include_resolved=True)
    return {
        "athlete": app.athlete.name,
        "plan": app.plan.name if app.plan is not None else None,
        **_week_numbers(app, week),
        "sessions": _compliance(app, week, sessions),
        "alerts": [_alert_line(a) for a in _alerts_of_week(app, alerts, first_day)],
        "next_week": _prescription(app, following) if following else None,
        "chart": [_chart_week(app, w) for w in weeks if w.start <= first_day],
        "created_at": utc_iso(now),
    }


def _week_numbers(app: App, week: WeekSummary) -> dict[str, Any]:
    """Prescribed against actual for one week."""
    return {
        "week_start": week.start.isoformat(),
        "week_end": week.end.isoformat(),
        "plan_week": week.plan_week,
        "step": week.step,
        "prescribed": _prescription(app, week),
        "actual": {"sessions": week.sessions, "run_min": round(week.run_min, 2),
                   "longest_session_min": round(week.longest_session_min, 2)},
        "cross_training": [{"sport": sport, "minutes": round(minutes, 1)}
                           for sport, minutes in week.cross_training],
    }


def _prescription(app: App, week: WeekSummary) -> dict[str, Any] | None:
    """A week's prescription, or ``None`` outside the plan."""
    plan_week = app.plan.week(week.plan_week) if app.plan and week.plan_week else None
    if plan_week is None:
        return None
    return {"plan_week": plan_week.number, "week_start": week.start.isoformat(),
            "step": week.step, "sessions": plan_week.sessions, "run_min": plan_week.run_min,
            "walk_min": plan_week.walk_min, "session_min": plan_week.session_min,
            "volume_min": plan_week.sessions * plan_week.run_min}


def _compliance(app: App, week: WeekSummary, sessions: Sequence[Session]) -> list[dict[str, Any]]:
    """Each session of the week against the prescription (with the plan's tolerance)."""
    plan_week = app.plan.week(week.plan_week) if app.plan and week.plan_week else None
    tolerance = 1 + app.athlete.limits.session_tolerance
    out = []
    for number, session in enumerate(sessions, start=1):
        minutes, run_min = session.duration_s / 60, session.run_s / 60
        notes: list[str] = []
        if plan_week is not None:
            if plan_week.walk_only:
                notes.append("ran in a walk-only week")
            elif over(run_min, plan_week.run_min * tolerance):
                notes.append(f"ran {run_min:.1f} min, limit {plan_week.run_min * tolerance:.1f}")
            if over(minutes, plan_week.session_min * tolerance):
                notes.append(f"lasted {minutes:.1f} min, limit "
                             f"{plan_week.session_min * tolerance:.1f}")
            if number > plan_week.sessions:
                notes.append(f"session {number} of {plan_week.sessions} prescribed")
        out.append({"activity_id": session.key, "date": session.local_date.isoformat(),
                    "session_min": round(minutes, 2), "run_min": round(run_min, 2),
                    "within_plan": plan_week is not None and not notes, "notes": notes})
    return out


def _alerts_of_week(app: App, alerts: Sequence[Alert], first_day: date) -> list[Alert]:
    """Alerts about the week's days, or raised during it, oldest first."""
    last_day = first_day + WEEK - timedelta(days=1)
    chosen = [a for a in alerts
              if (a.finding.subject.anchor is not None
                  and first_day <= a.finding.subject.anchor <= last_day)
              or first_day <= app.athlete.local_date(a.created_at) <= last_day]
    return sorted(chosen, key=lambda a: (a.created_at, a.finding.rule, a.id))


def _chart_week(app: App, week: WeekSummary) -> dict[str, Any]:
    """One bar of the chart: prescribed and actual running minutes, and whether the actual
    went past the prescription plus the allowed weekly increase."""
    prescribed = week.prescribed_volume_min
    growth = 1 + app.athlete.limits.max_weekly_increase
    allowed = None if prescribed is None else prescribed * growth
    return {"week_start": week.start.isoformat(), "plan_week": week.plan_week,
            "prescribed_min": prescribed, "actual_min": round(week.run_min, 2),
            "over": allowed is not None and over(week.run_min, allowed)}


def _alert_line(alert: Alert) -> dict[str, Any]:
    f = alert.finding
    # The activities and subject let a clinic's copy be made Strava-safe (clinic_view).
    return {"id": alert.id, "rule": f.rule, "severity": f.severity, "status": alert.status.value,
            "message": f.message, "advice": f.advice, "activity_ids": list(f.activity_ids),
            "subject": f.subject.as_dict(), "created_at": utc_iso(alert.created_at)}


# -- rendering --------------------------------------------------------------------------------


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:g}{unit}"


def _rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, prescribed, actual) lines of the week's table."""
    p, a = data.get("prescribed") or {}, data["actual"]
    return [
        ("Sessions", _num(p.get("sessions")), _num(a["sessions"])),
        ("Run minutes", _num(p.get("volume_min"), " min"), _num(a["run_min"], " min")),
        ("Session length", _num(p.get("session_min"), " min"),
         _num(a["longest_session_min"], " min (longest)")),
    ]


def _title(data: dict[str, Any]) -> str:
    which = f"Week {data['plan_week']}" if data.get("plan_week") else "Your week"
    how = step_text(data.get("plan_week"), data.get("step"))
    return f"{which} ({data['week_start']} to {data['week_end']}{', ' + how if how else ''})"


def _next_line(data: dict[str, Any]) -> str:
    nxt = data.get("next_week")
    if not nxt:
        return "Next week: no prescription (the plan is over; the general rules still apply)."
    what = ("walking only" if not nxt["run_min"] else
            f"{nxt['run_min']:g} min running + {nxt['walk_min']:g} min walking")
    how = step_text(nxt["plan_week"], nxt.get("step"))
    return (f"Next week (week {nxt['plan_week']}, from {nxt['week_start']}"
            f"{', ' + how if how else ''}): "
            f"{nxt['sessions']} sessions of {what} ({nxt['session_min']:g} min).")


def cross_training_line(items: Sequence[dict[str, Any]]) -> str:
    """The week's cross-training in one line (empty when there was none): welcome, and not
    counted as running."""
    if not items:
        return ""
    done = ", ".join(f"{item['sport']} {item['minutes']:g} min" for item in items)
    return f"Cross-training: {done}. Cross-training is welcome; it does not count as running."


def _session_line(session: dict[str, Any]) -> str:
    verdict = "within plan" if session["within_plan"] else "; ".join(session["notes"]) or "-"
    day = date.fromisoformat(session["date"]).strftime("%a %Y-%m-%d")
    if session.get("band"):  # a clinic's copy of a Strava session: the verdict alone
        return f"{day}: {session['band']}"
    return (f"{day}: {session['session_min']:g} min, {session['run_min']:g} min running: "
            f"{verdict}")


def summary_subject(data: dict[str, Any]) -> str:
    """The summary mail's subject ("updated summary" for a corrected week's)."""
    return f"[syncd] {_title(data)}: {'updated summary' if data.get('updated') else 'summary'}"


def _updated_line(data: dict[str, Any]) -> str:
    """What an updated summary says first (empty for the first one of a week)."""
    if not data.get("updated"):
        return ""
    return ("Updated: this week changed after its summary was sent (a late upload or an "
            "edit); these are its figures now.")


def summary_text(data: dict[str, Any]) -> str:
    """The plain-text body of the summary mail."""
    updated = _updated_line(data)
    lines = [*([updated, ""] if updated else []),
             _title(data) + (f", {data['plan']}" if data.get("plan") else ""), "",
             f"{'':16}{'prescribed':>14}  actual"]
    lines += [f"{what:16}{plan:>14}  {done}" for what, plan, done in _rows(data)]
    lines += ["", "Sessions:"]
    lines += [f"  {_session_line(s)}" for s in data["sessions"]] or ["  none"]
    crossed = cross_training_line(data.get("cross_training", ()))
    lines += ["", crossed] if crossed else []
    lines += ["", "Alerts this week:"]
    lines += [f"  {a['severity'].upper()} {a['rule']}"
              + (" (resolved)" if a["status"] == "resolved" else "") + f": {a['message']}"
              for a in data["alerts"]] or ["  none"]
    lines += ["", _next_line(data), ""]
    return "\n".join(lines)


def summary_html(data: dict[str, Any], chart_cid: str | None) -> str:
    """The HTML body of the summary mail; the chart is referenced as ``cid:chart_cid``."""
    e = html.escape
    rows = "".join(f"<tr><th align='left'>{e(w)}</th><td>{e(p)}</td><td>{e(a)}</td></tr>"
                   for w, p, a in _rows(data))
    none = "<li>none</li>"
    sessions = "".join(f"<li>{e(_session_line(s))}</li>" for s in data["sessions"]) or none
    alerts = "".join(f"<li><b>{e(a['severity'].upper())}</b> {e(a['rule'])}: {e(a['message'])}"
                     f"<br><i>{e(a['advice'])}</i></li>" for a in data["alerts"]) or none
    crossed = cross_training_line(data.get("cross_training", ()))
    crossed = f"<p>{e(crossed)}</p>" if crossed else ""
    chart = (f"<p><img src='cid:{e(chart_cid[1:-1])}' alt='Running minutes per week: plan "
             f"(grey) against actual (blue, red when over)' width='480' height='160'></p>"
             if chart_cid else "")
    updated = f"<p><b>{e(_updated_line(data))}</b></p>" if data.get("updated") else ""
    return (f"<html><body>{updated}<h2>{e(_title(data))}</h2>"
            f"<table cellpadding='4'><tr><th></th><th>prescribed</th><th>actual</th></tr>"
            f"{rows}</table>{chart}<h3>Sessions</h3><ul>{sessions}</ul>{crossed}"
            f"<h3>Alerts this week</h3><ul>{alerts}</ul><p>{e(_next_line(data))}</p>"
            f"</body></html>")


def summary_chart(data: dict[str, Any]) -> bytes:
    """The plan-vs-actual PNG of the summary's weeks."""
    bars = [Bar(prescribed=w["prescribed_min"], actual=w["actual_min"], over=bool(w["over"]),
                current=w["week_start"] == data["week_start"]) for w in data["chart"]]
    return weekly_chart(bars)
