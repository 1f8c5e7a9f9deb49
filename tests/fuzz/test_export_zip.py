"""Fuzz target for Strava export archives: a zip of any shape (odd member names, gzipped and
broken members, an ``activities.csv`` with any cells, damaged zip bytes) is read into
activities whose payloads are plain JSON, with each refused part listed as a failure that
names the archive. Nothing escapes ``FileReader.read_data``."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from connectors.base import RawRecord
from connectors.files.limits import ArchiveLimits
from connectors.files.reader import FileReader, ImportBatch
from connectors.files.summary import activity_from_payload
from syncd.models import Activity

from .support import FUZZ, HISTORY, survives

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
LABEL = "export_1234.zip"
HEADER = ["Activity ID", "Activity Date", "Activity Name", "Activity Type", "Elapsed Time",
          "Distance", "Filename", "Moving Time", "Distance", "Activity Gear"]
_SAMPLES = [p.read_bytes() for p in sorted(HISTORY.iterdir())[::6]]
_NAMES = st.one_of(
    st.sampled_from(["activities/1.fit", "activities/2.gpx", "activities/3.tcx",
                     "activities/4.fit.gz", "activities/5.gpx.gz", "../evil.fit", "/abs.fit",
                     "C:/x.fit", "activities/", "routes/r.gpx", "activities/a b.TCX",
                     "activities.csv", "media/p.jpg"]),
    st.text(min_size=1, max_size=20).map(lambda s: f"activities/{s}.fit"),
)
_CELLS = st.one_of(
    st.sampled_from(["", "nan", "inf", "-1", "0", "1e400", "1,234.5", "Run", "Walk", "Hike",
                     "Nov 2, 2026, 6:00:00 AM", "2026-11-02 06:00:00", "Feb 30, 2026, 1:00:00 AM",
                     "activities/1.fit", "activities/4.fit.gz", "Shoe A", "12345"]),
    st.text(max_size=12),
)


@st.composite
def activities_csv(draw: st.DrawFn) -> bytes:
    """Strava's CSV header (or part of it) and rows of odd cells."""
    header = draw(st.one_of(st.just(HEADER), st.lists(st.sampled_from(HEADER), max_size=10)))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for _ in range(draw(st.integers(0, 4))):
        writer.writerow(draw(st.lists(_CELLS, max_size=len(header) + 2)))
    return out.getvalue().encode()


@st.composite
def member_bytes(draw: st.DrawFn, name: str) -> bytes:
    """A real activity file, random bytes, or a gzip of either (maybe cut short)."""
    data = draw(st.one_of(st.sampled_from(_SAMPLES), st.binary(max_size=64)))
    if name.endswith(".gz") and draw(st.booleans()):
        data = gzip.compress(data)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    return data


@st.composite
def export_archives(draw: st.DrawFn) -> bytes:
    """An export zip, now and then with a few bytes of the archive itself changed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=draw(st.sampled_from(
            [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))) as archive:
        if draw(st.booleans()):
            archive.writestr("activities.csv", draw(activities_csv()))
        for name in draw(st.lists(_NAMES, max_size=4, unique=True)):
            if name.endswith("/") or name == "activities.csv":
                continue
            archive.writestr(name, draw(member_bytes(name)))
    data = bytearray(buffer.getvalue())
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 3]))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if data:
            data[at] = draw(st.integers(0, 255))
    return bytes(data)


def read_export(data: bytes) -> ImportBatch:
    """Import one archive as ``syncd import`` does, then normalize what it returned."""
    reader = FileReader(lambda: NOW, limits=ArchiveLimits(max_member_bytes=4 << 20))
    batch = ImportBatch()
    reader.read_data(data, Path(LABEL), batch)
    for record in batch.records:
        json.dumps(record.payload, allow_nan=False)

        def normalize(record: RawRecord = record) -> Activity:
            return activity_from_payload(record.payload, record.source_id, athlete="ana",
                                         timezone="Europe/Berlin")

        survives(normalize)
    return batch


@FUZZ
@given(data=export_archives())
def test_any_export_archive_is_read_or_refused_part_by_part(data: bytes) -> None:
    batch = read_export(data)
    for where, reason in batch.failures:
        assert LABEL in where and reason.strip(), (where, reason)


@FUZZ
@given(text=activities_csv())
def test_any_activities_csv_gives_plain_json_payloads(text: bytes) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("activities.csv", text)
    read_export(buffer.getvalue())
