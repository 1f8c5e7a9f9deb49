"""GPX tracks, read with gpxpy. GPX has no laps: run/walk comes from the point speeds."""

from __future__ import annotations

from datetime import UTC, datetime

import gpxpy
import gpxpy.gpx
from gpxpy.geo import distance as geo_distance

from connectors.files.runwalk import SpeedTrack, moving_seconds
from connectors.files.summary import ParsedFile
from syncd.errors import InvalidFile

# GPX from the internet is untrusted XML; entity declarations are how XML bombs work, and no
# GPS device writes them.
_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")


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
    segments = [segment for track in gpx.tracks for segment in track.segments]
    points = [(point, index) for index, segment in enumerate(segments) for point in segment.points]
    if not points:
        raise InvalidFile(f"{file_name}: GPX file has no track points",
                          hint="a route or an empty track cannot be imported")
    timed = [(p, seg) for p, seg in points if p.time is not None]
    if not timed:
        raise InvalidFile(
            f"{file_name}: GPX track has no timestamps, so its date and duration are unknown",
            hint="export the activity with times (a planned route has none)",
        )
    start = _utc(timed[0][0].time)
    offsets, speeds, distances = _samples(timed, start, file_name)
    track = SpeedTrack(offsets, speeds, distances)
    sport_type = next((t.type for t in gpx.tracks if t.type), None)
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


def _samples(
    timed: list[tuple[gpxpy.gpx.GPXTrackPoint, int]], start: datetime, file_name: str
) -> tuple[list[float], list[float], list[float | None]]:
    """Offsets, speeds and cumulative distance; no distance is counted across a segment break."""
    offsets: list[float] = []
    speeds: list[float] = []
    distances: list[float | None] = []
    total = 0.0
    previous: tuple[gpxpy.gpx.GPXTrackPoint, int] | None = None
    for point, segment in timed:
        _check_position(point, file_name)
        offset = (_utc(point.time) - start).total_seconds()
        speed = 0.0
        if previous is not None and previous[1] == segment:
            step = geo_distance(previous[0].latitude, previous[0].longitude, None,
                                point.latitude, point.longitude, None)
            total += step
            seconds = offset - offsets[-1]
            speed = step / seconds if seconds > 0 else 0.0
        offsets.append(offset)
        speeds.append(speed)
        distances.append(total)
        previous = (point, segment)
    return offsets, speeds, distances


def _check_position(point: gpxpy.gpx.GPXTrackPoint, file_name: str) -> None:
    """Refuse a point off the globe (a damaged file): distances from it mean nothing."""
    # Written so that NaN fails too.
    if not (-90 <= point.latitude <= 90 and -180 <= point.longitude <= 180):
        raise InvalidFile(f"{file_name}: a GPX track point lies off the globe (latitude "
                          f"{point.latitude}, longitude {point.longitude})",
                          hint="the file is damaged: export the activity again")


def _utc(moment: datetime | None) -> datetime:
    assert moment is not None
    if moment.tzinfo is None:
        # GPX times are UTC by the schema; a missing "Z" does not make them local.
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
