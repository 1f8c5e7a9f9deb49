"""A patient's invite link connecting Garmin: ``GET|POST /onboard/{token}/garmin`` and
``POST /onboard/{token}/garmin/code``, a Garmin sign-in served by syncd, MFA included.

The sign-in runs in a staging folder of its own (in the state directory), whose tokens move
into the athlete's token folder only once the invite is used up, so that two sign-ins racing
with one link never both land. The password is handed to Garmin and to nothing else: not to
a file, the database, a log line or a page. Five wrong passwords or codes within 15 minutes
rest the link for the rest of those 15 minutes (Garmin locks accounts that fail too often)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from syncd.errors import AuthError, RateLimited, SyncdError
from syncd.invites import LINK_PATH, connect_garmin, garmin_staging, sweep_staging
from syncd.web.dashboard import read_form
from syncd.web.onboarding import (
    Patient,
    connected_page,
    gone_page,
    link_href,
    link_page,
    offered_patient,
    sync_soon,
)

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.onboarding")
router = APIRouter(include_in_schema=False)

MAX_FAILURES = 5


FAILURE_WINDOW = timedelta(minutes=15)


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


@router.get(LINK_PATH + "/{token}/garmin")
def garmin_form(request: Request, token: str) -> Response:
    """The Garmin sign-in form."""
    patient = offered_patient(request, token, "garmin")
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

    patient = offered_patient(request, token, "garmin")
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

    patient = offered_patient(request, token, "garmin")
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
        return link_page("Garmin not connected", "<h2>Something went wrong on our side</h2><p>"
                         "Your Garmin account could not be saved. Please ask your clinic for a "
                         "new link.</p>", 500)
    if outcome != "connected":
        return gone_page()
    sync_soon(request, patient.app, "garmin")
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


def busy_page() -> HTMLResponse:
    """Another Garmin sign-in with the same link is under way (409)."""
    return link_page("sign-in under way", "<h2>A sign-in is under way</h2><p>This link is "
                     "signing in to Garmin already. Wait for that page, or try again in a "
                     "minute.</p>", 409)


def resting_page() -> HTMLResponse:
    """Too many wrong passwords or codes with this link: it rests (429)."""
    minutes = int(FAILURE_WINDOW.total_seconds() // 60)
    return link_page("Too many attempts", "<h2>Too many attempts</h2><p>Garmin did not accept "
                     f"several tries in a row. Please wait {minutes} minutes, then open your link "
                     "again.</p>", 429)


def _sign_in_page(patient: Patient, token: str, notice: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    shown = f'<p class="notice bad" role="alert">{escape(notice)}</p>' if notice else ""
    body = (f"<h2>Connect Garmin Connect, {escape(patient.first_name)}</h2>{shown}"
            "<p>Sign in with your Garmin account. syncd keeps only the access Garmin gives "
            "it, never your password.</p>"
            f'<form method="post" action="{link_href(token, "garmin")}">'
            '<label>Email <input type="email" name="email" autocomplete="username" required>'
            '</label><label>Password <input type="password" name="password" '
            'autocomplete="current-password" required></label>'
            '<button type="submit">Sign in</button></form>')
    return link_page("connect Garmin", body, status_code)


def _code_page(patient: Patient, token: str, notice: str | None = None,
               status_code: int = 200) -> HTMLResponse:
    shown = f'<p class="notice bad" role="alert">{escape(notice)}</p>' if notice else ""
    body = ("<h2>Garmin sent you a code</h2>" + shown
            + "<p>Type the code from the message or app Garmin sent it to.</p>"
            f'<form method="post" action="{link_href(token, "garmin", "code")}">'
            '<label>Code <input type="text" name="code" inputmode="numeric" '
            'autocomplete="one-time-code" maxlength="12" required></label>'
            '<button type="submit">Confirm</button></form>'
            f'<p class="muted"><a href="{link_href(token, "garmin")}">Sign in again</a></p>')
    return link_page("Garmin code", body, status_code)
