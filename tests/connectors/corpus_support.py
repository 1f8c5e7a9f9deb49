"""Independent readings of the real files in ../shared/fixtures, for the corpus test.

Each reader uses another library than syncd does (fitparse for FIT, gpxpy's own summaries for
GPX, plain ``xml.etree`` for TCX, the JSON itself for API captures) and says, per file, either
what the activity (or each leg of a multisport activity) was, or why it is not one. Nothing
here imports syncd's parsers: a reading that reused them could not disagree with them.
"""

from __future__ import annotations

import json
import math
import warnings
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import fitparse
import gpxpy
import gpxpy.gpx

from tests.connectors.files_support import FIXTURES

ATHLETE_ZONE = "Europe/Berlin"
# DESIGN section 3: above this speed a step is running, below it walking.
RUN_THRESHOLD_MPS = 1.9
# Below this a runner stands (syncd's documented line). gpxpy's own default, 1 km/h, would
# count a shuffle at a crossing as moving: both readings must measure the same quantity.
STAND_BELOW_KMH = 0.5 * 3.6
# Real UTC offsets are whole quarter hours and never beyond +/-14 h; a FIT local_timestamp that
# gives anything else (0, unset, a device that never learnt its zone) says nothing.
QUARTER_HOUR_S = 15 * 60
MAX_UTC_OFFSET_S = 14 * 3600
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
# GPSBabel writes this when a point has no time; no GPS recording is that old.
NO_TIME_BEFORE = datetime(1990, 1, 1, tzinfo=UTC)
TCX = "{http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2}"

# The independent reading's own sport table (syncd's is not reused): the words that FIT, GPX,
# TCX, Garmin and Strava write for running, walking and hiking. Strava's GPX writes its type
# as a number: 9 is a run.
RUN_WORDS = {"running", "run", "trail_running", "trailrun", "treadmill_running", "virtualrun",
             "virtual_run", "track_running", "street_running", "indoor_running", "ultra_run",
             "obstacle_run", "9"}
WALK_WORDS = {"walking", "walk", "casual_walking", "speed_walking", "indoor_walking"}
HIKE_WORDS = {"hiking", "hike"}

CORPUS_FOLDERS = ("fit", "garmin", "strava", "realworld/fit", "realworld/gpx", "realworld/tcx",
                  "realworld/garmin", "realworld/strava")


@dataclass(frozen=True, slots=True)
class Leg:
    """One activity as the independent reader sees it (a multisport file has several)."""

    family: str
    start_utc: datetime
    local_start: datetime
    elapsed_s: float
    moving_s: float | None = None
    distance_m: float | None = None
    run_s: float | None = None
    label: str = ""

    @property
    def local_day(self) -> date:
        """The athlete's calendar day the leg started on."""
        return self.local_start.date()


@dataclass(slots=True)
class Reading:
    """What one file holds: its legs, or why it holds no activity (``refusal``, a class from
    the test's table, and ``detail``, what the reader saw)."""

    legs: list[Leg] = field(default_factory=list)
    refusal: str | None = None
    detail: str = ""
    timed_points: int | None = None


def corpus_files() -> list[Path]:
    """Every file of the shared fixtures' corpus folders, sorted (README files left out)."""
    found: list[Path] = []
    for folder in CORPUS_FOLDERS:
        root = FIXTURES / folder
        if root.is_dir():
            found += [p for p in sorted(root.iterdir()) if p.is_file() and p.suffix != ".md"]
    pest = FIXTURES / "realworld" / "garmin" / "pest"
    if pest.is_dir():
        found += sorted(p for p in pest.iterdir() if p.is_file())
    return found


def family(word: str | None) -> str:
    """run, walk, hike or other, from any source's sport word."""
    key = (word or "").strip().lower().replace(" ", "_")
    for words, name in ((RUN_WORDS, "run"), (WALK_WORDS, "walk"), (HIKE_WORDS, "hike")):
        if key in words or key.replace("_", "") in words:
            return name
    return "other"


def local_start(start_utc: datetime, offset_s: int | None) -> datetime:
    """Wall-clock start: the file's own offset when it has one, else the athlete's zone."""
    if offset_s is not None:
        return (start_utc + timedelta(seconds=offset_s)).replace(tzinfo=None)
    return start_utc.astimezone(ZoneInfo(ATHLETE_ZONE)).replace(tzinfo=None)


