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
daemon provides it, else in a background task. Processing never trusts the event: ``create``
and ``update`` re-read the activity with the athlete's token, a ``delete`` is believed only
when Strava no longer serves the activity, and a revoke only when Strava refuses the tokens.
An inbox holding more than :data:`COALESCE_ABOVE` activity events is served by one listing of
the athlete's recent activities (a sync pass) instead of one read per event, and what one
athlete's events may spend is bounded by
:class:`syncd.sources.strava.planner.EventAllowance`. Events that could
not be processed (rate limit, Strava down, allowance spent) stay in the inbox for
:func:`drain_inbox`; the periodic poll catches anything lost on the way.

One Strava application serves every athlete of a clinic: the event's ``owner_id`` is the
Strava athlete, found among the watched athletes' stored tokens in one query, and the
subscription (the application's only one) may be stored under any athlete.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from connectors.base import FetchResult, RawRecord
from syncd.errors import RateLimited, SyncdError, TransientError
from syncd.sources.strava.planner import EventAllowance
from syncd.store.activities import find_activity
from syncd.store.alerts import add_operator_notice
from syncd.store.credentials import STRAVA_SUBSCRIPTION as SUBSCRIPTION
from syncd.store.credentials import strava_token_owners, values_named
from syncd.store.queries import delete_source_data, source_records
from syncd.store.strava_inbox import StoredEvent, add_event, inbox, remove_events
from syncd.web.context import context_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connectors.strava import StravaConnector
    from syncd.app import App
    from syncd.pipeline.sync import SourceResult

CALLBACK_PATH = "/strava/webhook"
REVOKED_NOTICE = "strava.revoked"
# A Strava event is about 250 bytes; a title of 255 characters of 4-byte UTF-8 fits too.
MAX_BODY = 4096
# A Strava event is an object holding one object (``updates``); a little more nesting is
# read (and dropped), anything deeper is refused before the parser sees it.
MAX_DEPTH = 4
# Events sent longer ago than this, or further ahead (clocks drift), are dropped: Strava
# posts within seconds and retries for minutes, and the reconciliation poll finds the rest.
MAX_AGE = timedelta(days=7)
MAX_AHEAD = timedelta(days=1)
# An inbox holding more activity events than this is served by one listing of the athlete's
# recent activities, which costs one read, instead of one read (or two) per event.
COALESCE_ABOVE = 3
# The one answer to every POSTed event.
ANSWER = {"status": "accepted"}

OBJECT_TYPES = frozenset({"activity", "athlete"})
ASPECT_TYPES = frozenset({"create", "update", "delete"})
MAX_ID = 2**63 - 1  # Strava's ids are 64-bit; a BIGINT column holds no more
MAX_TITLE = 255
MAX_SPORT_TYPE = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPORT_TYPE = re.compile(r"[A-Za-z]+")

log = structlog.get_logger("syncd.strava_callback")
router = APIRouter()


@dataclass(frozen=True, slots=True)
class StravaEvent:
    """One webhook event as Strava posts it (unsigned: only the ids are used), with only the
    fields Strava sends, each bounded (:meth:`parse`)."""

    object_type: str
    object_id: int
    aspect_type: str
    owner_id: int
    subscription_id: int
    event_time: int = 0
    updates: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any, now: datetime | None = None) -> StravaEvent | None:
        """The event in a POST body, or ``None`` when the body is not one: ids that are not
        positive 64-bit integers, an object or aspect type Strava does not send, an athlete
        event about someone other than its owner. A missing
        ``event_time`` is ``now`` (when given); ``updates`` keeps only Strava's keys."""
        if not isinstance(body, Mapping):
            return None
        ids = [body.get(k) for k in ("object_id", "owner_id", "subscription_id")]
        kinds = body.get("object_type"), body.get("aspect_type")
        if not all(_is_id(v) for v in ids) or not all(isinstance(k, str) for k in kinds) \
                or kinds[0] not in OBJECT_TYPES or kinds[1] not in ASPECT_TYPES:
            return None
        sent = body.get("event_time", int(now.timestamp()) if now is not None else 0)
        if not (type(sent) is int and 0 <= sent <= MAX_ID):
            return None
        object_id, owner_id, subscription_id = (int(v) for v in ids if isinstance(v, int))
        if kinds[0] == "athlete" and object_id != owner_id:
            return None  # an athlete event is about its owner: one per athlete, no more
        return cls(str(kinds[0]), object_id, str(kinds[1]), owner_id, subscription_id, sent,
                   strava_updates(body.get("updates")))

    @property
    def revokes(self) -> bool:
        """The athlete withdrew syncd's access (Strava sends ``"false"`` as a string)."""
        return (self.object_type == "athlete"
                and str(self.updates.get("authorized", "")).lower() == "false")

    def fields(self) -> dict[str, Any]:
        """The event's fields, as the inbox stores them."""
        return {"object_type": self.object_type, "object_id": self.object_id,
                "aspect_type": self.aspect_type, "owner_id": self.owner_id,
                "subscription_id": self.subscription_id, "event_time": self.event_time,
                "updates": dict(self.updates)}


