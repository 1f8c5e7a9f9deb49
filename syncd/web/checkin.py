"""``/checkin``: the pages a morning check-in's links open (DESIGN section 10), and the
dashboard's check-in form.

- ``GET /checkin/{token}/{score}`` shows the chosen score and one button; it records nothing
  (mail scanners open links before the athlete does);
- ``POST /checkin/{token}/{score}`` records the score as a pain report ``when =
  "next_morning"`` and sends the browser to the symptoms page;
- ``GET|POST /checkin/{token}/symptoms`` offers the symptoms and adds the ones ticked to that
  report (a symptom raises ``red_flag``);
- ``POST /dashboard/checkin`` (behind the token, like the rest of the dashboard) answers
  today's check-in from the athlete's page.

The links need no token: they are open on the ``public_url`` host too, like ``/onboard``. A
token that is unknown, expired or whose check-in was answered gets one and the same page
(410), so a guess learns nothing; the token is in no log line, and every page is sent with
``no-referrer`` so that it never leaves in a ``Referer`` header.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syncd.errors import SyncdError
from syncd.models import SYMPTOMS
from syncd.pipeline.checkins import LINK_PATH, SCORES, answer, give_symptoms, open_checkin
from syncd.store.alerts import ApplyResult
from syncd.store.checkins import Checkin, checkin_by_token, report_score
from syncd.web.checkin_form import (
    ADVICE,
    DASHBOARD_ACTION,
    SYMPTOM_LABELS,
    question_of,
    symptom_boxes,
)
from syncd.web.clinic_page import athlete_path
from syncd.web.context import WebContext, context_of
from syncd.web.dashboard import page, read_form
from syncd.web.onboarding import link_page

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.web.checkin")
router = APIRouter(include_in_schema=False)
_SCORE_TEXTS = {str(score): score for score in SCORES}


def gone_page() -> HTMLResponse:
    """The one page for a link that is unknown, expired or already answered (410)."""
    return link_page("link no longer works", "<h2>This link no longer works</h2><p>It has "
                     "expired, or this morning's answer is already recorded (thank you). The "
                     "next check-in brings new links.</p>", 410)


def _score(text: str) -> int | None:
    """The score a link's last part names (exactly ``"0"`` to ``"10"``), else ``None``."""
    return _SCORE_TEXTS.get(text)


def _found(request: Request, token: str) -> tuple[App, Checkin] | None:
    """The check-in a live ``token`` serves and its athlete's App, else ``None``."""
    home = context_of(request).app
    with home.store.read() as tx:
        checkin = checkin_by_token(tx, token, home.clock())
    if checkin is None:
        return None
    app = home.clinic.watched(checkin.athlete_id)
    return (app, checkin) if app is not None else None


def _href(token: str, part: str) -> str:
    return escape(f"{LINK_PATH}/{quote(token, safe='')}/{part}")


# -- symptoms (declared first: "symptoms" is no score) ---------------------------------------


@router.get(LINK_PATH + "/{token}/symptoms")
def symptoms_page(request: Request, token: str) -> Response:
    """After the score: which symptoms came with the pain, if any."""
    found = _found(request, token)
    report_id = found[1].pain_report_id if found is not None else None
    if found is None or report_id is None or found[1].symptoms_at is not None:
        return gone_page()
    with found[0].store.read() as tx:
        score = report_score(tx, report_id)
    body = (f"<h2>Recorded: {score}/10 this morning</h2><p>Thank you. Did any of these come "
            "with the pain?</p>"
            f'<form method="post" action="{_href(token, "symptoms")}">{symptom_boxes()}'
            '<button type="submit">Send</button></form>'
            '<p class="muted">None of them: you can close this page.</p>')
    return link_page("recorded", body)


