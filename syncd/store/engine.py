"""Opening the database: SQLite pragmas, ``BEGIN IMMEDIATE`` writers, and error mapping.

On SQLite a deferred transaction that reads and then writes fails at once with "database is
locked" when another writer got in between; taking the write lock up front (``BEGIN
IMMEDIATE``) makes the second writer wait ``busy_timeout`` instead. pysqlite's own
transaction handling is switched off so that SQLAlchemy's ``begin`` event can emit the right
``BEGIN`` (the recipe in SQLAlchemy's SQLite dialect documentation).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session

from syncd.errors import StorageError

DEFAULT_BUSY_TIMEOUT_S = 10.0
_BEGIN_OPTION = "syncd_sqlite_begin"
# Any fixed number: the namespace of syncd's per-athlete PostgreSQL advisory locks.
_ATHLETE_LOCK_SPACE = 0x5359_4E44


def open_engine(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """Create the engine for ``url`` (SQLite file or ``postgresql+psycopg://``).

    For a SQLite file the parent folder is created (mode 0700) and the file itself (0600),
    since it holds health data; every connection gets WAL, ``synchronous=FULL``,
    ``busy_timeout`` and ``foreign_keys=ON``. Nothing is connected yet. A plain
    ``postgresql://`` URL uses psycopg 3 (the driver syncd ships with). Raises
    :class:`StorageError` for a URL of another kind.
    """
    parsed = _supported_url(url)
    # hide_parameters: a failed statement's message would otherwise quote its values, and
    # some are tokens (credentials) that must never reach a log line.
    if parsed.get_backend_name() == "postgresql":
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    _prepare_sqlite_file(parsed)
    engine = create_engine(parsed, hide_parameters=True)
    timeout_ms = int(busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # None hands transaction control to the "begin" hook below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # busy_timeout first: switching to WAL may itself wait for a lock.
        cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed outbox row must survive a power cut, not only a crash.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _supported_url(url: str) -> URL:
    """Parse ``url``, accepting SQLite and PostgreSQL (psycopg 3) only."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is not None and parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if parsed is None or parsed.drivername not in ("sqlite", "sqlite+pysqlite",
                                                   "postgresql+psycopg"):
        shown = display_url(parsed) if parsed is not None else "(unreadable)"
        raise StorageError(
            f"unsupported database url {shown}: use sqlite:////path/to/syncd.db or "
            "postgresql+psycopg://user@host/dbname in [database] url"
        )
    return parsed


def writer_engine(engine: Engine) -> Engine:
    """The same engine, but whose transactions take the write lock up front on SQLite."""
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


def lock_athlete(session: Session, athlete_id: int) -> None:
    """Serialize writers of one athlete's data until the transaction ends.

    On SQLite the write transaction already holds the database's single write lock; on
    PostgreSQL an advisory lock keeps two writers (a webhook and a poll) from grouping the
    same session from two snapshots, each unaware of the other's rows.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:space, :athlete)"),
                        {"space": _ATHLETE_LOCK_SPACE, "athlete": athlete_id})


def _prepare_sqlite_file(url: URL) -> None:
    """Create the database file's folder (0700) and an empty file (0600) when missing."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as err:
        raise StorageError(
            f"cannot create database {path}: {err.strerror}; create the folder "
            "and make it writable by the syncd user, or set [database] url elsewhere"
        ) from err


def display_url(url: str | URL) -> str:
    """The database URL as shown to users: the SQLite path, or the URL without password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    # Rebuilt without the password (URL.set(password=None) would keep it).
    shown = URL.create(parsed.drivername, username=parsed.username, host=parsed.host,
                       port=parsed.port, database=parsed.database, query=parsed.query)
    return shown.render_as_string(hide_password=False)


def translate_error(err: BaseException, where: str) -> StorageError | None:
    """Map a driver error that a user can act on to a :class:`StorageError`, else ``None``.

    Covers a full disk, a lock held too long, and a database that cannot be opened or
    reached; programming errors (a missing column, a constraint) are left alone.
    """
    orig: BaseException | None = err.orig if isinstance(err, DBAPIError) else err
    if isinstance(orig, sqlite3.Error):
        return _translate_sqlite(orig, where)
    message = _translate_postgres(orig, where)
    if message is None and isinstance(err, DBAPIError) and err.connection_invalidated:
        message = f"lost the connection to database {where}: check that the server is up"
    return StorageError(message) if message else None


_SQLITE_MESSAGES = {
    sqlite3.SQLITE_FULL: "database {where} is full (disk full or size limit reached): "
    "free disk space, then run syncd again",
    sqlite3.SQLITE_BUSY: "database {where} is locked by another writer: stop the other syncd "
    "process or command using it, or retry in a moment",
    sqlite3.SQLITE_LOCKED: "database {where} is locked by another connection: retry in a moment",
    sqlite3.SQLITE_CANTOPEN: "cannot open database {where}: check that its folder exists and "
    "is writable by the syncd user",
    sqlite3.SQLITE_READONLY: "database {where} is read-only: give the syncd user write "
    "permission on the file and its folder",
    sqlite3.SQLITE_IOERR: "disk I/O error on database {where}: check the disk and free space",
    sqlite3.SQLITE_CORRUPT: "database {where} is damaged: restore a backup",
    sqlite3.SQLITE_NOTADB: "{where} is not a SQLite database: point [database] url at the "
    "right file or restore a backup",
}


def _translate_sqlite(orig: sqlite3.Error, where: str) -> StorageError | None:
    """Map a SQLite result code (primary part of the extended code) to a StorageError."""
    code = getattr(orig, "sqlite_errorcode", None)
    if code is None:
        return None
    template = _SQLITE_MESSAGES.get(code & 0xFF)
    return StorageError(template.format(where=where)) if template else None


def _translate_postgres(orig: BaseException | None, where: str) -> str | None:
    """Map a psycopg error to a user message by SQLSTATE class, else ``None``."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    if not isinstance(orig, psycopg.Error):
        return None
    state = orig.sqlstate or ""
    if state == "53100":
        return f"database {where} is out of disk space: free space on the PostgreSQL server"
    if state == "55P03":
        return f"database {where} is locked by another writer: retry in a moment"
    if isinstance(orig, psycopg.OperationalError) and (not state or state[:2] in ("08", "57")):
        return (f"cannot connect to database {where}: check that PostgreSQL is running and "
                "that [database] url is right")
    return None


@contextmanager
def mapped_errors(where: str) -> Iterator[None]:
    """Re-raise actionable driver errors from the block as :class:`StorageError`."""
    try:
        yield
    except (DBAPIError, sqlite3.Error) as err:
        storage_error = translate_error(err, where)
        if storage_error is None:
            raise
        raise storage_error from err