def _is_id(value: Any) -> bool:
    """True for a positive integer that fits Strava's (and the database's) 64 bits."""
    return type(value) is int and 0 < value <= MAX_ID


def strava_updates(updates: Any) -> dict[str, Any]:
    """The ``updates`` of an event, kept to the keys Strava sends with values it sends: a
    ``title`` (control characters removed, at most 255 characters), a sport ``type`` (a
    word), ``private`` and ``authorized`` (``"true"``/``"false"``). Anything else goes."""
    if not isinstance(updates, Mapping):
        return {}
    kept: dict[str, Any] = {}
    title = updates.get("title")
    if isinstance(title, str):
        kept["title"] = _CONTROL.sub("", title)[:MAX_TITLE]
    sport = updates.get("type")
    if isinstance(sport, str) and len(sport) <= MAX_SPORT_TYPE and _SPORT_TYPE.fullmatch(sport):
        kept["type"] = sport
    for key in ("private", "authorized"):
        flag = _flag(updates.get(key))
        if flag is not None:
            kept[key] = flag
    return kept


def _flag(value: Any) -> str | None:
    """``"true"``/``"false"`` from Strava's string (or a boolean), else ``None``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    return None


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


# -- serving an inbox -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxWork:
    """One piece of work that serves waiting events: one event read on its own, or a
    listing of the athlete's recent activities standing for many (``listing``)."""

    events: tuple[StoredEvent, ...]
    listing: bool = False

    @property
    def cost(self) -> int:
        """Reads it may take at most (an event: the activity and its stream; a listing:
        the list and the laps of an activity it finds)."""
        return 3 if self.listing else 2

    @property
    def oldest(self) -> int:
        """When the oldest of its events was sent (epoch seconds)."""
        return min(event.event_time for event in self.events)


def plan_inbox(waiting: Sequence[StoredEvent]) -> list[InboxWork]:
    """How to serve an athlete's waiting events, in order: the athlete's own events (a
    revoke) one by one first; then each activity event on its own, or, when more than
    :data:`COALESCE_ABOVE` wait, one listing for all of them."""
    athlete = [InboxWork((e,)) for e in waiting if e.object_type != "activity"]
    activities = tuple(e for e in waiting if e.object_type == "activity")
    if len(activities) > COALESCE_ABOVE:
        return [*athlete, InboxWork(activities, listing=True)]
    return [*athlete, *(InboxWork((e,)) for e in activities)]


def serve(app: App, work: InboxWork) -> str:
    """Run one piece of inbox work; returns what was done (``"postponed"``: it stays)."""
    if work.listing:
        return list_recent(app, work.events)
    stored = work.events[0]
    return process_event(app, StravaEvent(**stored.fields()), stored)


def list_recent(app: App, events: Sequence[StoredEvent]) -> str:
    """Serve many activity events with one pass of the athlete's Strava source, under the
    athlete's fetch claim (a pass running elsewhere: the events wait for the next drain)."""
    from syncd.store.leases import fetch_claim

    with fetch_claim(app.store, app.athlete_id, "strava") as mine:
        if not mine:
            return "postponed"
        outcome, _ = listing_pass(app, events)
    return outcome


def listing_pass(app: App, events: Sequence[StoredEvent]) -> tuple[str, SourceResult]:
    """One pass of the athlete's Strava source standing for ``events`` (its list of recent
    activities finds the new, changed and deleted ones), then the events leave the inbox;
    the caller holds the athlete's fetch claim. Returns ``"listed"`` or ``"postponed"``
    (a rate limit, Strava down, the source backing off: the events stay), and the pass."""
    from syncd.pipeline.sync import sync_source

    result = sync_source(app, "strava")
    if result.skipped_until is not None or isinstance(result.error,
                                                      RateLimited | TransientError):
        return "postponed", result
    with app.store.write() as tx:
        remove_events(tx, events)
    log.info("strava events served by one listing", events=len(events),
             outcome="synced" if result.ok else result.summary())
    return "listed", result


def process_event(app: App, event: StravaEvent, stored: StoredEvent | None = None) -> str:
    """Act on one event and take it (``stored``, or whatever waits for its object) out of
    the inbox; returns what was done. An event that hit a rate limit or a Strava failure
    stays in the inbox for :func:`drain_inbox`."""
    try:
        outcome = _act(app, event)
    except (RateLimited, TransientError) as err:
        log.info("strava event postponed", reason=str(err), object_id=event.object_id)
        return "postponed"
    except SyncdError as err:
        outcome = f"failed: {err}"
        log.warning("strava event failed", reason=str(err), object_id=event.object_id)
    with app.store.write() as tx:
        remove_events(tx, [stored] if stored is not None else _waiting_for(tx, app, event))
    log.info("strava event processed", outcome=outcome, object_type=event.object_type,
             aspect_type=event.aspect_type)
    return outcome


