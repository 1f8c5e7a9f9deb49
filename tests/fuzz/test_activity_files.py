"""Fuzz targets for the activity file parsers (FIT, GPX, TCX): whatever the bytes, a file is
either read into an activity whose stored payload is plain JSON, or refused with an
``InvalidFile`` that names it. Nothing else may escape."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.files.fit import parse_fit
from connectors.files.gpx import parse_gpx
from connectors.files.summary import ParsedFile, activity_from_payload, build_payload
from connectors.files.tcx import parse_tcx
from syncd.models import Activity

from .support import FUZZ, HISTORY, mutated_fit, survives

# fitdecode warns about every unknown field a damaged file seems to hold.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
Parser = Callable[[bytes, str], ParsedFile]


def read_file(parser: Parser, data: bytes, name: str) -> Activity:
    """What importing one file does with it: parse, build the stored payload (strict JSON:
    PostgreSQL refuses NaN), normalize."""
    parsed = parser(data, name)
    payload = build_payload(parsed, name, hashlib.sha256(data).hexdigest(), now=NOW)
    json.dumps(payload, allow_nan=False)
    activity = activity_from_payload(payload, "f" * 20, athlete="ana", timezone="Europe/Berlin")
    assert math.isfinite(activity.elapsed_s)
    return activity


@FUZZ
@given(data=mutated_fit())
def test_a_damaged_fit_file_is_read_or_refused_by_name(data: bytes) -> None:
    survives(lambda: read_file(parse_fit, data, "watch.fit"), "watch.fit")


@FUZZ
@given(data=st.binary(max_size=512))
def test_random_bytes_named_fit_are_refused_by_name(data: bytes) -> None:
    survives(lambda: read_file(parse_fit, data, "random.fit"), "random.fit")


# -- GPX and TCX: documents built from their own elements, with hostile values ---------------

_TEXT = st.one_of(
    st.sampled_from(["", "0", "-1", "1e308", "-1e308", "nan", "inf", "NaN", "  12.5 ",
                     "2026-10-05T06:00:00Z", "2026-10-05T06:00:00+14:00", "0001-01-01T00:00:00Z",
                     "9999-12-31T23:59:59Z", "2026-02-30T00:00:00Z", "running", "walking",
                     "Running", "Biking", "Other", "1", "99999999999999999999", "1900-01-01"]),
    st.text(max_size=12),
)
_TIMES = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2026, 11, 3),
                      timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z"))


def _escape(text: str) -> str:
    clean = "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff")
                    or "\ue000" <= c <= "\ufffd")
    return clean.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&quot;")


@st.composite
def gpx_documents(draw: st.DrawFn) -> bytes:
    """A GPX document with tracks, segments and points whose attributes and children take
    odd values (missing times, times out of order, coordinates out of range, words)."""
    tracks = []
    for _ in range(draw(st.integers(0, 2))):
        segments = []
        for _ in range(draw(st.integers(0, 2))):
            points = []
            for _ in range(draw(st.integers(0, 6))):
                lat = draw(st.one_of(st.floats(-100, 100).map(str), _TEXT))
                lon = draw(st.one_of(st.floats(-200, 200).map(str), _TEXT))
                time = draw(st.one_of(_TIMES, _TEXT, st.none()))
                ele = draw(st.one_of(_TEXT, st.none()))
                inner = (f"<time>{_escape(time)}</time>" if time is not None else "") + (
                    f"<ele>{_escape(ele)}</ele>" if ele is not None else "")
                points.append(f'<trkpt lat="{_escape(lat)}" lon="{_escape(lon)}">{inner}</trkpt>')
            segments.append("<trkseg>" + "".join(points) + "</trkseg>")
        kind = draw(st.one_of(st.none(), _TEXT))
        head = f"<type>{_escape(kind)}</type>" if kind is not None else ""
        tracks.append(f"<trk>{head}{''.join(segments)}</trk>")
    body = "".join(tracks)
    doc = ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="fuzz" '
           f'xmlns="http://www.topografix.com/GPX/1/1">{body}</gpx>')
    return doc.encode()


@FUZZ
@given(data=gpx_documents())
def test_a_strange_gpx_file_is_read_or_refused_by_name(data: bytes) -> None:
    survives(lambda: read_file(parse_gpx, data, "track.gpx"), "track.gpx")


@st.composite
def tcx_documents(draw: st.DrawFn) -> bytes:
    """A TCX document with laps and trackpoints whose values are odd."""
    laps = []
    for _ in range(draw(st.integers(0, 3))):
        points = []
        for _ in range(draw(st.integers(0, 5))):
            time = draw(st.one_of(_TIMES, _TEXT))
            distance = draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str),
                                      _TEXT))
            speed = draw(st.one_of(st.floats(-5, 50).map(str), _TEXT, st.none()))
            ext = (f"<Extensions><ax:TPX><ax:Speed>{_escape(speed)}</ax:Speed></ax:TPX>"
                   "</Extensions>" if speed is not None else "")
            points.append(f"<Trackpoint><Time>{_escape(time)}</Time><DistanceMeters>"
                          f"{_escape(distance)}</DistanceMeters>{ext}</Trackpoint>")
        start = draw(st.one_of(_TIMES, _TEXT))
        seconds = draw(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str), _TEXT))
        metres = draw(st.one_of(st.floats(-1e6, 1e7).map(str), _TEXT))
        intensity = draw(st.sampled_from(["Active", "Resting", "", "Other"]))
        laps.append(f'<Lap StartTime="{_escape(start)}"><TotalTimeSeconds>{_escape(seconds)}'
                    f"</TotalTimeSeconds><DistanceMeters>{_escape(metres)}</DistanceMeters>"
                    f"<Intensity>{intensity}</Intensity><Track>{''.join(points)}</Track></Lap>")
    sport = draw(st.one_of(st.sampled_from(["Running", "Biking", "Other"]), _TEXT))
    identifier = draw(st.one_of(_TIMES, _TEXT))
    doc = ('<?xml version="1.0" encoding="UTF-8"?>\n<TrainingCenterDatabase xmlns="http://www.'
           'garmin.com/xmlschemas/TrainingCenterDatabase/v2" xmlns:ax="http://www.garmin.com/'
           'xmlschemas/ActivityExtension/v2"><Activities>'
           f'<Activity Sport="{_escape(sport)}"><Id>{_escape(identifier)}</Id>{"".join(laps)}'
           "</Activity></Activities></TrainingCenterDatabase>")
    return doc.encode()


@FUZZ
@given(data=tcx_documents())
def test_a_strange_tcx_file_is_read_or_refused_by_name(data: bytes) -> None:
    survives(lambda: read_file(parse_tcx, data, "laps.tcx"), "laps.tcx")


@st.composite
def mutated_text(draw: st.DrawFn, suffix: str) -> bytes:
    """A bundled GPX or TCX file with bytes changed, cut or inserted."""
    files = sorted(HISTORY.glob(f"*{suffix}"))
    data = bytearray(files[draw(st.integers(0, len(files) - 1))].read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["set", "cut", "insert"]))
        if kind == "set" and at < len(data):
            data[at] = draw(st.sampled_from(list(b"<>/\"'&=0123456789-.:TZ \x00\xff")))
        elif kind == "cut":
            del data[at:at + draw(st.integers(1, 64))]
        else:
            data[at:at] = draw(st.sampled_from([b"<trkpt>", b"</Lap>", b"<Time>", b"-", b"e9",
                                                b"<!-- x -->", b"\xef\xbb\xbf", b"&amp;"]))
    return bytes(data)


@FUZZ
@given(data=mutated_text(".gpx"))
def test_a_damaged_gpx_file_is_read_or_refused_by_name(data: bytes) -> None:
    survives(lambda: read_file(parse_gpx, data, "walk.gpx"), "walk.gpx")


@FUZZ
@given(data=mutated_text(".tcx"))
def test_a_damaged_tcx_file_is_read_or_refused_by_name(data: bytes) -> None:
    survives(lambda: read_file(parse_tcx, data, "run.tcx"), "run.tcx")
