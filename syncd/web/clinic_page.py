"""The therapist's overview page (``GET /`` with several athletes): one row per athlete with the
plan week, this week's sessions and running minutes against the prescription, open alerts by
severity and the last sync, the athletes with critical alerts nobody acknowledged first, then
the most severe; each name opens the athlete's own page."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from syncd.web.overview import SEVERITIES, UNACKED, most_severe

if TYPE_CHECKING:
    from syncd.app import App


def athlete_path(app: App) -> str:
    """The path of the athlete's own page."""
    return f"/athletes/{quote(app.profile.name, safe='')}"


def pain_action(app: App) -> str:
    """Where the athlete's pain form posts."""
    return f"/dashboard/pain?athlete={quote(app.profile.name, safe='')}"


def render_overview(summary: dict[str, Any]) -> str:
    """The page body for the clinic summary (:func:`syncd.web.overview.clinic_summary`)."""
    rows = summary["athletes"]
    totals = summary["totals"]["open_alerts"]
    alerts = ", ".join(f"{totals[s]} {s}" for s in SEVERITIES if totals[s]) or "none"
    body = "".join(_row(row) for row in rows)
    return "\n".join([
        f'<header><h1>syncd</h1><p class="muted">{len(rows)} athletes · open alerts: '
        f"{escape(alerts)}</p></header>",
        '<section id="athletes"><h2>Athletes</h2>'
        + ('<table class="overview"><thead><tr><th>Athlete</th><th>Plan week</th>'
           "<th>Sessions</th><th>Running</th><th>Open alerts</th><th>Last sync</th></tr>"
           f"</thead><tbody>{body}</tbody></table>" if rows else
           "<p>No athletes yet: add one with <code>syncd athletes add</code>.</p>")
        + "</section>",
    ])


def _row(row: dict[str, Any]) -> str:
    name = row["athlete"]
    severity = most_severe(row) or "calm"
    link = f'<a href="/athletes/{quote(name, safe="")}">{escape(name)}</a>'
    return (
        f'<tr class="athlete {severity}" data-athlete="{escape(name)}">'
        f'<td>{link}<br><span class="muted">{escape(row["timezone"])}</span></td>'
        f"<td>{_plan_week(row)}</td><td>{_sessions(row)}</td><td>{_running(row)}</td>"
        f"<td>{_alerts(row)}</td><td>{_last_sync(row)}</td></tr>"
    )


def _plan_week(row: dict[str, Any]) -> str:
    if row.get("problem"):
        return f'<span class="bad" title="{escape(row["problem"])}">settings problem</span>'
    plan, week = row["plan"], row["week"]
    if plan is None:
        return '<span class="muted">no plan</span>'
    if week is not None and week["plan_week"]:
        return f'{week["plan_week"]} / {plan["weeks"]}'
    start = plan.get("start")
    if start is None:
        return '<span class="muted">no start date</span>'
    if row["today"] < start:
        return f'<span class="muted">starts {escape(start)}</span>'
    return '<span class="muted">plan done</span>'


def _sessions(row: dict[str, Any]) -> str:
    week = row["week"]
    if week is None:
        return "-"
    done = week["actual"]["sessions"]
    prescribed = week["prescribed"]
    return f'{done} / {prescribed["sessions"]}' if prescribed else str(done)


def _running(row: dict[str, Any]) -> str:
    week = row["week"]
    if week is None:
        return "-"
    run = week["actual"]["run_min"]
    volume = (week["prescribed"] or {}).get("volume_min")
    if not volume:
        return f"{run:g} min"
    over = " over" if run > volume else ""
    share = min(run / volume, 1.5)
    return (f"{run:g} / {volume:g} min"
            f'<div class="meter{over}"><span style="width:{share / 1.5 * 100:.0f}%"></span></div>')


def _alerts(row: dict[str, Any]) -> str:
    counts = row["open_alerts"]
    badges = [f'<span class="count {s}" data-severity="{s}">{counts[s]} {s}</span>'
              for s in SEVERITIES if counts[s]]
    if row.get(UNACKED):
        # Nobody has looked at these yet: the row leads the table, and says why.
        badges.insert(0, f'<span class="count critical unacked" data-unacknowledged='
                         f'"{row[UNACKED]}">{row[UNACKED]} not acknowledged</span>')
    return " ".join(badges) or '<span class="muted">none</span>'


def _last_sync(row: dict[str, Any]) -> str:
    sync = row["last_sync"]
    detail = "; ".join(f"{name}: {_moment(state['last_success_at'])}"
                       + (f", {state['error_count']} errors" if state["error_count"] else "")
                       for name, state in sync["sources"].items())
    when = _moment(sync["last_success_at"])
    failing = "".join(f'<br><span class="bad">{escape(name)} failing</span>'
                      for name in sync["failing"])
    return f'<span title="{escape(detail)}">{escape(when)}</span>{failing}'


def _moment(value: str | None) -> str:
    return value[:16].replace("T", " ") + " UTC" if value else "never"
