"""The disk full under ``syncd run``: its database on a 3 MiB tmpfs, filled to the last byte
while new activity files arrive. syncd says so (the database's path, and to free space),
keeps answering ``/status``, and stores the new files once space returns; the database
passes ``PRAGMA integrity_check``. Needs root to mount the tmpfs: skipped otherwise."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.config import write_config
from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import REPO, Zygote, query

HISTORY = REPO / "examples" / "history"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs mounted in ``tmp_path``."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left."""
    filler = disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 4096)
    return filler


def _status(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as answer:
        json.loads(answer.read())
        return int(answer.status)


def _stored(db: Path) -> int:
    """Activities stored so far (-1 before the schema exists)."""
    try:
        return int(query(db, "SELECT COUNT(*) FROM activities")[0][0])
    except sqlite3.Error:
        return -1


def test_a_full_disk_is_reported_status_still_answers_and_syncing_resumes(
        tmp_path: Path, small_disk: Path) -> None:
    inbox, db, port = tmp_path / "inbox", small_disk / "syncd.db", free_port()
    inbox.mkdir()
    runs = sorted(HISTORY.glob("*-run.fit"))
    for path in runs[:2]:
        shutil.copy(path, inbox)
    config = write_config(tmp_path, athlete={"plan": None}, database={"url": f"sqlite:///{db}"},
                          files={"watch": [inbox], "poll_interval": "1s"},
                          server={"listen": f"127.0.0.1:{port}"}, log={"format": "json"})
    zygote, log = Zygote(), tmp_path / "daemon.log"
    pid = zygote.start(config, log)
    try:
        wait_until(lambda: db.exists() and _stored(db) == 2, 60, "the first two runs")
        filler = _fill(small_disk)
        for path in runs[2:8]:
            shutil.copy(path, inbox)
        wait_until(lambda: "is full" in log.read_text(), 30, "syncd to report the full disk")
        full = [json.loads(line) for line in log.read_text().splitlines() if "is full" in line]
        assert full[0]["event"] == "source failing", full[0]
        assert full[0]["error"] == (f"database {db} is full (disk full or size limit reached): "
                                    "free disk space, then run syncd again")
        assert _status(port) == 200
        assert _stored(db) == 2

        filler.unlink()  # space returns
        wait_until(lambda: _stored(db) == 8, 30, "the six new runs after space returned")
        assert _status(port) == 200
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        zygote.reap(pid)
        zygote.close()
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    rows = query(db, "SELECT source_id, COUNT(*) FROM activities GROUP BY 1 HAVING COUNT(*) > 1")
    assert rows == []
