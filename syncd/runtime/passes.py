"""One scheduled pass of an athlete's source: how the scheduler names it, the claim it holds
across replicas, how it went (for ``/metrics``) and the line it logs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from syncd.errors import StorageError
from syncd.pipeline.sync import SourceResult, sync_source
from syncd.store.leases import fetch_claim

if TYPE_CHECKING:
    from syncd.app import App

# The scheduler's logger: a pass's line reads with the scheduler's own.
log = structlog.get_logger("syncd.runtime.scheduler")

SyncPass = Callable[["App", str], SourceResult]


class Deliverer(Protocol):
    """What the scheduler needs from alert delivery: one pass over what is due."""

    def run_once(self, now: datetime) -> Any:
        """Deliver every pending delivery that is due at ``now``."""
        ...


def default_sync(app: App, name: str) -> SourceResult:
    """One pass of source ``name`` for ``app``'s athlete (:func:`~syncd.pipeline.sync.sync_source`),
    what the scheduler runs unless it is handed another."""
    return sync_source(app, name)


@dataclass(slots=True)
class SourceStats:
    """How one source's scheduled passes went since the daemon started (for ``/metrics``)."""

    runs: int = 0
    errors: int = 0
    skipped: int = 0
    crashes: int = 0
    fetched: int = 0
    running_since: datetime | None = None
    last_duration_s: float | None = None
    last_outcome: str | None = None


def log_pass(result: SourceResult) -> None:
    """One line for a pass that changed something; a quiet pass only at debug level (failures
    are logged once by :mod:`syncd.pipeline.sync`)."""
    changed = (result.inserted, result.updated, result.deleted, result.raised, result.resolved)
    emit = log.info if any(changed) else log.debug
    if result.error is None and result.skipped_until is None:
        emit("source synced", source=result.source, fetched=result.fetched,
             inserted=result.inserted, updated=result.updated, deleted=result.deleted,
             alerts_raised=result.raised, alerts_resolved=result.resolved)


def source_job_id(name: str) -> str:
    """The APScheduler job id of source ``name`` (or ``athlete/source`` in a clinic)."""
    return f"sync:{name}"


def pass_key(app: App, source: str) -> str:
    """How the scheduler names one athlete's source: the source's name for a single athlete,
    ``athlete/source`` in a clinic."""
    return f"{app.athlete.name}/{source}" if app.settings.clinic else source


def athlete_source(key: str) -> tuple[str, str]:
    """(athlete, source) of a :func:`pass_key` (a single athlete's athlete is ``""``)."""
    athlete, _, source = key.rpartition("/")
    return athlete, source


@contextmanager
def marked_running(idle: threading.Condition, running: dict[str, datetime],
                   key: str) -> Iterator[datetime]:
    """Hold ``key`` in ``running`` (since now) while the block runs, notifying ``idle``'s
    waiters when it ends (the scheduler's wait for running work)."""
    since = datetime.now(UTC)
    with idle:
        running[key] = since
    try:
        yield since
    finally:
        with idle:
            running.pop(key, None)
            idle.notify_all()


@contextmanager
def claimed(app: App, source: str) -> Iterator[bool]:
    """Hold the claim on ``app``'s athlete's ``source`` while the block runs (True), or learn
    that another process holds it (False): one fetch per athlete and source at a time, across
    replicas."""
    with fetch_claim(app.store, app.athlete_id, source) as mine:
        yield mine


def run_counted(app: App, name: str, stats: SourceStats, sync: SyncPass) -> SourceResult | None:
    """One pass of ``app``'s athlete's source ``name`` under its claim, counted in ``stats``
    and logged; ``None`` when it did not run (claimed elsewhere) or failed outside the source
    (a full disk, a bug)."""
    stats.runs += 1
    try:
        with claimed(app, name) as mine:
            if not mine:  # another replica's pass of this athlete's source still runs
                stats.skipped += 1
                stats.last_outcome = "claimed elsewhere"
                return None
            result = sync(app, name)
    except StorageError as err:  # the claim itself could not be taken (a full disk)
        stats.errors += 1
        stats.last_outcome = "error"
        log.error("source failing", source=name, athlete=app.athlete.name, error=str(err),
                  action=err.action.value)
        return None
    except Exception:  # a bug in one pass must not stop this source's schedule
        stats.crashes += 1
        stats.errors += 1
        stats.last_outcome = "crashed"
        log.exception("sync pass crashed", source=name, athlete=app.athlete.name)
        return None
    stats.fetched += result.fetched
    log_pass(result)
    if result.skipped_until is not None:
        stats.skipped += 1
        stats.last_outcome = "backoff"
    elif result.error is not None:
        stats.errors += 1
        stats.last_outcome = "error"
    else:
        stats.last_outcome = "ok"
    return result
