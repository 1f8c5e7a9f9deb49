"""What a parsed activity file says, the JSON payload stored for it, and the Activity built
from that payload.

The payload is the raw record of the files source (DESIGN section 3): plain JSON with the
file's summary, laps and segments, never the file's bytes, so that a schema change can rebuild
rows from the database alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.durations import ImplausibleDuration, checked_seconds
from connectors.files.runwalk import (
    RUN_THRESHOLD_MPS,
    Lap,
    SpeedTrack,
    detect_segments,
    moving_seconds,
    run_walk_seconds,
)
from syncd.errors import InvalidFile
from syncd.models import Activity, Segment, SportFamily, sport_family

PAYLOAD_VERSION = 1
# Real time zones span UTC-12 to UTC+14; an offset beyond is a placeholder, never a zone.
MAX_UTC_OFFSET_S = 14 * 3600
# A file dated this far past "now" is a clock error or a forgery, never a real recording.
FUTURE_SLACK = timedelta(days=1)


@dataclass(slots=True)
class ParsedFile:
    """The facts one parser extracted from one file, before any defaults are applied."""

    format: str
    start_utc: datetime
    elapsed_s: float
    sport_type: str | None = None
    moving_s: float | None = None
    distance_m: float | None = None
    laps: list[Lap] = field(default_factory=list)
    track: SpeedTrack = field(default_factory=lambda: SpeedTrack((), ()))
    utc_offset_s: int | None = None
    name: str | None = None
    device: str | None = None
    # The activity's place among the file's legs (FIT sessions, TCX activities), from 1.
    leg: int = 1


@dataclass(frozen=True, slots=True)
class FileExtras:
    """What an export's ``activities.csv`` adds to a file (or says alone, for manual rows)."""

    sport_type: str | None = None
    name: str | None = None
    gear: str | None = None
    start_utc: datetime | None = None
    elapsed_s: float | None = None
    moving_s: float | None = None
    distance_m: float | None = None
    strava_id: str | None = None
    manual: bool = False


def build_payload(
    parsed: ParsedFile,
    file_name: str,
    digest: str,
    *,
    now: datetime,
    extras: FileExtras | None = None,
    threshold: float = RUN_THRESHOLD_MPS,
) -> dict[str, Any]:
    """Turn a parsed file into the stored payload.

    Raises :class:`InvalidFile` for a file dated more than a day after ``now``.
    """
    extras = extras or FileExtras()
    sport_type = parsed.sport_type or extras.sport_type
    family = family_of(sport_type)
    check_not_future(parsed.start_utc, now, file_name)
    parsed = check_durations(parsed, file_name, running=family == "run")
    segments: list[Segment] = []
    segments_from: str | None = None
    if family == "run":
        segments, segments_from = detect_segments(parsed.laps, parsed.track, threshold)
    moving = parsed.moving_s if parsed.moving_s is not None else moving_seconds(parsed.track)
    return {
        "v": PAYLOAD_VERSION,
        "format": parsed.format,
        "file_name": file_name,
        "sha256": digest,
        "sport_type": sport_type or "unknown",
        "start_utc": parsed.start_utc.astimezone(UTC).isoformat(),
        "utc_offset_s": parsed.utc_offset_s,
        "elapsed_s": round(parsed.elapsed_s, 3),
        "moving_s": _first(moving, extras.moving_s),
        "distance_m": _first(parsed.distance_m, extras.distance_m),
        # The export's title is one the athlete typed; a file's own name is a device default.
        "name": extras.name or parsed.name,
        "gear": extras.gear,
        "device": parsed.device,
        "strava_id": extras.strava_id,
        "manual": extras.manual,
        "laps": [_lap_json(lap) for lap in parsed.laps],
        "segments": [_segment_json(s) for s in segments],
        "segments_from": segments_from,
        "run_threshold_mps": threshold,
    }


def check_not_future(start_utc: datetime, now: datetime, file_name: str) -> None:
    """Refuse a start more than a day after ``now`` (naive ``now`` is the machine's local time)."""
    if now.tzinfo is None:
        now = now.astimezone()
    if start_utc > now + FUTURE_SLACK:
        raise InvalidFile(
            f"{file_name}: starts on {start_utc:%Y-%m-%d %H:%M} UTC, in the future",
            hint="check the device's clock and export the file again",
        )


