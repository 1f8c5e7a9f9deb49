"""The clinic at a glance: for every athlete the plan week, this week's compliance, open alerts
by severity and the last sync, as ``GET /status`` (several athletes) and the therapist's
dashboard show them.

Computed with a fixed number of set-based queries whatever the number of athletes: the athletes'
ids, the sessions of the widest "this week" window (each athlete's week is in their own time
zone and aligned to their plan start, so each athlete's own window is cut out in Python), this
week's stored plan position of the athletes on gated progression (whose week number depends on
every week before; walked per athlete only for one not evaluated since the week began), open
alerts counted by athlete and severity (with the critical ones nobody acknowledged), and the
sync states. Each
athlete's week is then summarised by :func:`syncd.progress.weeks_overview`, as their own
``/status`` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from syncd.errors import SyncdError
from syncd.models import Session, utc_iso
from syncd.pipeline.evaluation import local_midnight
from syncd.pipeline.positions import current_position
from syncd.plan import week_start
from syncd.progress import weeks_overview
from syncd.rules import History
from syncd.rules.progression import Position, gated, plan_key
from syncd.sources.registry import enabled_sources
from syncd.store.acks import open_alert_counts
from syncd.store.overview import (
    athlete_ids,
    sessions_in_windows,
    sync_times,
)
from syncd.store.plan_positions import positions_of_weeks

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as DbSession

    from syncd.app import App
    from syncd.clinic import Clinic
    from syncd.store import Store

SEVERITIES = ("critical", "warning", "info")  # most severe first
# The row key counting an athlete's open critical alerts that nobody acknowledged.
UNACKED = "unacknowledged_critical"
DAY = timedelta(days=1)



@dataclass(frozen=True, slots=True)
class _Athlete:
    """One athlete's part of the overview: who, their local today and the days read."""

    app: App
    today: date
    first: date  # the first local day whose sessions the week summary needs
    gated: bool


def overview(clinic: Clinic, now: datetime) -> list[dict[str, Any]]:
    """Every athlete of ``clinic`` at ``now``: most severe open alert first, then by name."""
    return athletes_overview(clinic.apps(), clinic.store, now)


def clinic_summary(apps: Sequence[App], store: Store, now: datetime) -> dict[str, Any]:
    """What ``GET /status`` answers with several athletes: every athlete's row and the open
    alerts of all of them by severity."""
    rows = athletes_overview(apps, store, now)
    totals = {severity: sum(r["open_alerts"][severity] for r in rows) for severity in SEVERITIES}
    return {"athletes": rows, "totals": {"athletes": len(rows), "open_alerts": totals}}


def athletes_overview(apps: Sequence[App], store: Store, now: datetime
                      ) -> list[dict[str, Any]]:
    """The overview rows of ``apps`` (sharing ``store``) at ``now``, sorted as shown."""
    rows: list[dict[str, Any]] = []
    athletes: list[_Athlete] = []
    for app in apps:
        try:
            athletes.append(_athlete(app, now))
        except SyncdError as err:  # a broken plan file: the row says so, the rest is shown
            rows.append({**_empty_row(app, now), "problem": str(err)})
    with store.read() as tx:
        ids = athlete_ids(tx, [a.app.profile.name for a in athletes])
        known = [ids[a.app.profile.name] for a in athletes if a.app.profile.name in ids]
        sessions = _sessions(tx, ids, athletes)
        positions = _positions(tx, ids, athletes, now)
        alerts, unacked = open_alert_counts(tx, known)
        states = sync_times(tx, known)
    for athlete in athletes:
        athlete_id = ids.get(athlete.app.profile.name, 0)  # 0: never stored, no figures
        rows.append({**_row(athlete, sessions.get(athlete_id, []), alerts.get(athlete_id, {}),
                            states.get(athlete_id, {}), positions.get(athlete_id)),
                     UNACKED: unacked.get(athlete_id, 0)})
    rows.sort(key=severity_order)
    return rows


