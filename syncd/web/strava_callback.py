"""Strava's webhook callback (DESIGN section 7): ``GET`` validation and ``POST`` events.

Strava wants an answer within 2 s and its events are unsigned, carrying only ids. So the
``POST`` handler checks what it can cheaply (our subscription, an athlete we know), writes
the event to a small inbox in the database, answers 200, and the work happens afterwards:
through ``request.app.state.on_strava_event(app, event)`` when the daemon provides it, else in
a background task. Processing never trusts the event: ``create``/``update`` re-read the activity
with the athlete's token, a ``delete`` is believed only when Strava no longer serves the
activity, and a revoke only when Strava refuses the tokens. Events that could not be processed
(rate limit, Strava down) stay in the inbox for :func:`drain_inbox`; the periodic poll catches
anything lost on the way.

One Strava application serves every athlete of a clinic: the event's ``owner_id`` is the
Strava athlete, found among the watched athletes' stored tokens in one query, and the
subscription (the application's only one) may be stored under any athlete.
"""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select

from connectors.base import FetchResult, RawRecord
from syncd.errors import RateLimited, SyncdError, TransientError
from syncd.store.activities import find_activity
from syncd.store.alerts import add_operator_notice
from syncd.store.state import STRAVA_INBOX as INBOX
from syncd.store.state import STRAVA_SUBSCRIPTION as SUBSCRIPTION
from syncd.store.state import STRAVA_TOKENS as TOKENS
from syncd.store.tables import ActivityRow, AthleteRow, CredentialRow, GearRow
from syncd.web.context import context_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connectors.strava import StravaConnector
    from syncd.app import App

CALLBACK_PATH = "/strava/webhook"
INBOX_LIMIT = 500  # past this, the oldest events go: the reconciliation poll covers them
REVOKED_NOTICE = "strava.revoked"

log = structlog.get_logger("syncd.strava_callback")
router = APIRouter()


@dataclass(frozen=True, slots=True)
class StravaEvent:
    """One webhook event as Strava posts it (unsigned: only the ids are used)."""

    object_type: str
    object_id: int
    aspect_type: str
    owner_id: int
    subscription_id: int
    event_time: int = 0
    updates: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any) -> StravaEvent | None:
        """The event in a POST body, or ``None`` when the body is not one."""
        if not isinstance(body, Mapping):
            return None
        ids = [body.get(k) for k in ("object_id", "owner_id", "subscription_id")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ids):
            return None
        object_id, owner_id, subscription_id = (int(v) for v in ids if isinstance(v, int))
        kinds = body.get("object_type"), body.get("aspect_type")
        if not all(isinstance(v, str) for v in kinds):
            return None
        updates = body.get("updates")
        event_time = body.get("event_time")
        return cls(str(kinds[0]), object_id, str(kinds[1]), owner_id, subscription_id,
                   event_time if isinstance(event_time, int) else 0, _plain_updates(updates))

    @property
    def revokes(self) -> bool:
        """The athlete withdrew syncd's access (Strava sends ``"false"`` as a string)."""
        return (self.object_type == "athlete"
                and str(self.updates.get("authorized", "")).lower() == "false")


def _plain_updates(updates: Any) -> dict[str, Any]:
    """The ``updates`` of an event, keeping only the plain values Strava sends (strings,
    booleans, numbers): the inbox stores them as JSON, which has no NaN nor nested objects
    from a forged body."""
    if not isinstance(updates, Mapping):
        return {}
    return {str(key): value for key, value in updates.items()
            if isinstance(value, str | bool | int)}


# -- validation (GET) -------------------------------------------------------------------------


def challenge_answer(params: Mapping[str, str], verify_token: str | None) -> dict[str, str] | None:
    """The answer to Strava's validation request, or ``None`` to refuse it (403): the mode
    must be ``subscribe`` and the token must match ours (compared in constant time)."""
    given = params.get("hub.verify_token")
    challenge = params.get("hub.challenge")
    if not verify_token or given is None or challenge is None:
        return None
    if params.get("hub.mode") != "subscribe":
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


@router.post(CALLBACK_PATH, include_in_schema=False)
async def receive_event(request: Request, background: BackgroundTasks) -> JSONResponse:
    """Check and store the event, answer at once, process it afterwards."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"detail": "the body is not JSON"}, status_code=400)
    event = StravaEvent.parse(body)
    if event is None:
        return JSONResponse({"detail": "not a Strava event"}, status_code=400)
    context = context_of(request)
    apps = await run_in_threadpool(context.apps)
    owners, reason = await run_in_threadpool(accept_event, apps, event)
    if reason is not None:
        # 200 all the same: another status makes Strava send the event again. Neither the
        # owner nor the object is logged: ids that lead to someone's health data.
        log.info("strava event ignored", reason=reason, object_type=event.object_type,
                 aspect_type=event.aspect_type)
        return JSONResponse({"status": "ignored", "reason": reason})
    hook = getattr(request.app.state, "on_strava_event", None)
    for app in owners:
        if hook is not None:
            hand_over(hook, app, event)
        else:
            background.add_task(process_event, app, event)
    return JSONResponse({"status": "accepted"})


def hand_over(hook: Callable[..., Any], app: App, event: StravaEvent) -> None:
    """Give the stored event to the daemon's hook: ``hook(app, event)``, the App being the
    athlete's the event is for (a hook taking only the event is called as ``hook(event)``)."""
    if _positional_count(hook) == 1:
        hook(event)
    else:
        hook(app, event)


def _positional_count(hook: Callable[..., Any]) -> int | None:
    try:
        parameters = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):  # a callable without a signature: the current form
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)