def trusted_offset(seconds: float) -> int | None:
    """A UTC offset rounded to the quarter hour, or ``None`` when no zone has it."""
    if abs(seconds) > MAX_UTC_OFFSET_S:
        return None
    return int(round(seconds / QUARTER_HOUR_S) * QUARTER_HOUR_S)


def run_seconds(steps: Iterable[tuple[float, float | None]], fallback: float) -> float:
    """Running time from ``(seconds, metres)`` steps: a step at running speed counts whole,
    however long (a sparse track). Without any distance it is ``fallback`` (all running,
    the conservative reading of DESIGN section 3)."""
    running = 0.0
    known = False
    for seconds, metres in steps:
        if seconds <= 0 or metres is None:
            continue
        known = True
        if metres / seconds >= RUN_THRESHOLD_MPS:
            running += seconds
    return running if known else fallback


# -- FIT ----------------------------------------------------------------------------------------

Messages = dict[str, list[dict[str, Any]]]


def fit_messages(path: Path) -> Messages:
    """Every message of a FIT file by name, decoded by fitparse with checksums checked."""
    messages: Messages = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fitparse.FitFile(str(path), check_crc=True)
        for message in fit.get_messages():
            messages.setdefault(message.name, []).append(message.get_values())
    return messages


def sdk_messages(path: Path) -> Messages:
    """The same, decoded by Garmin's own FIT SDK (for the file fitparse 1.2 cannot read)."""
    from garmin_fit_sdk import Decoder, Stream

    decoded, errors = Decoder(Stream.from_file(str(path))).read()
    if errors:
        raise ValueError(f"Garmin FIT SDK: {errors[0]}")
    messages: Messages = {}
    for key, values in cast(Messages, decoded).items():
        name = key.removesuffix("_mesgs")
        messages[name] = [{k: _naive_utc(v, k) for k, v in m.items()} for m in values]
    return messages


def _naive_utc(value: Any, key: str) -> Any:
    """The SDK gives aware UTC times and the local timestamp as FIT seconds; fitparse gives
    naive UTC datetimes for both."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if key == "local_timestamp" and isinstance(value, int):
        return (FIT_EPOCH + timedelta(seconds=value)).replace(tzinfo=None)
    return value


def read_fit(path: Path, decode: Any = fit_messages) -> Reading:
    """The independent reading of one FIT file."""
    try:
        messages = decode(path)
    except (fitparse.FitParseError, ValueError, AssertionError) as err:
        return Reading(refusal="damaged", detail=f"{type(err).__name__}: {err}")
    file_type = (messages.get("file_id") or [{}])[0].get("type")
    if file_type not in (None, "activity"):
        return Reading(refusal="not an activity", detail=f"a {file_type} file")
    offset = _fit_offset(messages)
    anchor = _fit_anchor(messages)
    sessions = [s for s in messages.get("session", []) if s.get("sport") != "transition"]
    if sessions:
        return _fit_legs(sessions, messages.get("record", []), offset, anchor)
    return _fit_without_sessions(messages, offset, anchor)


def _fit_offset(messages: Messages) -> int | None:
    activity = (messages.get("activity") or [{}])[0]
    local, utc = activity.get("local_timestamp"), activity.get("timestamp")
    if not isinstance(local, datetime) or not isinstance(utc, datetime):
        return None
    return trusted_offset((local - utc).total_seconds())


def _fit_anchor(messages: Messages) -> timedelta | None:
    """What turns device-relative times (seconds since the device's power-on, which fitparse
    leaves as numbers) into UTC: a timestamp_correlation message."""
    for corr in messages.get("timestamp_correlation", []):
        utc, system = corr.get("timestamp"), corr.get("system_timestamp")
        if isinstance(utc, datetime) and isinstance(system, int | float):
            return utc.replace(tzinfo=UTC) - FIT_EPOCH - timedelta(seconds=system)
    return None


def _fit_time(value: Any, anchor: timedelta | None) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and anchor is not None:
        return FIT_EPOCH + anchor + timedelta(seconds=value)
    return None


def _fit_legs(sessions: list[dict[str, Any]], records: list[dict[str, Any]],
              offset: int | None, anchor: timedelta | None) -> Reading:
    legs = []
    for session in sessions:
        raw_start = session.get("start_time")
        if raw_start is None and records:  # no start written: the first record's time
            raw_start = records[0].get("timestamp")
        start = _fit_time(raw_start, anchor)
        if start is None:
            return _relative_refusal(raw_start) if raw_start is not None else Reading(
                refusal="no times", detail="a session without a start and no records")
        elapsed = float(session.get("total_elapsed_time") or 0.0)
        timer = _number(session.get("total_timer_time"))
        leg_family = family(session.get("sport"))
        window = _records_between(records, start, elapsed, anchor)
        run = None
        if leg_family == "run":
            run = run_seconds(_record_steps(window), timer if timer is not None else elapsed)
        legs.append(Leg(leg_family, start, local_start(start, offset), elapsed, timer,
                        _leg_distance(session, window), run, label=str(session.get("sport"))))
    return Reading(legs=legs)


def _leg_distance(session: dict[str, Any], records: list[dict[str, Any]]) -> float | None:
    """The session's total, else the distance the records reached (some apps write no total)."""
    total = _number(session.get("total_distance"))
    if total is not None:
        return total
    reached = [r["distance"] for r in records if r.get("distance") is not None]
    return float(reached[-1]) if reached else None


