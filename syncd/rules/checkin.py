"""Which local morning a check-in is due for, and how its question reads (DESIGN section 10).

Pure: the caller reads the athlete's runs, their last pain report and the clock, and asks.
A check-in is due on the local morning after each run day, from the configured time on, and
on every morning while the last pain report is at the plan's ``pain_stop`` or more: pain that
means stop stays *unresolved* until a later report below ``pain_stop``. Only today's morning
can be due: a check-in for a morning gone by would ask about a night long past.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

from syncd.models import Session

Reason = Literal["run", "pain"]
# Parts of the body a plan's name may be about (a word of the name), as the question names
# them ("back" is left out: "Back to running" is no back plan).
BODY_PARTS = {"hip": "hip", "knee": "knee", "ankle": "ankle", "foot": "foot", "heel": "heel",
              "calf": "calf", "achilles": "Achilles", "shin": "shin", "hamstring": "hamstring",
              "groin": "groin", "thigh": "thigh", "glute": "glute"}
_GENERIC = "How does it feel this morning?"


@dataclass(frozen=True, slots=True)
class DueCheckin:
    """A check-in to make: the local morning it is for, and why (``run``: a run the day
    before; ``pain``: pain that means stop is unresolved)."""

    morning: date
    reason: Reason


def due_checkin(sessions: Iterable[Session], last_pain_score: int | None, pain_stop: int,
                now_local: datetime, at: time) -> DueCheckin | None:
    """The check-in due at local time ``now_local`` (naive, the athlete's wall clock), or
    ``None``: today's, from ``at`` on, when a session started on the local day before or the
    last pain score reported is ``pain_stop`` or more."""
    today = now_local.date()
    if now_local.time() < at:
        return None
    if last_pain_score is not None and last_pain_score >= pain_stop:
        return DueCheckin(today, "pain")
    yesterday = today - timedelta(days=1)
    if any(session.local_date == yesterday for session in sessions):
        return DueCheckin(today, "run")
    return None


def checkin_question(plan_name: str | None) -> str:
    """The question a check-in asks: about the part of the body the plan's name is about
    (``"How does your hip feel this morning?"``), else about "it"."""
    words = (plan_name or "").lower()
    for word, part in BODY_PARTS.items():
        if re.search(rf"\b{word}s?\b", words):
            return f"How does your {part} feel this morning?"
    return _GENERIC
