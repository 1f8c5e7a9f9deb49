"""Strava JSON to syncd's :class:`Activity`, and run/walk segments from laps or streams.

A stored Strava record (:class:`RawRecord` payload) is::

    {"activity": {...},            # the list item or the detailed activity, heavy parts cut
     "laps": [...] | null,         # /activities/{id}/laps, for runs and walks
     "stream": {"threshold": 1.9, "segments": [[kind, offset_s, duration_s, distance_m]...]}}

The laps are kept raw, so a new ``run_speed_threshold`` re-classifies them without a download;
the ``velocity_smooth`` stream is kept only as the bouts it was classified into (a 1 Hz stream
is tens of kilobytes per run). Sport types stravalib does not know stay as they are and count
as ``other``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.files.runwalk import Lap, SpeedTrack, run_walk_seconds, segments_from_laps
from connectors.strava.bouts import speed_segments
from syncd.errors import InvalidResponse
from syncd.models import Activity, Segment, SegmentKind, sport_family

SOURCE = "strava"
# The detailed activity's parts that syncd never reads and that weigh the most.
HEAVY_KEYS = ("segment_efforts", "best_efforts", "splits_metric", "splits_standard", "laps",
              "photos", "similar_activities", "stats_visibility", "highlighted_kudosers")
ENRICHED_FAMILIES = ("run", "walk")
_KINDS: tuple[SegmentKind, ...] = ("run", "walk", "stand")


class Summary(NamedTuple):
    """The fields of a Strava activity that syncd reads, checked."""

    id: int
    sport_type: str
    start_utc: datetime
    local_start: datetime
    timezone: str | None
    elapsed_s: float
    moving_s: float | None
    distance_m: float | None
    manual: bool

    @property
    def family(self) -> str:
        """run, walk, hike or other."""
        return sport_family(self.sport_type)

    @property
    def needs_laps(self) -> bool:
        """Runs and walks recorded by a device are split into run/walk bouts."""
        return self.family in ENRICHED_FAMILIES and not self.manual


def read_summary(item: Any, fallback_zone: str = "UTC") -> Summary:
    """Check and read one activity object; raises :class:`InvalidResponse` naming the field."""
    if not isinstance(item, Mapping):
        raise InvalidResponse("a Strava activity is not a JSON object")
    activity_id = item.get("id")
    if isinstance(activity_id, bool) or not isinstance(activity_id, int):
        raise InvalidResponse("a Strava activity has no numeric id")
    where = f"Strava activity {activity_id}"
    sport_type = item.get("sport_type") or item.get("type")
    if not isinstance(sport_type, str) or not sport_type:
        raise InvalidResponse(f"{where} has no sport type")
    start = _utc(item.get("start_date"), where)
    zone = zone_name(item.get("timezone"))
    local = _local(item.get("start_date_local"), start, zone or fallback_zone, where)
    elapsed = _number(item.get("elapsed_time"), f"{where}: elapsed_time", required=True)
    assert elapsed is not None
    return Summary(activity_id, sport_type, start, local, zone, elapsed,
                   _number(item.get("moving_time"), f"{where}: moving_time"),
                   _number(item.get("distance"), f"{where}: distance"),
                   bool(item.get("manual")))


def fingerprint(item: Mapping[str, Any]) -> str:
    """A short hash of what syncd stores from a list item: equal means nothing to re-read."""
    fields = [item.get(k) for k in ("sport_type", "type", "start_date", "elapsed_time",
                                    "moving_time", "distance", "manual", "gear_id", "name",
                                    "external_id")]
    return hashlib.blake2s(json.dumps(fields, default=str).encode(), digest_size=8).hexdigest()


def slim(activity: Mapping[str, Any]) -> dict[str, Any]:
    """The activity without the heavy parts syncd never reads (efforts, splits, polyline)."""
    out = {k: v for k, v in activity.items() if k not in HEAVY_KEYS}
    if isinstance(out.get("map"), Mapping):
        out["map"] = {k: v for k, v in out["map"].items() if k != "polyline"}
    return out


def tombstone(activity_id: int, start: datetime, sport_type: str,
              elapsed_s: float) -> dict[str, Any]:
    """What is kept of an activity seen deleted: enough for a well-formed :class:`Activity`."""
    return {"activity": {"id": activity_id, "sport_type": sport_type,
                         "start_date": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "elapsed_time": elapsed_s}}


# -- run/walk segments --------------------------------------------------------------------------


def lap_track(laps: Sequence[Any], start: datetime | None) -> list[Lap]:
    """Strava laps as run/walk laps, in seconds from the activity's start.

    A lap without a readable start follows the previous one; an unreadable lap is left out.
    Without ``start`` every lap follows the previous one (enough to judge the laps' kinds).
    """
    out: list[Lap] = []
    offset = 0.0
    for lap in laps:
        if not isinstance(lap, Mapping):
            continue
        elapsed = _maybe_number(lap.get("elapsed_time"))
        if elapsed is None or elapsed <= 0:
            continue
        if start is not None:
            with contextlib.suppress(InvalidResponse):  # no readable start: running offset
                offset = (_utc(lap.get("start_date"), "lap") - start).total_seconds()
        out.append(Lap(offset_s=max(offset, 0.0), elapsed_s=elapsed,
                       distance_m=_maybe_number(lap.get("distance")),
                       timer_s=_maybe_number(lap.get("moving_time"))))
        offset += elapsed
    return out


def lap_segments(laps: Sequence[Any] | None, start: datetime,
                 threshold: float) -> list[Segment] | None:
    """Run/walk segments from the laps, or ``None`` when the laps do not separate running
    from walking (one lap, or every lap on the same side of ``threshold``)."""
    if not laps:
        return None
    found = segments_from_laps(lap_track(laps, start), SpeedTrack((), ()), threshold)
    return merge_adjacent(found) if found is not None else None


def laps_separate(laps: Sequence[Any] | None, threshold: float) -> bool:
    """Whether :func:`lap_segments` would find run/walk segments (decides whether the speed
    stream is needed; the laps' start times do not matter for that, so none is parsed)."""
    if not laps or len(laps) < 2:
        return False
    return segments_from_laps(lap_track(laps, None), SpeedTrack((), ()), threshold) is not None


def stream_segments(streams: Mapping[str, Sequence[Any]], threshold: float) -> list[Segment]:
    """Run/walk bouts from the ``time`` and ``velocity_smooth`` streams (empty without them)."""
    times = streams.get("time")
    speeds = streams.get("velocity_smooth")
    distances = streams.get("distance")
    if not isinstance(times, list) or not isinstance(speeds, list) or len(times) < 2 \
            or len(speeds) != len(times):
        return []
    if not isinstance(distances, list) or len(distances) != len(times):
        distances = []
    try:
        return merge_adjacent(speed_segments(times, speeds, distances, threshold))
    except TypeError:  # a sample that is not a number: no split rather than a wrong one
        return []


def merge_adjacent(segments: Sequence[Segment]) -> list[Segment]:
    """Join touching segments of one kind: two run laps in a row are one continuous bout."""
    out: list[Segment] = []
    for seg in segments:
        last = out[-1] if out else None
        if last is not None and last.kind == seg.kind and \
                abs(last.offset_s + last.duration_s - seg.offset_s) < 1.0:
            distance = (None if last.distance_m is None or seg.distance_m is None
                        else round(last.distance_m + seg.distance_m, 1))
            out[-1] = Segment(last.kind, last.offset_s,
                              seg.offset_s + seg.duration_s - last.offset_s, distance)
        else:
            out.append(seg)
    return out


def segments_json(segments: Sequence[Segment]) -> list[list[Any]]:
    """Segments in the compact stored form."""
    return [[s.kind, s.offset_s, s.duration_s, s.distance_m] for s in segments]


def segments_from_json(value: Any) -> list[Segment]:
    """Segments back from :func:`segments_json` (unreadable entries are dropped)."""
    out: list[Segment] = []
    for entry in value or ():
        if (isinstance(entry, list) and len(entry) == 4 and entry[0] in _KINDS
                and _maybe_number(entry[1]) is not None and _maybe_number(entry[2]) is not None):
            out.append(Segment(entry[0], float(entry[1]), float(entry[2]),
                               _maybe_number(entry[3])))
    return out


# -- the activity ----------------------------------------------------------------------------


def to_activity(payload: Any, *, deleted: bool, athlete: str, timezone: str,
                threshold: float) -> Activity:
    """The :class:`Activity` of one stored Strava record."""
    if isinstance(payload, Mapping) and isinstance(payload.get("activity"), Mapping):
        item: Mapping[str, Any] = payload["activity"]
    else:
        item = payload if isinstance(payload, Mapping) else {}
        payload = {"activity": item}
    summary = read_summary(item, timezone)
    segments, split_from = _segments(payload, summary, threshold)
    run_s, walk_s = run_walk_seconds(segments)
    gear_id = item.get("gear_id")
    external_id = item.get("external_id")
    return Activity(
        source=SOURCE, source_id=str(summary.id), sport=sport_family(summary.sport_type),
        sport_type=summary.sport_type, start_utc=summary.start_utc,
        local_start=summary.local_start, timezone=summary.timezone,
        elapsed_s=summary.elapsed_s, moving_s=summary.moving_s, distance_m=summary.distance_m,
        run_s=run_s, walk_s=walk_s, segments=tuple(segments),
        gear_id=str(gear_id) if gear_id else None,
        name=item.get("name") if isinstance(item.get("name"), str) else None,
        manual=summary.manual, deleted=deleted,
        external_id=str(external_id) if external_id else None, athlete=athlete,
        extra={"run_walk_from": split_from} if split_from else {},
        raw=dict(payload),
    )


def _segments(payload: Mapping[str, Any], summary: Summary,
              threshold: float) -> tuple[list[Segment], str | None]:
    """Segments from the laps when they separate run and walk, else from the stream's bouts."""
    if summary.family not in ENRICHED_FAMILIES:
        return [], None
    laps = payload.get("laps")
    from_laps = lap_segments(laps if isinstance(laps, list) else None, summary.start_utc,
                             threshold)
    if from_laps:
        return from_laps, "laps"
    stream = payload.get("stream")
    if isinstance(stream, Mapping):
        from_stream = segments_from_json(stream.get("segments"))
        if from_stream:
            return from_stream, "velocity_smooth"
    return [], None


# -- field readers ----------------------------------------------------------------------------


def zone_name(value: Any) -> str | None:
    """The IANA name in Strava's ``"(GMT-08:00) America/Los_Angeles"``, when valid."""
    if not isinstance(value, str) or not value.strip():
        return None
    name = value.split(" ", 1)[1] if value.startswith("(") and " " in value else value
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name.strip()


def _utc(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidResponse(f"{where} has no start_date")
    try:
        moment = datetime.fromisoformat(value)  # "Z" is read as UTC since Python 3.11
    except ValueError:
        raise InvalidResponse(f"{where}: start_date {value!r} is not a time") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _local(value: Any, start: datetime, zone: str, where: str) -> datetime:
    """Strava's ``start_date_local`` is wall-clock time written with a misleading ``Z``."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.rstrip("Z")).replace(tzinfo=None)
        except ValueError:
            raise InvalidResponse(f"{where}: start_date_local {value!r} is not a time") from None
    try:
        return start.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    except (ZoneInfoNotFoundError, ValueError):
        return start.replace(tzinfo=None)


def _number(value: Any, where: str, *, required: bool = False) -> float | None:
    number = _maybe_number(value)
    if number is None and (required or value is not None):
        raise InvalidResponse(f"{where} is not a number ({value!r})")
    if number is not None and number < 0:
        raise InvalidResponse(f"{where} is negative ({value!r})")
    return number


def _maybe_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