def _fit_without_sessions(messages: Messages, offset: int | None,
                          anchor: timedelta | None) -> Reading:
    """A file with laps or records but no session (some apps write no summary)."""
    records = messages.get("record", [])
    times = [t for t in (_fit_time(r.get("timestamp"), anchor) for r in records) if t]
    if not times:
        raw = [r.get("timestamp") for r in records if r.get("timestamp") is not None]
        return _relative_refusal(raw[0]) if raw else Reading(
            refusal="no times", detail=f"{len(records)} records, none with a time")
    sport = (messages.get("sport") or messages.get("lap") or [{}])[0].get("sport")
    start, elapsed = times[0], (times[-1] - times[0]).total_seconds()
    distances = [r["distance"] for r in records if r.get("distance") is not None]
    leg_family = family(sport)
    run = run_seconds(_record_steps(records), elapsed) if leg_family == "run" else None
    return Reading(legs=[Leg(leg_family, start, local_start(start, offset), elapsed,
                             None, float(distances[-1]) if distances else None, run)])


def _relative_refusal(value: Any) -> Reading:
    return Reading(refusal="relative times",
                   detail=f"device-relative time {value!r} and no anchor to resolve it")


def _records_between(records: list[dict[str, Any]], start: datetime, elapsed: float,
                     anchor: timedelta | None) -> list[dict[str, Any]]:
    end = start + timedelta(seconds=elapsed)
    kept = []
    for record in records:
        moment = _fit_time(record.get("timestamp"), anchor)
        if moment is not None and start <= moment <= end:
            kept.append({**record, "timestamp": moment})
    return kept


def _record_steps(records: list[dict[str, Any]]) -> Iterator[tuple[float, float | None]]:
    """(seconds, metres) between consecutive records: from the distance field, else from the
    later record's speed."""
    for before, after in pairwise(records):
        t0, t1 = before.get("timestamp"), after.get("timestamp")
        if not isinstance(t0, datetime) or not isinstance(t1, datetime):
            continue
        seconds = (t1 - t0).total_seconds()
        d0, d1 = before.get("distance"), after.get("distance")
        speed = after.get("enhanced_speed", after.get("speed"))
        if d0 is not None and d1 is not None:
            yield seconds, float(d1) - float(d0)
        elif isinstance(speed, int | float):
            yield seconds, float(speed) * seconds
        else:
            yield seconds, None


# -- GPX ----------------------------------------------------------------------------------------


def read_gpx(path: Path) -> Reading:
    """The independent reading of one GPX file, from gpxpy's own summaries."""
    try:
        gpx = gpxpy.parse(path.read_text(encoding="utf-8-sig"))
    except (gpxpy.gpx.GPXException, ValueError) as err:
        return Reading(refusal="damaged", detail=f"{type(err).__name__}: {err}")
    points = [p for t in gpx.tracks for s in t.segments for p in s.points]
    if not points:
        what = f"{len(gpx.routes)} routes, {len(gpx.waypoints)} waypoints"
        return Reading(refusal="no track points", detail=what)
    timed = [p for p in points if _gpx_time(p) is not None]
    if not timed:
        return Reading(refusal="no times", detail=f"{len(points)} points, none timed")
    if len(timed) * 2 < len(points):
        return Reading(refusal="mostly untimed", timed_points=len(timed),
                       detail=f"{len(timed)} of {len(points)} points have times")
    return Reading(legs=[_gpx_leg(_timed_only(gpx))])


