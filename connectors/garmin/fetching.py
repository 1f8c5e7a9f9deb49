"""One fetch pass: list activities by date, page by page, and make only the calls the list
cannot replace.

The request policy (the fewest requests that give the rules what they need):

1. **List pages.** ``activitylist-service/activities/search/activities`` with ``startDate``,
   ``start``, ``limit`` and ``sortOrder=asc``: the request ``get_activities_by_date`` sends, but
   paged here so that a backfill can stop after any page and continue later, with 100 entries a
   page, and a short page ends the listing (no trailing empty page, unless the last page
   happened to be full). Oldest first, so that where a pass stopped is a date.
2. **Per activity, only for running activities, only when the list lacks the data:**
   - no ``splitSummaries`` in the entry at all: the detail, which carries them (and the feel);
   - Garmin detected two or more run bouts: the typed splits, because the ``run_interval`` rule
     needs the longest bout and the summaries give only totals (one bout is its own total);
   - no run/walk detection and two or more laps: the laps (one lap says nothing).
   Walks, hikes and everything else need nothing beyond the list.
3. **Nothing for an activity already read** whose list entry has not changed (a backfill
   reads everything again: that is what it is asked for).
4. **Gear at most daily:** the shoes (``filterGear``) and each active pair's distance.
5. **Multisport:** the list shows only the parent, whose totals span every leg (a triathlon
   would be one long swim). Its legs are the activities: the parent's detail names them
   (unless the entry does), each leg that is not a transition is read with the detail call,
   and then as any listed activity (step 2). A changed parent is read again in full; the
   parent itself is never stored (a deletion notice withdraws one an older syncd stored).

``[garmin] fetch_feel = true`` adds the detail of each new running activity whose list entry
lacks the post-run feel: one request more per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog

from connectors.base import FetchResult, RawRecord
from connectors.garmin.cursor import Backfill, GarminCursor
from connectors.garmin.parse import (
    Listed,
    fingerprint,
    is_listed_leg,
    is_multisport_parent,
    is_transition,
    leg_entry,
    leg_ids,
    read_listed,
    run_walk,
)
from connectors.garmin.session import GarminSession
from syncd.errors import AuthError, InvalidResponse, SyncdError, TransientError
from syncd.models import Gear

log = structlog.get_logger("connectors.garmin")

PROFILE_PATH = "/userprofile-service/socialProfile"
GEAR_EVERY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Policy:
    """Knobs of the request policy."""

    page_size: int = 100
    pages_per_fetch: int = 10
    fetch_feel: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    """Where a pass starts listing: a date, entries of that date to skip, and the backfill's
    first date (``None`` for a poll)."""

    start: date
    skip: int = 0
    backfill_since: date | None = None


@dataclass(slots=True)
class _Position:
    """The last listed entry's local date and how many entries of that date were listed."""

    day: date
    count: int

    def advance(self, listed: Listed | None) -> None:
        if listed is not None and listed.local_date != self.day:
            self.day, self.count = listed.local_date, 1
        else:
            self.count += 1


