"""Who schedules and who fetches what, between ``syncd run`` replicas on one database.

Only one process may run the scheduler (APScheduler 3 must not share its job store), and one
athlete's source must never be fetched by two processes at once. On PostgreSQL both are
session-level advisory locks, each on a connection of its own outside the pool: the server
drops them the moment the holder's socket closes (a crash, a SIGKILL), and the TCP keepalives
set on that session make it notice a machine that vanished without closing its socket within
about 25 s. An idle-session timeout set by the server's administrator is switched off for
these sessions, since it would end a leadership that is merely quiet. The lock keys: the
scheduler holds the one-number key :data:`LEADER_LOCK_KEY`; a fetch holds the two-number key
(athlete id, a stable 32-bit digest of the source's name). The writers' per-athlete
transaction lock (:func:`syncd.store.engine.lock_athlete`) uses a fixed first number far above
any athlete id, so the two never meet.

On SQLite (one machine) the same locks are ``flock`` locks on files beside the database,
which the kernel releases when the process dies. An in-memory database belongs to one process,
which is then always the leader.

Which processes are running is in the ``replicas`` table (:mod:`syncd.store.replicas`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from syncd.errors import StorageError
from syncd.store.database import Store
from syncd.store.lock_sessions import (
    dedicated_connection,
    first_line,
    lock_storage_error,
    open_lock_file,
    sqlite_path,
    try_flock,
    unlock_and_close,
)

if TYPE_CHECKING:
    import psycopg

log = structlog.get_logger("syncd.leases")

# Any fixed number; advisory locks are per database, so two clinics on one server don't meet.
LEADER_LOCK_KEY = 0x5359_4E44_4C45_4144

_CHECK_LEADER_LOCK = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND classid = %s::bigint AND objid = %s::bigint"
    " AND objsubid = 1)"
)
_SAFE_NAME = re.compile(r"[a-z0-9_-]{1,40}")


class _Unavailable(Exception):
    """The lock could not be taken or checked (its connection or file is gone)."""


# ---------------------------------------------------------------------------------------------
# Leadership


class _LeaderLock(Protocol):
    """One way of holding the scheduler's lock; errors come out as :class:`_Unavailable`."""

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it."""

    def still_held(self) -> bool:
        """Whether the lock taken by :meth:`acquire` is still ours."""

    def release(self) -> None:
        """Let the lock go (and close what held it); never raises."""


class Leadership:
    """Whether this process is the one replica that schedules.

    A standby calls :meth:`try_acquire` every few seconds; the leader calls :meth:`holds`
    as often, and stops scheduling the moment it says False. Gaining and losing are logged
    once each. Safe to use from several threads.
    """

    def __init__(self, store: Store, replica_id: str) -> None:
        self.store = store
        self.replica_id = replica_id
        self._mutex = threading.Lock()
        self._held = False
        self._lock = _leader_lock(store, replica_id)

    def try_acquire(self) -> bool:
        """Become the leader if nobody is, without waiting; True when this process leads
        (already or from now on). An unreachable database means False, never an error."""
        with self._mutex:
            if self._held and self._still_held():
                return True
            try:
                gained = self._lock.acquire()
            except _Unavailable as err:
                log.debug("leadership not available", replica=self.replica_id, reason=str(err))
                return False
            if gained:
                self._held = True
                log.info("leadership gained", replica=self.replica_id)
            return gained

    def holds(self) -> bool:
        """Check that the lock is still held (on PostgreSQL, a query on its connection); a
        broken connection or a replaced lock file means leadership is lost: False."""
        with self._mutex:
            return self._held and self._still_held()

    def release(self) -> None:
        """Step down (at shutdown): the lock is let go at once, so a standby takes over
        without waiting for anything to time out."""
        with self._mutex:
            if self._held:
                log.info("leadership released", replica=self.replica_id)
            self._held = False
            self._lock.release()

    def _still_held(self) -> bool:
        """Check the lock, and on loss log it once and drop what held it."""
        try:
            if self._lock.still_held():
                return True
            reason = "the lock is no longer held"
        except _Unavailable as err:
            reason = str(err)
        self._held = False
        self._lock.release()
        log.warning("leadership lost", replica=self.replica_id, reason=reason)
        return False

    def __repr__(self) -> str:
        return f"Leadership({self.replica_id!r}, held={self._held})"


def _leader_lock(store: Store, replica_id: str) -> _LeaderLock:
    """The lock that suits the store's database."""
    if store.engine.dialect.name == "postgresql":
        return _PostgresLeaderLock(store, replica_id)
    path = sqlite_path(store)
    if path is None:
        return _SoleProcess()
    return _FileLeaderLock(path.with_name(path.name + ".leader"), replica_id)


