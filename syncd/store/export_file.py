"""The file an athlete's export is: a zip of JSON files, one per kind of record, and a
manifest. Written atomically and privately (it holds health data), read back with limits, so
that a damaged, foreign or oversized file is refused by name instead of half read.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from syncd.errors import InvalidFile, SyncdError
from syncd.models import utc_iso

FORMAT = "syncd-athlete-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
# The kinds of an export, in the order they are written; each is the JSON file ``<kind>.json``.
KINDS = ("athlete", "activities", "pain_reports", "gear", "alerts", "alert_events",
         "deliveries", "sync_state", "invites", "credentials", "consents")
# Kinds an export written before them lacks: read as empty.
LATER_KINDS = frozenset({"consents"})
# Raw records make activities.json by far the largest member: this is well above years of
# history, and still stops a small zip that would unpack to gigabytes.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
CREDENTIALS_NOTE = (
    "Credential values (access and refresh tokens, the Strava webhook inbox) are not "
    "included: credentials.json lists only their names and when they last changed. Connect "
    "the athlete's accounts again after an import."
)


def utc_text(moment: datetime) -> str:
    """``moment`` as :func:`utc_iso` writes it, with microseconds when it has any, so that
    an import restores the very instant."""
    text = utc_iso(moment)
    return f"{text[:-1]}.{moment.microsecond:06d}Z" if moment.microsecond else text


class InvalidExport(InvalidFile):
    """A file is not a syncd athlete export this syncd can read (foreign, newer, damaged)."""


def write_export(data: Mapping[str, Any], path: str | Path, *,
                 now: datetime | None = None) -> Path:
    """Write ``data`` (from :func:`export_athlete`) to the zip file ``path``: one JSON file
    per kind plus ``manifest.json``. The file is replaced atomically and readable by its
    owner only (it holds health data). Raises :class:`SyncdError` when it cannot be written."""
    path = Path(path)
    members = {MANIFEST: _manifest(data, now or datetime.now(UTC))}
    members.update({f"{kind}.json": data[kind] for kind in KINDS})
    try:
        # mkstemp creates the file with mode 0600, which the rename keeps.
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part",
                                             dir=path.parent)
    except OSError as err:
        raise _unwritable(path, err) from err
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as file:
            with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, content in members.items():
                    archive.writestr(name, json.dumps(content, ensure_ascii=False, indent=1))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except OSError as err:
        temp.unlink(missing_ok=True)
        raise _unwritable(path, err) from err
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _unwritable(path: Path, err: OSError) -> SyncdError:
    """The error for an export file that cannot be written."""
    return SyncdError(f"cannot write {path}: {err.strerror or err}",
                      hint="choose a folder that exists, that you can write to, with free space")


def _sync_folder(folder: Path) -> None:
    """Make the rename durable (some file systems cannot sync a folder: then skip it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _manifest(data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """What the zip holds and who wrote it."""
    counts = {kind: len(data[kind]) for kind in KINDS if kind != "athlete"}
    counts["segments"] = sum(len(a.get("segments", ())) for a in data["activities"])
    counts["delivery_attempts"] = sum(len(d.get("attempt_log", ())) for d in data["deliveries"])
    return {"format": FORMAT, "format_version": FORMAT_VERSION,
            "syncd_version": _syncd_version(), "exported_at": utc_text(now),
            "athlete": data["athlete"]["name"], "files": [f"{kind}.json" for kind in KINDS],
            "counts": counts, "credentials": CREDENTIALS_NOTE}


def _syncd_version() -> str:
    """The installed syncd's version (``unknown`` when run from a bare source tree)."""
    try:
        return version("syncd")
    except PackageNotFoundError:
        return "unknown"


def read_export(path: str | Path, *, max_member_bytes: int = MAX_MEMBER_BYTES) -> dict[str, Any]:
    """The data of the export zip at ``path`` (as :func:`export_athlete` returned it) plus
    its ``manifest``. Raises :class:`InvalidExport`, naming the file, for a file that is not
    a syncd athlete export, has an unknown format version, is damaged, or has a member that
    would unpack to more than ``max_member_bytes``."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = _member(archive, path, MANIFEST, max_member_bytes)
            _check_manifest(manifest, path)
            names = set(archive.namelist())
            data = {kind: _member(archive, path, f"{kind}.json", max_member_bytes)
                    if kind not in LATER_KINDS or f"{kind}.json" in names else []
                    for kind in KINDS}
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
        raise InvalidExport(f"{path} is damaged or not a zip file ({err})",
                            hint="export the athlete again") from err
    except OSError as err:
        raise InvalidExport(f"cannot read {path}: {err.strerror or err}") from err
    for kind in KINDS:
        problem = shape_problem(data, kind)
        if problem:
            raise InvalidExport(f"{path} is damaged: {problem}", hint="export the athlete again")
    data["manifest"] = manifest
    return data


def _member(archive: zipfile.ZipFile, path: Path, name: str, limit: int) -> Any:
    """The parsed JSON member ``name``, read no further than ``limit`` bytes."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        if name == MANIFEST:
            raise InvalidExport(f"{path} is not a syncd athlete export (it has no {MANIFEST})",
                                hint="syncd athletes export writes such files") from None
        raise InvalidExport(f"{path} is damaged: {name} is missing",
                            hint="export the athlete again") from None
    if info.flag_bits & 0x1:
        raise InvalidExport(f"{path} is not a syncd athlete export ({name} is encrypted)")
    # The size in the header may lie: read one byte past the limit to know.
    with archive.open(info) as member:
        content = member.read(limit + 1)
    if max(info.file_size, len(content)) > limit:
        raise InvalidExport(f"{path}: {name} unpacks to more than {limit} bytes, more than "
                            "a syncd athlete export holds",
                            hint="the file is damaged or is no syncd export")
    try:
        return json.loads(content)
    except ValueError as err:
        raise InvalidExport(f"{path} is damaged: {name} is not JSON ({err})",
                            hint="export the athlete again") from err


def _check_manifest(manifest: Any, path: Path) -> None:
    """Refuse a foreign manifest or a format version this syncd cannot read."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InvalidExport(f"{path} is not a syncd athlete export ({MANIFEST} says nothing "
                            f"of {FORMAT})", hint="syncd athletes export writes such files")
    found = manifest.get("format_version")
    if found != FORMAT_VERSION:
        writer = manifest.get("syncd_version")
        raise InvalidExport(
            f"{path} is a syncd athlete export of format version {found}, which syncd "
            f"{_syncd_version()} cannot read (it reads version {FORMAT_VERSION})",
            hint=f"import it with syncd {writer} or newer" if writer else
            "import it with the syncd that wrote it")


def shape_problem(data: Mapping[str, Any], kind: str) -> str | None:
    """What is wrong with the shape of ``data[kind]``, or ``None``."""
    value = data.get(kind)
    if kind == "athlete":
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            return "athlete.json is not an athlete with a name"
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        return f"{kind}.json is not a list of entries"
    return None
