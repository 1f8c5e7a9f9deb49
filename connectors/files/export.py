"""Strava bulk-export archives (``activities.csv`` + ``activities/``) and gzipped members,
read in memory with guards against hostile archives.

Nothing is extracted to disk, so a member path cannot overwrite anything; a member whose
path escapes the archive (absolute, ``..``) is still refused, since no honest export has one.
Size limits refuse zip bombs before they are inflated: the sizes the archive declares are
checked first, and reads are capped in case the declarations lie.
"""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath

from connectors.files.summary import FileExtras, ParsedFile
from syncd.errors import InvalidFile

ACTIVITY_SUFFIXES = (".fit", ".gpx", ".tcx")
_CHUNK = 1 << 20
# Below this size a high ratio is harmless (and normal for short XML files).
_RATIO_FLOOR_BYTES = 1 << 20
_DATE_FORMATS = ("%b %d, %Y, %I:%M:%S %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """How much an archive or a gzipped file may inflate to."""

    max_total_bytes: int = 1 << 30
    max_member_bytes: int = 256 << 20
    max_ratio: float = 100.0
    max_members: int = 50_000


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One activity inside an archive: its bytes, or a parsed CSV-only (manual) activity,
    or the reason it was refused."""

    name: str
    data: bytes | None = None
    extras: FileExtras | None = None
    parsed: ParsedFile | None = None
    error: str | None = None


def is_activity_name(name: str) -> bool:
    """True for ``.fit``/``.gpx``/``.tcx`` names, gzipped or not (case-insensitive)."""
    lower = name.lower().removesuffix(".gz")
    return lower.endswith(ACTIVITY_SUFFIXES)


def gunzip(data: bytes, name: str, limits: ArchiveLimits) -> bytes:
    """Inflate a ``.gz`` file, refusing it (``InvalidFile``) past the size or ratio limits."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    try:
        pending = data
        while pending:
            out += inflater.decompress(pending, _CHUNK)
            _check_inflated(len(out), len(data), name, limits)
            pending = inflater.unconsumed_tail
        out += inflater.flush()
    except zlib.error as err:
        raise InvalidFile(f"{name}: not a readable gzip file ({err})") from err
    _check_inflated(len(out), len(data), name, limits)
    if not inflater.eof:
        raise InvalidFile(f"{name}: gzip file is truncated", hint="copy the file again")
    return bytes(out)


def read_archive(data: bytes, label: str, limits: ArchiveLimits) -> Iterator[ArchiveMember]:
    """Yield the activities in an export zip, one member at a time.

    Raises :class:`InvalidFile` when the archive as a whole is unreadable or too large; a
    refused member is yielded with its ``error`` and the others go on.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    # NotImplementedError: a damaged directory claiming a zip version from the future.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, NotImplementedError,
            EOFError, OSError) as err:
        raise InvalidFile(f"{label}: not a readable zip archive ({err})") from err
    with archive:
        infos = _activity_infos(archive, label, limits)
        extras, manual = _csv_rows(archive, label, limits)
        inflated = 0
        for info in infos:
            member = _member(archive, info, label, limits, extras.get(_key(info.filename)))
            inflated += len(member.data or b"")
            if inflated > limits.max_total_bytes:
                # gzipped members inflate past what the zip declares; the total still holds.
                member = ArchiveMember(member.name, error=f"{member.name}: the archive inflates "
                                       f"past {limits.max_total_bytes} bytes; refused")
            yield member
        yield from (_manual_member(label, row_id, row) for row_id, row in manual)


def _activity_infos(
    archive: zipfile.ZipFile, label: str, limits: ArchiveLimits
) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        raise InvalidFile(f"{label}: {len(infos)} members, more than the {limits.max_members} "
                          "allowed; refused as a possible zip bomb")
    has_csv = any(_key(i.filename) == "activities.csv" for i in infos)
    chosen = [i for i in infos if not i.is_dir() and is_activity_name(i.filename)]
    if has_csv:
        # Strava exports also hold planned routes (GPX without times): only activities count.
        chosen = [i for i in chosen if _escapes(i.filename)
                  or _key(i.filename).startswith("activities/")]
    # Only what will be read counts: photos and other media are never inflated.
    declared = sum(i.file_size for i in chosen) + sum(
        i.file_size for i in infos if _key(i.filename) == "activities.csv")
    if declared > limits.max_total_bytes:
        raise InvalidFile(f"{label}: would inflate to {declared} bytes, more than the "
                          f"{limits.max_total_bytes} allowed; refused as a possible zip bomb")
    return chosen


def _member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, limits: ArchiveLimits,
    extras: FileExtras | None,
) -> ArchiveMember:
    name = f"{label}:{info.filename}"
    if _escapes(info.filename):
        return ArchiveMember(name, error=f"{name}: member path escapes the archive; refused")
    try:
        _check_declared(info, name, limits)
        data = _read_capped(archive, info, name, limits)
        if info.filename.lower().endswith(".gz"):
            data = gunzip(data, name, limits)
    except InvalidFile as err:
        return ArchiveMember(name, error=str(err))
    return ArchiveMember(name, data=data, extras=extras)


