"""What the leader lock and the fetch claims (:mod:`syncd.store.leases`) stand on: on
PostgreSQL, a connection of their own outside the pool whose session survives idle timeouts
and notices a vanished peer; on SQLite, ``flock`` files beside the database."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.errors import StorageError
from syncd.store.database import Store
from syncd.store.engine import translate_error

if TYPE_CHECKING:
    import psycopg

# Probes after 10 s of silence, every 5 s, 3 unanswered: a vanished peer is noticed within
# 10 + 3 x 5 = 25 s, inside the 30 s take-over promise. Set on both ends: the server drops a
# vanished holder's locks, and the holder learns that its own session is gone.
KEEPALIVE_IDLE_S = 10
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
# Data sent into a dead network (a check of a lock) is given up after as long.
TCP_USER_TIMEOUT_MS = 25_000
CONNECT_TIMEOUT_S = 5


def dedicated_connection(store: Store, application_name: str) -> psycopg.Connection[Any]:
    """A new autocommit connection to the store's PostgreSQL, outside its pool, whose
    session survives idle timeouts and notices a vanished peer within about 25 s."""
    import psycopg

    args, params = store.engine.dialect.create_connect_args(store.engine.url)
    params.pop("context", None)  # SQLAlchemy's adapters: plain values suffice here
    # The URL's own choices win; these only fill what it leaves open.
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", KEEPALIVE_IDLE_S)
    params.setdefault("keepalives_interval", KEEPALIVE_INTERVAL_S)
    params.setdefault("keepalives_count", KEEPALIVE_COUNT)
    params.setdefault("tcp_user_timeout", TCP_USER_TIMEOUT_MS)
    params["application_name"] = application_name[:63]
    connection = psycopg.connect(*args, autocommit=True, **params)
    try:
        settings = session_settings(connection.info.server_version)
        connection.execute(
            "SELECT set_config(name, value, false) FROM unnest(%s::text[], %s::text[])"
            " AS setting(name, value)", (list(settings), list(settings.values())))
    except BaseException:
        connection.close()
        raise
    return connection


def session_settings(server_version: int) -> dict[str, str]:
    """The server-side settings of a lock's session (TCP ones are ignored on a Unix socket)."""
    settings = {
        "tcp_keepalives_idle": str(KEEPALIVE_IDLE_S),
        "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL_S),
        "tcp_keepalives_count": str(KEEPALIVE_COUNT),
        "tcp_user_timeout": str(TCP_USER_TIMEOUT_MS),
        # The session is idle by design, and in autocommit it never idles in a transaction.
        "idle_in_transaction_session_timeout": "0",
        "statement_timeout": "0",
    }
    if server_version >= 140000:  # idle_session_timeout arrived in PostgreSQL 14
        settings["idle_session_timeout"] = "0"
    return settings


def unlock_and_close(connection: psycopg.Connection[Any], query: str,
                      params: tuple[int, ...]) -> None:
    """Let an advisory lock go and close its connection; a dead connection has already
    lost the lock, so errors are ignored."""
    import psycopg

    try:
        if not connection.closed:
            connection.execute(query, params)
    except psycopg.Error:
        pass
    finally:
        connection.close()


def lock_storage_error(err: Exception, store: Store) -> StorageError:
    """The user-facing form of a database error met while taking a lock."""
    translated = translate_error(err, store.where)
    if translated is not None:
        return translated
    return StorageError(f"cannot take a lock in database {store.where}: {first_line(err)}")


def first_line(err: BaseException) -> str:
    """The first line of an error's message (psycopg adds details on further lines)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def sqlite_path(store: Store) -> Path | None:
    """The SQLite database's file, or None for an in-memory database."""
    database = store.engine.url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database).expanduser().resolve()


def open_lock_file(path: Path) -> int:
    """Open (create: 0600, its folder 0700) a lock file; raises OSError."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def try_flock(descriptor: int) -> bool:
    """Take an exclusive ``flock`` without waiting; False when someone else has it."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
