"""Opening the database: pragmas, private files, writers that wait, and errors users can act on."""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from syncd.errors import StorageError
from syncd.store import (
    Store,
    add_pain,
    ensure_athlete,
    get_sync_state,
    open_engine,
    record_sync_error,
)
from tests.support.net import free_port

from .conftest import NOW


def _path(url: str) -> Path:
    return Path(make_url(url).database or "")


def test_sqlite_connections_get_wal_full_sync_busy_timeout_and_foreign_keys(
    sqlite_url: str,
) -> None:
    store = Store.open(sqlite_url)
    with store.read() as tx:
        pragma = tx.connection().exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
        assert pragma("PRAGMA busy_timeout").scalar() == 10_000
        assert pragma("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_sqlite_folder_and_file_are_created_private(sqlite_url: str) -> None:
    Store.open(sqlite_url).close()
    path = _path(sqlite_url)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _count_error_slowly(store: Store, athlete_id: int, started: threading.Event) -> None:
    """Read the failing streak, dawdle, then write it: the read-then-write that needs a lock."""
    with store.write() as tx:
        get_sync_state(tx, athlete_id, "strava")
        started.set()
        time.sleep(0.3)
        record_sync_error(tx, athlete_id, "strava", NOW, "timeout")


def test_second_writer_waits_for_the_first_instead_of_failing(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    with store.write() as tx:
        athlete = ensure_athlete(tx, "ana", "UTC", now=NOW)
    first_in, second_in = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer(started: threading.Event, wait_for: threading.Event | None) -> None:
        if wait_for is not None:
            wait_for.wait(5)
        try:
            _count_error_slowly(store, athlete, started)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(first_in, None)),
               threading.Thread(target=writer, args=(second_in, first_in))]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert time.monotonic() - began >= 0.6  # the second waited for the first to commit
    with store.read() as tx:
        assert get_sync_state(tx, athlete, "strava").error_count == 2
    store.close()


def test_control_a_deferred_read_then_write_fails_at_once(sqlite_url: str) -> None:
    """Why writers need BEGIN IMMEDIATE: the same interleaving in a deferred transaction."""
    store = Store.open(sqlite_url)
    with store.write() as tx:
        athlete = ensure_athlete(tx, "ana", "UTC", now=NOW)
    deferred = Session(store.engine)
    get_sync_state(deferred, athlete, "strava")  # holds a read snapshot
    with store.write() as tx:
        record_sync_error(tx, athlete, "strava", NOW, "timeout")
    began = time.monotonic()
    with pytest.raises(Exception, match="database is locked"):
        record_sync_error(deferred, athlete, "strava", NOW, "timeout")
    assert time.monotonic() - began < 1  # no waiting: busy_timeout cannot help here
    deferred.close()
    store.close()


def test_lock_held_too_long_becomes_storage_error_naming_the_file(sqlite_url: str) -> None:
    store = Store.open(sqlite_url, busy_timeout_s=0.2)
    other = sqlite3.connect(_path(sqlite_url), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError) as caught, store.write() as tx:
            ensure_athlete(tx, "ana", "UTC", now=NOW)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert str(caught.value) == (
        f"database {_path(sqlite_url)} is locked by another writer: stop the other syncd "
        "process or command using it, or retry in a moment"
    )
    store.close()


def test_full_database_becomes_storage_error_and_nothing_is_kept(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    with store.write() as tx:
        athlete = ensure_athlete(tx, "ana", "UTC", now=NOW)
    with pytest.raises(StorageError) as caught, store.write() as tx:
        pages = tx.connection().exec_driver_sql("PRAGMA page_count").scalar()
        tx.connection().exec_driver_sql(f"PRAGMA max_page_count = {pages}")
        for _ in range(200):  # notes are capped (2,000 characters): many fill the file
            add_pain(tx, athlete, NOW, 3, note="x" * 2000, now=NOW)
    assert str(caught.value) == (
        f"database {_path(sqlite_url)} is full (disk full or size limit reached): "
        "free disk space, then run syncd again"
    )
    store.close()  # drops the connection that carries the size limit
    reopened = Store.open(sqlite_url)
    with reopened.read() as tx:
        assert tx.execute(text("SELECT count(*) FROM pain_reports")).scalar() == 0
    reopened.close()


def test_database_under_a_regular_file_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("not a folder")
    with pytest.raises(StorageError, match=r"cannot create database .*occupied/syncd\.db"):
        Store.open(f"sqlite:///{tmp_path / 'occupied' / 'syncd.db'}")


def test_unreachable_postgres_is_storage_error_without_the_password() -> None:
    port = free_port()
    with pytest.raises(StorageError) as caught:
        Store.open(f"postgresql+psycopg://syncd:hunter2secret@127.0.0.1:{port}/syncd")
    message = str(caught.value)
    assert message == (
        f"cannot connect to database postgresql+psycopg://syncd@127.0.0.1:{port}/syncd: "
        "check that PostgreSQL is running and that [database] url is right"
    )
    assert "hunter2secret" not in repr(caught.value)


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    engine = open_engine("postgresql://clinic:s3cret@127.0.0.1/syncd")
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


def test_another_kind_of_database_is_refused_with_the_urls_to_use() -> None:
    with pytest.raises(StorageError) as caught:
        open_engine("mysql://clinic:s3cret@db.local/syncd")
    assert str(caught.value) == (
        "unsupported database url mysql://clinic@db.local/syncd: use "
        "sqlite:////path/to/syncd.db or postgresql+psycopg://user@host/dbname in "
        "[database] url")
