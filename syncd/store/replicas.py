"""The ``replicas`` table: which ``syncd run`` processes are running, for ``/status``. Each
registers at start, beats while it runs, and is forgotten when it stops; a row not seen for a
day is pruned."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from syncd.models import utc_iso
from syncd.store.database import Store
from syncd.store.tables import ReplicaRow

REPLICA_SEEN_WITHIN = timedelta(seconds=60)
REPLICA_FORGOTTEN_AFTER = timedelta(days=1)


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
