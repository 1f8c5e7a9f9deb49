"""FIT activity files, decoded with fitdecode (checksums checked)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import fitdecode

from connectors.files.runwalk import Lap, SpeedTrack
from connectors.files.summary import ParsedFile
from syncd.errors import InvalidFile
from syncd.models import SegmentKind, sport_family

_WALK_INTENSITIES = {"rest", "recovery"}
_RUN_INTENSITIES = {"active", "interval"}
# Offsets are rounded to the quarter hour: local_timestamp and timestamp are written a few
# milliseconds apart by some devices.
_OFFSET_STEP_S = 15 * 60


def parse_fit(data: bytes, file_name: str) -> ParsedFile:
    """Decode one FIT activity file.

    Raises :class:`InvalidFile` naming the file when it is truncated, its checksum does not
    match, or it holds no activity.
    """
    collected = _Collected()
    try:
        reader = fitdecode.FitReader(io.BytesIO(data), check_crc=fitdecode.CrcCheck.RAISE)
        with reader:
            for frame in reader:
                if frame.frame_type == fitdecode.FIT_FRAME_DATA:
                    collected.add(frame)
    except fitdecode.FitCRCError as err:
        raise InvalidFile(
            f"{file_name}: FIT checksum mismatch, the file is damaged ({err})",
            hint="export or copy the file from the device again",
        ) from err
    except fitdecode.FitEOFError as err:
        raise InvalidFile(
            f"{file_name}: FIT file is truncated ({err})",
            hint="the copy was cut short: copy the file from the device again",
        ) from err
    # fitdecode checks some of a file's structure with assert: a damaged file trips them.
    except (fitdecode.FitError, ValueError, TypeError, OverflowError, AssertionError) as err:
        raise InvalidFile(
            f"{file_name}: not a readable FIT file ({err})",
            hint="check that it is an activity file from a watch or an app",
        ) from err
    return collected.to_parsed(file_name)


@dataclass(slots=True)
class _Collected:
    """The messages syncd needs, gathered in one pass over the file."""

    sessions: list[dict[str, Any]] = field(default_factory=list)
    laps: list[dict[str, Any]] = field(default_factory=list)
    sport: dict[str, Any] = field(default_factory=dict)
    activity: dict[str, Any] = field(default_factory=dict)
    file_id: dict[str, Any] = field(default_factory=dict)
    times: list[datetime] = field(default_factory=list)
    speeds: list[float | None] = field(default_factory=list)
    distances: list[float | None] = field(default_factory=list)

    def add(self, frame: Any) -> None:
        """Keep what one data message contributes."""
        name = frame.name
        if name == "record":
            self._add_record(frame)
        elif name == "lap":
            self.laps.append(_values(frame))
        elif name == "session":
            self.sessions.append(_values(frame))
        elif name == "sport" and not self.sport:
            self.sport = _values(frame)
        elif name == "activity":
            self.activity = _values(frame)
        elif name == "file_id" and not self.file_id:
            self.file_id = _values(frame)

    def _add_record(self, frame: Any) -> None:
        timestamp = speed = distance = None
        enhanced = None
        for fld in frame.fields:
            fname = fld.name
            if fname == "timestamp":
                timestamp = fld.value
            elif fname == "enhanced_speed":
                enhanced = fld.value
            elif fname == "speed":
                speed = fld.value
            elif fname == "distance":
                distance = fld.value
        if isinstance(timestamp, datetime):
            self.times.append(timestamp)
            self.speeds.append(enhanced if enhanced is not None else speed)
            self.distances.append(distance)

    def to_parsed(self, file_name: str) -> ParsedFile:
        """Summarize: session totals first, then laps, then records."""
        session = self.sessions[0] if self.sessions else {}
        start = _start(session, self.laps, self.times, self.file_id)
        if start is None:
            raise InvalidFile(
                f"{file_name}: FIT file has no session, lap or record with a time",
                hint="only activity files can be imported (not courses, workouts or settings)",
            )
        track = _track(start, self.times, self.speeds, self.distances)
        return ParsedFile(
            format="fit",
            start_utc=start,
            elapsed_s=self._elapsed(session, start),
            sport_type=_sport_type(session, self.sport, self.laps),
            moving_s=_sum_sessions(self.sessions, "total_timer_time"),
            distance_m=self._distance(),
            laps=[_lap(lap, start) for lap in self.laps if lap.get("start_time")],
            track=track,
            utc_offset_s=_utc_offset(self.activity),
            name=self.sport.get("name") or session.get("sport_profile_name"),
            device=_device(self.file_id),
        )

    def _elapsed(self, session: dict[str, Any], start: datetime) -> float:
        total = _sum_sessions(self.sessions, "total_elapsed_time")
        if total is not None:
            return total
        lap_total = sum(float(lap.get("total_elapsed_time") or 0) for lap in self.laps)
        if lap_total > 0:
            return lap_total
        return (self.times[-1] - start).total_seconds() if self.times else 0.0

    def _distance(self) -> float | None:
        total = _sum_sessions(self.sessions, "total_distance")
        if total is not None:
            return total
        known = [d for d in self.distances if d is not None]
        return float(known[-1]) if known else None


def _values(frame: Any) -> dict[str, Any]:
    return {f.name: f.value for f in frame.fields if f.value is not None}


def _start(
    session: dict[str, Any], laps: list[dict[str, Any]], times: list[datetime],
    file_id: dict[str, Any],
) -> datetime | None:
    for candidate in (
        session.get("start_time"),
        laps[0].get("start_time") if laps else None,
        times[0] if times else None,
        file_id.get("time_created") if (session or laps) else None,
    ):
        if isinstance(candidate, datetime):
            return candidate.astimezone(UTC)
    return None


def _sum_sessions(sessions: list[dict[str, Any]], key: str) -> float | None:
    """Multisport files hold several sessions; their totals add up."""
    values = [float(s[key]) for s in sessions if isinstance(s.get(key), int | float)]
    return sum(values) if values else None


def _sport_type(
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


def _lap(values: dict[str, Any], start: datetime) -> Lap:
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


def _track(
    start: datetime, times: list[datetime], speeds: list[float | None],
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


def _utc_offset(activity: dict[str, Any]) -> int | None:
    """The device's UTC offset from the activity message (fitdecode reads both as UTC)."""
    local, utc = activity.get("local_timestamp"), activity.get("timestamp")
    if not isinstance(local, datetime) or not isinstance(utc, datetime):
        return None
    seconds = (local - utc).total_seconds()
    return int(round(seconds / _OFFSET_STEP_S) * _OFFSET_STEP_S)


def _device(file_id: dict[str, Any]) -> str | None:
    product = file_id.get("garmin_product") or file_id.get("product_name")
    maker = file_id.get("manufacturer")
    parts = [str(p) for p in (maker, product) if p is not None]
    return " ".join(parts) or None
