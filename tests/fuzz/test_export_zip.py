"""Fuzz target for Strava export archives: a zip of any shape (odd member names, gzipped and
broken members, an ``activities.csv`` with any cells, damaged zip bytes) is read into records
whose payloads are plain JSON and normalize into activities, with each refused part listed as
a failure that names the archive and the member (and the CSV line) at fault. Nothing escapes
``FileReader.read_data``, and a well-formed export among junk members or behind junk bytes is
still read whole."""

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

from connectors.files.limits import ArchiveLimits
from connectors.files.reader import FileReader, ImportBatch
from connectors.files.summary import activity_from_payload
from tests.connectors.test_files_export import build_export

from .support import FUZZ, HISTORY

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
    """Import one archive as ``syncd import`` does; every record it returns is plain JSON and
    normalizes into an activity of its own id, every failure names the archive and the part."""
    reader = FileReader(lambda: NOW, limits=ArchiveLimits(max_member_bytes=4 << 20))
    batch = ImportBatch()
    reader.read_data(data, Path(LABEL), batch)
    for record in batch.records:
        assert json.loads(json.dumps(record.payload, allow_nan=False)) == record.payload
        activity = activity_from_payload(record.payload, record.source_id, athlete="ana",
                                         timezone="Europe/Berlin")
        assert activity.source_id == record.source_id and activity.elapsed_s >= 0
    for where, reason in batch.failures:
        assert_names_its_part(where, reason)
    return batch


def assert_names_its_part(where: str, reason: str) -> None:
    """A failure is about the archive or one member of it (one CSV row at most), and its
    reason starts with the archive and names that member."""
    assert where == LABEL or where.startswith(f"{LABEL}:"), where
    assert reason.startswith(LABEL), (where, reason)
    member = where.removeprefix(LABEL).removeprefix(":").split("#")[0]
    assert member in reason and reason.strip() != f"{LABEL}:{member}".strip(), (where, reason)


def csv_rows(text: bytes) -> int:
    """How many data rows an ``activities.csv`` holds."""
    return len(list(csv.reader(io.StringIO(text.decode())))) - 1


@FUZZ
@given(data=export_archives())
def test_any_export_archive_is_read_or_refused_part_by_part(data: bytes) -> None:
    read_export(data)  # its records normalize, its failures name their part (asserted there)


@FUZZ
@given(text=activities_csv())
def test_any_activities_csv_gives_plain_json_payloads(text: bytes) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("activities.csv", text)
    batch = read_export(buffer.getvalue())
    rows = csv_rows(text)
    # No files in the archive: each row is a manual activity, a notice or a refusal, no more.
    assert len(batch.records) <= rows
    for where, reason in batch.failures:
        assert where.startswith(f"{LABEL}:activities.csv"), (where, reason)
        if "#" in where:
            line = int(reason.split(" line ", 1)[1].split()[0].rstrip(":"))
            assert 2 <= line <= rows + 1, (line, rows, reason)


_CLEAN = build_export()
_CLEAN_IDS = {record.payload["strava_id"]: record.source_id
              for record in read_export(_CLEAN).records}


@st.composite
def hidden_exports(draw: st.DrawFn) -> bytes:
    """The well-formed export of ``tests/connectors/test_files_export.py`` with junk members
    added (random bytes under odd names) and, now and then, junk bytes in front of the zip."""
    buffer = io.BytesIO()
    taken = set(zipfile.ZipFile(io.BytesIO(_CLEAN)).namelist())
    with zipfile.ZipFile(io.BytesIO(_CLEAN)) as clean, \
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in taken:
            archive.writestr(name, clean.read(name))
        for name in draw(st.lists(_NAMES, max_size=4, unique=True)):
            if name not in taken and not name.endswith("/"):
                archive.writestr(name, draw(st.binary(max_size=64)))
    return draw(st.sampled_from([b"", b"", b"MZ\x90\x00"])) + buffer.getvalue()


@FUZZ
@given(data=hidden_exports())
def test_a_good_export_among_junk_is_still_read_whole(data: bytes) -> None:
    batch = read_export(data)
    found = {record.payload["strava_id"]: record.source_id for record in batch.records}
    assert {"101": _CLEAN_IDS["101"], "102": _CLEAN_IDS["102"],
                          "103": _CLEAN_IDS["103"]} == _CLEAN_IDS
    assert {key: found.get(key) for key in _CLEAN_IDS} == _CLEAN_IDS