@dataclass(slots=True)
class FetchPass:
    """Lists one window and fetches what its entries need (see the module docstring)."""

    session: GarminSession
    cursor: GarminCursor
    policy: Policy
    now: Callable[[], datetime]
    saved_profile_id: int | None = None
    result: FetchResult = field(default_factory=FetchResult)
    listed_ids: set[str] = field(default_factory=set)
    rereading: bool = False

    def run(self, window: Window, lookback: timedelta) -> FetchResult:
        """List ``window`` (at most ``policy.pages_per_fetch`` pages) and return the records,
        the gear when due, and the new cursor."""
        # A backfill was asked for: read everything again, changed or not.
        self.rereading = window.backfill_since is not None
        position = _Position(window.start, window.skip)
        finished = self._list(window, position)
        self._refresh_gear()
        if finished:
            self.cursor.backfill = None
            if window.backfill_since is None and window.skip == 0:
                self._mark_vanished(window.start)
        else:
            since = window.backfill_since or window.start
            self.cursor.backfill = Backfill(since, position.day, position.count)
            self.result.more = True
        self.cursor.prune(lookback)
        self.result.cursor = self.cursor.dump()
        return self.result

    def _list(self, window: Window, position: _Position) -> bool:
        """Read pages until a short one (True) or the page budget is spent (False)."""
        garmin = self.session.garmin
        offset = window.skip
        for _ in range(self.policy.pages_per_fetch):
            params = {"startDate": window.start.isoformat(), "start": str(offset),
                      "limit": str(self.policy.page_size), "sortOrder": "asc"}
            what = f"the activity list from {window.start}"
            try:
                page = self.session.get(garmin.garmin_connect_activities, what, params)
            except InvalidResponse as err:
                raise _unreadable_list(err) from err
            if not isinstance(page, list):
                raise _unreadable_list(InvalidResponse(f"{what} is not a list"))
            for entry in page:
                position.advance(self._take(entry))
            offset += len(page)
            if len(page) < self.policy.page_size:
                return True
        return False

    def _take(self, entry: Any) -> Listed | None:
        """Read one list entry, fetch what it needs, and keep its record. One entry that
        cannot be read is skipped (and logged); the rest are kept."""
        try:
            listed = read_listed(entry)
        except InvalidResponse as err:
            self._skip(_raw_id(entry), err)
            return None
        if is_listed_leg(entry):
            return listed  # read with its parent, which the list also holds
        self.listed_ids.add(listed.activity_id)
        digest = fingerprint(entry)
        if is_multisport_parent(entry):
            self._take_multisport(listed, entry, digest)
            return listed
        if not self.rereading and self.cursor.unchanged(listed, digest):
            return listed
        try:
            payload = self._payload(listed, entry)
        except InvalidResponse as err:
            self._skip(listed.activity_id, err)
            return listed
        self.result.records.append(RawRecord(listed.activity_id, payload))
        self.cursor.remember(listed, digest)
        return listed

    def _take_multisport(self, listed: Listed, entry: Mapping[str, Any], digest: str) -> None:
        """Keep a multisport's legs (all of them, or none and a failure), never its parent."""
        parent = listed.activity_id
        if not self.rereading and self.cursor.unchanged(listed, digest):
            self.listed_ids.update(self.cursor.legs.get(parent, ()))
            return
        try:
            legs = self._legs(listed, entry)
        except InvalidResponse as err:
            self._skip(parent, err)
            return
        read = [leg_id for leg_id, _ in legs]
        gone = [i for i in self.cursor.legs.get(parent, ()) if i not in read]
        for activity_id in (parent, *gone):
            self.result.records.append(RawRecord(activity_id, None, deleted=True))
        self.result.records.extend(RawRecord(leg_id, payload) for leg_id, payload in legs)
        self.listed_ids.update(read)
        self.cursor.remember(listed, digest)
        self.cursor.legs[parent] = read

    def _legs(self, parent: Listed, entry: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(id, raw record) of each leg of a multisport that is not a transition."""
        ids = leg_ids(entry)
        if ids is None:
            ids = leg_ids(_mapping(self._item(parent, "", "details"))) or []
        legs = []
        for child_id in ids:
            path = f"{self.session.garmin.garmin_connect_activity}/{child_id}"
            detail = self.session.get(path, f"leg {child_id} of multisport {parent.activity_id}")
            leg = leg_entry(detail, parent.activity_id)
            listed = read_listed(leg)
            if not is_transition(listed.sport_type):
                legs.append((listed.activity_id, self._payload(listed, leg, detail)))
        return legs

    def _skip(self, activity_id: str, err: SyncdError) -> None:
        reason = f"{err}; skipped, the other activities are kept"
        log.error("garmin activity skipped", activity=activity_id, reason=str(err))
        self.result.failures.append((activity_id, reason))

    def _payload(self, listed: Listed, entry: Mapping[str, Any],
                 detail: Any = None) -> dict[str, Any]:
        """The raw record: the list entry (and the detail, when already read) plus the calls
        the policy asks for."""
        payload: dict[str, Any] = {"activity": entry}
        if detail is not None:
            payload["detail"] = detail
        if listed.sport != "run":
            return payload
        totals = listed.run_walk
        if "detail" not in payload and (
                not listed.has_split_summaries or (self.policy.fetch_feel and not listed.has_feel)):
            payload["detail"] = self._item(listed, "", "details")
            if not listed.has_split_summaries:
                totals = run_walk(_mapping(payload["detail"]).get("splitSummaries") or [],
                                  listed.activity_id)
        if totals is not None:
            if totals.run_bouts is None or totals.run_bouts >= 2:
                payload["typed_splits"] = self._item(listed, "/typedsplits", "run/walk bouts")
        elif listed.lap_count is None or listed.lap_count >= 2:
            payload["laps"] = self._item(listed, "/splits", "laps")
        return payload

    def _item(self, listed: Listed, suffix: str, what: str) -> Any:
        path = f"{self.session.garmin.garmin_connect_activity}/{listed.activity_id}{suffix}"
        return self.session.get(path, f"the {what} of activity {listed.activity_id}")

    def _mark_vanished(self, window_start: date) -> None:
        """Deleted records for activities a complete listing of the window no longer has."""
        for activity_id in self.cursor.vanished(self.listed_ids, window_start):
            for gone in (activity_id, *self.cursor.legs.pop(activity_id, ())):
                self.result.records.append(RawRecord(gone, None, deleted=True))
            del self.cursor.seen[activity_id]

    # -- gear -------------------------------------------------------------------------------

    def _refresh_gear(self) -> None:
        """Read the shoes and their distance when the last read is a day old. A failure here
        is noted and retried next pass; it never costs the activities."""
        checked = self.cursor.gear_checked
        if checked is not None and self.now() - checked < GEAR_EVERY:
            return
        try:
            self.result.gear = self._gear()
        except AuthError:
            raise
        except SyncdError as err:
            self._skip("gear", err)
            return
        self.cursor.gear_checked = self.now()

    def _gear(self) -> list[Gear]:
        garmin = self.session.garmin
        profile_id = self.cursor.profile_id or self.saved_profile_id or self._profile_id()
        self.cursor.profile_id = profile_id
        listed = self.session.get(garmin.garmin_connect_gear, "the gear list",
                                  {"userProfilePk": str(profile_id)})
        shoes = [g for g in listed if isinstance(g, Mapping) and _is_shoe(g)] if isinstance(
            listed, list) else []
        return [self._pair(g) for g in shoes if g.get("uuid")]

    def _pair(self, gear: Mapping[str, Any]) -> Gear:
        retired = str(gear.get("gearStatusName") or "").lower() == "retired"
        distance = 0.0
        if not retired:
            stats = self.session.get(
                f"{self.session.garmin.garmin_connect_gear_baseurl}/stats/{gear['uuid']}",
                f"the distance of gear {gear['uuid']}")
            value = _mapping(stats).get("totalDistance")
            distance = float(value) if isinstance(value, int | float) else 0.0
        name = gear.get("displayName") or gear.get("customMakeModel") or None
        return Gear(id=str(gear["uuid"]), name=name, distance_m=distance, retired=retired)

    def _profile_id(self) -> int:
        profile = _mapping(self.session.get(PROFILE_PATH, "the profile"))
        value = profile.get("profileId")
        if not isinstance(value, int):
            raise InvalidResponse("Garmin's profile has no profileId")
        return value


def _unreadable_list(err: InvalidResponse) -> TransientError:
    """Without the list nothing can be read: the whole pass fails and is tried again."""
    return TransientError(f"{err}; syncd tries again later, and if this persists Garmin has "
                          "changed its activity list and syncd needs an update")


def _is_shoe(gear: Mapping[str, Any]) -> bool:
    """Shoes, or gear whose type Garmin left out (the mileage rule is about shoes)."""
    kind = gear.get("gearTypeName")
    return kind is None or str(kind).lower() == "shoes"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _raw_id(entry: Any) -> str:
    value = entry.get("activityId") if isinstance(entry, Mapping) else None
    return str(value) if value is not None else "?"
