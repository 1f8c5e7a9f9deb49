"""The check-in's forms, shared by the check-in pages (:mod:`syncd.web.checkin`) and the
athlete's dashboard, which shows today's check-in until it is answered."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from syncd.models import SYMPTOMS
from syncd.pipeline.checkins import SCORES, open_checkin
from syncd.rules.checkin import checkin_question

if TYPE_CHECKING:
    from syncd.app import App

DASHBOARD_ACTION = "/dashboard/checkin"
SYMPTOM_LABELS = {
    "swelling": "Swelling", "numbness": "Numbness or tingling",
    "trouble_walking": "Trouble walking", "locking": "Clicking or locking",
    "night_pain": "Pain at night",
}
ADVICE = ("Swelling or numbness: get it evaluated urgently. Trouble walking: stop and get "
          "checked. Clicking or locking: have it assessed by a professional.")


def question_of(app: App) -> str:
    """The question ``app``'s athlete is asked."""
    return checkin_question(app.plan.name if app.plan else None)


def symptom_boxes() -> str:
    """One checkbox per symptom, named after it."""
    return "".join(
        f'<label style="flex-direction:row;gap:0.4rem;align-items:center">'
        f'<input type="checkbox" name="{escape(name)}" value="on" '
        f'style="min-height:auto">{escape(SYMPTOM_LABELS.get(name, name))}</label>'
        for name in SYMPTOMS)


def checkin_section(app: App, now: datetime, several: bool) -> str:
    """The dashboard's check-in form while today's check-in waits for an answer (else
    nothing): the question, a score and the symptoms, recorded as the check-in's answer."""
    if open_checkin(app, now) is None:
        return ""
    action = DASHBOARD_ACTION + (f"?athlete={quote(app.profile.name, safe='')}"
                                 if several else "")
    options = "".join(f'<option value="{i}">{i}</option>' for i in SCORES)
    return (
        f'<section id="checkin"><h2>Morning check-in</h2><p>{escape(question_of(app))}</p>'
        f'<form method="post" action="{escape(action)}">'
        '<label>Pain this morning (0 none, 10 worst) <select name="score" required>'
        f'<option value="" selected disabled>choose</option>{options}</select></label>'
        f"{symptom_boxes()}<button type=\"submit\">Record</button></form></section>"
    )
