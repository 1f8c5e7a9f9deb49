"""Reading files, folders and export archives into raw records, one failure per bad file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from connectors.base import RawRecord
from connectors.files.export import (
    ArchiveLimits,
    ArchiveMember,
    gunzip,
    is_activity_name,
    read_archive,
)
from connectors.files.fit import parse_fit
from connectors.files.gpx import parse_gpx
from connectors.files.runwalk import RUN_THRESHOLD_MPS
from connectors.files.summary import FileExtras, ParsedFile, build_payload
from connectors.files.tcx import parse_tcx
from syncd.errors import InvalidFile
from syncd.models import Gear

SOURCE_ID_HEX = 20
_PARSERS: dict[str, Callable[[bytes, str], ParsedFile]] = {
    ".fit": parse_fit,
    ".gpx": parse_gpx,
    ".tcx": parse_tcx,
}


@dataclass(slots=True)
class ImportBatch:
    """The outcome of reading some paths.

    ``records`` holds one record per distinct file content; ``failures`` lists
    ``(path, reason)`` for each file that could not be read (nothing of it is in
    ``records``); ``duplicates`` lists the paths skipped because a file with the same content
    came earlier; ``gear`` the shoes named by an export's CSV.
    """

    records: list[RawRecord] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    gear: list[Gear] = field(default_factory=list)
    seen: set[str] = field(default_factory=set, repr=False)


def content_id(data: bytes) -> str:
    """The record id of a file: the first 20 hex digits of its content's sha256."""
    return hashlib.sha256(data).hexdigest()[:SOURCE_ID_HEX]


def is_importable(path: Path) -> bool:
    """True for activity files (``.fit``/``.gpx``/``.tcx``, gzipped or not) and ``.zip``."""
    name = path.name
    return not name.startswith(".") and (is_activity_name(name) or name.lower().endswith(".zip"))


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """Files given, and importable files under folders given (recursively, sorted)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and is_importable(p))
        else:
            yield path


class FileReader:
    """Reads activity files into :class:`ImportBatch` records with one clock and threshold."""

    def __init__(
        self,
        now: Callable[[], datetime],
        *,
        threshold: float = RUN_THRESHOLD_MPS,
        limits: ArchiveLimits | None = None,
    ) -> None:
        self.now = now
        self.threshold = threshold
        self.limits = limits or ArchiveLimits()

    def read_paths(self, paths: Iterable[Path]) -> ImportBatch:
        """Read files, folders (recursively) and export zips into one batch."""
        batch = ImportBatch()
        for path in walk(Path(p) for p in paths):
            try:
                data = path.read_bytes()
            except OSError as err:
                batch.failures.append((str(path), f"{path}: cannot be read ({err.strerror})"))
                continue
            self.read_data(data, path, batch)
        return batch

    def read_data(self, data: bytes, path: Path, batch: ImportBatch) -> None:
        """Add one file's content (an activity file or an export zip) to ``batch``."""
        if path.name.lower().endswith(".zip"):
            self._read_archive(data, str(path), batch)
            return
        try:
            if path.name.lower().endswith(".gz"):
                data = gunzip(data, str(path), self.limits)
            self._add(data, path.name, str(path), batch)
        except InvalidFile as err:
            batch.failures.append((str(path), str(err)))

    def _read_archive(self, data: bytes, label: str, batch: ImportBatch) -> None:
        try:
            for member in read_archive(data, label, self.limits):
                self._add_member(member, batch)
        except InvalidFile as err:
            batch.failures.append((label, str(err)))

    def _add_member(self, member: ArchiveMember, batch: ImportBatch) -> None:
        if member.error is not None or member.data is None:
            batch.failures.append((member.name, member.error or f"{member.name}: empty"))
            return
        try:
            self._add(member.data, member.name, member.name, batch, member.extras, member.parsed)
        except InvalidFile as err:
            batch.failures.append((member.name, str(err)))
            return
        gear = member.extras.gear if member.extras else None
        if gear and all(g.id != gear for g in batch.gear):
            batch.gear.append(Gear(id=gear, name=gear))

    def _add(
        self, data: bytes, file_name: str, where: str, batch: ImportBatch,
        extras: FileExtras | None = None, parsed: ParsedFile | None = None,
    ) -> None:
        """Parse and append one activity, unless the same content came earlier."""
        digest = hashlib.sha256(data).hexdigest()
        source_id = digest[:SOURCE_ID_HEX]
        if source_id in batch.seen:
            batch.duplicates.append(where)
            return
        parsed = parsed or self.parse(data, where)
        payload = build_payload(parsed, file_name, digest, now=self.now(), extras=extras,
                                threshold=self.threshold)
        batch.seen.add(source_id)
        batch.records.append(RawRecord(source_id, payload))

    def parse(self, data: bytes, file_name: str) -> ParsedFile:
        """Parse one (already gunzipped) activity file by its name's suffix."""
        suffix = Path(file_name.lower().removesuffix(".gz")).suffix
        parser = _PARSERS.get(suffix)
        if parser is None:
            raise InvalidFile(f"{file_name}: not a FIT, GPX, TCX or zip file",
                              hint="syncd imports .fit, .gpx, .tcx (optionally .gz) and .zip")
        try:
            return parser(data, file_name)
        except InvalidFile:
            raise
        except Exception as err:
            # Third-party parsers meet hostile and broken files; whatever they raise, one bad
            # file must stay one failure and never end the import or the poll.
            raise InvalidFile(f"{file_name}: could not be parsed ({type(err).__name__}: {err})",
                              hint="check that the file is a complete activity export") from err
