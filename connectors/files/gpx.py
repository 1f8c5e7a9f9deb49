"""GPX tracks, read with gpxpy. GPX has no laps: run/walk comes from the point speeds."""

from __future__ import annotations

from datetime import UTC, datetime

import gpxpy
import gpxpy.gpx
from gpxpy.geo import distance as geo_distance

from connectors.files.runwalk import SpeedTrack, moving_seconds
from connectors.files.strava_types import gpx_type_name
from connectors.files.summary import ParsedFile
from connectors.files.times import check_timed, in_time_order, usable_time
from syncd.errors import InvalidFile

# GPX from the internet is untrusted XML; entity declarations are how XML bombs work, and no
# GPS device writes them.
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")
_NEVER = datetime.max.replace(tzinfo=UTC)


def parse_gpx(data: bytes, file_name: str) -> ParsedFile:
    """Read one GPX file's tracks.

    Raises :class:`InvalidFile` naming the file when it is empty, not GPX, has no track
    points, or its points carry no timestamps.
    """
    if not data.strip():
        raise InvalidFile(f"{file_name}: GPX file is empty", hint="export the activity again")
    if any(marker in data for marker in _FORBIDDEN):
        raise InvalidFile(f"{file_name}: GPX file declares XML entities; refused as unsafe")
    try:
        gpx = gpxpy.parse(data.decode("utf-8-sig", errors="replace"))
    except (gpxpy.gpx.GPXException, ValueError) as err:
        raise InvalidFile(
            f"{file_name}: not a readable GPX file ({err})",
            hint="check that it is a GPX export of an activity",
        ) from err
    return _summarize(gpx, file_name)


def _summarize(gpx: gpxpy.gpx.GPX, file_name: str) -> ParsedFile:
    segments = _in_start_order([seg.points for track in gpx.tracks for seg in track.segments])
    points = [(point, index) for index, segment in enumerate(segments) for point in segment]
    if not points:
        raise InvalidFile(f"{file_name}: GPX file has no track points",
                          hint="a route or an empty track cannot be imported")
    times = [usable_time(point.time) for point, _ in points]
    timed = sum(moment is not None for moment in times)
    if not timed:
        raise InvalidFile(
            f"{file_name}: GPX track has no timestamps, so its date and duration are unknown",
            hint="export the activity with times (a planned route has none)",
        )
    kept = in_time_order(times)
    check_timed("GPX track", timed, len(kept), len(points), file_name)
    start = times[kept[0]]
    assert start is not None
    offsets, speeds, distances = _samples(points, times, set(kept), start, file_name)
    track = SpeedTrack(offsets, speeds, distances)
    # Strava writes its type as a number (<type>9</type> is a run).
    sport_type = gpx_type_name(next((t.type for t in gpx.tracks if t.type), None))
    name = next((t.name for t in gpx.tracks if t.name), None) or gpx.name
    return ParsedFile(
        format="gpx",
        start_utc=start,
        elapsed_s=offsets[-1],
        sport_type=sport_type.strip().lower() if sport_type else None,
        moving_s=moving_seconds(track),
        distance_m=round(distances[-1] or 0.0, 2),
        track=track,
        name=name,
        device=gpx.creator,
    )


def _in_start_order(segments: list[list[gpxpy.gpx.GPXTrackPoint]]
                    ) -> list[list[gpxpy.gpx.GPXTrackPoint]]:
    """Track segments by the first time they hold (merged tracks may come out of order);
    segments without any time keep their place at the end."""
    def first_time(points: list[gpxpy.gpx.GPXTrackPoint]) -> datetime:
        return next((t for t in map(usable_time, (p.time for p in points)) if t), _NEVER)
    return sorted((points for points in segments if points), key=first_time)


def _samples(
    points: list[tuple[gpxpy.gpx.GPXTrackPoint, int]], times: list[datetime | None],
    kept: set[int], start: datetime, file_name: str,
) -> tuple[list[float], list[float], list[float | None]]:
    """Offsets, speeds and cumulative distance at the points whose time is kept. Every point
    of a segment adds to the distance (an untimed one too); none is counted across a break."""
    offsets: list[float] = []
    speeds: list[float] = []
    distances: list[float | None] = []
    total = 0.0
    previous: tuple[gpxpy.gpx.GPXTrackPoint, int] | None = None
    for i, (point, segment) in enumerate(points):
        _check_position(point, file_name)
        if previous is not None and previous[1] == segment:
            total += geo_distance(previous[0].latitude, previous[0].longitude, None,
                                  point.latitude, point.longitude, None)
        previous = (point, segment)
        moment = times[i]
        if i not in kept or moment is None:
            continue
        offset = (moment - start).total_seconds()
        seconds = offset - offsets[-1] if offsets else 0.0
        last = distances[-1] if distances else None
        speeds.append((total - last) / seconds if last is not None and seconds > 0 else 0.0)
        offsets.append(offset)
        distances.append(total)
    return offsets, speeds, distances


def _check_position(point: gpxpy.gpx.GPXTrackPoint, file_name: str) -> None:
    """Refuse a point off the globe (a damaged file): distances from it mean nothing."""
    # Written so that NaN fails too.
    if not (-90 <= point.latitude <= 90 and -180 <= point.longitude <= 180):
        raise InvalidFile(f"{file_name}: a GPX track point lies off the globe (latitude "
                          f"{point.latitude}, longitude {point.longitude})",
                          hint="the file is damaged: export the activity again")