def check_durations(parsed: ParsedFile, file_name: str, *, running: bool) -> ParsedFile:
    """The parsed file with plausible durations (:mod:`connectors.durations`): an elapsed time
    in milliseconds (against the track's own span) is converted, with its laps and moving
    time; one longer than any run (or any activity) raises :class:`InvalidFile`."""
    offsets = parsed.track.offsets
    span = offsets[-1] - offsets[0] if len(offsets) >= 2 else None
    try:
        elapsed = checked_seconds(parsed.elapsed_s, running=running, measure_s=span)
        moving = (None if parsed.moving_s is None else
                  checked_seconds(parsed.moving_s, running=running, measure_s=elapsed))
    except ImplausibleDuration as err:
        raise InvalidFile(f"{file_name}: lasts {err}; refused",
                          hint="check the recording's times, or split a recording left "
                               "running") from err
    laps = parsed.laps
    if elapsed < parsed.elapsed_s:  # converted from milliseconds: the laps were written alike
        scale = elapsed / parsed.elapsed_s
        laps = [replace(lap, elapsed_s=lap.elapsed_s * scale,
                        timer_s=None if lap.timer_s is None else lap.timer_s * scale)
                for lap in laps]
    return replace(parsed, elapsed_s=elapsed, moving_s=moving, laps=laps)


def activity_from_payload(
    payload: dict[str, Any], source_id: str, *, athlete: str, timezone: str
) -> Activity:
    """Build the normalized Activity from a stored payload.

    The local time comes from the file's own UTC offset when it has one, else from the
    athlete's IANA ``timezone``. Raises :class:`InvalidFile` for a payload it cannot read.
    """
    try:
        start = datetime.fromisoformat(payload["start_utc"]).astimezone(UTC)
        local_start, zone = _local_start(start, payload.get("utc_offset_s"), timezone)
        segments = tuple(_segment_from_json(s) for s in payload.get("segments") or ())
        run_s, walk_s = run_walk_seconds(segments)
        sport_type = str(payload.get("sport_type") or "unknown")
        return Activity(
            source="file",
            source_id=source_id,
            sport=family_of(sport_type),
            sport_type=sport_type,
            start_utc=start,
            local_start=local_start,
            timezone=zone,
            elapsed_s=float(payload["elapsed_s"]),
            moving_s=_float(payload.get("moving_s")),
            distance_m=_float(payload.get("distance_m")),
            run_s=run_s,
            walk_s=walk_s,
            segments=segments,
            gear_id=payload.get("gear"),
            name=payload.get("name"),
            manual=bool(payload.get("manual")),
            athlete=athlete,
            extra=_extra(payload),
            raw=payload,
        )
    except (KeyError, TypeError, ValueError) as err:
        name = payload.get("file_name", source_id) if isinstance(payload, dict) else source_id
        raise InvalidFile(
            f"{name}: stored file record is unreadable ({err})",
            hint="import the file again",
        ) from err


def family_of(sport_type: str | None) -> SportFamily:
    """The sport family of a file's sport type; ``running/trail`` is a run and
    ``training/yoga`` is ``other`` (the main sport first, then the sub-sport)."""
    for part in (sport_type or "").split("/"):
        family = sport_family(part)
        if family != "other":
            return family
    return "other"


def offset_label(seconds: int) -> str:
    """A fixed UTC offset as ``+02:00`` / ``-07:00``."""
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _local_start(start: datetime, offset_s: int | None, timezone: str) -> tuple[datetime, str]:
    # Records stored before offsets were checked may hold a placeholder's (a FIT local
    # timestamp of 0 gives -34 years): no real zone is more than 14 h from UTC.
    if offset_s is not None and abs(offset_s) <= MAX_UTC_OFFSET_S:
        local = (start + timedelta(seconds=offset_s)).replace(tzinfo=None)
        return local, offset_label(offset_s)
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(f"unknown time zone {timezone!r}") from err
    return start.astimezone(zone).replace(tzinfo=None), timezone


def _lap_json(lap: Lap) -> dict[str, Any]:
    return {
        "offset_s": round(lap.offset_s, 3),
        "elapsed_s": round(lap.elapsed_s, 3),
        "timer_s": None if lap.timer_s is None else round(lap.timer_s, 3),
        "distance_m": None if lap.distance_m is None else round(lap.distance_m, 2),
        "kind": lap.kind,
    }


def _segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "kind": segment.kind,
        "offset_s": round(segment.offset_s, 3),
        "duration_s": round(segment.duration_s, 3),
        "distance_m": segment.distance_m,
    }


def _segment_from_json(item: dict[str, Any]) -> Segment:
    kind = item["kind"]
    if kind not in ("run", "walk", "stand"):
        raise ValueError(f"unknown segment kind {kind!r}")
    return Segment(kind, float(item["offset_s"]), float(item["duration_s"]),
                   _float(item.get("distance_m")))


def _extra(payload: dict[str, Any]) -> dict[str, Any]:
    keys = ("file_name", "format", "device", "strava_id", "segments_from", "leg")
    return {key: payload[key] for key in keys if payload.get(key) is not None}


def _first(*values: float | None) -> float | None:
    for value in values:
        if value is not None:
            return round(value, 3)
    return None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
