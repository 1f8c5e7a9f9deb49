"""An athlete page's sessions and weekly figures, as its viewer may see them.

The athlete (their own page, a single athlete's dashboard) sees every session with its time,
name, distance and run/walk split, a Strava session with "View on Strava" and the page with
"Powered by Strava". The therapist sees a Strava session as its date and band against the
week's prescribed running (:mod:`syncd.sharing`), and no attribution (no Strava data shown).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from html import escape

from syncd.progress import WeekSummary
from syncd.sharing import OWN, Audience, band, findings_only, source_of
from syncd.store.dashboard import SessionSplit

STRAVA_ACTIVITY = "https://www.strava.com/activities/{id}"
POWERED_BY = ('<p class="attribution" id="powered-by-strava">Powered by '
              '<a href="https://www.strava.com" rel="noopener">Strava</a></p>')


def strava_link(key: str) -> str:
    """"View on Strava" for a Strava session's key, else nothing."""
    if source_of(key) != "strava":
        return ""
    activity = escape(key.partition(":")[2])
    return (f' <a class="strava" rel="noopener" '
            f'href="{STRAVA_ACTIVITY.format(id=activity)}">View on Strava</a>')


def attribution(sessions: Sequence[SessionSplit], audience: Audience) -> str:
    """"Powered by Strava" on a page that shows Strava data (only the athlete's)."""
    shown = audience == OWN and findings_only(s.key for s in sessions)
    return POWERED_BY if shown else ""


def sessions_section(sessions: Sequence[SessionSplit], audience: Audience,
                     weeks: Sequence[WeekSummary]) -> str:
    """The recent sessions, each as its viewer may see it."""
    if not sessions:
        return '<section id="sessions"><h2>Sessions</h2><p>No runs recorded yet.</p></section>'
    rows = "".join(_band_row(s, weeks) if audience != OWN and findings_only([s.key])
                   else _session_row(s) for s in sessions)
    return ('<section id="sessions"><h2>Recent sessions</h2><table><thead><tr><th>When</th>'
            "<th>Time</th><th>Run / walk</th><th>Split</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _session_row(session: SessionSplit) -> str:
    total = session.duration_s or 1
    run, walk = session.run_s / total * 100, session.walk_s / total * 100
    distance = f" · {session.distance_m / 1000:.1f} km" if session.distance_m else ""
    bouts = f", {session.run_bouts} run bouts" if session.run_bouts > 1 else ""
    name = f'<br><span class="muted">{escape(session.name)}</span>' if session.name else ""
    return (
        f"<tr><td>{_when(session.local_start)}{name}{strava_link(session.key)}</td>"
        f"<td>{session.duration_s / 60:.0f} min{distance}</td>"
        f"<td>{session.run_s / 60:.1f} / {session.walk_s / 60:.1f} min{bouts}</td>"
        f'<td><div class="split" title="run {run:.0f} %, walk {walk:.0f} %">'
        f'<span class="run" style="width:{run:.0f}%"></span>'
        f'<span class="walk" style="width:{walk:.0f}%"></span></div></td></tr>'
    )


def _band_row(session: SessionSplit, weeks: Sequence[WeekSummary]) -> str:
    """A Strava session as the therapist sees it: the day and the band of its running
    against the prescribed running of its plan week."""
    day = session.local_start.date()
    prescribed = next((w.prescribed_run_min for w in weeks if w.start <= day <= w.end), None)
    where = band(session.run_s / 60, prescribed)
    return (f'<tr class="findings-only"><td>{_day(day)}</td><td colspan="3">{escape(where)}'
            "</td></tr>")


def weekly_bands(weeks: Sequence[WeekSummary]) -> str:
    """The weeks' running as bands against the prescription (the therapist's chart when
    Strava sessions are among them)."""
    items = "".join(
        f"<li>{escape(w.start.isoformat())}"
        f"{' (plan week ' + str(w.plan_week) + ')' if w.plan_week else ''}: {w.sessions} "
        f"sessions, {escape(band(w.run_min, w.prescribed_volume_min))}</li>"
        for w in weeks)
    return ('<section><h2>Weekly running against the plan</h2>'
            f"<ul>{items or '<li>No weeks yet.</li>'}</ul></section>")


def has_strava(weeks: Sequence[WeekSummary]) -> bool:
    """True when a Strava session is among the weeks' sessions."""
    return any(findings_only(w.session_keys) for w in weeks)


def _when(local: datetime) -> str:
    return escape(local.strftime("%a %d %b %H:%M"))


def _day(day: date) -> str:
    return escape(day.strftime("%a %d %b"))
