"""What a clinic's shared channels may carry of a patient (:mod:`syncd.sharing`), decided per
channel and per event when the dispatcher renders it.

In a clinic a channel is the athlete's own when it is their mail (``email:<name>``) or a
``[[notify]]`` channel kept to them alone; any other (the shared ``[email]``, the webhooks,
the other ``[[notify]]`` channels) is the clinic's. On a clinic channel an event that rests on
a Strava session is rendered Strava-safe (rule, severity, date, band), and nothing of a
patient who withdrew their consent goes out any more (the delivery is skipped). Operator
notices (a source failing, an account revoked) are the operator's and go as they are. A
single athlete's channels are all their own.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from typing import Any

from syncd.config import Settings
from syncd.config.notify import kept_to
from syncd.sharing import findings_only, safe_alert
from syncd.store.outbox import OutboxEvent


@dataclass(frozen=True, slots=True)
class ChannelView:
    """For one dispatch pass: whose channels are whose, and who withdrew their consent."""

    settings: Settings
    withdrawn: Collection[str] = field(default_factory=frozenset)

    def own(self, channel: str, athlete: str) -> bool:
        """True when ``channel`` is ``athlete``'s own (or syncd watches one athlete)."""
        if not self.settings.clinic:
            return True
        return channel == f"email:{athlete}" or channel in kept_to(self.settings.notify,
                                                                      athlete)

    def shown(self, channel: str, event: OutboxEvent) -> OutboxEvent | None:
        """``event`` as ``channel`` may carry it; ``None``: not at all (skip it)."""
        athlete = event.data.get("athlete")
        if event.notice_kind is not None or not athlete or self.own(channel, str(athlete)):
            return event
        if athlete in self.withdrawn:
            return None
        data = event.data
        safe = safe_summary(data) if "sessions" in data else safe_alert(data)
        return event if safe is data else replace(event, payload={**event.payload, "data": safe})


def safe_summary(data: dict[str, Any]) -> dict[str, Any]:
    """A weekly summary as a clinic channel may carry it: with a Strava session in the week,
    each Strava session as its date and verdict, the week's running as counts, no chart or
    cross-training, the alerts Strava-safe (unchanged otherwise)."""
    keys = [s.get("activity_id") or "" for s in data.get("sessions") or ()]
    keys += [k for a in data.get("alerts") or () for k in a.get("activity_ids") or ()]
    if not findings_only(keys):
        return data
    sessions = [_safe_session(s) for s in data.get("sessions") or ()]
    actual = {**data["actual"], "run_min": None, "longest_session_min": None}
    return {**data, "sessions": sessions, "actual": actual, "chart": [], "cross_training": [],
            "alerts": [safe_alert(a) for a in data.get("alerts") or ()]}


def _safe_session(session: dict[str, Any]) -> dict[str, Any]:
    if not findings_only([session.get("activity_id") or ""]):
        return session
    verdict = "within plan" if session.get("within_plan") else "outside the plan"
    return {"activity_id": None, "date": session["date"], "session_min": None,
            "run_min": None, "within_plan": session.get("within_plan"), "notes": [],
            "band": verdict}
