"""A patient's invite link connecting Strava: ``GET /onboard/{token}/strava`` sends the browser
to Strava's authorization (the clinic's application) with a ``state`` bound to the invite: its
id and an HMAC of the token's hash keyed with the application's client secret.
``GET /onboard/strava/callback`` checks the state and the scope granted, trades the code for
tokens and stores them for the athlete in the same transaction that uses up the invite."""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from typing import TYPE_CHECKING

import requests
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncd.errors import AuthError, SyncdError
from syncd.invites import LINK_PATH, connect_strava
from syncd.pipeline.sync import make_connector
from syncd.store.invites import Invite, pending_invite_by_id
from syncd.web.context import context_of
from syncd.web.onboarding import (
    CHOICE_STYLE,
    HEADERS,
    Patient,
    connected_page,
    gone_page,
    link_page,
    offered_patient,
    patient_of,
    sync_soon,
)

if TYPE_CHECKING:
    from connectors.strava.tokens import Tokens
    from syncd.app import App

router = APIRouter(include_in_schema=False)

STRAVA_CALLBACK_PATH = f"{LINK_PATH}/strava/callback"


REQUIRED_STRAVA_SCOPE = "activity:read_all"


@router.get(STRAVA_CALLBACK_PATH)
def strava_callback(request: Request) -> Response:
    """Strava's redirect: check the state and the scope, store the tokens, use the invite."""
    params = request.query_params
    patient = _patient_of_state(request, params.get("state") or "")
    if patient is None:
        return gone_page()
    again = _retry_link(patient)
    if params.get("error") or not params.get("code"):
        return link_page("Strava not connected", "<h2>Strava is not connected</h2><p>Strava did "
                         "not give access. To connect, choose Authorize on Strava's page.</p>"
                         + again, 400)
    scope = params.get("scope") or ""
    if REQUIRED_STRAVA_SCOPE not in scope.split(","):  # the patient said so: spare the code
        return _permission_page(again)
    try:
        tokens = _exchange(patient.app, params["code"], scope)
    except AuthError:
        return link_page("Strava not connected", "<h2>Strava did not confirm</h2><p>The answer "
                         "from Strava could not be used (it works once and only for a few "
                         "minutes).</p>" + again, 400)
    except SyncdError:
        return link_page("Strava not connected", "<h2>Strava cannot be reached</h2><p>Please try "
                         "again in a few minutes.</p>" + again, 502)
    if REQUIRED_STRAVA_SCOPE not in (tokens.scope or "").split(","):
        return _permission_page(again)  # what Strava granted, whatever the redirect said
    outcome = connect_strava(patient.app, patient.invite, tokens)
    if outcome == "taken":
        return link_page("Strava not connected", "<h2>This Strava account is already "
                         "connected</h2><p>It is connected for someone else at your clinic. Ask "
                         "your clinic what to do.</p>", 409)
    if outcome == "gone":
        return gone_page()
    sync_soon(request, patient.app, "strava")
    return connected_page(patient, "strava")


@router.get(LINK_PATH + "/{token}/strava")
def to_strava(request: Request, token: str) -> Response:
    """Send the browser to Strava's authorization page."""
    patient = offered_patient(request, token, "strava")
    if isinstance(patient, Response):
        return patient
    url = strava_authorize_url(patient)
    if url is None:
        return unavailable_page()
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def strava_authorize_url(patient: Patient) -> str | None:
    """Strava's authorization page for this invite (``None`` when syncd lacks the public URL
    or the application's id and secret)."""
    from connectors.strava.oauth import authorize_url  # stravalib, only when offered

    settings = patient.app.settings
    section = settings.strava
    secret = _strava_secret(patient.app)
    public = settings.server.public_url
    if section is None or secret is None or not public or not str(section.client_id).isdigit():
        return None
    redirect_uri = public.rstrip("/") + STRAVA_CALLBACK_PATH
    return authorize_url(section.api_url, int(str(section.client_id)), redirect_uri,
                         strava_state(secret, patient.invite))


def strava_state(secret: str, invite: Invite) -> str:
    """The ``state`` sent to Strava: the invite's id and an HMAC of its token's hash, keyed
    with the application's secret (so neither the token nor a database copy can forge it)."""
    message = f"syncd onboarding {invite.id} {invite.token_sha256}".encode()
    return f"{invite.id}.{hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}"


def _patient_of_state(request: Request, state: str) -> Patient | None:
    """The patient whose invite ``state`` names, when it is genuine and still pending."""
    invite_id, _, _ = state.partition(".")
    if not invite_id.isdigit() or len(invite_id) > 18:
        return None
    home = context_of(request).app
    with home.store.read() as tx:
        invite = pending_invite_by_id(tx, int(invite_id), home.clock())
    patient = patient_of(home, invite)
    secret = _strava_secret(patient.app) if patient is not None else None
    if patient is None or secret is None:
        return None
    if not hmac.compare_digest(state.encode(), strava_state(secret, patient.invite).encode()):
        return None
    return patient


def _exchange(app: App, code: str, redirect_scope: str) -> Tokens:
    """Trade Strava's code for the athlete's tokens (not stored yet), with the scope Strava's
    token answer grants. The redirect's ``scope`` passed through the patient's browser and
    proves nothing; it stands in only when the token answer names no scope (Strava's has
    not always done so)."""
    # Imported here: stravalib loads only when an athlete connects Strava.
    from connectors.strava import StravaConnector
    from connectors.strava.tokens import Tokens

    connector = make_connector(app, "strava")
    assert isinstance(connector, StravaConnector)
    answers: list[requests.Response] = []

    def keep(response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.request.method == "POST" and response.url.endswith("/oauth/token"):
            answers.append(response)

    hooks = connector.api.session.hooks["response"]
    hooks.append(keep)
    try:
        tokens = connector.api.exchange_code(code)
    finally:
        hooks.remove(keep)
    granted = _granted_scope(answers)
    return Tokens(**{**tokens.as_json(),
                     "scope": granted if granted is not None else redirect_scope})


def _granted_scope(answers: list[requests.Response]) -> str | None:
    """The ``scope`` of the token answer, when it names one."""
    try:
        body = answers[-1].json() if answers else None
    except ValueError:
        return None
    scope = body.get("scope") if isinstance(body, dict) else None
    return scope if isinstance(scope, str) else None


def _strava_secret(app: App) -> str | None:
    section = app.settings.strava
    secret = section.client_secret if section is not None else None
    return (secret.get_secret_value() or None) if secret is not None else None


def _permission_page(again: str) -> Response:
    return link_page("Strava not connected", "<h2>One more permission</h2><p>Your clinic needs "
                     "to see all your activities, including private ones: on Strava's page keep "
                     "the box <em>View data about your private activities</em> ticked.</p>"
                     + again, 400)


def _retry_link(patient: Patient) -> str:
    url = strava_authorize_url(patient)
    return f'<p><a {CHOICE_STYLE} href="{escape(url)}">Try again</a></p>' if url else ""


def unavailable_page() -> HTMLResponse:
    """syncd lacks what Strava needs (its public address, the application's keys) (503)."""
    return link_page("not available", "<h2>Not available just now</h2><p>syncd is not fully set "
                     "up to connect Strava. Please tell your clinic.</p>", 503)
