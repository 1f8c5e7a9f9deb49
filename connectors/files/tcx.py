"""TCX (Garmin Training Center) files, parsed with defusedxml: TCX from the internet is
untrusted XML, and defusedxml refuses entity expansion and external references."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException

from connectors.files.runwalk import Lap, SpeedTrack, moving_seconds
from connectors.files.summary import ParsedFile
from connectors.files.times import check_timed, in_time_order, usable_time
from syncd.errors import InvalidFile
from syncd.models import SegmentKind

_NS = {
    "tcx": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2",
    "ax": "http://www.garmin.com/xmlschemas/ActivityExtension/v2",
}
_SPORTS = {"running": "running", "biking": "cycling", "other": "other"}
_TAG_ACTIVITY = f"{{{_NS['tcx']}}}Activity"
_TAG_MULTISPORT = f"{{{_NS['tcx']}}}MultiSportSession"


def parse_tcx(data: bytes, file_name: str) -> ParsedFile:
    """Read the first activity of one TCX file (:func:`parse_tcx_activities` reads them all).

    Raises :class:`InvalidFile` naming the file when it is not XML, not TCX, or has no
    activity with a start time.
    """
    return parse_tcx_activities(data, file_name)[0]


def parse_tcx_activities(data: bytes, file_name: str) -> list[ParsedFile]:
    """Read every activity of one TCX file, in document order: the ``<Activity>`` elements
    under ``<Activities>``, and the legs of a ``<MultiSportSession>`` (``FirstSport``, then
    each ``NextSport``; their ``<Transition>`` laps are not activities). Raises like
    :func:`parse_tcx`."""
    try:
        root = SafeElementTree.fromstring(data)
    # LookupError: an XML declaration naming an encoding Python does not know.
    except (ParseError, DefusedXmlException, ValueError, LookupError) as err:
        raise InvalidFile(
            f"{file_name}: not a readable TCX file ({err})",
            hint="check that it is a TCX export of an activity",
        ) from err
    activities = _activity_elements(root)
    if not activities:
        raise InvalidFile(f"{file_name}: TCX file holds no activity",
                          hint="courses and workouts cannot be imported")
    return [replace(_summarize(activity, file_name), leg=number)
            for number, activity in enumerate(activities, start=1)]


def _activity_elements(root: Element) -> list[Element]:
    """The activities of a TCX file, a multisport session's legs in their place."""
    found: list[Element] = []
    for child in root.iterfind("tcx:Activities/*", _NS):
        if child.tag == _TAG_ACTIVITY:
            found.append(child)
        elif child.tag == _TAG_MULTISPORT:
            found.extend(child.iterfind("tcx:FirstSport/tcx:Activity", _NS))
            found.extend(child.iterfind("tcx:NextSport/tcx:Activity", _NS))
    return found


def _summarize(activity: Element, file_name: str) -> ParsedFile:
    lap_nodes = activity.findall("tcx:Lap", _NS)
    points, times = _track_times(activity, file_name)
    start = _start(activity, lap_nodes, file_name, times)
    laps = _with_active_runs([_lap(node, start, file_name) for node in lap_nodes])
    track = _track(points, times, start)
    elapsed = sum(lap.elapsed_s for lap in laps)
    if track.offsets:
        elapsed = max(elapsed, track.offsets[-1])
    distances = [lap.distance_m for lap in laps if lap.distance_m is not None]
    timers = [lap.timer_s for lap in laps if lap.timer_s is not None]
    sport = (activity.get("Sport") or "").strip().lower()
    creator = activity.findtext("tcx:Creator/tcx:Name", default=None, namespaces=_NS)
    return ParsedFile(
        format="tcx",
        start_utc=start,
        elapsed_s=elapsed,
        sport_type=_SPORTS.get(sport, sport) or None,
        moving_s=sum(timers) if timers else moving_seconds(track),
        distance_m=sum(distances) if distances else None,
        laps=laps,
        track=track,
        name=activity.findtext("tcx:Notes", default=None, namespaces=_NS),
        device=creator,
    )