def _timed_only(gpx: gpxpy.gpx.GPX) -> gpxpy.gpx.GPX:
    """The recording without its untimed points: an older Garmin handheld saves a copy of its
    active log without times beside the log itself (korita-zbevnica), and a point whose time
    was lost says nothing of when the activity ran."""
    for track in gpx.tracks:
        for segment in track.segments:
            segment.points = [p for p in segment.points if _gpx_time(p) is not None]
    return gpx


def _gpx_time(point: gpxpy.gpx.GPXTrackPoint) -> datetime | None:
    if point.time is None:
        return None
    moment = point.time if point.time.tzinfo else point.time.replace(tzinfo=UTC)
    return moment if moment >= NO_TIME_BEFORE else None


def _gpx_leg(gpx: gpxpy.gpx.GPX) -> Leg:
    bounds = gpx.get_time_bounds()
    assert bounds.start_time is not None and bounds.end_time is not None
    start = _aware(bounds.start_time)
    elapsed = (_aware(bounds.end_time) - start).total_seconds()
    moving = gpx.get_moving_data(stopped_speed_threshold=STAND_BELOW_KMH)
    sport = next((t.type for t in gpx.tracks if t.type), None)
    leg_family = family(sport)
    # An explicit offset on the points is the local time; "Z" or none is UTC only.
    offset = bounds.start_time.utcoffset() if bounds.start_time.tzinfo else None
    offset_s = int(offset.total_seconds()) if offset else None
    run = None
    if leg_family == "run":
        run = run_seconds(_gpx_steps(gpx), moving.moving_time if moving else elapsed)
    return Leg(leg_family, start, local_start(start, offset_s), elapsed,
               moving.moving_time if moving else None, gpx.length_2d(), run, label=str(sport))


def _gpx_steps(gpx: gpxpy.gpx.GPX) -> Iterator[tuple[float, float | None]]:
    for track in gpx.tracks:
        for segment in track.segments:
            for before, after in pairwise(segment.points):
                seconds = after.time_difference(before)
                yield (seconds or 0.0), after.distance_2d(before)


def _aware(moment: datetime) -> datetime:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


# -- TCX ----------------------------------------------------------------------------------------


def read_tcx(path: Path) -> Reading:
    """The independent reading of one TCX file, with plain ElementTree: one leg per
    ``Activity`` (a MultiSportSession holds several)."""
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as err:
        return Reading(refusal="damaged", detail=f"ParseError: {err}")
    activities = list(root.iter(f"{TCX}Activity"))
    if not activities:
        return Reading(refusal="not an activity", detail="no Activity element")
    return Reading(legs=[_tcx_leg(activity) for activity in activities])


def _tcx_leg(activity: ElementTree.Element) -> Leg:
    start = _iso(activity.findtext(f"{TCX}Id") or "")
    laps = activity.findall(f"{TCX}Lap")
    timer = sum(float(lap.findtext(f"{TCX}TotalTimeSeconds") or 0) for lap in laps)
    metres = [lap.findtext(f"{TCX}DistanceMeters") for lap in laps]
    ends = [_iso(lap.get("StartTime") or "") + timedelta(
        seconds=float(lap.findtext(f"{TCX}TotalTimeSeconds") or 0)) for lap in laps]
    points = _tcx_points(activity)
    ends += [points[-1][0]] if points else []
    elapsed = (max(ends) - start).total_seconds() if ends else 0.0
    sport = {"biking": "cycling"}.get((activity.get("Sport") or "").lower(), activity.get("Sport"))
    leg_family = family(sport)
    run = run_seconds(_tcx_steps(points), timer) if leg_family == "run" else None
    distance = sum(float(m) for m in metres if m) if any(metres) else None
    return Leg(leg_family, start, local_start(start, None), elapsed, timer, distance, run,
               label=str(sport))


def _tcx_points(activity: ElementTree.Element) -> list[tuple[datetime, float | None]]:
    points = []
    for point in activity.iter(f"{TCX}Trackpoint"):
        text = point.findtext(f"{TCX}DistanceMeters")
        points.append((_iso(point.findtext(f"{TCX}Time") or ""), float(text) if text else None))
    return points


