"""The monthly monitoring report as a print-friendly page (``GET /reports/monitoring?month=
...&format=html``): one section per athlete, tables that fit a page, nothing interactive."""

from __future__ import annotations

from html import escape
from typing import Any

# Black on white, no shadows or colours a printer would waste ink on; a section per page.
PRINT_CSS = """
.report table{border-collapse:collapse;margin:.4rem 0 1rem}
.report th,.report td{border:1px solid #999;padding:.2rem .5rem;text-align:left;
vertical-align:top}
.report section{margin-bottom:2rem}
@media print{body{background:#fff;color:#000}main{max-width:none}
.report section{page-break-after:always}}
"""


def _e(value: Any) -> str:
    return escape("-" if value is None else str(value))


def render_report(report: dict[str, Any]) -> str:
    """The page body of a report (:func:`syncd.pipeline.monitoring.monitoring_report`)."""
    sections = "".join(_athlete(a) for a in report["athletes"]) or "<p>No athletes.</p>"
    return (f"<style>{PRINT_CSS}</style><div class=\"report\">"
            f"<h1>Monitoring report {_e(report['month'])}</h1>"
            f"<p class=\"muted\">Generated {_e(report['generated_at'])}. Days with data: the "
            "patient's local days with an activity or a pain report; 30-day periods from "
            "the monitoring start (bands 16+, 2-15, under 2).</p>"
            f"{sections}</div>")


def _athlete(a: dict[str, Any]) -> str:
    covered = a["covered"]
    span = (f"{_e(covered['from'])} to {_e(covered['to'])}" if covered
            else "not monitored in this month")
    withdrawn = (f"; consent withdrawn {_e(covered['sharing_withdrawn_at'])}"
                 if covered and covered["sharing_withdrawn_at"] else "")
    pain, sessions = a["pain"], a["sessions"]
    return (f'<section data-athlete="{_e(a["athlete"])}"><h2>{_e(a["athlete"])}</h2>'
            f"<p>{_e(a['timezone'])} · monitoring since {_e(a['monitoring_start'])} · "
            f"covered {span}{withdrawn}</p>"
            f"<p>Days with data in the month: <b>{a['days_with_data']['month']}</b> · "
            f"sessions {sessions['done']} of {sessions['prescribed']} prescribed · "
            f"pain reports {pain['reports']} (first {_e(pain['first'])}, last "
            f"{_e(pain['last'])}, mean {_e(pain['mean'])}, {_e(pain['trend'])})</p>"
            f"{_periods(a['periods'])}{_alerts(a['alerts'])}</section>")


def _periods(periods: list[dict[str, Any]]) -> str:
    if not periods:
        return ""
    rows = "".join(f"<tr><td>{p['period']}</td><td>{_e(p['from'])} to {_e(p['to'])}</td>"
                   f"<td>{p['days_with_data']}</td><td>{_e(p['band'])}</td>"
                   f"<td>{'complete' if p['complete'] else 'to ' + _e(p['counted_to'])}</td>"
                   "</tr>" for p in periods)
    return ("<table><thead><tr><th>Period</th><th>Days</th><th>Days with data</th>"
            f"<th>Band</th><th>Counted</th></tr></thead><tbody>{rows}</tbody></table>")


def _alerts(alerts: dict[str, Any]) -> str:
    if not alerts["items"]:
        return "<p>No alerts raised.</p>"
    rows = "".join(
        f"<tr><td>{_e(i['created_at'])}</td><td>{_e(i['severity'])}</td><td>{_e(i['rule'])}"
        f"</td><td>{_e(i['message'])}</td><td>{_acks(i['acks'])}</td></tr>"
        for i in alerts["items"])
    return (f"<p>Alerts raised: {alerts['raised']}, acknowledged: {alerts['acknowledged']}</p>"
            "<table><thead><tr><th>Raised</th><th>Severity</th><th>Rule</th><th>Alert</th>"
            f"<th>Acknowledged</th></tr></thead><tbody>{rows}</tbody></table>")


def _acks(acks: list[dict[str, Any]]) -> str:
    if not acks:
        return "not acknowledged"
    return "<br>".join(f"{_e(a['by'])}, {_e(a['at'])}" + (f": {_e(a['note'])}" if a["note"]
                                                           else "") for a in acks)