@router.post(LINK_PATH + "/{token}/symptoms")
async def record_symptoms(request: Request, token: str) -> Response:
    """Add the ticked symptoms to the morning's report (once)."""
    form = await read_form(request)
    chosen = [name for name in SYMPTOMS if form.get(name)]
    found = await run_in_threadpool(_found, request, token)
    if found is None:
        return gone_page()
    result = await run_in_threadpool(give_symptoms, found[0], found[1], chosen)
    if result is None:
        return gone_page()
    _wrote(context_of(request), result)
    named = ", ".join(SYMPTOM_LABELS[n].lower() for n in chosen)
    advice = f"<p>Recorded: {escape(named)}.</p><p><b>{escape(ADVICE)}</b></p>" if chosen else ""
    return link_page("thank you", f"<h2>Thank you</h2>{advice}<p>You can close this page.</p>")


# -- the score --------------------------------------------------------------------------------


@router.get(LINK_PATH + "/{token}/{score}")
def score_page(request: Request, token: str, score: str) -> Response:
    """The chosen score and one button; records nothing."""
    value = _score(score)
    if value is None:
        return link_page("not found", "<h2>Not found</h2>", 404)
    found = _found(request, token)
    if found is None or found[1].answered_at is not None:
        return gone_page()
    others = " ".join(f'<a href="{_href(token, str(s))}">{s}</a>' for s in SCORES if s != value)
    body = (f"<h2>{escape(question_of(found[0]))}</h2>"
            f'<form method="post" action="{_href(token, str(value))}">'
            f'<button type="submit">Record {value}/10</button></form>'
            f'<p class="muted">0 is no pain, 10 the worst. Another number: {others}</p>')
    return link_page("morning check-in", body)


@router.post(LINK_PATH + "/{token}/{score}")
def record_score(request: Request, token: str, score: str) -> Response:
    """Record the score (once per check-in), then show the symptoms."""
    value = _score(score)
    if value is None:
        return link_page("not found", "<h2>Not found</h2>", 404)
    found = _found(request, token)
    if found is None:
        return gone_page()
    try:
        recorded = answer(found[0], found[1], value)
    except SyncdError as err:
        log.error("check-in answer not recorded", athlete=found[0].athlete.name, error=str(err))
        return link_page("not recorded", "<h2>Not recorded</h2><p>syncd could not store your "
                         "answer just now. Please try the link again in a few minutes.</p>", 503)
    if recorded is None:
        return gone_page()
    _wrote(context_of(request), recorded[1])
    return RedirectResponse(f"{LINK_PATH}/{quote(token, safe='')}/symptoms", status_code=303,
                            headers={"Referrer-Policy": "no-referrer"})


# -- the dashboard's form ---------------------------------------------------------------------


@router.post(DASHBOARD_ACTION)
async def dashboard_checkin(request: Request, athlete: str | None = None) -> Response:
    """Answer today's check-in from the athlete's page, then show the page again (303)."""
    context = context_of(request)
    try:
        app = context.athlete_app(athlete)
    except HTTPException as refused:
        return page("syncd: no such athlete", escape(str(refused.detail)), refused.status_code)
    form = await read_form(request)
    value = _score((form.get("score") or "").strip())
    back = athlete_path(app) if context.several() else "/"
    checkin = await run_in_threadpool(open_checkin, app, app.clock())
    if value is None or checkin is None:
        return RedirectResponse(f"{back}?error=score#pain" if value is None else back, 303)
    recorded = await run_in_threadpool(answer, app, checkin, value)
    if recorded is not None:
        chosen = [name for name in SYMPTOMS if form.get(name)]
        symptoms = await run_in_threadpool(give_symptoms, app, checkin, chosen)
        _wrote(context, recorded[1], symptoms)
    return RedirectResponse(f"{back}?logged={value}#pain", status_code=303)


def _wrote(context: WebContext, *results: ApplyResult | None) -> None:
    """Something was recorded: cached answers are stale, and raised alerts go out now."""
    context.wrote()
    if any(r is not None and r.raised for r in results) and context.scheduler is not None:
        context.scheduler.dispatch_soon()
