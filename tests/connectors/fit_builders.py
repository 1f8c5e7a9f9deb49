"""FIT activity files built with fit-tool, shaped like what watches write, for the cases the
shared fixtures lack: multisport legs, a local timestamp of 0, device-relative timestamps.

The models (read through the search tool, nothing copied):

- a multisport activity file as the FIT SDK describes it and Garmin watches write it
  (``auto_multi_sport`` / ``manual`` activity type): each leg's records and laps, then the
  leg's ``session`` (``first_lap_index``, ``num_laps``), transitions as sessions of sport
  ``transition``; one ``activity`` message at the end with ``num_sessions`` counting every
  leg. The leg table of the Garmin ``auto_multi_sport`` file in arpanghosh8453/fit-dashboard
  issue 21 (indoor bike, transition, run, transition, indoor bike) and fit_galgo's duathlon
  test (run, transition, bike, transition, run) have this shape;
- Garmin Connect's multisport "Bike-Walk-Bike" (pe-st/garmin-connect-export
  ``json/activity_multisport_detail.json``, five children: cycling, transition, walking,
  transition, cycling), whose legs start where the previous one ended;
- device-relative times: the FIT SDK's ``date_time`` ("if < 0x10000000 then it is system time
  (seconds from device power on)") and its ``timestamp_correlation`` message (a UTC
  ``timestamp`` with the ``system_timestamp`` it corresponds to), as tormoder/fit issue 10
  and tjwallace/fit issue 8 discuss them;
- ``activity.local_timestamp`` = 0: what several apps write (issue text of syncd's own
  tracker); fitdecode decodes it as 1989-12-31.

Every file is a pure function of its arguments, so a test gets the same bytes every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.activity_message import ActivityMessage
from fit_tool.profile.messages.device_settings_message import DeviceSettingsMessage
from fit_tool.profile.messages.event_message import EventMessage
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.lap_message import LapMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.messages.session_message import SessionMessage
from fit_tool.profile.messages.timestamp_correlation_message import (
    TimestampCorrelationMessage,
)
from fit_tool.profile.profile_type import (
    Activity,
    Event,
    EventType,
    FileType,
    GarminProduct,
    Intensity,
    Manufacturer,
    Sport,
    SubSport,
)

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
UNIX_TO_FIT_S = 631065600
STEP_S = 5  # one record every 5 s (a watch's "every second" would only make files bigger)


@dataclass(frozen=True, slots=True)
class Bout:
    """One lap of a leg: ``seconds`` at ``metres``, with the workout intensity if any."""

    seconds: int
    metres: float
    intensity: Intensity | None = None


@dataclass(frozen=True, slots=True)
class Leg:
    """One session of a multisport file: its sport and its laps, one after the other."""

    sport: Sport
    bouts: tuple[Bout, ...]
    sub_sport: SubSport = SubSport.GENERIC

    @property
    def seconds(self) -> int:
        """The leg's elapsed time."""
        return sum(b.seconds for b in self.bouts)

    @property
    def metres(self) -> float:
        """The leg's distance."""
        return sum(b.metres for b in self.bouts)


def run(seconds: int, metres: float) -> Leg:
    """A running leg of one lap."""
    return Leg(Sport.RUNNING, (Bout(seconds, metres),))


def transition(seconds: int, metres: float = 60.0) -> Leg:
    """A transition (T1, T2): the time between two sports, not an activity."""
    return Leg(Sport.TRANSITION, (Bout(seconds, metres),))


TRIATHLON = (  # a sprint triathlon, as a Forerunner/fenix records it
    Leg(Sport.SWIMMING, (Bout(900, 750.0),), SubSport.OPEN_WATER),
    transition(150, 180.0),
    Leg(Sport.CYCLING, (Bout(1200, 10000.0), Bout(1200, 10000.0)), SubSport.ROAD),
    transition(90, 120.0),
    Leg(Sport.RUNNING, (Bout(780, 2500.0), Bout(800, 2500.0))),
)
# A Garmin multisport (the athlete changes sport with the lap key): two run/walk legs with a
# walk between them, no transition legs (the profile has transitions off).
RUN_WALK_RUN = (
    Leg(Sport.RUNNING, (Bout(120, 300.0, Intensity.ACTIVE), Bout(240, 336.0, Intensity.RECOVERY),
                        Bout(120, 300.0, Intensity.ACTIVE), Bout(240, 336.0, Intensity.RECOVERY))),
    Leg(Sport.WALKING, (Bout(900, 1215.0),)),
    Leg(Sport.RUNNING, (Bout(600, 1560.0),)),
)


def fit_ms(fit_seconds: float) -> int:
    """fit-tool's unit for a ``date_time`` field (ms since 1970) for a raw FIT value: a real
    time (seconds since the FIT epoch) or a system time (seconds since power-on)."""
    return round((fit_seconds + UNIX_TO_FIT_S) * 1000)


def fit_seconds(moment: datetime) -> int:
    """A real moment as a raw FIT ``date_time``."""
    return int((moment - FIT_EPOCH).total_seconds())


