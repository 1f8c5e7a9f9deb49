"""Strava's webhook callback (DESIGN section 7): ``GET`` validation and ``POST`` events.

The callback is public and its events are unsigned: anyone may post anything. So the ``POST``
handler reads at most :data:`MAX_BODY` bytes of the body (a larger one is refused with 413
before it is read), refuses a body that is not a flat Strava event (400), keeps only the
fields Strava sends with short values, drops an event far from now, and otherwise gives
**one answer whatever happened** (our subscription or not, a watched athlete or not, stored or
a duplicate): ``200 {"status": "accepted"}``. The reason is logged, never answered, so that a
stranger learns neither the subscription id nor whether a Strava user is watched here.

An event of ours is stored in the athlete's inbox (:mod:`syncd.store.strava_inbox`) and the
work happens afterwards: through ``request.app.state.on_strava_event(app, event)`` when the
daemon provides it, else in a background task; :mod:`syncd.sources.strava.inbox` serves
the inbox, and never trusts the event.

One Strava application serves every athlete of a clinic: the event's ``owner_id`` is the
Strava athlete, found among the watched athletes' stored tokens in one query, and the
subscription (the application's only one) may be stored under any athlete.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from syncd.sources.strava.events import StravaEvent
from syncd.sources.strava.inbox import drain_inbox
from syncd.sources.strava.planner import EventAllowance
from syncd.store.credentials import STRAVA_SUBSCRIPTION as SUBSCRIPTION
from syncd.store.credentials import strava_token_owners, values_named
from syncd.store.strava_inbox import add_event
from syncd.web.context import context_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from syncd.app import App

CALLBACK_PATH = "/strava/webhook"
# A Strava event is about 250 bytes; a title of 255 characters of 4-byte UTF-8 fits too.
MAX_BODY = 4096
# A Strava event is an object holding one object (``updates``); a little more nesting is
# read (and dropped), anything deeper is refused before the parser sees it.
MAX_DEPTH = 4
# Events sent longer ago than this, or further ahead (clocks drift), are dropped: Strava
# posts within seconds and retries for minutes, and the reconciliation poll finds the rest.
MAX_AGE = timedelta(days=7)
MAX_AHEAD = timedelta(days=1)
# The one answer to every POSTed event.
ANSWER = {"status": "accepted"}

log = structlog.get_logger("syncd.strava_callback")
router = APIRouter()


# -- validation (GET) -------------------------------------------------------------------------

# Strava's challenge is a short random string; a longer one is not Strava's.
MAX_CHALLENGE = 256


def challenge_answer(params: Mapping[str, str], verify_token: str | None) -> dict[str, str] | None:
    """The answer to Strava's validation request, or ``None`` to refuse it (403): the mode
    must be ``subscribe`` and the token must match ours (compared in constant time)."""
    given = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if not verify_token or given is None or challenge is None:
        return None
    if params.get("hub.mode") != "subscribe" or len(challenge) > MAX_CHALLENGE:
        return None
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return {"hub.challenge": challenge}


@router.get(CALLBACK_PATH, include_in_schema=False)
def validate_subscription(request: Request) -> JSONResponse:
    """Echo Strava's challenge when the verify token matches."""
    section = context_of(request).app.settings.strava
    token = section.webhook_verify_token if section is not None else None
    answer = challenge_answer(request.query_params,
                              token.get_secret_value() if token is not None else None)
    if answer is None:
        log.warning("strava callback validation refused")
        return JSONResponse({"detail": "verification refused"}, status_code=403)
    return JSONResponse(answer)


# -- events (POST) ----------------------------------------------------------------------------


