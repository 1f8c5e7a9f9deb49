"""Watched folders: new and changed files are read on the next fetch, unchanged ones are not."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest

from connectors.files import FilesConnector
from connectors.files.reader import content_id
from tests.connectors.files_support import HISTORY, make_context

RUN_A = HISTORY / "2026-10-05-run.fit"
RUN_B = HISTORY / "2026-10-07-run.fit"
WALK = HISTORY / "2026-09-07-walk.gpx"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    (folder / "watch").mkdir(parents=True)
    return folder


@pytest.fixture
def watcher(inbox: Path) -> FilesConnector:
    return FilesConnector(SimpleNamespace(watch=[str(inbox)], poll_interval=300), make_context())


def drop(source: Path, inbox: Path, name: str | None = None) -> Path:
    return Path(shutil.copy2(source, inbox / (name or source.name)))


def ids(result) -> list[str]:
    return [r.source_id for r in result.records]


def test_new_file_is_picked_up_with_the_old_cursor(watcher: FilesConnector, inbox: Path) -> None:
    drop(RUN_A, inbox)
    first = watcher.fetch(None)
    assert ids(first) == [content_id(RUN_A.read_bytes())]
    drop(WALK, inbox / "watch")  # subfolders are watched too
    second = watcher.fetch(first.cursor)
    assert ids(second) == [content_id(WALK.read_bytes())]


def test_cursor_remembers_size_mtime_and_hash(watcher: FilesConnector, inbox: Path) -> None:
    path = drop(RUN_A, inbox)
    cursor = json.loads(watcher.fetch(None).cursor or "")
    stat = path.stat()
    assert cursor == {"v": 1, "files": {
        str(path.resolve()): [stat.st_size, stat.st_mtime_ns, content_id(RUN_A.read_bytes())]}}


def test_unchanged_file_is_not_read_again(watcher: FilesConnector, inbox: Path) -> None:
    path = drop(RUN_A, inbox)
    first = watcher.fetch(None)
    # Same size and mtime, different bytes: only a re-read could notice, and none happens.
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    second = watcher.fetch(first.cursor)
    assert (second.records, second.failures) == ([], [])
    assert second.cursor == first.cursor


def test_changed_file_is_read_again(watcher: FilesConnector, inbox: Path) -> None:
    path = drop(RUN_A, inbox, "today.fit")
    first = watcher.fetch(None)
    shutil.copyfile(RUN_B, path)
    os.utime(path, ns=(1_900_000_000_000_000_000, 1_900_000_000_000_000_000))
    second = watcher.fetch(first.cursor)
    assert ids(second) == [content_id(RUN_B.read_bytes())]


def test_touched_or_copied_file_with_known_content_is_skipped(watcher: FilesConnector,
                                                              inbox: Path) -> None:
    path = drop(RUN_A, inbox)
    first = watcher.fetch(None)
    os.utime(path, ns=(1_900_000_000_000_000_000, 1_900_000_000_000_000_000))
    drop(RUN_A, inbox, "copy-of-run.fit")
    second = watcher.fetch(first.cursor)
    assert second.records == []
    assert len(json.loads(second.cursor or "")["files"]) == 2


def test_removed_file_leaves_the_history_alone(watcher: FilesConnector, inbox: Path) -> None:
    path = drop(RUN_A, inbox)
    first = watcher.fetch(None)
    path.unlink()
    second = watcher.fetch(first.cursor)
    assert (second.records, second.failures) == ([], [])
    assert json.loads(second.cursor or "")["files"] == {}


def test_failed_file_is_retried_only_once_it_changes(watcher: FilesConnector, inbox: Path) -> None:
    """A file still being copied fails as truncated, then imports once the copy completes."""
    path = inbox / "copying.fit"
    path.write_bytes(RUN_A.read_bytes()[:2000])
    first = watcher.fetch(None)
    assert [p for p, _ in first.failures] == [str(path)]
    assert watcher.fetch(first.cursor).failures == []
    shutil.copyfile(RUN_A, path)
    third = watcher.fetch(first.cursor)
    assert ids(third) == [content_id(RUN_A.read_bytes())]


def test_missing_watch_folder_is_a_failure_not_a_crash(inbox: Path) -> None:
    missing = inbox / "usb-stick"
    watcher = FilesConnector(SimpleNamespace(watch=[str(missing), str(inbox)]), make_context())
    drop(RUN_A, inbox)
    result = watcher.fetch(None)
    assert ids(result) == [content_id(RUN_A.read_bytes())]
    assert result.failures[0][0] == str(missing)
    assert "does not exist" in result.failures[0][1]


def test_garbage_cursor_reads_everything_again(watcher: FilesConnector, inbox: Path) -> None:
    drop(RUN_A, inbox)
    assert len(watcher.fetch("not json").records) == 1


def test_since_filters_by_local_date(watcher: FilesConnector, inbox: Path) -> None:
    drop(RUN_A, inbox)
    drop(RUN_B, inbox)
    cursor = watcher.fetch(None).cursor
    again = watcher.fetch(cursor, since=date(2026, 10, 6))
    assert ids(again) == [content_id(RUN_B.read_bytes())]
