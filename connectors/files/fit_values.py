"""The values of a FIT file's messages in syncd's shapes: numbers, sports, laps, the speed
track, the local time offset and the device."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.files.runwalk import Lap, SpeedTrack
from connectors.files.summary import MAX_UTC_OFFSET_S
from syncd.models import SegmentKind, sport_family

_WALK_INTENSITIES = {"rest", "recovery"}
_RUN_INTENSITIES = {"active", "interval"}
# Offsets are rounded to the quarter hour: local_timestamp and timestamp are written a few
# milliseconds apart by some devices.
_OFFSET_STEP_S = 15 * 60


def number_of(values: dict[str, Any], key: str) -> float | None:
    """The number under ``key`` in a message's values, or ``None``."""
    value = values.get(key)
    return float(value) if isinstance(value, int | float) else None


def first_known(*values: float | None) -> float | None:
    """The first of ``values`` that is known (not ``None``)."""
    return next((v for v in values if v is not None), None)


def distance_between(distances: list[float | None]) -> float | None:
    """A leg's distance from its records: devices either restart the count at each leg or
    carry it on, and the difference is right either way."""
    known = [d for d in distances if d is not None]
    return float(known[-1] - known[0]) if len(known) >= 2 else None


def sport_type_of(
    session: dict[str, Any], sport: dict[str, Any], laps: list[dict[str, Any]]
) -> str | None:
    """``running``, or ``sport/sub_sport`` when the sub-sport says more (``training/yoga``)."""
    source = session if session.get("sport") is not None else sport
    if source.get("sport") is None and laps:
        source = laps[0]
    main = source.get("sport")
    if main is None:
        return None
    sub = source.get("sub_sport")
    if sub in (None, "generic", "all") or not isinstance(sub, str):
        return str(main)
    return f"{main}/{sub}"


def lap_of(values: dict[str, Any], start: datetime) -> Lap:
    """A ``lap`` message as a lap of the activity that starts at ``start``."""
    lap_start = values["start_time"].astimezone(UTC)
    elapsed = float(values.get("total_elapsed_time") or 0)
    timer = values.get("total_timer_time")
    distance = values.get("total_distance")
    return Lap(
        offset_s=(lap_start - start).total_seconds(),
        elapsed_s=elapsed,
        distance_m=None if distance is None else float(distance),
        timer_s=None if timer is None else float(timer),
        kind=_lap_kind(values),
    )


def _lap_kind(values: dict[str, Any]) -> SegmentKind | None:
    """The lap's kind when the file says it: a walking sub-sport or a rest/recovery step."""
    sport = values.get("sport")
    if isinstance(sport, str) and sport_family(sport) in ("walk", "hike"):
        return "walk"
    intensity = values.get("intensity")
    if intensity in _WALK_INTENSITIES:
        return "walk"
    if intensity in _RUN_INTENSITIES and isinstance(sport, str) and sport_family(sport) == "run":
        return "run"
    return None


def track_of(
    start: datetime, times: list[Any], speeds: list[float | None],
    distances: list[float | None],
) -> SpeedTrack:
    """Record offsets and speeds; speed comes from the distance when a record lacks it."""
    if not times or (all(s is None for s in speeds) and all(d is None for d in distances)):
        return SpeedTrack((), ())
    offsets = [(t - start).total_seconds() for t in times]
    filled: list[float] = []
    for i, speed in enumerate(speeds):
        if speed is None:
            speed = _speed_from_distance(offsets, distances, i)
        filled.append(float(speed))
    return SpeedTrack(offsets, filled, distances)


def _speed_from_distance(offsets: list[float], distances: list[float | None], i: int) -> float:
    if i == 0:
        return 0.0
    d0, d1 = distances[i - 1], distances[i]
    step = offsets[i] - offsets[i - 1]
    if d0 is None or d1 is None or step <= 0:
        return 0.0
    return (d1 - d0) / step


def utc_offset_of(activity: dict[str, Any]) -> int | None:
    """The device's UTC offset from the activity message (fitdecode reads both as UTC);
    ``None`` when either is missing or the difference is no real time zone (a local
    timestamp of 0 gives -34 years)."""
    local, utc = activity.get("local_timestamp"), activity.get("timestamp")
    if not isinstance(local, datetime) or not isinstance(utc, datetime):
        return None
    seconds = (local - utc).total_seconds()
    if abs(seconds) > MAX_UTC_OFFSET_S:
        return None
    return int(round(seconds / _OFFSET_STEP_S) * _OFFSET_STEP_S)


def device_of(file_id: dict[str, Any]) -> str | None:
    """The recording device's name from the ``file_id`` message, when it says."""
    product = file_id.get("garmin_product") or file_id.get("product_name")
    maker = file_id.get("manufacturer")
    parts = [str(p) for p in (maker, product) if p is not None]
    return " ".join(parts) or None
