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

A link that is unknown, expired or used gets one and the same page (410): the page never says
which. Five wrong passwords or codes within 15 minutes rest the link for the rest of those 15
minutes (Garmin locks accounts that fail too often). Every page is sent with ``no-referrer``,
so the token in the address never leaves in a ``Referer`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

import requests
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syncd.errors import AuthError, RateLimited, SyncdError
from syncd.invites import (
    LINK_PATH,
    connect_garmin,
    connect_strava,
    connectable_sources,
    garmin_staging,
    sweep_staging,
)
from syncd.pipeline.sync import make_connector
from syncd.runtime.scheduler import pass_key
from syncd.store.invites import Invite, pending_invite, pending_invite_by_id
from syncd.web.context import context_of
from syncd.web.dashboard import page, read_form

if TYPE_CHECKING:
    from connectors.strava.tokens import Tokens
    from syncd.app import App

log = structlog.get_logger("syncd.onboarding")
router = APIRouter(include_in_schema=False)

STRAVA_CALLBACK_PATH = f"{LINK_PATH}/strava/callback"
REQUIRED_STRAVA_SCOPE = "activity:read_all"
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
           "Cache-Control": "no-store"}
NAMES = {"strava": "Strava", "garmin": "Garmin Connect"}
_CHOICE = ('style="display:inline-block;padding:0.6rem 1rem;border-radius:6px;'
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


class AttemptLimiter:
    """Garmin sign-ins and codes per invite: at most ``limit`` wrong ones within ``window``
    (then the invite rests until the window has passed), and one at a time.

    An attempt is reserved *before* Garmin is asked (:meth:`reserve`) and counted as wrong
    until :meth:`settle` says otherwise, so requests racing with one link cannot all reach
    Garmin between a check and the count. Kept in memory: each replica counts its own."""

    def __init__(self, limit: int = MAX_FAILURES, window: timedelta = FAILURE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._attempts: dict[int, list[datetime]] = {}
        self._under_way: dict[int, datetime] = {}
        self._lock = threading.Lock()

    def reserve(self, invite_id: int, now: datetime) -> Literal["go", "busy", "resting"]:
        """``go`` (the attempt is reserved: ask Garmin, then :meth:`settle`), ``busy`` (an
        attempt with this invite is under way) or ``resting`` (too many wrong ones)."""
        with self._lock:
            recent = [t for t in self._attempts.get(invite_id, []) if now - t < self.window]
            self._attempts[invite_id] = recent
            if invite_id in self._under_way:
                return "busy"
            if len(recent) >= self.limit:
                return "resting"
            recent.append(now)
            self._under_way[invite_id] = now
            return "go"

    def settle(self, invite_id: int, *, wrong: bool) -> None:
        """End the reserved attempt: it stays counted when Garmin refused the password or
        code (``wrong``), and is forgotten otherwise."""
        with self._lock:
            started = self._under_way.pop(invite_id, None)
            attempts = self._attempts.get(invite_id, [])
            if not wrong and started in attempts:
                attempts.remove(started)


# -- the welcome page and Strava ----------------------------------------------------------------


@router.get(STRAVA_CALLBACK_PATH)
def strava_callback(request: Request) -> Response:
    """Strava's redirect: check the state and the scope, store the tokens, use the invite."""
    params = request.query_params
    patient = _patient_of_state(request, params.get("state") or "")
    if patient is None:
        return gone_page()
    again = _retry_link(patient)
    if params.get("error") or not params.get("code"):
        return _page("Strava not connected", "<h2>Strava is not connected</h2><p>Strava did "
                     "not give access. To connect, choose Authorize on Strava's page.</p>"
                     + again, 400)
    scope = params.get("scope") or ""
    if REQUIRED_STRAVA_SCOPE not in scope.split(","):  # the patient said so: spare the code
        return _permission_page(again)
    try:
        tokens = _exchange(patient.app, params["code"], scope)
    except AuthError:
        return _page("Strava not connected", "<h2>Strava did not confirm</h2><p>The answer "
                     "from Strava could not be used (it works once and only for a few "
                     "minutes).</p>" + again, 400)
    except SyncdError:
        return _page("Strava not connected", "<h2>Strava cannot be reached</h2><p>Please try "
                     "again in a few minutes.</p>" + again, 502)
    if REQUIRED_STRAVA_SCOPE not in (tokens.scope or "").split(","):
        return _permission_page(again)  # what Strava granted, whatever the redirect said
    outcome = connect_strava(patient.app, patient.invite, tokens)
    if outcome == "taken":
        return _page("Strava not connected", "<h2>This Strava account is already "
                     "connected</h2><p>It is connected for someone else at your clinic. Ask "
                     "your clinic what to do.</p>", 409)
    if outcome == "gone":
        return gone_page()
    _sync_soon(request, patient.app, "strava")
    return connected_page(patient, "strava")


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
        return _page("syncd", "<h2>Nothing to connect</h2><p>Your clinic has not set up an "
                     "account to connect yet. Please tell them.</p>", 404)
    choices = "".join(f'<p><a {_CHOICE} href="{_href(token, name)}">Connect '
                      f"{NAMES[name]}</a></p>" for name in offered)
    until = patient.invite.expires_at.strftime("%d %B %Y")
    body = (f"<h2>Hello {escape(patient.first_name)}</h2>"
            "<p>Your clinic follows your return to running with syncd. Connect the account "
            "your watch or phone records your runs in: syncd then reads your runs from it, "
            "and your clinic sees how your training goes.</p>"
            f"{choices}<p class=\"muted\">This link works once, until {until}.</p>")
    return _page("Connect your account", body)


@router.get(LINK_PATH + "/{token}/strava")
def to_strava(request: Request, token: str) -> Response:
    """Send the browser to Strava's authorization page."""
    patient = _offered_patient(request, token, "strava")
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
    patient = _patient_of(home, invite)
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
    return _page("Strava not connected", "<h2>One more permission</h2><p>Your clinic needs "
                 "to see all your activities, including private ones: on Strava's page keep "
                 "the box <em>View data about your private activities</em> ticked.</p>"
                 + again, 400)


def _retry_link(patient: Patient) -> str:
    url = strava_authorize_url(patient)
    return f'<p><a {_CHOICE} href="{escape(url)}">Try again</a></p>' if url else ""


# -- Garmin -----------------------------------------------------------------------------------


@router.get(LINK_PATH + "/{token}/garmin")
def garmin_form(request: Request, token: str) -> Response:
    """The Garmin sign-in form."""
    patient = _offered_patient(request, token, "garmin")
    if isinstance(patient, Response):
        return patient
    return _sign_in_page(patient, token)


@router.post(LINK_PATH + "/{token}/garmin")
async def garmin_sign_in(request: Request, token: str) -> Response:
    """Sign in to Garmin with the email and password typed; ask for the code when Garmin
    sends one."""
    form = await read_form(request)
    return await run_in_threadpool(_garmin_sign_in, request, token, form)


@router.post(LINK_PATH + "/{token}/garmin/code")
async def garmin_code(request: Request, token: str) -> Response:
    """Finish the Garmin sign-in with the code Garmin sent."""
    form = await read_form(request)
    return await run_in_threadpool(_garmin_code, request, token, form)


def _garmin_sign_in(request: Request, token: str, form: dict[str, str]) -> Response:
    from connectors.garmin import auth  # garminconnect, only for a Garmin sign-in

    patient = _offered_patient(request, token, "garmin")
    if isinstance(patient, Response):
        return patient
    email, password = (form.get("email") or "").strip(), form.get("password") or ""
    if not email or not password:
        return _sign_in_page(patient, token, "Type the email and the password of your Garmin "
                             "account.", 400)
    with _attempt(request, patient) as attempt:
        if attempt.refusal is not None:
            return attempt.refusal
        staging = garmin_staging(patient.app, patient.invite)
        try:
            result = auth.login(staging, _garmin_url(patient.app), email, password, None)
        except AuthError:
            attempt.wrong = True
            return _sign_in_page(patient, token, "Garmin did not accept this email and "
                                 "password. Check them and try again.", 400)
        except SyncdError as err:
            return _garmin_trouble(patient, token, err)
        if not result.done:
            return _code_page(patient, token)
        return _finish_garmin(request, patient, staging)


def _garmin_code(request: Request, token: str, form: dict[str, str]) -> Response:
    from connectors.garmin import auth, tokens  # garminconnect, only for a Garmin sign-in

    patient = _offered_patient(request, token, "garmin")
    if isinstance(patient, Response):
        return patient
    staging = garmin_staging(patient.app, patient.invite)
    code = (form.get("code") or "").strip()
    if not code:
        return _code_page(patient, token, "Type the code Garmin sent you.", 400)
    with _attempt(request, patient) as attempt:
        if attempt.refusal is not None:
            return attempt.refusal
        if tokens.load_pending(staging) is None:
            return _sign_in_page(patient, token, "That sign-in has timed out. Please sign in "
                                 "again.", 400)
        try:
            auth.finish_mfa(staging, _garmin_url(patient.app), code)
        except AuthError:
            attempt.wrong = True
            return _code_page(patient, token, "Garmin did not accept that code. Type the "
                              "newest code Garmin sent, or sign in again.", 400)
        except SyncdError as err:
            return _garmin_trouble(patient, token, err)
        return _finish_garmin(request, patient, staging)


@dataclass
class _Attempt:
    """One reserved Garmin attempt: why it may not go ahead, or whether Garmin refused it."""

    refusal: Response | None = None
    wrong: bool = False


@contextmanager
def _attempt(request: Request, patient: Patient) -> Iterator[_Attempt]:
    """Reserve a Garmin attempt for the patient's invite (or say why not: another is under
    way, or the link rests after too many wrong ones), and settle it when done."""
    limiter = _limiter(request)
    verdict = limiter.reserve(patient.invite.id, patient.app.clock())
    if verdict != "go":
        yield _Attempt(busy_page() if verdict == "busy" else resting_page())
        return
    sweep_staging(patient.app.settings.state_dir)
    attempt = _Attempt()
    try:
        yield attempt
    finally:
        limiter.settle(patient.invite.id, wrong=attempt.wrong)


def _finish_garmin(request: Request, patient: Patient, staging: Path) -> Response:
    """Use up the invite and keep the signed-in tokens; say how it went."""
    try:
        outcome = connect_garmin(patient.app, patient.invite, staging)
    except SyncdError as err:
        log.error("garmin tokens of an invite could not be saved; send a new invite",
                  athlete=patient.app.athlete.name, invite=patient.invite.id, error=str(err))
        return _page("Garmin not connected", "<h2>Something went wrong on our side</h2><p>"
                     "Your Garmin account could not be saved. Please ask your clinic for a "
                     "new link.</p>", 500)
    if outcome != "connected":
        return gone_page()
    _sync_soon(request, patient.app, "garmin")
    return connected_page(patient, "garmin")


def _garmin_trouble(patient: Patient, token: str, err: SyncdError) -> Response:
    if isinstance(err, RateLimited):
        return _sign_in_page(patient, token, "Garmin is refusing sign-ins for the moment. "
                             "Please try again in an hour.", 429)
    log.warning("garmin sign-in through an invite failed", athlete=patient.app.athlete.name,
                error=str(err))
    return _sign_in_page(patient, token, "Garmin cannot be reached just now. Please try again "
                         "in a few minutes.", 502)


def _garmin_url(app: App) -> str | None:
    return app.settings.garmin.api_url if app.settings.garmin is not None else None


def _limiter(request: Request) -> AttemptLimiter:
    limiter = getattr(request.app.state, "onboarding_attempts", None)
    if limiter is None:
        limiter = request.app.state.onboarding_attempts = AttemptLimiter()
    return limiter


# -- shared -----------------------------------------------------------------------------------


def _offered_patient(request: Request, token: str, source: str) -> Patient | Response:
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
    return _patient_of(home, invite)


def _patient_of(home: App, invite: Invite | None) -> Patient | None:
    """The invite's athlete among those watched (re-reading the roster once, for an athlete
    added since the start)."""
    if invite is None:
        return None
    clinic = home.clinic
    if clinic is None:
        return Patient(invite, home) if home.athlete_id == invite.athlete_id else None
    app = clinic.app_for_id(invite.athlete_id)
    if app is None and clinic.refresh():
        app = clinic.app_for_id(invite.athlete_id)
    return Patient(invite, app) if app is not None else None


def _sync_soon(request: Request, app: App, source: str) -> None:
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



def _href(token: str, *parts: str) -> str:
    return escape("/".join([LINK_PATH, quote(token, safe=""), *parts]))


# -- pages ------------------------------------------------------------------------------------


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    response = page(f"syncd: {title}", f"<h1>syncd</h1><section>{body}</section>", status_code)
    response.headers.update(HEADERS)
    return response


def gone_page() -> HTMLResponse:
    """The one page for a link that is unknown, expired or used (410)."""
    return _page("link no longer works", "<h2>This link no longer works</h2><p>Ask your "
                 "clinic for a new one.</p>", 410)


def busy_page() -> HTMLResponse:
    """Another Garmin sign-in with the same link is under way (409)."""
    return _page("sign-in under way", "<h2>A sign-in is under way</h2><p>This link is "
                 "signing in to Garmin already. Wait for that page, or try again in a "
                 "minute.</p>", 409)


def resting_page() -> HTMLResponse:
    """Too many wrong passwords or codes with this link: it rests (429)."""
    minutes = int(FAILURE_WINDOW.total_seconds() // 60)
    return _page("Too many attempts", "<h2>Too many attempts</h2><p>Garmin did not accept "
                 f"several tries in a row. Please wait {minutes} minutes, then open your link "
                 "again.</p>", 429)


def not_offered_page() -> HTMLResponse:
    """An account the clinic did not set up for this athlete (404)."""
    return _page("not available", "<h2>Not available</h2><p>Your clinic has not set up this "
                 "kind of account. Go back and choose another, or ask your clinic.</p>", 404)


def unavailable_page() -> HTMLResponse:
    """syncd lacks what Strava needs (its public address, the application's keys) (503)."""
    return _page("not available", "<h2>Not available just now</h2><p>syncd is not fully set "
                 "up to connect Strava. Please tell your clinic.</p>", 503)


def connected_page(patient: Patient, source: str) -> HTMLResponse:
    """The account is connected."""
    return _page("connected", f"<h2>{NAMES[source]} is connected</h2><p>Thank you, "
                 f"{escape(patient.first_name)}. Your clinic now sees your runs as you record "
                 "them. You can close this page.</p>")


def _sign_in_page(patient: Patient, token: str, notice: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    shown = f'<p class="notice bad" role="alert">{escape(notice)}</p>' if notice else ""
    body = (f"<h2>Connect Garmin Connect, {escape(patient.first_name)}</h2>{shown}"
            "<p>Sign in with your Garmin account. syncd keeps only the access Garmin gives "
            "it, never your password.</p>"
            f'<form method="post" action="{_href(token, "garmin")}">'
            '<label>Email <input type="email" name="email" autocomplete="username" required>'
            '</label><label>Password <input type="password" name="password" '
            'autocomplete="current-password" required></label>'
            '<button type="submit">Sign in</button></form>')
    return _page("connect Garmin", body, status_code)


def _code_page(patient: Patient, token: str, notice: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    shown = f'<p class="notice bad" role="alert">{escape(notice)}</p>' if notice else ""
    body = ("<h2>Garmin sent you a code</h2>" + shown
            + "<p>Type the code from the message or app Garmin sent it to.</p>"
            f'<form method="post" action="{_href(token, "garmin", "code")}">'
            '<label>Code <input type="text" name="code" inputmode="numeric" '
            'autocomplete="one-time-code" maxlength="12" required></label>'
            '<button type="submit">Confirm</button></form>'
            f'<p class="muted"><a href="{_href(token, "garmin")}">Sign in again</a></p>')
    return _page("Garmin code", body, status_code)
