"""The files source: FIT, GPX and TCX files and Strava export archives, from watched folders
or imported once with ``syncd import``.

A watched folder is scanned on every poll. The cursor remembers each file's size,
modification time and content hash, so an unchanged file is not read again, a changed one
is, and a copy of a file already seen (same content) is skipped. A file removed from a
watched folder is **not** deleted from the history: the folder is an inbox, not a mirror.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from connectors.base import Connector, ConnectorContext, FetchResult, RawRecord
from connectors.files.limits import ArchiveLimits, read_limited
from connectors.files.reader import FileReader, ImportBatch, content_id, walk
from connectors.files.runwalk import RUN_THRESHOLD_MPS
from connectors.files.summary import activity_from_payload
from syncd.errors import InvalidFile
from syncd.models import Activity

__all__ = ["ArchiveLimits", "FilesConnector", "ImportBatch"]

CURSOR_VERSION = 1
# The id a cursor keeps for a file refused before it was read (a link, too large): an
# unchanged one is not reported again on every poll.
_REFUSED = "refused"
# path -> [size, mtime_ns, source id of the content]
_Seen = dict[str, list[Any]]


class FilesConnector(Connector):
    """Activity files as a source: ``settings.watch`` lists the folders to scan.

    Optional settings: ``run_threshold_mps`` (default 1.9), ``max_file_mb`` and
    ``max_points`` (the limits of one activity file), or ``archive_limits``
    (:class:`ArchiveLimits`, all limits at once). ``settings`` may be ``None`` (no watched
    folder: imports only).
    """

    name = "files"

    def __init__(self, settings: Any, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.reader = FileReader(
            context.now,
            threshold=float(getattr(settings, "run_threshold_mps", None) or RUN_THRESHOLD_MPS),
            limits=getattr(settings, "archive_limits", None) or limits_from(settings),
        )

    @property
    def watch_folders(self) -> list[Path]:
        """The configured folders (``~`` expanded), in the configured order."""
        watch = getattr(self.settings, "watch", None) or []
        if isinstance(watch, str | Path):
            watch = [watch]
        return [Path(folder).expanduser() for folder in watch]

    def read_paths(self, paths: Iterable[Path]) -> ImportBatch:
        """Read files, folders (recursively) and Strava export zips once, for ``syncd import``.

        Returns the records, the ``(path, reason)`` of each file that failed (nothing of it is
        returned) and the paths skipped as duplicates of an earlier file in the batch.
        """
        return self.reader.read_paths(paths)

    def fetch(self, cursor: str | None, *, since: date | None = None) -> FetchResult:
        """Read the files in the watched folders that are new or changed since ``cursor``.

        ``since`` re-reads every file and returns those that started on or after that local
        date. A missing folder or an unreadable file is a failure; the rest goes on.
        """
        known = {} if since is not None else decode_cursor(cursor)
        known_ids = {entry[2] for entry in known.values()}
        batch = ImportBatch()
        seen: _Seen = {}
        for path, error in self._scan():
            if error is not None:
                batch.failures.append((str(path), error))
                continue
            self._visit(path, known, known_ids, seen, batch)
        records = batch.records if since is None else self._since(batch.records, since)
        return FetchResult(records=records, cursor=encode_cursor(seen),
                           failures=batch.failures, gear=batch.gear)

    def normalize(self, record: RawRecord) -> Activity:
        """Build the Activity from a record's payload (the parsed summary of one file)."""
        if not isinstance(record.payload, dict):
            raise InvalidFile(f"file record {record.source_id} has no summary",
                              hint="import the file again")
        return activity_from_payload(record.payload, record.source_id,
                                     athlete=self.context.athlete,
                                     timezone=self.context.timezone)

    def _scan(self) -> Iterator[tuple[Path, str | None]]:
        for folder in self.watch_folders:
            if not folder.is_dir():
                yield folder, (f"{folder}: watched folder does not exist or is not a folder; "
                               "create it or fix [files] watch")
                continue
            for path in walk([folder]):
                yield path, None

    def _visit(
        self, path: Path, known: _Seen, known_ids: set[str], seen: _Seen, batch: ImportBatch
    ) -> None:
        """Read one file unless the cursor shows it unchanged, or its content was seen.

        A symbolic link is never followed (it could reach another athlete's folder), and a
        file refused for a link or its size is reported once, until it changes."""
        key = str(path.absolute() if path.is_symlink() else path.resolve())
        try:
            stat = path.lstat()
            entry = known.get(key)
            if entry and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
                seen[key] = entry
                return
        except OSError as err:
            batch.failures.append((str(path), f"{path}: cannot be read ({err.strerror})"))
            return
        try:
            data = read_limited(path, self.reader.limits, follow_symlinks=False)
        except InvalidFile as err:
            batch.failures.append((str(path), str(err)))
            seen[key] = [stat.st_size, stat.st_mtime_ns, _REFUSED]
            return
        except OSError as err:
            batch.failures.append((str(path), f"{path}: cannot be read ({err.strerror})"))
            return
        file_id = content_id(data)
        seen[key] = [stat.st_size, stat.st_mtime_ns, file_id]
        if file_id in known_ids:
            batch.duplicates.append(str(path))  # touched, copied or renamed: same content
            return
        self.reader.read_data(data, path, batch)

    def _since(self, records: list[RawRecord], since: date) -> list[RawRecord]:
        kept = []
        for record in records:
            if self.normalize(record).local_start.date() >= since:
                kept.append(record)
        return kept


def limits_from(settings: Any) -> ArchiveLimits:
    """The limits ``[files] max_file_mb`` and ``max_points`` set (defaults where unset)."""
    defaults = ArchiveLimits()
    max_mb = getattr(settings, "max_file_mb", None)
    max_points = getattr(settings, "max_points", None)
    return replace(
        defaults,
        max_activity_bytes=int(max_mb * 2**20) if max_mb else defaults.max_activity_bytes,
        max_activity_points=int(max_points) if max_points else defaults.max_activity_points,
    )


def decode_cursor(cursor: str | None) -> _Seen:
    """The files a cursor remembers; an unreadable or foreign cursor remembers nothing
    (every file is read again, and the store's upsert makes that harmless)."""
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
        files = state["files"] if state.get("v") == CURSOR_VERSION else {}
        return {str(k): list(v) for k, v in files.items() if isinstance(v, list) and len(v) == 3}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def encode_cursor(seen: _Seen) -> str:
    """A compact JSON cursor: ``{"v": 1, "files": {path: [size, mtime_ns, id]}}``."""
    return json.dumps({"v": CURSOR_VERSION, "files": dict(sorted(seen.items()))},
                      separators=(",", ":"))
