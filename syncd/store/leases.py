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

The ``replicas`` table says which processes are running, for ``/status``: each registers at
start, beats while it runs, and is forgotten when it stops; a row not seen for a day is pruned.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from syncd.errors import StorageError
from syncd.models import utc_iso
from syncd.store.database import Store
from syncd.store.engine import translate_error
from syncd.store.tables import ReplicaRow

if TYPE_CHECKING:
    import psycopg

log = structlog.get_logger("syncd.leases")

# Probes after 10 s of silence, every 5 s, 3 unanswered: a vanished peer is noticed within
# 10 + 3 x 5 = 25 s, inside the 30 s take-over promise. Set on both ends: the server drops a
# vanished holder's locks, and the holder learns that its own session is gone.
KEEPALIVE_IDLE_S = 10
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3
# Data sent into a dead network (a check of a lock) is given up after as long.
TCP_USER_TIMEOUT_MS = 25_000
CONNECT_TIMEOUT_S = 5
# Any fixed number; advisory locks are per database, so two clinics on one server don't meet.
LEADER_LOCK_KEY = 0x5359_4E44_4C45_4144
REPLICA_SEEN_WITHIN = timedelta(seconds=60)
REPLICA_FORGOTTEN_AFTER = timedelta(days=1)

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
    path = _sqlite_path(store)
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
            _unlock_and_close(connection, "SELECT pg_advisory_unlock(%s)", (LEADER_LOCK_KEY,))

    def _query(self, query: str, params: tuple[int, ...]) -> Any:
        """The first value of ``query``'s row; any database error as :class:`_Unavailable`."""
        import psycopg

        try:
            if self._connection is None or self._connection.closed:
                self._connection = _dedicated_connection(self.store, self.application_name)
            row = self._connection.execute(query, params).fetchone()
        except psycopg.Error as err:
            self.release()
            raise _Unavailable(_first_line(err)) from err
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
            descriptor = _open_lock_file(self.path)
        except OSError as err:
            raise _Unavailable(f"cannot open {self.path}: {err.strerror}") from err
        if not _try_flock(descriptor):
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
        connection = _dedicated_connection(store, f"syncd fetch {athlete_id} {source}")
    except psycopg.Error as err:
        raise _storage_error(err, store) from err
    try:
        row = connection.execute(
            "SELECT pg_try_advisory_lock(%s::integer, %s::integer)", key).fetchone()
    except psycopg.Error as err:
        connection.close()
        raise _storage_error(err, store) from err
    try:
        yield bool(row and row[0])
    finally:
        # Unlocked before closing: closing alone ends the session a moment later, and a
        # claim asked for meanwhile would be refused for nothing.
        _unlock_and_close(connection, "SELECT pg_advisory_unlock(%s::integer, %s::integer)",
                          key)


@contextmanager
def _file_claim(store: Store, athlete_id: int, source: str) -> Iterator[bool]:
    """An ``flock`` on ``<database>.locks/fetch-<athlete>-<source>.lock`` for the block."""
    path = _sqlite_path(store)
    if path is None:  # in memory: the process-wide lock is the whole story
        yield True
        return
    name = source if _SAFE_NAME.fullmatch(source) else f"{source_lock_key(source):+011d}"
    lock_path = path.with_name(path.name + ".locks") / f"fetch-{athlete_id}-{name}.lock"
    try:
        descriptor = _open_lock_file(lock_path)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(f"cannot create the fetch lock {lock_path}: the disk is full; "
                               "free disk space") from err
        raise StorageError(f"cannot create the fetch lock {lock_path}: {err.strerror}; make "
                           "the database's folder writable by the syncd user") from err
    try:
        yield _try_flock(descriptor)
    finally:
        os.close(descriptor)  # lets the lock go; the file stays for the next claim


# ---------------------------------------------------------------------------------------------
# Helpers shared by both locks


def _dedicated_connection(store: Store, application_name: str) -> psycopg.Connection[Any]:
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
        settings = _session_settings(connection.info.server_version)
        connection.execute(
            "SELECT set_config(name, value, false) FROM unnest(%s::text[], %s::text[])"
            " AS setting(name, value)", (list(settings), list(settings.values())))
    except BaseException:
        connection.close()
        raise
    return connection