def _waiting_for(tx: Session, app: App, event: StravaEvent) -> list[StoredEvent]:
    """The waiting events about the same object as ``event``."""
    return [e for e in inbox(tx, app.athlete_id)
            if (e.object_type, e.object_id) == (event.object_type, event.object_id)]


def drain_inbox(app: App, allowance: EventAllowance | None = None) -> list[str]:
    """Serve the athlete's waiting events (:func:`plan_inbox`), oldest first, while the
    ``allowance`` lets the athlete's events read (at start-up, after a rate limit, after
    each callback); returns what each piece of work did (``"waits"``: the allowance is
    spent and the rest waits for it)."""
    with app.store.read() as tx:
        waiting = inbox(tx, app.athlete_id)
    outcomes = []
    for work in plan_inbox(waiting):
        if allowance is not None and allowance.left(app.athlete_id, app.clock()) < work.cost:
            outcomes.append("waits")
            break
        before = _requests(app)
        outcome = serve(app, work)
        if allowance is not None:
            allowance.spend(app.athlete_id, app.clock(), _requests(app) - before)
        outcomes.append(outcome)
        if outcome == "postponed":
            break
    return outcomes


def _requests(app: App) -> int:
    """Requests made so far through the Strava application's budget (the process's)."""
    from connectors.strava import StravaConnector
    from syncd.pipeline.sync import make_connector

    connector = make_connector(app, "strava")
    return connector.api.budget.requests if isinstance(connector, StravaConnector) else 0


def inbox_events(tx: Session, athlete_id: int) -> list[dict[str, Any]]:
    """The events waiting in the athlete's inbox, oldest first, as Strava's fields."""
    return [event.fields() for event in inbox(tx, athlete_id)]


# -- acting on events -------------------------------------------------------------------------


def _act(app: App, event: StravaEvent) -> str:
    from connectors.strava import StravaConnector
    from syncd.pipeline.sync import make_connector

    connector = make_connector(app, "strava")
    assert isinstance(connector, StravaConnector)
    if event.revokes:
        return _revoke(app, connector)
    if event.object_type != "activity":
        return "nothing to do"
    record = connector.fetch_activity(event.object_id)
    if record is None:
        return _mark_deleted(app, connector, event.object_id)
    if event.aspect_type == "delete":
        log.warning("strava delete event for an activity Strava still serves",
                    object_id=event.object_id)
    _store(app, connector, record)
    return "stored"


def _mark_deleted(app: App, connector: StravaConnector, activity_id: int) -> str:
    with app.store.read() as tx:
        found = find_activity(tx, app.athlete_id, "strava", str(activity_id))
    if found is None:
        return "unknown activity"
    stored, _ = found
    _store(app, connector, connector.deleted_record(stored.raw, activity_id))
    return "deleted"


def _store(app: App, connector: StravaConnector, record: RawRecord) -> None:
    from syncd.pipeline.sync import SourceResult, store_fetched

    result = SourceResult("strava")
    store_fetched(app, connector, FetchResult(records=[record]), result)
    if result.failures:
        raise TransientError(f"activity {record.source_id} could not be read: "
                             f"{result.failures[0][1]}")


def _revoke(app: App, connector: StravaConnector) -> str:
    """Believe a revoke only when Strava refuses the tokens; then forget them, keep or
    remove the athlete's Strava data as configured, and tell the operator."""
    if not connector.access_revoked():
        log.warning("strava revoke event, but the tokens still work: ignored")
        return "not revoked"
    connector.forget_tokens()
    section = app.settings.strava
    remove = getattr(section, "on_revoke", "keep") == "delete"
    if remove:
        _remove_strava_data(app, connector)
    kept = "removed" if remove else "kept"
    message = (f"Strava access was revoked by the athlete: syncd no longer reads their "
               f"activities and has {kept} what it had from Strava; run `syncd auth strava` "
               "to connect again")
    with app.store.write() as tx:
        add_operator_notice(tx, app.athlete_id, REVOKED_NOTICE, message, app.clock(),
                            app.channels())
    return "revoked"


def _remove_strava_data(app: App, connector: StravaConnector) -> None:
    """Mark every Strava activity deleted (so alerts are re-evaluated), then delete them and
    the Strava gear for good."""
    with app.store.read() as tx:
        rows = source_records(tx, app.athlete_id, "strava")
    records = [RawRecord(source_id, raw, deleted=True) for source_id, raw in rows]
    activities, _ = connector.normalize_all(records)
    app.ingest(activities, source="strava")
    with app.store.write() as tx:
        delete_source_data(tx, app.athlete_id, "strava")
