"""FIT activity files, decoded with fitdecode (checksums checked).

A FIT activity holds one ``session`` message per leg: a run alone has one, a triathlon five
(swim, transition, bike, transition, run), a Garmin multisport as many as the athlete pressed
the lap button to change sport. Each leg that is not a transition becomes an activity of its
own, with the laps and records that fall inside its time range (from its start to the next
leg's start), so that a run leg is a session and a bike or swim leg never is.

Times you cannot trust (FIT SDK, "date_time"): a ``date_time`` below ``0x10000000`` is not a
date but the seconds since the device was switched on. Such a file is read only when it holds
its own anchor (a ``timestamp_correlation`` message pairing a real UTC time with a system
time, or ``device_settings.utc_offset``, the FIT SDK's "offset from system time ... to convert
timestamp from system time to UTC"); otherwise it is refused and says so. The local time offset
is ``activity.local_timestamp - activity.timestamp``; several apps write ``local_timestamp``
as 0 (1989-12-31), and any offset beyond the +/-14 h that real zones span is taken as unknown
(the athlete's own zone then decides the local day).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import fitdecode

from connectors.files.fit_values import (
    device_of,
    distance_between,
    first_known,
    lap_of,
    number_of,
    sport_type_of,
    track_of,
    utc_offset_of,
)
from connectors.files.summary import ParsedFile
from syncd.errors import InvalidFile

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
# FIT SDK: a date_time below this is "system time (seconds from device power on)".
SYSTEM_TIME_LIMIT = 0x10000000
RELATIVE_TIMES = ("timestamps are relative to the device's power-on and the file holds no "
                  "real time to anchor them")
_TIME_KEYS = ("start_time", "timestamp")
# file_id.type values that are activities; every other type is refused by name.
_ACTIVITY_TYPES = {"activity", "activity_summary"}
_FILE_KINDS = {
    "settings": "a settings file", "device": "a device description", "sport": "a sport profile",
    "workout": "a planned workout", "course": "a course (a planned route)",
    "schedules": "a workout schedule", "weight": "a weight-scale file", "totals": "a totals file",
    "goals": "a goals file", "blood_pressure": "a blood-pressure file",
    "monitoring_a": "a daily monitoring file", "monitoring_b": "a daily monitoring file",
    "monitoring_daily": "a daily monitoring file", "segment": "a segment",
    "segment_list": "a segment list", "exd_configuration": "a data-screen configuration",
}


def parse_fit(data: bytes, file_name: str) -> ParsedFile:
    """Decode one FIT activity file and return its first activity (its first leg for a
    multisport file; :func:`parse_fit_legs` returns them all).

    Raises :class:`InvalidFile` naming the file when it is truncated, its checksum does not
    match, it is not an activity file, or it holds no activity.
    """
    return parse_fit_legs(data, file_name)[0]


def parse_fit_legs(data: bytes, file_name: str) -> list[ParsedFile]:
    """Decode one FIT activity file into one :class:`ParsedFile` per leg (transitions left
    out), in the file's order; a single-sport file gives one. Raises like :func:`parse_fit`."""
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
    return collected.to_legs(file_name)