def _session_settings(server_version: int) -> dict[str, str]:
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


def _unlock_and_close(connection: psycopg.Connection[Any], query: str,
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


def _storage_error(err: Exception, store: Store) -> StorageError:
    """The user-facing form of a database error met while taking a lock."""
    translated = translate_error(err, store.where)
    if translated is not None:
        return translated
    return StorageError(f"cannot take a lock in database {store.where}: {_first_line(err)}")


def _first_line(err: BaseException) -> str:
    """The first line of an error's message (psycopg adds details on further lines)."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _sqlite_path(store: Store) -> Path | None:
    """The SQLite database's file, or None for an in-memory database."""
    database = store.engine.url.database or ""
    if database in ("", ":memory:") or "mode=memory" in database:
        return None
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return Path(database).expanduser().resolve()


def _open_lock_file(path: Path) -> int:
    """Open (create: 0600, its folder 0700) a lock file; raises OSError."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _try_flock(descriptor: int) -> bool:
    """Take an exclusive ``flock`` without waiting; False when someone else has it."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Replica registry


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """A running ``syncd run`` process as it last reported itself."""

    id: str
    host: str
    pid: int
    leader: bool
    started_at: datetime
    seen_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The replica as ``GET /status`` shows it."""
        return {"id": self.id, "host": self.host, "pid": self.pid, "leader": self.leader,
                "started_at": utc_iso(self.started_at), "seen_at": utc_iso(self.seen_at)}


def new_replica_id() -> str:
    """A fresh id for this process: ``host:pid:random`` (a restart gets a new one)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def register_replica(store: Store, replica_id: str, host: str, pid: int,
                     now: datetime) -> None:
    """Record this process as running (not leading yet), and prune replicas not seen for a
    day (machines that stopped without saying so)."""
    with store.write() as tx:
        _prune(tx, now - REPLICA_FORGOTTEN_AFTER)
        tx.merge(ReplicaRow(id=replica_id, host=host[:200], pid=pid, started_at=now,
                            seen_at=now, leader=False))


def beat(store: Store, replica_id: str, leader: bool, now: datetime) -> bool:
    """Say that this replica is alive and whether it leads. A leader's beat clears the flag
    of every other row, so that a dead leader's last word does not linger on ``/status``.
    Returns False when the row is gone (pruned or forgotten): register again."""
    with store.write() as tx:
        updated = tx.execute(update(ReplicaRow).where(ReplicaRow.id == replica_id)
                             .values(seen_at=now, leader=leader))
        found = bool(getattr(updated, "rowcount", 0))
        if leader and found:
            tx.execute(update(ReplicaRow)
                       .where(ReplicaRow.id != replica_id, ReplicaRow.leader.is_(True))
                       .values(leader=False))
        return found


def live_replicas(store: Store, now: datetime,
                  within: timedelta = REPLICA_SEEN_WITHIN) -> list[ReplicaStatus]:
    """The replicas seen within ``within`` of ``now``, by host and pid."""
    query = (select(ReplicaRow).where(ReplicaRow.seen_at >= now - within)
             .order_by(ReplicaRow.host, ReplicaRow.pid, ReplicaRow.id))
    with store.read() as tx:
        return [ReplicaStatus(id=row.id, host=row.host, pid=row.pid, leader=row.leader,
                              started_at=row.started_at, seen_at=row.seen_at)
                for row in tx.scalars(query)]


def forget_replica(store: Store, replica_id: str) -> None:
    """Remove this replica's row (at a clean shutdown)."""
    with store.write() as tx:
        tx.execute(delete(ReplicaRow).where(ReplicaRow.id == replica_id))


def prune_replicas(store: Store, now: datetime,
                   older_than: timedelta = REPLICA_FORGOTTEN_AFTER) -> int:
    """Delete replicas not seen for ``older_than``; returns how many."""
    with store.write() as tx:
        return _prune(tx, now - older_than)


def _prune(tx: Session, before: datetime) -> int:
    """Delete the replicas last seen before ``before``."""
    result = tx.execute(delete(ReplicaRow).where(ReplicaRow.seen_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
