"""One Garmin activity (list entry plus whatever else was fetched for it) -> :class:`Activity`.

The raw record is ``{"activity": <list entry>, "detail": ..., "typed_splits": ...,
"laps": ...}`` (the last three only when they were fetched); it is stored whole, so a change
here can rebuild every row without downloading anything again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.durations import RUN_MAX_S, ImplausibleDuration, checked_seconds
from connectors.garmin.parse import (
    RunWalk,
    feel_fields,
    is_multisport_parent,
    lap_segments,
    optional_number,
    parse_time,
    read_listed,
    run_walk,
    typed_split_segments,
)
from syncd.errors import InvalidResponse
from syncd.models import Activity, Segment

SOURCE = "garmin"
_DURATION_FIELDS = ("elapsedDuration", "duration", "movingDuration")


def build_activity(payload: Any, *, athlete: str, athlete_zone: str,
                   run_speed_threshold: float) -> Activity:
    """The normalized activity for one raw Garmin record. Raises :class:`InvalidResponse`."""
    if not isinstance(payload, dict) or not isinstance(payload.get("activity"), dict):
        raise InvalidResponse("a Garmin record without its activity-list entry; skipped")
    entry: Mapping[str, Any] = payload["activity"]
    listed = read_listed(entry)
    if is_multisport_parent(entry):  # a record an older syncd stored: its legs now stand
        raise InvalidResponse(f"Garmin activity {listed.activity_id} is a multisport whole; "
                              "its legs are stored as activities of their own; skipped")
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else None
    summary = detail.get("summaryDTO") if detail else None
    totals = listed.run_walk
    if detail is not None and not listed.has_split_summaries:
        totals = run_walk(detail.get("splitSummaries") or [], listed.activity_id)
    segments, run_s, walk_s, method = _bouts(payload, listed.activity_id, listed.start_utc,
                                             totals, run_speed_threshold)
    aid = listed.activity_id
    elapsed, moving = _durations(entry, aid, running=listed.sport == "run")
    return Activity(
        source=SOURCE, source_id=aid, sport=listed.sport, sport_type=listed.sport_type,
        start_utc=listed.start_utc, local_start=listed.local_start, elapsed_s=elapsed,
        timezone=_zone(detail, listed.start_utc, listed.local_start, athlete_zone),
        moving_s=moving,
        distance_m=optional_number(entry.get("distance"), aid, "distance"),
        run_s=run_s, walk_s=walk_s, segments=segments,
        name=entry.get("activityName") if isinstance(entry.get("activityName"), str) else None,
        manual=entry.get("manualActivity") is True, athlete=athlete,
        extra=_extra(entry, summary, totals, method), raw=dict(payload),
    )


def _durations(entry: Mapping[str, Any], aid: str, *, running: bool
               ) -> tuple[float, float | None]:
    """Elapsed and moving seconds, by the rule every source shares (connectors.durations):
    older activity lists give ``elapsedDuration`` in milliseconds beside ``duration`` in
    seconds, and a duration no run can have skips the activity rather than being stored."""
    given = {name: optional_number(entry.get(name), aid, name) for name in _DURATION_FIELDS}
    checked: dict[str, float] = {}
    try:
        for name, value in given.items():
            if value is not None:
                checked[name] = checked_seconds(value, running=running,
                                                measure_s=_measure(entry, given, name, aid))
    except ImplausibleDuration as err:
        raise InvalidResponse(f"Garmin activity {aid}: {name} says {err}; skipped") from err
    elapsed = checked.get("elapsedDuration", checked.get("duration"))
    if elapsed is None:
        raise InvalidResponse(f"Garmin activity {aid} has no duration; skipped")
    return elapsed, checked.get("movingDuration")


def _measure(entry: Mapping[str, Any], given: Mapping[str, float | None], name: str,
             aid: str) -> float | None:
    """What a duration can be checked against: the time from ``startTimeGMT`` to
    ``endTimeGMT``, else distance over average speed, else another duration of the entry that
    is plausible in seconds."""
    span = _span(entry, aid)
    if span is not None and span > 0:
        return span
    distance = optional_number(entry.get("distance"), aid, "distance")
    speed = optional_number(entry.get("averageSpeed"), aid, "averageSpeed")
    if distance and speed and distance > 0 and speed > 0:
        return distance / speed
    others = [v for k, v in given.items() if k != name and v is not None and 0 < v <= RUN_MAX_S]
    return others[0] if others else None


def _span(entry: Mapping[str, Any], aid: str) -> float | None:
    """Seconds from the entry's start to its end, when the list gives both (newer lists do)."""
    if not isinstance(entry.get("endTimeGMT"), str):
        return None
    try:
        start = parse_time(entry.get("startTimeGMT"), aid, "startTimeGMT", utc=True)
        end = parse_time(entry.get("endTimeGMT"), aid, "endTimeGMT", utc=True)
    except InvalidResponse:
        return None  # an unreadable end proves nothing; the other measures still can
    return (end - start).total_seconds()


def _bouts(payload: Mapping[str, Any], activity_id: str, start_utc: datetime,
           totals: RunWalk | None, threshold: float
           ) -> tuple[tuple[Segment, ...], float | None, float | None, str | None]:
    """(segments, run seconds, walk seconds, where they came from), best source first:
    Garmin's detection (totals, with typed splits for the bouts), else laps, else nothing."""
    if totals is not None:
        typed = payload.get("typed_splits")
        segments = (typed_split_segments(typed, start_utc, activity_id)
                    if typed is not None else ())
        return segments, totals.run_s, totals.walk_s, "garmin"
    if payload.get("laps") is not None:
        segments = lap_segments(payload["laps"], start_utc, activity_id, threshold)
        run_s = sum(s.duration_s for s in segments if s.kind == "run")
        walk_s = sum(s.duration_s for s in segments if s.kind == "walk")
        return segments, run_s, walk_s, "laps"
    return (), None, None, None


def _zone(detail: Mapping[str, Any] | None, start_utc: datetime, local_start: datetime,
          athlete_zone: str) -> str | None:
    """The IANA zone: the detail names it; without it, the athlete's own zone when its offset
    at that moment is the activity's (the list only gives Garmin's numeric zone id)."""
    unit = detail.get("timeZoneUnitDTO") if detail else None
    named = unit.get("timeZone") if isinstance(unit, Mapping) else None
    for candidate in (named, athlete_zone):
        if not isinstance(candidate, str) or not candidate:
            continue
        try:
            zone = ZoneInfo(candidate)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        if start_utc.astimezone(zone).replace(tzinfo=None) == local_start:
            return candidate
    return None


def _extra(entry: Mapping[str, Any], summary: Any, totals: RunWalk | None,
           method: str | None) -> dict[str, Any]:
    """Feel and perceived effort, and how the run/walk split was found."""
    extra = feel_fields(entry, summary)
    if method is not None:
        extra["run_walk_from"] = method
    if totals is not None:
        extra["run_bouts"] = totals.run_bouts
        extra["walk_bouts"] = totals.walk_bouts
        if totals.stand_s:
            extra["stand_s"] = totals.stand_s
    return extra
