"""Each athlete's Strava state as the coordinator plans with it: the sync pass's facts, the
events waiting in the inbox, and the cursor an event's activity is noted in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from syncd.sources.strava.events import StravaEvent
from syncd.sources.strava.planner import Kind
from syncd.sources.strava.polls import poll_due
from syncd.store.state import strava_pass_facts
from syncd.store.strava_inbox import StoredEvent, waiting_events

if TYPE_CHECKING:
    from syncd.app import App
    from syncd.store import Store

SOURCE = "strava"


@dataclass(frozen=True, slots=True)
class AthleteState:
    """One athlete's Strava sync state, as much as the planner needs."""

    last_success: datetime | None = None
    backoff_until: datetime | None = None
    laps_pending: bool = False  # activities stored without their laps
    backfill_more: bool = False  # a backfill stopped after a batch, with more to read


def sync_kind(now: datetime, state: AthleteState, offset: timedelta,
              interval: timedelta) -> tuple[Kind | None, datetime | None]:
    """The most urgent reason to run the athlete's sync pass now, and since when."""
    if state.last_success is None:
        return Kind.NEW, now  # connected, never synced
    if state.laps_pending:
        return Kind.NEW, state.last_success
    due = poll_due(now, state.last_success, offset, interval)
    if due is not None:
        return Kind.POLL, due
    if state.backfill_more:
        return Kind.BACKFILL, state.last_success
    return None, None


def read_states(store: Store, athlete_ids: list[int] | None) -> dict[int, AthleteState]:
    """The Strava sync states of these athletes (all when ``None``), in one query."""
    with store.read() as tx:
        facts = strava_pass_facts(tx, SOURCE, athlete_ids)
    return {f.athlete_id: AthleteState(f.last_success_at, f.backoff_until, bool(f.laps_pending),
                                       bool(f.more and f.backfill_since)) for f in facts}


def waiting_inboxes(store: Store, apps: Mapping[int, App]) -> dict[int, list[StoredEvent]]:
    """The events waiting in the athletes' inboxes, oldest first, by athlete id (one query
    over the inbox rows: an empty inbox has none)."""
    with store.read() as tx:
        waiting = waiting_events(tx)
    return {athlete_id: events for athlete_id, events in waiting.items() if athlete_id in apps}


def remember_seen(app: App, event: StravaEvent) -> None:
    """Note in the athlete's Strava cursor an activity an event just stored, as a poll would
    have: the next reconciliation poll then finds it unchanged and reads no laps for it (else
    every activity would cost its reads twice, once for the event and once for the poll)."""
    from connectors.strava.cursor import Seen, SyncCursor, epoch
    from connectors.strava.normalize import fingerprint, read_summary
    from syncd.errors import SyncdError
    from syncd.store.activities import find_activity
    from syncd.store.state import get_sync_state, set_cursor

    with app.store.read() as tx:
        found = find_activity(tx, app.athlete_id, SOURCE, str(event.object_id))
        state = get_sync_state(tx, app.athlete_id, SOURCE)
    cursor = SyncCursor.decode(state.cursor)
    raw = found[0].raw if found is not None else None
    if cursor.newest is None or not isinstance(raw, Mapping):
        return  # no walk has reached today: the first sync lists it anyway
    detail = raw.get("activity")
    try:
        summary = read_summary(detail, app.athlete.timezone)
    except SyncdError:
        return
    assert isinstance(detail, Mapping)
    cursor.seen[summary.id] = Seen(epoch(summary.start_utc), fingerprint(detail),
                                   summary.sport_type, summary.elapsed_s)
    with app.store.write() as tx:
        set_cursor(tx, app.athlete_id, SOURCE, cursor.encode(), now=app.clock())
