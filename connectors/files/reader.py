"""Reading files, folders and export archives into raw records, one failure per bad file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
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
from connectors.files.fit import parse_fit_legs
from connectors.files.gpx import parse_gpx
from connectors.files.limits import (
    check_activity_points,
    check_activity_size,
    read_limited,
    refuse_points,
)
from connectors.files.runwalk import RUN_THRESHOLD_MPS
from connectors.files.strava_types import csv_type_name
from connectors.files.summary import FileExtras, ParsedFile, build_payload, family_of
from connectors.files.tcx import parse_tcx_activities
from syncd.errors import InvalidFile
from syncd.models import Gear

SOURCE_ID_HEX = 20
_PARSERS: dict[str, Callable[[bytes, str], list[ParsedFile]]] = {
    ".fit": parse_fit_legs,
    ".gpx": lambda data, name: [parse_gpx(data, name)],
    ".tcx": parse_tcx_activities,
}


@dataclass(slots=True)
class ImportBatch:
    """The outcome of reading some paths.

    ``records`` holds one record per activity of each distinct file content (a multisport
    file gives one per leg, see :func:`leg_id`); ``failures`` lists
    ``(path, reason)`` for each file that could not be read (nothing of it is in
    ``records``); ``duplicates`` lists the paths skipped because a file with the same content
    came earlier; ``gear`` the shoes named by an export's CSV; ``seen`` the content ids
    (:func:`content_id`) read so far.
    """

    records: list[RawRecord] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    gear: list[Gear] = field(default_factory=list)
    # (where, what) said of activities imported with less than their file: the CSV's totals
    # stood in for a file missing from an export.
    notes: list[tuple[str, str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set, repr=False)


def content_id(data: bytes) -> str:
    """The id of a file: the first 20 hex digits of its content's sha256."""
    return hashlib.sha256(data).hexdigest()[:SOURCE_ID_HEX]


def leg_id(file_id: str, leg: int) -> str:
    """The record id of one activity of a file whose :func:`content_id` is ``file_id``.

    A file's first leg (and so every single-activity file) is the file id itself, as it was
    before files could hold several activities, so existing records keep their ids. Leg
    ``n`` >= 2 is ``<file id>-<n>``, ``n`` counting the file's own legs in order: a FIT
    file's sessions, transitions included (a triathlon's run, after swim, T1, bike and T2, is
    ``-5``), a TCX file's ``Activity`` elements (its transitions are laps, not activities).
    The number is a fact of the file, so an id never moves when syncd changes what it keeps.
    """
    return file_id if leg == 1 else f"{file_id}-{leg}"


def is_importable(path: Path) -> bool:
    """True for activity files (``.fit``/``.gpx``/``.tcx``, gzipped or not) and ``.zip``."""
    name = path.name
    return not name.startswith(".") and (is_activity_name(name) or name.lower().endswith(".zip"))


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """Files given, and importable files under folders given (recursively, sorted).

    Symbolic links inside a folder are listed too (files and folders alike, never followed),
    so that the reader can say it skipped them.
    """
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if _listed(p))
        else:
            yield path


def _listed(path: Path) -> bool:
    if path.is_symlink():
        return not path.name.startswith(".") and (path.is_dir() or is_importable(path))
    return path.is_file() and is_importable(path)


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
        given = [Path(p) for p in paths]
        for path in walk(given):
            # A link named on the command line is the user's choice; one inside a folder is not.
            data = self.read_file(path, batch, follow_symlinks=path in given)
            if data is not None:
                self.read_data(data, path, batch)
        return batch

    def read_file(self, path: Path, batch: ImportBatch, *, follow_symlinks: bool) -> bytes | None:
        """A file's bytes, or ``None`` with its failure in ``batch`` (a link not followed, a
        file past the size limit, an unreadable file)."""
        try:
            return read_limited(path, self.limits, follow_symlinks=follow_symlinks)
        except InvalidFile as err:
            batch.failures.append((str(path), str(err)))
        except OSError as err:
            batch.failures.append((str(path), f"{path}: cannot be read ({err.strerror})"))
        return None

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
        if member.note is not None:
            batch.notes.append((member.name, member.note))
        gear = member.extras.gear if member.extras else None
        if gear and all(g.id != gear for g in batch.gear):
            batch.gear.append(Gear(id=gear, name=gear))

    def _add(
        self, data: bytes, file_name: str, where: str, batch: ImportBatch,
        extras: FileExtras | None = None, parsed: ParsedFile | None = None,
    ) -> None:
        """Parse and append a file's activities (all or none), unless the same content came
        earlier."""
        digest = hashlib.sha256(data).hexdigest()
        file_id = digest[:SOURCE_ID_HEX]
        if file_id in batch.seen:
            batch.duplicates.append(where)
            return
        legs = [parsed] if parsed is not None else self.parse(data, where)
        refuse_points(sum(len(leg.track) for leg in legs), where, self.limits)
        if len(legs) == 1 and extras is not None and csv_type_name(extras.sport_type):
            # An export's row is the athlete's own word on the sport (edited on Strava, or a
            # treadmill run recorded as a ride), whatever type the file carries.
            legs[0].sport_type = extras.sport_type
        records = []
        for leg in legs:
            payload = build_payload(leg, file_name, digest, now=self.now(),
                                    extras=_for_leg(extras, leg, len(legs)),
                                    threshold=self.threshold)
            if len(legs) > 1 or leg.leg > 1:
                payload["leg"] = leg.leg
            records.append(RawRecord(leg_id(file_id, leg.leg), payload))
        batch.seen.add(file_id)
        batch.records.extend(records)

    def parse(self, data: bytes, file_name: str) -> list[ParsedFile]:
        """Parse one (already gunzipped) activity file by its name's suffix: one
        :class:`ParsedFile` per activity it holds (several for a multisport file)."""
        suffix = Path(file_name.lower().removesuffix(".gz")).suffix
        parser = _PARSERS.get(suffix)
        if parser is None:
            raise InvalidFile(f"{file_name}: not a FIT, GPX, TCX or zip file",
                              hint="syncd imports .fit, .gpx, .tcx (optionally .gz) and .zip")
        check_activity_size(len(data), file_name, self.limits)
        check_activity_points(data, file_name, self.limits)
        try:
            return parser(data, file_name)
        except InvalidFile:
            raise
        except Exception as err:
            # Third-party parsers meet hostile and broken files; whatever they raise, one bad
            # file must stay one failure and never end the import or the poll.
            raise InvalidFile(f"{file_name}: could not be parsed ({type(err).__name__}: {err})",
                              hint="check that the file is a complete activity export") from err


def _for_leg(extras: FileExtras | None, leg: ParsedFile, legs: int) -> FileExtras | None:
    """What an export's CSV row says of one leg of a multisport file: its name and Strava id.
    Its sport and totals describe the whole file, and its gear (shoes) only the legs on foot:
    a ride must not wear out the running shoes."""
    if extras is None or legs == 1:
        return extras
    on_foot = family_of(leg.sport_type) in ("run", "walk", "hike")
    return replace(extras, sport_type=None, start_utc=None, elapsed_s=None, moving_s=None,
                   distance_m=None, gear=extras.gear if on_foot else None)