@dataclass(slots=True)
class _Collected:
    """The messages syncd needs, gathered in one pass over the file.

    Record and message times stay as decoded: a ``datetime``, or an ``int`` for a system
    time (fitdecode leaves those undecoded); :meth:`to_legs` resolves the ints first.
    """

    sessions: list[dict[str, Any]] = field(default_factory=list)
    laps: list[dict[str, Any]] = field(default_factory=list)
    sport: dict[str, Any] = field(default_factory=dict)
    activity: dict[str, Any] = field(default_factory=dict)
    file_id: dict[str, Any] = field(default_factory=dict)
    anchors: list[float] = field(default_factory=list)
    times: list[Any] = field(default_factory=list)
    speeds: list[float | None] = field(default_factory=list)
    distances: list[float | None] = field(default_factory=list)
    relative: bool = False

    def add(self, frame: Any) -> None:
        """Keep what one data message contributes."""
        name = frame.name
        if name == "record":
            self._add_record(frame)
        elif name == "lap":
            self.laps.append(self._timed(_values(frame)))
        elif name == "session":
            self.sessions.append(self._timed(_values(frame)))
        elif name == "sport" and not self.sport:
            self.sport = _values(frame)
        elif name == "activity":
            self.activity = self._timed(_values(frame))
        elif name == "file_id" and not self.file_id:
            self.file_id = _values(frame)
        elif name in ("timestamp_correlation", "device_settings"):
            self._add_anchor(name, _values(frame))

    def _timed(self, values: dict[str, Any]) -> dict[str, Any]:
        """Note a message whose times are system times (resolved once the file is read)."""
        if any(type(values.get(key)) is int for key in _TIME_KEYS):
            self.relative = True
        return values

    def _add_anchor(self, name: str, values: dict[str, Any]) -> None:
        """Seconds to add to a system time to make it a FIT time, when the message says."""
        if name == "timestamp_correlation":
            real, system = values.get("timestamp"), values.get("system_timestamp")
            if isinstance(real, datetime) and isinstance(system, int | float):
                self.anchors.append(_fit_seconds(real) - float(system))
        else:
            offset = values.get("utc_offset")
            # Devices with a real clock write 0 here: only a non-zero offset anchors anything.
            if isinstance(offset, int) and offset > 0:
                self.anchors.append(float(offset))

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
        if isinstance(timestamp, datetime) or type(timestamp) is int:
            self.relative = self.relative or type(timestamp) is int
            self.times.append(timestamp)
            self.speeds.append(enhanced if enhanced is not None else speed)
            self.distances.append(distance)

    def to_legs(self, file_name: str) -> list[ParsedFile]:
        """One :class:`ParsedFile` per leg that is not a transition."""
        _check_file_type(self.file_id, file_name)
        if self.relative:
            self._resolve_system_times(file_name)
        sessions = _distinct(s for s in self.sessions if _leg_start(s) is not None)
        if len(sessions) <= 1:
            # A session without any time still gives the totals and the sport.
            only = sessions or self.sessions[:1]
            return [self._whole(only[0] if only else {}, file_name)]
        ends = _leg_ends([start for s in sessions if (start := _leg_start(s)) is not None])
        legs = [self._leg(number, session, end)
                for number, (session, end) in enumerate(zip(sessions, ends, strict=True), 1)
                if not _is_transition(session)]
        if not legs:
            raise InvalidFile(f"{file_name}: FIT file holds only transitions, no activity",
                              hint="only activity files can be imported")
        return legs

    def _resolve_system_times(self, file_name: str) -> None:
        """Turn system times into real times with the file's own anchor; without one, drop
        them when the rest of the file has real times, else refuse the file."""
        if self.anchors:
            self._shift_system_times(self.anchors[0])
        elif self._has_real_times():
            self._drop_system_times()  # a stray value among real ones places nothing
        else:
            raise InvalidFile(f"{file_name}: {RELATIVE_TIMES}",
                              hint="export the activity from Garmin Connect or the app that "
                                   "synced it, which writes real times")

    def _messages(self) -> tuple[dict[str, Any], ...]:
        return (*self.sessions, *self.laps, self.activity)

    def _shift_system_times(self, shift: float) -> None:
        self.times = [_real_time(t, shift) for t in self.times]
        for values in self._messages():
            for key in _TIME_KEYS:
                if key in values:
                    values[key] = _real_time(values[key], shift)

    def _has_real_times(self) -> bool:
        return any(isinstance(t, datetime) for t in self.times) or any(
            isinstance(values.get(key), datetime)
            for values in (*self.sessions, *self.laps) for key in _TIME_KEYS)

    def _drop_system_times(self) -> None:
        kept = [i for i, t in enumerate(self.times) if isinstance(t, datetime)]
        self.times = [self.times[i] for i in kept]
        self.speeds = [self.speeds[i] for i in kept]
        self.distances = [self.distances[i] for i in kept]
        for values in self._messages():
            for key in _TIME_KEYS:
                if type(values.get(key)) is int:
                    del values[key]

    def _whole(self, session: dict[str, Any], file_name: str) -> ParsedFile:
        """The file as one activity: the earliest of session, first lap and first record
        starts it (a watch may start recording before the session's own start time)."""
        start = _start(session, self.laps, self.times, self.file_id)
        if start is None:
            raise InvalidFile(
                f"{file_name}: FIT file has no session, lap or record with a time",
                hint="only activity files can be imported (not courses, workouts or settings)",
            )
        track = track_of(start, self.times, self.speeds, self.distances)
        return ParsedFile(
            format="fit",
            start_utc=start,
            elapsed_s=_elapsed(session, self.laps, self.times, start),
            sport_type=sport_type_of(session, self.sport, self.laps),
            moving_s=number_of(session, "total_timer_time"),
            distance_m=self._distance(session),
            laps=[lap_of(lap, start) for lap in self.laps if lap.get("start_time")],
            track=track,
            utc_offset_s=utc_offset_of(self.activity),
            name=self.sport.get("name") or session.get("sport_profile_name"),
            device=device_of(self.file_id),
        )

    def _leg(self, number: int, session: dict[str, Any], end: datetime | None) -> ParsedFile:
        """One leg: its session's totals, and the laps and records from its start to ``end``
        (the next leg's start)."""
        start = _leg_start(session)
        assert start is not None  # legs without a start were left out
        laps = [lap for lap in self.laps if _inside(lap.get("start_time"), start, end)]
        chosen = [i for i, t in enumerate(self.times) if _inside(t, start, end)]
        times = [self.times[i] for i in chosen]
        distances = [self.distances[i] for i in chosen]
        return ParsedFile(
            format="fit",
            start_utc=start,
            elapsed_s=_elapsed(session, laps, times, start),
            sport_type=sport_type_of(session, {}, laps),
            moving_s=number_of(session, "total_timer_time"),
            distance_m=first_known(number_of(session, "total_distance"),
                                   distance_between(distances)),
            laps=[lap_of(lap, start) for lap in laps],
            track=track_of(start, times, [self.speeds[i] for i in chosen], distances),
            utc_offset_s=utc_offset_of(self.activity),
            name=session.get("sport_profile_name"),
            device=device_of(self.file_id),
            leg=number,
        )

    def _distance(self, session: dict[str, Any]) -> float | None:
        total = number_of(session, "total_distance")
        if total is not None:
            return total
        known = [d for d in self.distances if d is not None]
        return float(known[-1]) if known else None