def _tcx_steps(points: list[tuple[datetime, float | None]]
               ) -> Iterator[tuple[float, float | None]]:
    for (t0, d0), (t1, d1) in pairwise(points):
        metres = None if d0 is None or d1 is None else d1 - d0
        yield (t1 - t0).total_seconds(), metres


def _iso(text: str) -> datetime:
    return _aware(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


# -- Garmin and Strava JSON ---------------------------------------------------------------------


def json_records(path: Path) -> tuple[str, list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """What an API capture holds: its shape (``garmin-list``, ``strava-activity``, or what it
    is instead), the activity objects, and Garmin details by activity id.

    A garth cassette is a list of ``{method, path, status, body}`` exchanges; the other
    captures are response bodies as they came.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    bodies = [x["body"] for x in data] if _is_cassette(data) else [data]
    entries: list[dict[str, Any]] = []
    details: dict[str, dict[str, Any]] = {}
    shape = "other"
    for body in bodies:
        items = body if isinstance(body, list) else [body]
        for item in items:
            kind = _json_kind(item)
            if kind == "garmin-detail":
                details[str(item["activityId"])] = item
            elif kind in ("garmin-list", "strava-activity"):
                entries.append(item)
                shape = kind
    if not entries and details:
        shape = "garmin-detail"
    elif not entries:
        shape = _json_kind(bodies[0] if not isinstance(bodies[0], list) or not bodies[0]
                           else bodies[0][0])
    return shape, entries, details


def _is_cassette(data: Any) -> bool:
    return isinstance(data, list) and bool(data) and all(
        isinstance(x, dict) and {"method", "path", "body"} <= set(x) for x in data)


def _json_kind(item: Any) -> str:
    """Which API object this is, by the fields only that object has."""
    if not isinstance(item, dict):
        return "other"
    if "startTimeGMT" in item and isinstance(item.get("activityType"), dict):
        return "garmin-list"
    if "summaryDTO" in item:
        return "garmin-detail"
    if "results" in item:
        return "garmin-search-1.2"
    if "start_date" in item and ("type" in item or "sport_type" in item):
        return "strava-activity"
    if "start_date" in item and "lap_index" in item:
        return "strava-laps"
    if "paths" in item and "swagger" in item:
        return "strava-api-description"
    return "other"


def garmin_leg(entry: dict[str, Any], detail: dict[str, Any] | None) -> Leg:
    """A Garmin list entry (and its detail, when captured), read from the JSON itself."""
    start = datetime.fromisoformat(entry["startTimeGMT"]).replace(tzinfo=UTC)
    local = datetime.fromisoformat(entry["startTimeLocal"])
    elapsed = _garmin_seconds(entry)
    summaries = entry.get("splitSummaries") or (detail or {}).get("splitSummaries") or []
    moving = _number(entry.get("movingDuration"))
    leg_family = family(entry["activityType"]["typeKey"])
    run = None
    if leg_family == "run":
        rwd = [s for s in summaries if s.get("splitType") == "RWD_RUN"]
        run = sum(float(s["duration"]) for s in rwd) if rwd else (moving or elapsed)
    return Leg(leg_family, start, local, elapsed, moving, _number(entry.get("distance")), run,
               label=entry["activityType"]["typeKey"])


def _garmin_seconds(entry: dict[str, Any]) -> float:
    """Elapsed seconds. Older exports give ``elapsedDuration`` in milliseconds: a value a
    thousand times ``duration`` (always seconds) is that."""
    duration = _number(entry.get("duration"))
    elapsed = _number(entry.get("elapsedDuration"))
    if elapsed is None:
        return float(duration or 0.0)
    if duration and elapsed > 100 * duration:
        return elapsed / 1000
    return elapsed


def strava_leg(item: dict[str, Any]) -> Leg:
    """A Strava activity object, read from the JSON itself."""
    start = _iso(item["start_date"])
    local = datetime.fromisoformat(item["start_date_local"].rstrip("Z"))
    sport = item.get("sport_type") or item.get("type")
    leg_family = family(sport)
    moving = _number(item.get("moving_time"))
    elapsed = float(item["elapsed_time"])
    run = (moving if moving is not None else elapsed) if leg_family == "run" else None
    return Leg(leg_family, start, local, elapsed, moving, _number(item.get("distance")), run,
               label=str(sport))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