def _check_declared(info: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> None:
    _check_inflated(info.file_size, info.compress_size, name, limits)


def _check_inflated(size: int, packed: int, name: str, limits: ArchiveLimits) -> None:
    if size > limits.max_member_bytes:
        raise InvalidFile(f"{name}: inflates past {limits.max_member_bytes} bytes; "
                          "refused as a possible zip bomb")
    if size > _RATIO_FLOOR_BYTES and size > limits.max_ratio * max(packed, 1):
        raise InvalidFile(f"{name}: compression ratio above {limits.max_ratio:g}; "
                          "refused as a possible zip bomb")


def _read_capped(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, limits: ArchiveLimits
) -> bytes:
    """Read a member, never past its declared size or the member limit."""
    cap = min(info.file_size, limits.max_member_bytes)
    try:
        with archive.open(info) as stream:
            data = stream.read(cap + 1)
    # ValueError: a damaged local header (a name that is not UTF-8, an offset before the
    # start of the file) that the central directory did not show.
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError,
            ValueError) as err:
        raise InvalidFile(f"{name}: unreadable archive member ({err})") from err
    if len(data) > cap:
        raise InvalidFile(f"{name}: larger than the archive declares; refused")
    return data


def _escapes(member: str) -> bool:
    path = member.replace("\\", "/")
    return path.startswith("/") or ".." in PurePosixPath(path).parts or ":" in path.split("/")[0]


def _key(member: str) -> str:
    return member.replace("\\", "/").lstrip("./").lower()


def _csv_rows(
    archive: zipfile.ZipFile, label: str, limits: ArchiveLimits
) -> tuple[dict[str, FileExtras], list[tuple[str, FileExtras]]]:
    """Extras by member path, and the rows without a file (manual activities)."""
    info = next((i for i in archive.infolist() if _key(i.filename) == "activities.csv"), None)
    if info is None:
        return {}, []
    name = f"{label}:{info.filename}"
    _check_declared(info, name, limits)
    text = _read_capped(archive, info, name, limits).decode("utf-8-sig", errors="replace")
    return parse_activities_csv(text)


def parse_activities_csv(text: str) -> tuple[dict[str, FileExtras], list[tuple[str, FileExtras]]]:
    """Read Strava's ``activities.csv``: extras keyed by the lower-cased ``Filename``, and the
    ``(Activity ID, extras)`` of rows with no file. Unreadable rows are skipped."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, [])
    columns = _columns(header)
    by_file: dict[str, FileExtras] = {}
    manual: list[tuple[str, FileExtras]] = []
    for row in rows:
        extras = _row_extras(row, columns)
        file_name = _cell(row, columns, "filename")
        if file_name:
            by_file[_key(file_name)] = extras
        elif extras.start_utc is not None and extras.elapsed_s:
            manual.append((extras.strava_id or str(len(manual)), extras))
    return by_file, manual


def _columns(header: list[str]) -> dict[str, list[int]]:
    """Column indexes by lower-cased name; the export repeats some names (Distance in km,
    then in metres), so every index is kept."""
    columns: dict[str, list[int]] = {}
    for index, title in enumerate(header):
        columns.setdefault(title.strip().lower(), []).append(index)
    return columns


def _cell(row: list[str], columns: dict[str, list[int]], title: str, nth: int = 0) -> str:
    indexes = columns.get(title, [])
    if nth >= len(indexes) or indexes[nth] >= len(row):
        return ""
    return row[indexes[nth]].strip()


def _row_extras(row: list[str], columns: dict[str, list[int]]) -> FileExtras:
    distance = _number(_cell(row, columns, "distance", 1))
    if distance is None:
        km = _number(_cell(row, columns, "distance"))
        distance = None if km is None else km * 1000
    file_name = _cell(row, columns, "filename")
    return FileExtras(
        sport_type=_cell(row, columns, "activity type") or None,
        name=_cell(row, columns, "activity name") or None,
        gear=_cell(row, columns, "activity gear") or None,
        start_utc=_date(_cell(row, columns, "activity date")),
        elapsed_s=_number(_cell(row, columns, "elapsed time")),
        moving_s=_number(_cell(row, columns, "moving time")),
        distance_m=distance,
        strava_id=_cell(row, columns, "activity id") or None,
        manual=not file_name,
    )


def _manual_member(label: str, row_id: str, extras: FileExtras) -> ArchiveMember:
    """A CSV row with no file: an activity entered by hand, known only by its totals."""
    assert extras.start_utc is not None and extras.elapsed_s is not None
    parsed = ParsedFile(
        format="csv",
        start_utc=extras.start_utc,
        elapsed_s=extras.elapsed_s,
        sport_type=extras.sport_type,
        moving_s=extras.moving_s,
        distance_m=extras.distance_m,
    )
    row = {"strava_id": row_id, "type": extras.sport_type, "start": extras.start_utc.isoformat(),
           "elapsed_s": extras.elapsed_s, "distance_m": extras.distance_m}
    data = json.dumps(row, sort_keys=True).encode()
    return ArchiveMember(f"{label}:activities.csv#{row_id}", data=data, extras=extras,
                         parsed=parsed)


def _date(text: str) -> datetime | None:
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "")) if text else None
    except ValueError:
        return None
    # "nan" or "1e999" in a cell is no time or distance (and must not reach the JSON payload).
    return value if value is not None and math.isfinite(value) else None