def _start(activity: Element, laps: list[Element], file_name: str,
           times: dict[int, datetime]) -> datetime:
    """The activity's ``Id`` (its start), else its first lap's start, else its first point's
    time; GPSBabel's "no time" (1901-12-13) is no start."""
    text = activity.findtext("tcx:Id", default="", namespaces=_NS).strip()
    candidates = [text, laps[0].get("StartTime", "") if laps else ""]
    for candidate in candidates:
        moment = _moment(candidate)
        if moment is not None:
            return moment
    if times:
        return min(times.values())
    raise InvalidFile(f"{file_name}: TCX activity has no valid start time ({text!r})",
                      hint="export the activity again")


def _lap(node: Element, start: datetime, file_name: str) -> Lap:
    lap_start = start
    if node.get("StartTime"):
        try:
            # GPSBabel's "no time" is no start: the lap then starts with the activity.
            lap_start = usable_time(_time(node.get("StartTime", ""))) or start
        except ValueError as err:
            raise InvalidFile(f"{file_name}: a TCX lap has an unreadable start time "
                              f"({node.get('StartTime')!r})",
                              hint="export the activity again") from err
    timer = _number(node.findtext("tcx:TotalTimeSeconds", default=None, namespaces=_NS))
    distance = _number(node.findtext("tcx:DistanceMeters", default=None, namespaces=_NS))
    intensity = (node.findtext("tcx:Intensity", default="", namespaces=_NS) or "").strip()
    kind: SegmentKind | None = "walk" if intensity.lower() == "resting" else None
    return Lap(
        offset_s=(lap_start - start).total_seconds(),
        elapsed_s=timer or 0.0,
        distance_m=distance,
        timer_s=timer,
        kind=kind,
    )


def _with_active_runs(laps: list[Lap]) -> list[Lap]:
    """Once some laps are marked Resting, the other (Active) laps are the running ones."""
    if not any(lap.kind == "walk" for lap in laps):
        return laps
    return [lap if lap.kind else replace(lap, kind="run") for lap in laps]


def _track_times(activity: Element, file_name: str
                 ) -> tuple[list[Element], dict[int, datetime]]:
    """The trackpoints, and the times of those whose time can be trusted (connectors.files.
    times): a track where fewer than half the points have one is refused."""
    points = list(activity.iterfind("tcx:Lap/tcx:Track/tcx:Trackpoint", _NS))
    times = [_moment(point.findtext("tcx:Time", default="", namespaces=_NS)) for point in points]
    kept = in_time_order(times)
    if kept:  # without any time, the laps alone tell the activity
        timed = sum(moment is not None for moment in times)
        check_timed("TCX track", timed, len(kept), len(points), file_name)
    return points, {i: moment for i in kept if (moment := times[i]) is not None}


def _track(points: list[Element], times: dict[int, datetime], start: datetime) -> SpeedTrack:
    offsets: list[float] = []
    speeds: list[float] = []
    distances: list[float | None] = []
    for i, moment in times.items():
        point = points[i]
        offset = (moment - start).total_seconds()
        distance = _number(point.findtext("tcx:DistanceMeters", default=None, namespaces=_NS))
        speed = _number(point.findtext("tcx:Extensions/ax:TPX/ax:Speed", default=None,
                                       namespaces=_NS))
        if speed is None:
            speed = _speed(offsets, distances, offset, distance)
        offsets.append(offset)
        speeds.append(speed)
        distances.append(distance)
    if not any(d is not None for d in distances) and not any(speeds):
        return SpeedTrack((), ())
    return SpeedTrack(offsets, speeds, distances)


def _speed(
    offsets: list[float], distances: list[float | None], offset: float, distance: float | None
) -> float:
    if not offsets or distance is None or distances[-1] is None:
        return 0.0
    step = offset - offsets[-1]
    return (distance - distances[-1]) / step if step > 0 else 0.0


def _moment(text: str | None) -> datetime | None:
    """A readable, real time, or ``None`` (a damaged point, or GPSBabel's "no time")."""
    try:
        return usable_time(_time(text or ""))
    except ValueError:
        return None


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _number(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    # "NaN" and "1e999" parse as floats, but no distance or time is infinite (and the stored
    # payload must stay plain JSON).
    return value if math.isfinite(value) else None