def severity_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key: the athletes with open critical alerts nobody acknowledged first (the most
    of them first), then those with the most severe open alerts, then by name."""
    counts = row["open_alerts"]
    return (-row.get(UNACKED, 0), *(-counts[s] for s in SEVERITIES), row["athlete"])


def _athlete(app: App, now: datetime) -> _Athlete:
    athlete = app.athlete  # reads (and validates) the plan: may raise PlanError
    today = athlete.local_date(now)
    start = athlete.plan_start
    return _Athlete(app, today, week_start(today, start), gated(athlete))


# -- the windows --------------------------------------------------------------------------------


def _sessions(tx: DbSession, ids: dict[str, int],
              athletes: list[_Athlete]) -> dict[int, list[Session]]:
    """The sessions of ``athletes`` in their windows, by athlete id (see
    :func:`syncd.store.overview.sessions_in_windows`)."""
    windows = {ids[a.app.profile.name]: (local_midnight(a.first), local_midnight(a.today + DAY))
               for a in athletes if a.app.profile.name in ids}
    return sessions_in_windows(tx, windows)


def _positions(tx: DbSession, ids: dict[str, int], athletes: list[_Athlete],
               now: datetime) -> dict[int, Position]:
    """This week's plan position of the athletes on gated progression, by athlete id: as the
    evaluations stored it (one query for all), else walked as their own ``/status`` does
    (only for an athlete not evaluated since the week began)."""
    wanted = {ids[a.app.profile.name]: a for a in athletes
              if a.gated and a.app.profile.name in ids}
    found = positions_of_weeks(tx, {athlete_id: (plan_key(a.app.athlete), a.first)
                                    for athlete_id, a in wanted.items()})
    for athlete_id, athlete in wanted.items():
        if athlete_id not in found:
            found[athlete_id] = current_position(tx, athlete_id, athlete.app.athlete, now)
    return found


# -- the rows ---------------------------------------------------------------------------------


def _row(athlete: _Athlete, sessions: list[Session], alerts: dict[str, int],
         states: dict[str, dict[str, Any]], position: Position | None = None) -> dict[str, Any]:
    app, today = athlete.app, athlete.today
    weeks = weeks_overview(app.athlete, History(sessions=sessions), today, today, today,
                           [position] if position is not None else None)
    week = weeks[0] if weeks else None
    plan = app.athlete.plan
    return {
        "athlete": app.athlete.name,
        "timezone": app.athlete.timezone,
        "today": today.isoformat(),
        "plan": None if plan is None else {
            "name": plan.name,
            "start": app.athlete.plan_start.isoformat() if app.athlete.plan_start else None,
            "weeks": len(plan.weeks),
        },
        "week": week.as_dict() if week is not None else None,
        "open_alerts": _severities(alerts),
        "last_sync": _last_sync(enabled_sources(app), states),
    }


def _empty_row(app: App, now: datetime) -> dict[str, Any]:
    """The row of an athlete whose settings cannot be read: no figures."""
    return {"athlete": app.profile.name, "timezone": app.profile.timezone,
            "today": now.astimezone(ZoneInfo(app.profile.timezone)).date().isoformat(),
            "plan": None, "week": None, UNACKED: 0,
            "open_alerts": _severities({}), "last_sync": _last_sync([], {})}


def _severities(counts: dict[str, int]) -> dict[str, int]:
    out = {severity: counts.get(severity, 0) for severity in SEVERITIES}
    # A severity a later version writes still counts in the total.
    out["total"] = sum(counts.values())
    return out


def _last_sync(enabled: Iterable[str], states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The most recent success of any source, the sources failing now, and each source."""
    enabled = list(enabled)
    sources: dict[str, dict[str, Any]] = {}
    for name in [*enabled, *sorted(set(states) - set(enabled))]:
        state = states.get(name, {})
        sources[name] = {
            "last_success_at": _when(state.get("last_success_at")),
            "last_error_at": _when(state.get("last_error_at")),
            "error_count": state.get("error_count", 0),
        }
    successes = [s["last_success_at"] for s in states.values() if s["last_success_at"]]
    return {
        "last_success_at": _when(max(successes)) if successes else None,
        "failing": sorted(name for name, s in sources.items() if s["error_count"]),
        "sources": sources,
    }


def _when(moment: datetime | None) -> str | None:
    return utc_iso(moment) if moment is not None else None


def most_severe(row: dict[str, Any]) -> str | None:
    """The severity of the athlete's most severe open alert, if any."""
    return next((s for s in SEVERITIES if row["open_alerts"][s]), None)