def accept_event(apps: Sequence[App], event: StravaEvent) -> tuple[list[App], str | None]:
    """Store ``event`` in the inbox of the watched athlete whose Strava account it is about,
    when it is for our subscription; return that athlete's App (or why it was ignored)."""
    if not apps or apps[0].settings.strava is None:
        return [], "Strava is not configured"
    store = apps[0].store
    by_name = {app.profile.name: app for app in apps}
    with store.write() as tx:
        if not _our_subscription(tx, event.subscription_id):
            return [], "not our subscription"
        owners = [(athlete_id, by_name[name]) for athlete_id, name
                  in _token_owners(tx, event.owner_id) if name in by_name]
        if not owners:
            return [], "unknown athlete"
        for athlete_id, _ in owners:
            _inbox_add(tx, athlete_id, event)
    return [app for _, app in owners], None


def _our_subscription(tx: Session, subscription_id: int) -> bool:
    """True when a subscription stored under any athlete has this id."""
    stored = tx.scalars(select(CredentialRow.value).where(CredentialRow.name == SUBSCRIPTION))
    return any(isinstance(value, Mapping) and value.get("id") == subscription_id
               for value in stored)


def _token_owners(tx: Session, owner_id: int) -> list[tuple[int, str]]:
    """(athlete id, name) of the athletes whose stored Strava tokens are ``owner_id``'s."""
    # Read inside the JSON: neither the other athletes' tokens nor their ids leave the database.
    # Compared as text: a cast to a number could fail on another credential's value.
    strava_athlete = CredentialRow.value["athlete_id"].as_string()
    query = (select(CredentialRow.athlete_id, AthleteRow.name)
             .join(AthleteRow, AthleteRow.id == CredentialRow.athlete_id)
             .where(CredentialRow.name == TOKENS, strava_athlete == str(owner_id))
             .order_by(CredentialRow.athlete_id))
    return [(athlete_id, name) for athlete_id, name in tx.execute(query)]


def process_event(app: App, event: StravaEvent) -> str:
    """Act on one stored event and take it out of the inbox; returns what was done. An event
    that hit a rate limit or a Strava failure stays in the inbox for :func:`drain_inbox`."""
    try:
        outcome = _act(app, event)
    except (RateLimited, TransientError) as err:
        log.info("strava event postponed", reason=str(err), object_id=event.object_id)
        return "postponed"
    except SyncdError as err:
        outcome = f"failed: {err}"
        log.warning("strava event failed", reason=str(err), object_id=event.object_id)
    with app.store.write() as tx:
        _inbox_remove(tx, app.athlete_id, event)
    log.info("strava event processed", outcome=outcome, object_type=event.object_type,
             aspect_type=event.aspect_type)
    return outcome


def drain_inbox(app: App) -> list[str]:
    """Process every stored event, oldest first (at start-up, and after a rate limit)."""
    with app.store.read() as tx:
        stored = inbox_events(tx, app.athlete_id)
    outcomes = []
    for entry in stored:
        outcome = process_event(app, StravaEvent(**entry))
        outcomes.append(outcome)
        if outcome == "postponed":
            break
    return outcomes


# -- acting on events -------------------------------------------------------------------------


def _act(app: App, event: StravaEvent) -> str:
    from connectors.strava import StravaConnector
    from syncd.sync import make_connector

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
    from syncd.sync import SourceResult, store_fetched

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
        rows = tx.execute(select(ActivityRow.source_id, ActivityRow.raw).where(
            ActivityRow.athlete_id == app.athlete_id, ActivityRow.source == "strava")).all()
    records = [RawRecord(source_id, raw, deleted=True) for source_id, raw in rows]
    activities, _ = connector.normalize_all(records)
    app.ingest(activities, source="strava")
    with app.store.write() as tx:
        tx.execute(delete(ActivityRow).where(ActivityRow.athlete_id == app.athlete_id,
                                             ActivityRow.source == "strava"))
        tx.execute(delete(GearRow).where(GearRow.athlete_id == app.athlete_id,
                                         GearRow.source == "strava"))


# -- the inbox (a credential row, so that it needs no table of its own) -------------------------


def inbox_events(tx: Session, athlete_id: int) -> list[dict[str, Any]]:
    """The events waiting in the athlete's inbox, oldest first."""
    return list((_credential(tx, athlete_id, INBOX) or {}).get("events", []))


def _credential(tx: Session, athlete_id: int, name: str) -> dict[str, Any] | None:
    row = tx.scalars(select(CredentialRow).where(CredentialRow.athlete_id == athlete_id,
                                                 CredentialRow.name == name)).one_or_none()
    return dict(row.value) if row is not None else None


def _inbox_row(tx: Session, athlete_id: int, now: datetime) -> CredentialRow:
    row = tx.scalars(select(CredentialRow).where(
        CredentialRow.athlete_id == athlete_id, CredentialRow.name == INBOX).with_for_update()
    ).one_or_none()
    if row is None:
        row = CredentialRow(athlete_id=athlete_id, name=INBOX, value={"events": []},
                            updated_at=now)
        tx.add(row)
    return row


def _inbox_add(tx: Session, athlete_id: int, event: StravaEvent) -> None:
    row = _inbox_row(tx, athlete_id, datetime.now(UTC))
    events = [e for e in row.value.get("events", []) if e != asdict(event)]
    events.append(asdict(event))
    row.value = {"events": events[-INBOX_LIMIT:]}
    row.updated_at = datetime.now(UTC)


def _inbox_remove(tx: Session, athlete_id: int, event: StravaEvent) -> None:
    row = _inbox_row(tx, athlete_id, datetime.now(UTC))
    row.value = {"events": [e for e in row.value.get("events", []) if e != asdict(event)]}
    row.updated_at = datetime.now(UTC)

