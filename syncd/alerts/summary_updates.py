"""Corrected weekly summaries: a finished week whose summary was already written and whose
figures changed since (a late upload, an edit, a merge, a deletion) gets an updated summary,
"updated" in its subject, once per change.

A change is noticed cheaply: an activity of the week stored after the week's latest summary
(:func:`syncd.store.summaries.week_changed_at`). The week is then summarised again and its
figures (prescription, actual, cross-training, each session's numbers and verdict) hashed;
only a hash that differs from the latest summary's queues an update. Its event id counts the
week's summaries (``summary_<athlete>_<week start>_u<n>``), so that two processes that see
the same change write it once. A change that leaves the figures as they were sends nothing,
and is not looked at again by this process.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from syncd.alerts.channel import EVENT_SUMMARY
from syncd.alerts.summary import CHART_WEEKS, WEEK, build_summary, summary_event_id
from syncd.models import utc_iso
from syncd.store.outbox import add_event
from syncd.store.summaries import SentSummary, summaries_since, week_changed_at

if TYPE_CHECKING:
    from syncd.app import App

# (athlete id, week start) -> the change already looked at (its figures were unchanged).
Checked = dict[tuple[int, str], datetime]
_SESSION_FIGURES = ("date", "session_min", "run_min", "within_plan", "notes")


def figures_hash(data: dict[str, Any]) -> str:
    """A digest of a summary's figures: what a corrected week changes (not when it was
    written, nor which source's record of a session is the canonical one)."""
    figures = {
        "plan_week": data.get("plan_week"), "step": data.get("step"),
        "prescribed": data.get("prescribed"), "actual": data.get("actual"),
        "cross_training": data.get("cross_training"),
        "sessions": [{k: s.get(k) for k in _SESSION_FIGURES} for s in data.get("sessions") or ()],
    }
    encoded = json.dumps(figures, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def queue_corrected_summaries(app: App, now: datetime, channels: Sequence[str],
                              checked: Checked) -> list[str]:
    """Queue an updated summary for each recent week whose figures changed since its latest
    summary; returns the event ids written."""
    with app.store.read() as tx:
        sent = summaries_since(tx, app.athlete_id, EVENT_SUMMARY, now - WEEK * CHART_WEEKS)
    written = []
    for week_start, summaries in _by_week(sent).items():
        event_id = _correct(app, now, channels, week_start, summaries, checked)
        if event_id:
            written.append(event_id)
    return written


def _by_week(sent: list[SentSummary]) -> dict[str, list[SentSummary]]:
    """The summaries of each week, oldest first."""
    weeks: dict[str, list[SentSummary]] = {}
    for summary in sent:
        if summary.week_start:
            weeks.setdefault(summary.week_start, []).append(summary)
    return weeks


def _correct(app: App, now: datetime, channels: Sequence[str], week_start: str,
             summaries: list[SentSummary], checked: Checked) -> str | None:
    """Queue the updated summary of one week if its figures changed; its event id."""
    latest, first_day = summaries[-1], date.fromisoformat(week_start)
    with app.store.read() as tx:
        changed = week_changed_at(tx, app.athlete_id, first_day)
    key = (app.athlete_id, week_start)
    # At the same instant as the summary, the change may have come after it: look.
    if changed is None or changed < latest.created_at or checked.get(key) == changed:
        return None
    checked[key] = changed
    data = build_summary(app, first_day, now)
    if data is None or figures_hash(data) == figures_hash(latest.data):
        return None
    event_id = f"{summary_event_id(app.athlete_id, first_day)}_u{len(summaries)}"
    data.update(id=event_id, updated=True, replaces=latest.id)
    payload = {"type": EVENT_SUMMARY, "timestamp": utc_iso(now), "data": data}
    with app.store.write() as tx:
        written = add_event(tx, event_id, EVENT_SUMMARY, payload, now, channels,
                            athlete_id=app.athlete_id)
    return event_id if written else None
