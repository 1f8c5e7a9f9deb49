"""``/onboard``: where a patient opens the link of ``syncd athletes invite`` and connects their
Strava or Garmin account to their athlete.

- ``GET /onboard/{token}``: a short page with the athlete's first name and a choice among the
  sources configured for them;
- ``GET /onboard/{token}/strava`` sends the browser to Strava's authorization (the clinic's
  application) with a ``state`` bound to the invite: its id and an HMAC of the token's hash
  keyed with the application's client secret. ``GET /onboard/strava/callback`` checks the
  state and the scope granted, trades the code for tokens and stores them for the athlete in
  the same transaction that uses up the invite;
- ``GET|POST /onboard/{token}/garmin`` and ``POST /onboard/{token}/garmin/code``: a Garmin
  sign-in served by syncd, MFA included. The sign-in runs in a staging folder of its own (in
  the state directory), whose tokens move into the athlete's token folder only once the invite
  is used up, so that two sign-ins racing with one link never both land. The password is
  handed to Garmin and to nothing else: not to a file, the database, a log line or a page.

The welcome page, the patient of a link and the pages every source shares are here; the
Strava pages are in ``syncd.sources.strava.onboarding``, the Garmin ones in
``syncd.sources.garmin.onboarding``, each mounted through its source's hooks.

A link that is unknown, expired or used gets one and the same page (410): the page never says
which. Five wrong passwords or codes within 15 minutes rest the link for the rest of those 15
minutes (Garmin locks accounts that fail too often). Every page is sent with ``no-referrer``,
so the token in the address never leaves in a ``Referer`` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from syncd.invites import (
    LINK_PATH,
    connectable_sources,
)
from syncd.runtime.passes import pass_key
from syncd.sharing import consent_text
from syncd.store.invites import Invite, pending_invite
from syncd.web.context import context_of
from syncd.web.dashboard import page
from syncd.web.patient_page import page_link

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.onboarding")
router = APIRouter(include_in_schema=False)

HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
           "Cache-Control": "no-store"}
NAMES = {"strava": "Strava", "garmin": "Garmin Connect"}
CHOICE_STYLE = ('style="display:inline-block;padding:0.6rem 1rem;border-radius:6px;'
           'background:var(--run);color:#fff;text-decoration:none;font-weight:600"')


@dataclass(frozen=True, slots=True)
class Patient:
    """Whom a pending invite is for: the invite and the athlete's App."""

    invite: Invite
    app: App

    @property
    def first_name(self) -> str:
        """The athlete's first name (the first word of their name), for the pages."""
        name = self.app.athlete.name
        return (name.split() or [name])[0]


# -- the welcome page ---------------------------------------------------------------------------


@router.get(LINK_PATH + "/{token}")
def welcome(request: Request, token: str, source: str | None = None) -> Response:
    """The page the link opens: hello and the accounts that can be connected."""
    patient = _patient(request, token)
    if patient is None:
        return gone_page()
    offered = connectable_sources(patient.app)
    if source in offered:
        offered = [source]
    if not offered:
        return link_page("syncd", "<h2>Nothing to connect</h2><p>Your clinic has not set up an "
                         "account to connect yet. Please tell them.</p>", 404)
    choices = "".join(f'<p class="consent" data-source="{name}">'
                      f"{escape(consent_text(name))}</p>"
                      f'<p><a {CHOICE_STYLE} href="{link_href(token, name)}">Connect '
                      f"{NAMES[name]}</a></p>" for name in offered)
    until = patient.invite.expires_at.strftime("%d %B %Y")
    body = (f"<h2>Hello {escape(patient.first_name)}</h2>"
            "<p>Your clinic follows your return to running with syncd. Connect the account "
            "your watch or phone records your runs in: syncd then reads your runs from it, "
            "and your clinic sees how your training goes, as written above each button. "
            "Connecting records your consent to it, with these words and the time.</p>"
            f"{choices}<p class=\"muted\">This link works once, until {until}.</p>")
    return link_page("Connect your account", body)


# -- shared -----------------------------------------------------------------------------------


def offered_patient(request: Request, token: str, source: str) -> Patient | Response:
    """The patient of the pending invite ``token`` opens, when ``source`` is one they may
    connect; otherwise the page that says why not."""
    patient = _patient(request, token)
    if patient is None:
        return gone_page()
    if source not in connectable_sources(patient.app):
        return not_offered_page()
    return patient


def _patient(request: Request, token: str) -> Patient | None:
    """The patient of the pending invite ``token`` opens, or ``None`` (gone, whatever why)."""
    home = context_of(request).app
    with home.store.read() as tx:
        invite = pending_invite(tx, token, home.clock())
    return patient_of(home, invite)


def patient_of(home: App, invite: Invite | None) -> Patient | None:
    """The invite's athlete among those watched (re-reading the roster once, for an athlete
    added since the start)."""
    if invite is None:
        return None
    app = home.clinic.watched(invite.athlete_id)
    return Patient(invite, app) if app is not None else None


def sync_soon(request: Request, app: App, source: str) -> None:
    """Ask the scheduler for the athlete's first pass now; without a scheduler here (or on a
    replica that does not schedule) the next poll picks the account up."""
    context = context_of(request)
    context.wrote()
    if context.scheduler is None:
        return
    try:
        context.scheduler.sync_soon(pass_key(app, source))
    except Exception:  # the connection is made; only the first pass comes later
        log.warning("first sync not scheduled now; the next poll runs it",
                    athlete=app.athlete.name, source=source, exc_info=True)


def link_href(token: str, *parts: str) -> str:
    """The escaped address of a page of the link ``token`` (``parts`` after it)."""
    return escape("/".join([LINK_PATH, quote(token, safe=""), *parts]))


# -- pages ------------------------------------------------------------------------------------


def link_page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """An onboarding page: ``body`` under syncd's heading, sent without a referrer."""
    response = page(f"syncd: {title}", f"<h1>syncd</h1><section>{body}</section>", status_code)
    response.headers.update(HEADERS)
    return response


def gone_page() -> HTMLResponse:
    """The one page for a link that is unknown, expired or used (410)."""
    return link_page("link no longer works", "<h2>This link no longer works</h2><p>Ask your "
                     "clinic for a new one.</p>", 410)


def not_offered_page() -> HTMLResponse:
    """An account the clinic did not set up for this athlete (404)."""
    return link_page("not available", "<h2>Not available</h2><p>Your clinic has not set up this "
                     "kind of account. Go back and choose another, or ask your clinic.</p>", 404)


def connected_page(patient: Patient, source: str) -> HTMLResponse:
    """The account is connected: with the link to the patient's own page (a new one)."""
    link = escape(page_link(patient.app))
    return link_page("connected", f"<h2>{NAMES[source]} is connected</h2><p>Thank you, "
                     f"{escape(patient.first_name)}. Your clinic now sees what you agreed to "
                     "share as you record your runs.</p><p>Your own page shows everything "
                     "syncd has of you and what you share; you can withdraw your consent "
                     f'there at any time. Keep this link: <a href="{link}">your page</a>.</p>')