class _PostgresLeaderLock:
    """A session advisory lock on a connection kept open for as long as the process leads."""

    def __init__(self, store: Store, replica_id: str) -> None:
        self.store = store
        self.application_name = f"syncd leader {replica_id}"
        self._connection: psycopg.Connection[Any] | None = None

    def acquire(self) -> bool:
        """``pg_try_advisory_lock`` on the dedicated connection (opened when missing)."""
        return bool(self._query("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK_KEY,)))

    def still_held(self) -> bool:
        """Look the lock up in ``pg_locks`` from its own session: one short round trip."""
        high, low = (LEADER_LOCK_KEY >> 32) & 0xFFFF_FFFF, LEADER_LOCK_KEY & 0xFFFF_FFFF
        return bool(self._query(_CHECK_LEADER_LOCK, (high, low)))

    def release(self) -> None:
        """Close the connection: the server ends the session and with it the lock."""
        connection, self._connection = self._connection, None
        if connection is not None:
            unlock_and_close(connection, "SELECT pg_advisory_unlock(%s)", (LEADER_LOCK_KEY,))

    def _query(self, query: str, params: tuple[int, ...]) -> Any:
        """The first value of ``query``'s row; any database error as :class:`_Unavailable`."""
        import psycopg

        try:
            if self._connection is None or self._connection.closed:
                self._connection = dedicated_connection(self.store, self.application_name)
            row = self._connection.execute(query, params).fetchone()
        except psycopg.Error as err:
            self.release()
            raise _Unavailable(first_line(err)) from err
        return row[0] if row else None


class _FileLeaderLock:
    """An ``flock`` on ``<database>.leader``, kept for as long as the process leads."""

    def __init__(self, path: Path, replica_id: str) -> None:
        self.path = path
        self.replica_id = replica_id
        self._descriptor: int | None = None

    def acquire(self) -> bool:
        """Lock the file without waiting and write who leads into it (for the operator)."""
        self.release()
        try:
            descriptor = open_lock_file(self.path)
        except OSError as err:
            raise _Unavailable(f"cannot open {self.path}: {err.strerror}") from err
        if not try_flock(descriptor):
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{self.replica_id}\n".encode(), 0)
        except OSError:
            pass  # the lock is what counts; the note inside is a courtesy
        return True

    def still_held(self) -> bool:
        """True while our locked file is still the one at the path: a deleted or replaced
        file could be locked by someone else."""
        if self._descriptor is None:
            return False
        try:
            ours, current = os.fstat(self._descriptor), os.stat(self.path)
        except OSError as err:
            raise _Unavailable(f"{self.path} is gone: {err.strerror}") from err
        return (ours.st_dev, ours.st_ino) == (current.st_dev, current.st_ino)

    def release(self) -> None:
        """Close the file, which lets the lock go."""
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)


class _SoleProcess:
    """An in-memory database: nobody else can see it, so this process always leads."""

    def acquire(self) -> bool:
        """Always granted."""
        return True

    def still_held(self) -> bool:
        """Always held."""
        return True

    def release(self) -> None:
        """Nothing to let go."""


# ---------------------------------------------------------------------------------------------
# Fetch claims

_LOCAL_CLAIMS: dict[tuple[str, int, str], threading.Lock] = {}
_LOCAL_CLAIMS_GUARD = threading.Lock()


@contextmanager
def fetch_claim(store: Store, athlete_id: int, source: str) -> Iterator[bool]:
    """Claim the fetch of one athlete's source for the block: yields True when granted, or
    False at once when another process or thread holds it (then skip the fetch; the holder
    is doing it). The claim ends with the block, or with the process, however it dies.

    Raises :class:`StorageError` when the database cannot be reached to take the claim.
    """
    local = _local_claim(store, athlete_id, source)
    if not local.acquire(blocking=False):
        yield False
        return
    try:
        if store.engine.dialect.name == "postgresql":
            claim = _postgres_claim(store, athlete_id, source)
        else:
            claim = _file_claim(store, athlete_id, source)
        with claim as granted:
            yield granted
    finally:
        local.release()


def _local_claim(store: Store, athlete_id: int, source: str) -> threading.Lock:
    """The process-wide lock of one (database, athlete, source)."""
    with _LOCAL_CLAIMS_GUARD:
        return _LOCAL_CLAIMS.setdefault((store.where, athlete_id, source), threading.Lock())


def source_lock_key(source: str) -> int:
    """A stable signed 32-bit number for ``source`` (Python's ``hash`` changes per process)."""
    digest = hashlib.sha256(source.encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


@contextmanager
def _postgres_claim(store: Store, athlete_id: int, source: str) -> Iterator[bool]:
    """``pg_try_advisory_lock(athlete, source key)`` on a connection held for the block."""
    import psycopg

    key = (athlete_id, source_lock_key(source))
    try:
        connection = dedicated_connection(store, f"syncd fetch {athlete_id} {source}")
    except psycopg.Error as err:
        raise lock_storage_error(err, store) from err
    try:
        row = connection.execute(
            "SELECT pg_try_advisory_lock(%s::integer, %s::integer)", key).fetchone()
    except psycopg.Error as err:
        connection.close()
        raise lock_storage_error(err, store) from err
    try:
        yield bool(row and row[0])
    finally:
        # Unlocked before closing: closing alone ends the session a moment later, and a
        # claim asked for meanwhile would be refused for nothing.
        unlock_and_close(connection, "SELECT pg_advisory_unlock(%s::integer, %s::integer)",
                          key)


@contextmanager
def _file_claim(store: Store, athlete_id: int, source: str) -> Iterator[bool]:
    """An ``flock`` on ``<database>.locks/fetch-<athlete>-<source>.lock`` for the block."""
    path = sqlite_path(store)
    if path is None:  # in memory: the process-wide lock is the whole story
        yield True
        return
    name = source if _SAFE_NAME.fullmatch(source) else f"{source_lock_key(source):+011d}"
    lock_path = path.with_name(path.name + ".locks") / f"fetch-{athlete_id}-{name}.lock"
    try:
        descriptor = open_lock_file(lock_path)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(f"cannot create the fetch lock {lock_path}: the disk is full; "
                               "free disk space") from err
        raise StorageError(f"cannot create the fetch lock {lock_path}: {err.strerror}; make "
                           "the database's folder writable by the syncd user") from err
    try:
        yield try_flock(descriptor)
    finally:
        os.close(descriptor)  # lets the lock go; the file stays for the next claim