@lru_cache(maxsize=32)  # fit-tool takes about a second for a triathlon; tests share files
def activity_fit(
    start: datetime,
    legs: tuple[Leg, ...],
    *,
    utc_offset_s: int | None = 3600,
    local_timestamp: int | None = None,
    power_on: datetime | None = None,
    anchor: str | None = None,
    session_lag_s: int = 0,
    clockless_records: int = 0,
) -> bytes:
    """A FIT activity of ``legs`` starting at ``start`` (UTC).

    ``utc_offset_s`` sets ``activity.local_timestamp`` as a watch does (``None``: left out);
    ``local_timestamp`` writes that raw value instead (0, as some apps do). With
    ``power_on``, every time is written as the device's system time (seconds since that
    moment), and ``anchor`` adds the message that ties system time to UTC:
    ``"timestamp_correlation"`` or ``"device_settings"`` (``utc_offset``). ``session_lag_s``
    writes the first session's start that much after its first record, as apps do that
    start the session at the first GPS fix. ``clockless_records`` writes that many records
    in system time (seconds since power-on) before the first real one, as a watch does
    before its clock is set.
    """
    shift = 0 if power_on is None else fit_seconds(power_on)

    def stamp(moment: datetime) -> int:
        return fit_ms(fit_seconds(moment) - shift)

    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    builder.add(_file_id(start))
    if anchor is not None:
        builder.add(_anchor(anchor, start, shift))
    builder.add(_timer_event(stamp(start), EventType.START))
    for index in range(clockless_records):
        early = RecordMessage()
        early.timestamp = fit_ms(30 + STEP_S * index)
        early.distance = 0.0
        builder.add(early)
    offset, lap_index = 0, 0
    for index, leg in enumerate(legs):
        leg_start = start + timedelta(seconds=offset)
        lag = session_lag_s if index == 0 else 0
        for message in _leg_messages(leg, leg_start, index, lap_index, stamp, lag):
            builder.add(message)
        offset += leg.seconds
        lap_index += len(leg.bouts)
    end = start + timedelta(seconds=offset)
    builder.add(_timer_event(stamp(end), EventType.STOP_ALL))
    builder.add(_activity(end, legs, stamp, utc_offset_s, local_timestamp))
    return bytes(builder.build().to_bytes())


def _file_id(start: datetime) -> FileIdMessage:
    message = FileIdMessage()
    message.type = FileType.ACTIVITY
    message.manufacturer = Manufacturer.GARMIN.value
    message.garmin_product = GarminProduct.FENIX5.value
    message.serial_number = 3946806421
    message.time_created = fit_ms(fit_seconds(start))
    return message


def _anchor(kind: str, start: datetime, shift: int) -> TimestampCorrelationMessage | \
        DeviceSettingsMessage:
    """The message that tells UTC for a system time (written when the GPS got a fix)."""
    if kind == "timestamp_correlation":
        message = TimestampCorrelationMessage()
        message.timestamp = fit_ms(fit_seconds(start))
        message.system_timestamp = fit_ms(fit_seconds(start) - shift)
        return message
    settings = DeviceSettingsMessage()
    settings.utc_offset = shift
    return settings


def _timer_event(at_ms: int, kind: EventType) -> EventMessage:
    event = EventMessage()
    event.timestamp = at_ms
    event.event = Event.TIMER
    event.event_type = kind
    return event


def _leg_messages(leg: Leg, start: datetime, index: int, first_lap: int, stamp,
                  session_lag_s: int = 0) -> list:
    """Records every :data:`STEP_S` seconds, one lap per bout, then the leg's session."""
    messages: list = []
    offset, distance = 0, 0.0
    for lap_number, bout in enumerate(leg.bouts):
        speed = bout.metres / bout.seconds
        for step in range(0 if offset == 0 else STEP_S, bout.seconds + 1, STEP_S):
            record = RecordMessage()
            record.timestamp = stamp(start + timedelta(seconds=offset + step))
            record.distance = round(distance + speed * step, 2)
            record.speed = round(speed, 3)
            messages.append(record)
        lap = LapMessage()
        lap.message_index = first_lap + lap_number
        lap.start_time = stamp(start + timedelta(seconds=offset + (
            session_lag_s if lap_number == 0 else 0)))
        lap.timestamp = stamp(start + timedelta(seconds=offset + bout.seconds))
        lap.total_elapsed_time = lap.total_timer_time = bout.seconds
        lap.total_distance = bout.metres
        lap.sport, lap.sub_sport = leg.sport, leg.sub_sport
        if bout.intensity is not None:
            lap.intensity = bout.intensity
        messages.append(lap)
        offset += bout.seconds
        distance += bout.metres
    session = SessionMessage()
    session.message_index = index
    session.start_time = stamp(start + timedelta(seconds=session_lag_s))
    session.timestamp = stamp(start + timedelta(seconds=leg.seconds))
    session.total_elapsed_time = session.total_timer_time = leg.seconds
    session.total_distance = leg.metres
    session.sport, session.sub_sport = leg.sport, leg.sub_sport
    session.first_lap_index, session.num_laps = first_lap, len(leg.bouts)
    messages.append(session)
    return messages


def _activity(end: datetime, legs: tuple[Leg, ...], stamp, utc_offset_s: int | None,
              local_timestamp: int | None) -> ActivityMessage:
    activity = ActivityMessage()
    activity.timestamp = stamp(end)
    activity.total_timer_time = sum(leg.seconds for leg in legs)
    activity.num_sessions = len(legs)
    activity.type = Activity.AUTO_MULTI_SPORT if len(legs) > 1 else Activity.MANUAL
    if local_timestamp is not None:
        activity.local_timestamp = local_timestamp
    elif utc_offset_s is not None:
        # FIT's local_timestamp: seconds since the FIT epoch, as if local time were UTC.
        activity.local_timestamp = fit_seconds(end) + utc_offset_s
    return activity
