"""What the therapist's views may show of each patient (:mod:`syncd.sharing`): applied to the
clinic overview, ``/status``, ``/alerts``, ``/weeks`` and the athlete pages reached with the
server token.

In a clinic (``[[athletes]]``) every view reached with the server token is the therapist's:
a Strava-sourced session shows as syncd's findings only (band, rule, severity, date), and a
patient who withdrew their consent shows as their name and the date of the withdrawal,
nothing else. A single athlete is the only viewer: everything is shown as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from syncd.models import utc_iso
from syncd.sharing import CLINIC, OWN, Audience, safe_alert, safe_week
from syncd.store.consents import withdrawn_since
from syncd.store.overview import athlete_ids

if TYPE_CHECKING:
    from collections.abc import Sequence

    from syncd.app import App


def token_audience(app: App) -> Audience:
    """Who looks through the server token: the therapist in a clinic, else the runner."""
    return CLINIC if app.settings.clinic else OWN


def withdrawals(apps: Sequence[App]) -> dict[str, datetime]:
    """The athletes of ``apps`` who withdrew their consent, by name, with when (one query)."""
    if not apps:
        return {}
    with apps[0].store.read() as tx:
        ids = athlete_ids(tx, [a.profile.name for a in apps])
        withdrawn = withdrawn_since(tx, list(ids.values()))
    return {name: withdrawn[i] for name, i in ids.items() if i in withdrawn}


def withdrawn_at(app: App) -> datetime | None:
    """When ``app``'s athlete withdrew their consent (``None``: sharing)."""
    with app.store.read() as tx:
        return withdrawn_since(tx, [app.athlete_id]).get(app.athlete_id)


def summary_for_clinic(summary: dict[str, Any], withdrawn: dict[str, datetime]
                       ) -> dict[str, Any]:
    """The clinic overview (:func:`syncd.web.overview.clinic_summary`) as the therapist sees
    it: Strava weeks as bands, withdrawn patients without figures."""
    rows = [_row(row, withdrawn.get(row["athlete"])) for row in summary["athletes"]]
    return {**summary, "athletes": rows}


def _row(row: dict[str, Any], withdrawn: datetime | None) -> dict[str, Any]:
    if withdrawn is None:
        return {**row, "week": safe_week(row.get("week"))}
    counts = {key: 0 for key in row["open_alerts"]}
    return {"athlete": row["athlete"], "timezone": row["timezone"], "today": row["today"],
            "plan": None, "week": None, "open_alerts": counts, "last_sync": None,
            "sharing_withdrawn_at": utc_iso(withdrawn)}


def alerts_for_clinic(alerts: list[dict[str, Any]], withdrawn: dict[str, datetime]
                      ) -> list[dict[str, Any]]:
    """Alerts as the therapist sees them: none of a withdrawn patient, Strava-safe."""
    return [safe_alert(a) for a in alerts if a.get("athlete") not in withdrawn]


def weeks_for_clinic(weeks: list[dict[str, Any]], withdrawn: datetime | None
                     ) -> list[dict[str, Any]]:
    """An athlete's weeks as the therapist sees them (none after a withdrawal)."""
    if withdrawn is not None:
        return []
    return [week for week in (safe_week(w) for w in weeks) if week is not None]


def status_for_clinic(status: dict[str, Any], withdrawn: datetime | None) -> dict[str, Any]:
    """One athlete's ``/status`` as the therapist sees it."""
    if withdrawn is not None:
        return {"athlete": status["athlete"], "today": status["today"],
                "sharing_withdrawn_at": utc_iso(withdrawn)}
    return {**status, "week": safe_week(status.get("week"))}
