"""Strava bulk-export archives (``activities.csv`` + ``activities/``) and gzipped members,
read in memory with guards against hostile archives.

Nothing is extracted to disk, so a member path cannot overwrite anything; a member whose
path escapes the archive (absolute, ``..``) is still refused, since no honest export has one.
Size limits refuse zip bombs before they are inflated: the sizes the archive declares are
checked first, and reads are capped in case the declarations lie.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from connectors.files.limits import ArchiveLimits, check_activity_size
from connectors.files.strava_csv import CsvRow, is_activity_path, read_activities_csv
from connectors.files.summary import FileExtras, ParsedFile
from syncd.errors import InvalidFile

_CHUNK = 1 << 20
# Below this size a high ratio is harmless (and normal for short XML files).
_RATIO_FLOOR_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One activity inside an archive: its bytes, or a parsed CSV-only (manual) activity,
    or the reason it was refused."""

    name: str
    data: bytes | None = None
    extras: FileExtras | None = None
    parsed: ParsedFile | None = None
    error: str | None = None
    note: str | None = None


def is_activity_name(name: str) -> bool:
    """True for ``.fit``/``.gpx``/``.tcx`` names, gzipped or not (case-insensitive)."""
    return is_activity_path(name)


def gunzip(data: bytes, name: str, limits: ArchiveLimits) -> bytes:
    """Inflate a ``.gz`` file, refusing it (``InvalidFile``) past the size or ratio limits.

    Only activity files are gzipped, so an activity file's size limit applies too."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    try:
        pending = data
        while pending:
            out += inflater.decompress(pending, _CHUNK)
            check_activity_size(len(out), name, limits, inflated=True)
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
        export_csv = _read_csv(archive, label, limits)
        if export_csv.problem is not None:
            yield export_csv.problem
        inflated = 0
        for info in infos:
            row = export_csv.by_file.pop(_file_key(info.filename), None)
            extras = None if row is None else _extras(row, manual=False)
            member = _member(archive, info, label, limits, extras)
            inflated += len(member.data or b"")
            if inflated > limits.max_total_bytes:
                # gzipped members inflate past what the zip declares; the total still holds.
                member = ArchiveMember(member.name, error=f"{member.name}: the archive inflates "
                                       f"past {limits.max_total_bytes} bytes; refused")
            yield member
        yield from (_csv_member(label, row) for row in export_csv.without_file)
        # What the CSV still holds names files the archive lacks.
        yield from (_missing_file_member(label, row) for row in export_csv.by_file.values())


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
        if not info.filename.lower().endswith(".gz"):
            check_activity_size(info.file_size, name, limits)
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



def _file_key(member: str) -> str:
    """A member's key for matching it with the CSV's Filename (with or without ``.gz``: a
    re-zipped export may hold the file inflated)."""
    return _key(member).removesuffix(".gz")


@dataclass(slots=True)
class _ExportCsv:
    """What ``activities.csv`` says about the archive's activities."""

    by_file: dict[str, CsvRow] = field(default_factory=dict)
    without_file: list[CsvRow] = field(default_factory=list)
    problem: ArchiveMember | None = None


def _read_csv(archive: zipfile.ZipFile, label: str, limits: ArchiveLimits) -> _ExportCsv:
    """The CSV's rows by the file they name, and the rows naming none (manual entries)."""
    info = next((i for i in archive.infolist() if _key(i.filename) == "activities.csv"), None)
    if info is None:
        return _ExportCsv()
    name = f"{label}:{info.filename}"
    _check_declared(info, name, limits)
    text = _read_capped(archive, info, name, limits).decode("utf-8-sig", errors="replace")
    parsed = read_activities_csv(text)
    if parsed.problem is not None:
        return _ExportCsv(problem=ArchiveMember(name, error=(
            f"{name}: {parsed.problem}; the activity files were imported without the "
            "export's names, types and gear, and entries without a file were not imported "
            "(send this header line to the syncd project, or export again with Strava set "
            "to English)")))
    found = _ExportCsv()
    for row in parsed.rows:
        if row.file:
            found.by_file[_file_key(row.file)] = row
        else:
            found.without_file.append(row)
    return found


def _extras(row: CsvRow, *, manual: bool) -> FileExtras:
    return FileExtras(
        sport_type=row.sport_type, name=row.name, gear=row.gear, start_utc=row.start_utc,
        elapsed_s=row.elapsed_s, moving_s=row.moving_s, distance_m=row.distance_m,
        strava_id=row.strava_id, manual=manual,
    )


def _csv_member(label: str, row: CsvRow, *, note: str | None = None) -> ArchiveMember:
    """An activity known only by its CSV row: entered by hand (no file), or one whose file
    the archive lacks (``note`` says so). Refused when the row has no start or duration."""
    name = f"{label}:activities.csv#{row.strava_id or row.line}"
    if row.start_utc is None or not row.elapsed_s or row.elapsed_s < 0:
        return ArchiveMember(name, error=(
            f"{label}:activities.csv {row.label()}: no readable date or elapsed time, so "
            "the activity was not imported (enter it again, or export again)"))
    extras = _extras(row, manual=row.file is None)
    parsed = ParsedFile(format="csv", start_utc=row.start_utc, elapsed_s=row.elapsed_s,
                        sport_type=row.sport_type, moving_s=row.moving_s,
                        distance_m=row.distance_m)
    record = {"strava_id": row.strava_id, "type": row.sport_type,
              "start": row.start_utc.isoformat(), "elapsed_s": row.elapsed_s,
              "distance_m": row.distance_m}
    data = json.dumps(record, sort_keys=True).encode()
    return ArchiveMember(name, data=data, extras=extras, parsed=parsed, note=note)


def _missing_file_member(label: str, row: CsvRow) -> ArchiveMember:
    """A row whose file is not in the archive: imported from the row's totals, and said."""
    note = (f"{label}:activities.csv {row.label()}: {row.file} is not in the archive; "
            "imported from the CSV's totals (no run/walk split)")
    return _csv_member(label, row, note=note)
