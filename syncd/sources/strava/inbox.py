"""Serving an athlete's inbox of Strava webhook events, after the callback has stored them.

Processing never trusts the event: ``create`` and ``update`` re-read the activity with the
athlete's token, a ``delete`` is believed only when Strava no longer serves the activity, and
a revoke only when Strava refuses the tokens. An inbox holding more than
:data:`COALESCE_ABOVE` activity events is served by one listing of the athlete's recent
activities (a sync pass) instead of one read per event, and what one athlete's events may
spend is bounded by :class:`syncd.sources.strava.planner.EventAllowance`. Events that could
not be processed (rate limit, Strava down, allowance spent) stay in the inbox for
:func:`drain_inbox`; the periodic poll catches anything lost on the way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from connectors.base import FetchResult, RawRecord
from syncd.errors import RateLimited, SyncdError, TransientError
from syncd.sources.strava.events import StravaEvent
from syncd.sources.strava.planner import EventAllowance
from syncd.store.activities import find_activity
from syncd.store.alerts import add_operator_notice
from syncd.store.queries import delete_source_data
from syncd.store.retention import deleted_copies
from syncd.store.strava_inbox import StoredEvent, inbox, remove_events

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connectors.strava import StravaConnector
    from syncd.app import App
    from syncd.pipeline.sync import SourceResult

REVOKED_NOTICE = "strava.revoked"
# An inbox holding more activity events than this is served by one listing of the athlete's
# recent activities, which costs one read, instead of one read (or two) per event.
COALESCE_ABOVE = 3

# The same logger as the callback's: an event's story reads in one place.
log = structlog.get_logger("syncd.strava_callback")


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
    if stored.raw is None:  # purged after [strava] raw_retention: the columns tell enough
        app.ingest([replace(stored, deleted=True)], source="strava")
        return "deleted"
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
    remove = section is not None and section.revoke_action(app.settings.clinic) == "delete"
    if remove:
        _remove_strava_data(app)
    kept = "removed" if remove else "kept"
    message = (f"Strava access was revoked by the athlete: syncd no longer reads their "
               f"activities and has {kept} what it had from Strava; run `syncd auth strava` "
               "to connect again")
    with app.store.write() as tx:
        add_operator_notice(tx, app.athlete_id, REVOKED_NOTICE, message, app.clock(),
                            app.channels())
    return "revoked"


def _remove_strava_data(app: App) -> None:
    """Mark every Strava activity deleted (so alerts are re-evaluated), then delete them and
    the Strava gear for good. Built from the stored columns: a raw record may be purged."""
    with app.store.read() as tx:
        activities = deleted_copies(tx, app.athlete_id, "strava")
    app.ingest(activities, source="strava")
    with app.store.write() as tx:
        delete_source_data(tx, app.athlete_id, "strava")