class BodyTooLarge(Exception):
    """The request body is longer than the callback reads."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, read as a stream and never more than ``limit`` bytes of it: a
    declared or actual length past ``limit`` raises :class:`BodyTooLarge` (nothing more is
    read, so a huge body costs no memory)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def nesting(text: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not
    count). Measured before parsing, so that a deep body never reaches the recursive parser."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (byte == 0x5C, byte != 0x22)
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_body(body: bytes) -> Any:
    """The JSON in ``body``; raises ``ValueError`` for anything else, a body nested deeper
    than a Strava event among them."""
    if nesting(body) > MAX_DEPTH:
        raise ValueError("nested deeper than a Strava event")
    try:
        return json.loads(body)
    except RecursionError:  # unreachable after the depth check; kept as the last guard
        raise ValueError("nested too deep") from None


@router.post(CALLBACK_PATH, include_in_schema=False)
async def receive_event(request: Request, background: BackgroundTasks) -> JSONResponse:
    """Check and store the event, answer at once (the same answer whatever happened),
    process it afterwards."""
    try:
        body = parse_body(await read_body(request))
    except BodyTooLarge:
        log.info("strava callback refused", reason="body too large", limit=MAX_BODY)
        # Close the connection: the rest of the body is not read.
        return JSONResponse({"detail": f"the body is longer than {MAX_BODY} bytes"},
                            status_code=413, headers={"Connection": "close"})
    except ValueError:
        return JSONResponse({"detail": "the body is not a Strava event"}, status_code=400)
    context = context_of(request)
    apps = await run_in_threadpool(context.apps)
    now = apps[0].clock() if apps else None
    event = StravaEvent.parse(body, now)
    if event is None:
        return JSONResponse({"detail": "the body is not a Strava event"}, status_code=400)
    owners, reason = await run_in_threadpool(accept_event, apps, event)
    if reason is not None:
        # Neither the owner nor the object is logged: ids that lead to someone's health data.
        log.info("strava event ignored", reason=reason, object_type=event.object_type,
                 aspect_type=event.aspect_type)
    hook = getattr(request.app.state, "on_strava_event", None)
    for app in owners:
        if hook is not None:
            hook(app, event)
        else:
            background.add_task(drain_inbox, app, allowance_of(request))
    # 200 whatever happened: another status makes Strava send the event again, and a
    # different answer would tell a stranger what syncd knows.
    return JSONResponse(ANSWER)


def allowance_of(request: Request) -> EventAllowance:
    """The web application's own allowance, for events processed without the daemon."""
    allowance = getattr(request.app.state, "strava_event_allowance", None)
    if not isinstance(allowance, EventAllowance):
        allowance = request.app.state.strava_event_allowance = EventAllowance()
    return allowance


def accept_event(apps: Sequence[App], event: StravaEvent) -> tuple[list[App], str | None]:
    """Store ``event`` in the inbox of the watched athlete whose Strava account it is about,
    when it is for our subscription and sent near now; return that athlete's App (or why
    it was ignored, for the log)."""
    if not apps or apps[0].settings.strava is None:
        return [], "Strava is not configured"
    now = apps[0].clock()
    # Compared as epoch seconds: a forged time may lie beyond what a datetime can hold.
    if not (now - MAX_AGE).timestamp() <= event.event_time <= (now + MAX_AHEAD).timestamp():
        return [], "sent too far from now"
    by_name = {app.profile.name: app for app in apps}
    with apps[0].store.write() as tx:
        if not _our_subscription(tx, event.subscription_id):
            return [], "not our subscription"
        owners = [(athlete_id, by_name[name]) for athlete_id, name
                  in strava_token_owners(tx, event.owner_id) if name in by_name]
        if not owners:
            return [], "unknown athlete"
        kept = [add_event(tx, athlete_id, event.fields(), now) for athlete_id, _ in owners]
    if not any(kept):
        # The athlete's inbox is full: the listing that serves it finds this one too.
        return [], "inbox full"
    return [app for _, app in owners], None


def _our_subscription(tx: Session, subscription_id: int) -> bool:
    """True when a subscription stored under any athlete has this id."""
    return any(isinstance(value, Mapping) and value.get("id") == subscription_id
               for value in values_named(tx, SUBSCRIPTION))
