"""One fetch of the Strava connector, step by step.

A pass polls for what is new (the list from the newest known start minus the look-back
window: one request when nothing changed), enriches activities whose laps were deferred,
re-reads items that could not be read, continues a history backfill, and refreshes gear at
most daily. Each step asks the rate budget first; backfill and deferred work stop while the
reserve for new activities would be touched. The list is walked oldest first with ``after``
set to the last start seen, so a stopped walk resumes exactly where it stopped.

When a step fails on a rate limit or a server error after something was gathered, the pass
returns what it has (``more`` set, the cursor at the last activity fully delivered) instead
of throwing it away; the next pass raises at once, without a request, until the limit resets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pydantic
import structlog
from stravalib.model import SummaryActivity

from connectors.base import ConnectorContext, FetchResult, RawRecord
from connectors.strava.api import PER_PAGE, NotFound, StravaApi
from connectors.strava.budget import Priority
from connectors.strava.cursor import Seen, SyncCursor, epoch
from connectors.strava.normalize import (
    Summary,
    fingerprint,
    laps_separate,
    read_summary,
    segments_json,
    slim,
    stream_segments,
    tombstone,
)
from syncd.errors import InvalidResponse, RateLimited, TransientError
from syncd.models import Gear

log = structlog.get_logger("connectors.strava")

GEAR_EVERY_S = 86400
# Kept while no walk has reached today (a first backfill): enough for any look-back window.
SEEN_WITHOUT_NEWEST = 200
MAX_RETRIES = 3
# A backfill pass delivers at most this many pages; the rest comes with the next pass.
MAX_BACKFILL_PAGES = 5


class PassConnector(Protocol):
    """What a pass reads from :class:`connectors.strava.connector.StravaConnector`."""

    api: StravaApi
    lookback: timedelta
    threshold: float
    context: ConnectorContext

    def fetch_activity(self, activity_id: int) -> RawRecord | None:
        """One activity read again with what it needs; ``None`` when Strava no longer has
        it."""


class SyncPass:
    """The state of one fetch: records gathered so far and the cursor being advanced."""

    def __init__(self, connector: PassConnector, state: SyncCursor) -> None:
        self.connector = connector
        self.api = connector.api
        self.state = state
        self.records: dict[int, RawRecord] = {}
        self.failures: list[tuple[str, str]] = []
        self.gear: list[Gear] = []
        self.more = False
        self.progress = False
        self.tried: set[int] = set()  # unreadable items met in this pass

    @property
    def now(self) -> datetime:
        """The connector's clock."""
        return self.api.clock()

    def run(self) -> FetchResult:
        """Run every step; keep what was gathered when a later step hits a limit."""
        steps: list[Callable[[], None]] = [self.poll, self.enrich_pending, self.retry_failed,
                                           self.continue_backfill, self.refresh_gear]
        for step in steps:
            try:
                step()
            except (RateLimited, TransientError) as err:
                if not self.progress:
                    raise
                log.info("strava pass stopped early", reason=str(err))
                self.more = True
                break
        self._prune_seen()
        self.state.budget = self.api.budget.dump()
        return FetchResult(records=list(self.records.values()), cursor=self.state.encode(),
                           more=self.more, gear=self.gear, failures=self.failures,
                           details=self.details())

    def details(self) -> dict[str, Any]:
        """Quota left and backfill progress, for ``syncd status``."""
        out: dict[str, Any] = {"quota": self.api.budget.left(self.now)}
        backfill = self.state.backfill
        if backfill is not None:
            reached = datetime.fromtimestamp(max(backfill.after, 0), UTC)
            out["backfill"] = {"since": backfill.since.isoformat(),
                               "reached": reached.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if self.state.pending:
            out["laps_pending"] = len(self.state.pending)
        return out

    # -- steps --------------------------------------------------------------------------------

    def poll(self) -> None:
        """Read the list from the newest known start minus the look-back window."""
        if self.state.newest is None:
            return  # no walk has reached today yet: the backfill does it
        after = self.state.newest - int(self.connector.lookback.total_seconds())
        complete, listed = self.walk(after, backfill=False)
        if complete:
            self._deleted_since(after, listed)

    def enrich_pending(self) -> None:
        """Laps (and streams) for activities stored without them when the budget was low."""
        for activity_id in list(self.state.pending):
            if not self.api.budget.allows(Priority.FRESH, self.now):
                return  # the next window's pass does the rest
            try:
                self._refetch(activity_id)
            except InvalidResponse as err:
                # Stored already from the list; without laps it counts as all running.
                log.warning("strava laps given up", activity=activity_id, reason=str(err))
            self.state.pending.remove(activity_id)

    def retry_failed(self) -> None:
        """Read again, one by one, the items that could not be read from a list page."""
        for activity_id in list(self.state.retry):
            if activity_id in self.tried:
                continue  # listed (and failed) again in this pass
            if not self.api.budget.allows(Priority.BACKFILL, self.now):
                return
            try:
                self._refetch(activity_id)
            except InvalidResponse as err:
                self._failed(activity_id, str(err))

    def continue_backfill(self) -> None:
        """Walk the history from where the backfill stands."""
        backfill = self.state.backfill
        if backfill is None:
            return
        complete, _ = self.walk(backfill.after, backfill=True)
        if complete:
            self.state.backfill = None
            log.info("strava backfill complete", since=backfill.since.isoformat())

    def refresh_gear(self) -> None:
        """The athlete's shoes and their distance, at most once a day."""
        state = self.state
        now = epoch(self.now)
        if not state.gear_ids or (state.gear_at and now - state.gear_at < GEAR_EVERY_S):
            return
        if not self.api.budget.allows(Priority.BACKFILL, self.now):
            return
        found = {g.id: g for g in _shoes(self.api.athlete())}
        for gear_id in state.gear_ids:
            if gear_id not in found and self.api.budget.allows(Priority.BACKFILL, self.now):
                try:
                    found[gear_id] = _gear(self.api.gear(gear_id))
                except (NotFound, InvalidResponse) as err:
                    log.info("strava gear unreadable", gear=gear_id, reason=str(err))
        self.gear = [found[k] for k in sorted(found)]
        state.gear_at = now

    # -- walking the list ---------------------------------------------------------------------

    def walk(self, after: int, *, backfill: bool) -> tuple[bool, set[int]]:
        """Read pages oldest first from ``after``. Returns (reached the end, ids listed)."""
        listed: set[int] = set()
        pages = 0
        while True:
            first_of_poll = not backfill and pages == 0
            priority = (Priority.URGENT if first_of_poll else
                        Priority.BACKFILL if backfill else Priority.FRESH)
            if not self.api.budget.allows(priority, self.now):
                # Used up: RateLimited. Merely low: stop, and let the next window's pass go
                # on (``more`` stays false: another pass now could do nothing).
                self.api.budget.check(self.now)
                return False, listed
            if backfill and pages >= MAX_BACKFILL_PAGES:
                self.more = True  # a batch is done; the next pass may go on at once
                return False, listed
            page = self.api.list_activities(after)
            pages += 1
            after, stopped = self._take_page(page, after, listed, backfill)
            if stopped:
                return False, listed
            if len(page) < PER_PAGE:
                if backfill:
                    self._reached_today(after)
                return True, listed

    def _take_page(self, page: list[Any], after: int, listed: set[int],
                   backfill: bool) -> tuple[int, bool]:
        """Take each item of a page; return the new ``after`` and whether to stop."""
        highest = after
        for item in page:
            summary = self._read(item)
            if summary is None:
                continue
            listed.add(summary.id)
            if not self._take(item, summary, backfill):
                return highest, True
            highest = max(highest, epoch(summary.start_utc))
        if len(page) >= PER_PAGE and highest == after:
            raise InvalidResponse(f"Strava sent a full page of activities after {after} "
                                  "without one that syncd can read; the walk cannot advance")
        return highest, False

    def _read(self, item: Any) -> Summary | None:
        """The item's summary, or ``None`` (reported and queued for a retry) when unreadable."""
        try:
            summary = read_summary(item, self.connector.context.timezone)
            SummaryActivity.model_validate(item)
        except (InvalidResponse, pydantic.ValidationError) as err:
            reason = (f"unexpected shape ({err.error_count()} problems)"
                      if isinstance(err, pydantic.ValidationError) else str(err))
            item_id = item.get("id") if isinstance(item, Mapping) else None
            if isinstance(item_id, int) and not isinstance(item_id, bool):
                self.tried.add(item_id)
                self._failed(item_id, reason)
            else:
                self.failures.append((str(item_id), reason))
                log.warning("strava activity skipped", activity=item_id, reason=reason)
            return None
        return summary

    def _take(self, item: Mapping[str, Any], summary: Summary, backfill: bool) -> bool:
        """Deliver one listed activity (with its laps when it needs them and the budget
        allows). Returns False when a backfill should stop before it."""
        known = self.state.seen.get(summary.id)
        mark = fingerprint(item)
        if summary.id in self.records or (
                not backfill and known is not None and known.fingerprint == mark):
            return True
        payload: dict[str, Any] = {"activity": slim(item)}
        if summary.needs_laps:
            priority = Priority.BACKFILL if backfill else Priority.FRESH
            if not self.api.budget.allows(priority, self.now):
                if backfill:
                    return False
                if summary.id not in self.state.pending:  # stored now, laps when budget allows
                    self.state.pending.append(summary.id)
            elif not enrich(self.api, payload, summary, self.connector.threshold):
                return True
        self._deliver(payload, summary, mark, backfill)
        return True

    # -- enrichment and delivery -------------------------------------------------------------

    def _deliver(self, payload: dict[str, Any], summary: Summary, mark: str,
                 backfill: bool) -> None:
        start = epoch(summary.start_utc)
        self.records[summary.id] = RawRecord(str(summary.id), payload)
        self.state.seen[summary.id] = Seen(start, mark, summary.sport_type, summary.elapsed_s)
        self.state.retry.pop(summary.id, None)
        gear_id = payload["activity"].get("gear_id")
        if gear_id and summary.needs_laps and str(gear_id) not in self.state.gear_ids:
            self.state.gear_ids.append(str(gear_id))
        if backfill and self.state.backfill is not None:
            self.state.backfill.after = max(self.state.backfill.after, start)
        elif not backfill:
            self.state.newest = max(self.state.newest or start, start)
        self.progress = True

    def _refetch(self, activity_id: int) -> None:
        """Read one activity in detail (laps included) and deliver it."""
        record = self.connector.fetch_activity(activity_id)
        if record is None:
            self.state.retry.pop(activity_id, None)
            return
        summary = read_summary(record.payload["activity"], self.connector.context.timezone)
        self._deliver(record.payload, summary, fingerprint(record.payload["activity"]),
                      backfill=False)

    def _failed(self, activity_id: int, reason: str) -> None:
        """Report an unreadable activity; read it again by id in later passes, up to
        :data:`MAX_RETRIES` tries in all."""
        self.failures.append((str(activity_id), reason))
        attempts = self.state.retry.get(activity_id, 0) + 1
        if attempts >= MAX_RETRIES:
            log.warning("strava activity given up", activity=activity_id, reason=reason)
            self.state.retry.pop(activity_id, None)
        else:
            log.warning("strava activity skipped", activity=activity_id, reason=reason)
            self.state.retry[activity_id] = attempts

    def _reached_today(self, after: int) -> None:
        """A walk reached the end of the list: polling may start from its newest start."""
        self.state.newest = max(self.state.newest or after, after)
        self.progress = True

    def _deleted_since(self, after: int, listed: set[int]) -> None:
        """Activities delivered before, inside the window just read, but no longer listed:
        deleted on Strava (or made invisible to this token)."""
        for activity_id, seen in list(self.state.seen.items()):
            if seen.start > after and activity_id not in listed:
                start = datetime.fromtimestamp(seen.start, UTC)
                payload = tombstone(activity_id, start, seen.sport_type, seen.elapsed_s)
                self.records[activity_id] = RawRecord(str(activity_id), payload, deleted=True)
                del self.state.seen[activity_id]
                if activity_id in self.state.pending:
                    self.state.pending.remove(activity_id)
                self.progress = True

    def _prune_seen(self) -> None:
        """Forget activities older than the next poll's window."""
        if self.state.newest is None:
            newest = sorted(self.state.seen.items(), key=lambda kv: kv[1].start)
            self.state.seen = dict(newest[-SEEN_WITHOUT_NEWEST:])
            return
        horizon = self.state.newest - int(self.connector.lookback.total_seconds())
        self.state.seen = {k: v for k, v in self.state.seen.items() if v.start > horizon}


def _shoes(athlete: Mapping[str, Any]) -> list[Gear]:
    """The shoes listed on the athlete (needs the ``profile:read_all`` scope)."""
    return [_gear(shoe) for shoe in athlete.get("shoes") or () if isinstance(shoe, Mapping)
            and shoe.get("id")]


def _gear(value: Mapping[str, Any]) -> Gear:
    distance = value.get("distance")
    name = value.get("name") or " ".join(
        str(v) for v in (value.get("brand_name"), value.get("model_name")) if v) or None
    return Gear(id=str(value["id"]), name=name,
                distance_m=float(distance) if isinstance(distance, int | float) else 0.0,
                retired=bool(value.get("retired")))


def enrich(api: StravaApi, payload: dict[str, Any], summary: Summary, threshold: float,
           laps: list[Any] | None = None) -> bool:
    """Add the laps to ``payload``, and the stream's run/walk bouts when the laps do not
    separate running from walking. Returns False when the activity vanished meanwhile."""
    try:
        if laps is None:
            laps = api.laps(summary.id)
        payload["laps"] = laps
        if not laps_separate(laps, threshold):
            bouts = stream_segments(api.streams(summary.id), threshold)
            payload["stream"] = {"threshold": threshold, "segments": segments_json(bouts)}
    except NotFound:
        return False
    except InvalidResponse as err:
        # The summary is still worth storing: without a split, all of it counts as running.
        log.warning("strava laps unreadable", activity=summary.id, reason=str(err))
    return True