def _values(frame: Any) -> dict[str, Any]:
    return {f.name: f.value for f in frame.fields if f.value is not None}


def _check_file_type(file_id: dict[str, Any], file_name: str) -> None:
    """Refuse a FIT file that says it is something other than an activity, by what it is."""
    kind = file_id.get("type")
    if isinstance(kind, str) and kind not in _ACTIVITY_TYPES:
        what = _FILE_KINDS.get(kind, f"a {kind.replace('_', ' ')} file")
        raise InvalidFile(
            f"{file_name}: FIT file is {what} (file type {kind!r}), not a recorded activity",
            hint="only activity files (a run, walk or ride a watch or app recorded) can be "
                 "imported",
        )


def _fit_seconds(moment: datetime) -> float:
    return (moment - FIT_EPOCH).total_seconds()


def _real_time(value: Any, shift: float) -> Any:
    """A system time moved onto the real clock; anything else unchanged."""
    if type(value) is int and value < SYSTEM_TIME_LIMIT:
        return FIT_EPOCH + timedelta(seconds=value + shift)
    return value


def _leg_start(session: dict[str, Any]) -> datetime | None:
    """A session's start: its start_time, else its end minus its elapsed time."""
    start = session.get("start_time")
    if isinstance(start, datetime):
        return start.astimezone(UTC)
    end, elapsed = session.get("timestamp"), number_of(session, "total_elapsed_time")
    if isinstance(end, datetime) and elapsed is not None:
        return end.astimezone(UTC) - timedelta(seconds=elapsed)
    return None


def _leg_ends(starts: list[datetime]) -> list[datetime | None]:
    """Where each leg ends: where the next leg starts (``None`` for the last)."""
    return [min((t for t in starts[i + 1:] if t > start), default=None)
            for i, start in enumerate(starts)]


def _distinct(sessions: Any) -> list[dict[str, Any]]:
    """Sessions in file order, each once: a file copied twice into one (a FIT chain) repeats
    the same session, which is one leg, not two."""
    seen: set[tuple[Any, ...]] = set()
    out = []
    for session in sessions:
        key = (_leg_start(session), session.get("sport"), session.get("sub_sport"),
               session.get("total_elapsed_time"))
        if key not in seen:
            seen.add(key)
            out.append(session)
    return out


def _is_transition(session: dict[str, Any]) -> bool:
    return "transition" in (session.get("sport"), session.get("sub_sport"))


def _inside(moment: Any, start: datetime, end: datetime | None) -> bool:
    return isinstance(moment, datetime) and start <= moment and (end is None or moment < end)


def _start(
    session: dict[str, Any], laps: list[dict[str, Any]], times: list[Any],
    file_id: dict[str, Any],
) -> datetime | None:
    candidates = [session.get("start_time"), laps[0].get("start_time") if laps else None,
                  times[0] if times else None]
    known = [c.astimezone(UTC) for c in candidates if isinstance(c, datetime)]
    if known:
        return min(known)
    created = file_id.get("time_created")
    if (session or laps) and isinstance(created, datetime):
        return created.astimezone(UTC)
    return None


def _elapsed(session: dict[str, Any], laps: list[dict[str, Any]], times: list[Any],
             start: datetime) -> float:
    """The session's elapsed time, else the laps', else the records' span."""
    total = number_of(session, "total_elapsed_time")
    if total is not None:
        return total
    lap_total = sum(float(lap.get("total_elapsed_time") or 0) for lap in laps)
    if lap_total > 0:
        return lap_total
    return (times[-1] - start).total_seconds() if times else 0.0


