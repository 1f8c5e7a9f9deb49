"""``/me/{key}``: a patient's own page, reached through their own link (shown when they connect
an account through their invite), without the server token.

It shows everything syncd has of them, Strava's details included (with "Powered by Strava"
and "View on Strava"), what they agreed to share with their clinic (each decision with the
words shown and when), and a button to withdraw that consent, or to give it again. A
withdrawal stops sharing at once: from then on the therapist's views and the clinic's channels
show nothing new of the patient (see :mod:`syncd.web.sharing_view`).

A key that is unknown, replaced or not shaped like a key gets the one 404; the key is in no
log line, and every page goes out with ``no-referrer``.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syncd.sharing import OWN, WITHDRAWAL_TEXT, consent_text
from syncd.sources.registry import enabled_sources
from syncd.store.consents import (
    GIVEN,
    WITHDRAWN,
    consents_of,
    given_sources,
    new_page_key,
    page_athlete,
    record_consent,
    withdrawn_since,
)
from syncd.web.context import context_of
from syncd.web.dashboard import page, read_form, render_dashboard

if TYPE_CHECKING:
    from syncd.app import App

PAGE_PATH = "/me"
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
           "Cache-Control": "no-store"}
router = APIRouter(include_in_schema=False)


def page_link(app: App) -> str:
    """A new link to ``app``'s athlete's own page (the path; an earlier link stops working)."""
    with app.store.write() as tx:
        key = new_page_key(tx, app.athlete_id, app.clock())
    return f"{PAGE_PATH}/{quote(key, safe='')}"


@router.get(PAGE_PATH + "/{key}")
def own_page(request: Request, key: str) -> Response:
    """The patient's page: everything of theirs, and their consent."""
    app = _athlete_of(request, key)
    if app is None:
        return _gone()
    context = context_of(request)
    body = render_dashboard(context, app, audience=OWN) + consent_section(app, key)
    return _sent(page(f"syncd: {app.athlete.name}", body))


@router.post(PAGE_PATH + "/{key}/consent")
async def decide(request: Request, key: str) -> Response:
    """Withdraw (``action=withdraw``) or give again (``action=give``) the consent to share;
    recorded at once, then the page again (303)."""
    app = await run_in_threadpool(_athlete_of, request, key)
    if app is None:
        return _gone()
    action = (await read_form(request)).get("action")
    if action not in ("withdraw", "give"):
        return _sent(page("syncd: not understood", "<p>Choose withdraw or give.</p>", 400))
    await run_in_threadpool(record_decision, app, action == "withdraw")
    context_of(request).wrote()
    return _sent(RedirectResponse(f"{PAGE_PATH}/{quote(key, safe='')}#consent", 303))


def record_decision(app: App, withdraw: bool) -> None:
    """Record a withdrawal (or a new consent) for every source concerned, at once."""
    now = app.clock()
    with app.store.write() as tx:
        sources = given_sources(tx, app.athlete_id) or _sources(app)
        for source in sources:
            text = WITHDRAWAL_TEXT if withdraw else consent_text(source)
            record_consent(tx, app.athlete_id, source, WITHDRAWN if withdraw else GIVEN,
                           text, "page", now)


def _sources(app: App) -> list[str]:
    """The sources syncd reads for the athlete, by the names activities carry."""
    return ["file" if name == "files" else name for name in enabled_sources(app)]


def consent_section(app: App, key: str) -> str:
    """What the patient agreed to, when, and the button to change it."""
    with app.store.read() as tx:
        records = consents_of(tx, app.athlete_id)
        withdrawn = withdrawn_since(tx, [app.athlete_id]).get(app.athlete_id)
    items = "".join(f"<li><strong>{escape(r.action)}</strong> for {escape(r.source)} on "
                    f"{r.recorded_at.strftime('%Y-%m-%d %H:%M')} UTC (on the {escape(r.via)}"
                    f" page): <q>{escape(r.text)}</q></li>" for r in records)
    state = ("You withdrew your consent: your clinic sees nothing new of you."
             if withdrawn else "Your clinic sees what you agreed to below.")
    action, label = ("give", "Share with my clinic again") if withdrawn else (
        "withdraw", "Withdraw my consent: stop sharing with my clinic")
    form = (f'<form method="post" action="{PAGE_PATH}/{escape(quote(key, safe=""))}/consent">'
            f'<input type="hidden" name="action" value="{action}">'
            f'<button type="submit">{label}</button></form>')
    return (f'<section id="consent"><h2>What you share with your clinic</h2><p>{state}</p>'
            f"<ul>{items or '<li>No consent recorded.</li>'}</ul>{form}</section>")


def _athlete_of(request: Request, key: str) -> App | None:
    """The athlete whose page key ``key`` is, among those watched."""
    home = context_of(request).app
    with home.store.read() as tx:
        athlete_id = page_athlete(tx, key)
    if athlete_id is None:
        return None
    return home.clinic.watched(athlete_id)


def _gone() -> Response:
    return _sent(page("syncd: not found", "<h1>syncd</h1><p>This page does not exist.</p>",
                      404))


def _sent(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response
