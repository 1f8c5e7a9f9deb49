"""The figures Home Assistant shows of each athlete, read from the database: this week's plan
against what was run, the open alerts and the last successful sync. In a clinic the broker is
the clinic's: a week with a Strava session shows no running minutes (only its counts), and a
patient who withdrew their consent shows nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncd.alerts.ha import SEVERITY_STATES, Figures
from syncd.app import App
from syncd.sharing import findings_only
from syncd.store.consents import withdrawn_since
from syncd.store.overview import open_alerts_by_severity, sync_times

# A patient who withdrew their consent: nothing of theirs (in a clinic).
WITHDRAWN = Figures(plan_week=None, running_min=None, prescribed_min=None, sessions=0,
                    prescribed_sessions=None, open_alerts=0, worst_severity=SEVERITY_STATES[0],
                    last_sync=None)


def clinic_figures(apps: list[App]) -> dict[int, Figures]:
    """Each athlete's figures, by stored athlete id (two queries for the alerts and syncs of
    them all, one for each athlete's week)."""
    if not apps:
        return {}
    ids = [app.athlete_id for app in apps]
    with apps[0].store.read() as tx:
        severities = open_alerts_by_severity(tx, ids)
        syncs = sync_times(tx, ids)
        withdrawn = withdrawn_since(tx, ids) if apps[0].settings.clinic else {}
    return {app.athlete_id: WITHDRAWN if app.athlete_id in withdrawn else
            athlete_figures(app, severities.get(app.athlete_id, {}),
                            syncs.get(app.athlete_id, {}))
            for app in apps}


def athlete_figures(app: App, open_by_severity: dict[str, int],
                    sources: dict[str, dict[str, Any]]) -> Figures:
    """One athlete's figures: the current week from ``app``, the open alerts counted by
    severity and each source's sync times (as :func:`clinic_figures` reads them)."""
    today = app.today()
    week = next(iter(app.weeks(today, today)), None)
    open_severities = [s for s in SEVERITY_STATES if open_by_severity.get(s)]
    # A clinic's broker is the clinic's: a week with a Strava session shows no minutes.
    hidden = app.settings.clinic and week is not None and findings_only(week.session_keys)
    return Figures(
        plan_week=week.plan_week if week else None,
        running_min=None if hidden else (week.run_min if week else 0.0),
        prescribed_min=week.prescribed_volume_min if week else None,
        sessions=week.sessions if week else 0,
        prescribed_sessions=week.prescribed_sessions if week else None,
        open_alerts=sum(open_by_severity.values()),
        worst_severity=open_severities[-1] if open_severities else SEVERITY_STATES[0],
        last_sync=_latest(source.get("last_success_at") for source in sources.values()),
    )


def _latest(moments: Any) -> datetime | None:
    known = [moment for moment in moments if isinstance(moment, datetime)]
    return max(known) if known else None
