"""Whose delivery claims are stale before their lease runs out.

Every claim names its holder (``alert_deliveries.claimed_by``): the replica id of the process
that took it, ``host:pid:random`` (:func:`syncd.store.replicas.new_replica_id`), for ``syncd
run`` and for the one-shot commands (``syncd sync``, ``syncd deliver``) alike. A holder is gone,
and its claims are taken over at once, when

- it is a ``syncd run`` replica (a row in ``replicas``) that stopped heart-beating for
  ``stale_after``: on PostgreSQL the replicas on other machines are known this way;
- it ran on this machine and its process is no longer there (no such pid, a zombie, or the pid
  is this very process but the id none of its dispatchers: a restart that was given the same
  pid, as in a container). On SQLite, whose writers all share one machine, that is every dead
  claimant, found at the first pass of the process that comes after it.

A live holder keeps its claims however slow it is, until their lease runs out as before (a
reused pid also just waits for the lease). Nothing is known of a one-shot command on another
machine but its lease.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.store.tables import AlertDeliveryRow, ReplicaRow

PENDING = "pending"
# The holders this process's dispatchers claim under (several may run in one process).
_OURS: set[str] = set()


def this_host() -> str:
    """This machine's name as replica ids carry it."""
    return socket.gethostname()[:80]


def holder_pid(holder: str, host: str) -> int | None:
    """The pid in ``holder`` when it names a process of ``host``, else ``None``."""
    parts = holder.split(":")
    if len(parts) < 3 or ":".join(parts[:-2]) != host or not parts[-2].isdigit():
        return None
    return int(parts[-2])


def own(holder: str) -> str:
    """Note ``holder`` as one of this process's (every dispatcher it runs); returns it."""
    _OURS.add(holder)
    return holder


def pid_gone(pid: int, holder: str) -> bool:
    """True when process ``pid`` of this machine cannot be ``holder`` any more."""
    if pid == os.getpid():
        return holder not in _OURS  # an earlier process that had our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process: alive, and perhaps ours under another user
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[:1]
    except OSError:
        return False  # no /proc: the pid answered, take it as alive
    return state == [b"Z"]  # killed, not yet reaped by its parent


def claim_holders(session: Session, now: datetime, me: str) -> set[str]:
    """The holders, other than ``me``, of pending claims whose lease has not run out."""
    query = (select(AlertDeliveryRow.claimed_by).distinct()
             .where(AlertDeliveryRow.status == PENDING, AlertDeliveryRow.next_attempt_at > now,
                    AlertDeliveryRow.claimed_by.is_not(None),
                    AlertDeliveryRow.claimed_by != me))
    return {holder for holder in session.scalars(query) if holder}


def last_seen(session: Session, holders: Iterable[str]) -> dict[str, datetime]:
    """When each of ``holders`` that is a ``syncd run`` replica last beat."""
    query = select(ReplicaRow.id, ReplicaRow.seen_at).where(ReplicaRow.id.in_(list(holders)))
    return {replica: seen for replica, seen in session.execute(query)}


def stale_holders(session: Session, now: datetime, me: str,
                  stale_after: timedelta) -> set[str]:
    """The holders of live claims that are gone (see the module's account): their claims may
    be taken over now."""
    holders = claim_holders(session, now, me)
    if not holders:
        return set()
    seen, host = last_seen(session, holders), this_host()
    return {holder for holder in holders
            if _gone(holder, seen.get(holder), now, host, stale_after)}


def _gone(holder: str, seen: datetime | None, now: datetime, host: str,
          stale_after: timedelta) -> bool:
    """Whether one holder is gone: silent too long, or its process is not there."""
    if seen is not None and seen < now - stale_after:
        return True
    pid = holder_pid(holder, host)
    return pid is not None and pid_gone(pid, holder)
