"""APScheduler wiring for ``syncd run``: one job per enabled source on its poll interval, the
alert dispatcher on a short interval and after every sync, and a heartbeat that proves the
scheduler still runs jobs (the watchdog and ``/healthz`` read it).

Every job runs in a thread pool with a worker for each job, and each job has
``max_instances=1``: a source that hangs holds its own worker and nothing else, so the other
sources, the dispatcher and the heartbeat keep their schedule. APScheduler keeps its jobs in
memory (never a shared job store: one process schedules).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from syncd.sync import SourceResult, sync_source

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.scheduler")

DISPATCH_INTERVAL = timedelta(seconds=5)
HEARTBEAT_INTERVAL = timedelta(seconds=5)
# The heartbeat is stale (the scheduler is stuck) after this long without a beat.
STALE_AFTER = timedelta(seconds=30)
# Jitter spreads polls of many daemons (and of sources sharing a host) over time; capped so that
# a 15-minute poll never drifts by more than a minute.
MAX_JITTER = timedelta(seconds=60)
_HEARTBEAT_JOB = "heartbeat"
_DISPATCH_JOB = "dispatch"
_EVENTS = "events"


class Deliverer(Protocol):
    """What the scheduler needs from alert delivery: one pass over what is due."""

    def run_once(self, now: datetime) -> Any:
        """Deliver every pending delivery that is due at ``now``."""
        ...


SyncPass = Callable[["App", str], SourceResult]


def _default_sync(app: App, name: str) -> SourceResult:
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


def _quiet_executor_logs() -> None:
    """APScheduler logs every job run at INFO: with a heartbeat every 5 s that floods the
    journal. Runs are logged by :func:`_log_pass` instead; debug level shows them again."""
    root = logging.getLogger().getEffectiveLevel()
    level = logging.DEBUG if root <= logging.DEBUG else logging.WARNING
    logging.getLogger("apscheduler.executors").setLevel(level)
    logging.getLogger("apscheduler.scheduler").setLevel(level)


def _log_pass(result: SourceResult) -> None:
    """One line for a pass that changed something; a quiet pass only at debug level (failures
    are logged once by :mod:`syncd.sync`)."""
    changed = (result.inserted, result.updated, result.deleted, result.raised, result.resolved)
    emit = log.info if any(changed) else log.debug
    if result.error is None and result.skipped_until is None:
        emit("source synced", source=result.source, fetched=result.fetched,
             inserted=result.inserted, updated=result.updated, deleted=result.deleted,
             alerts_raised=result.raised, alerts_resolved=result.resolved)


def source_job_id(name: str) -> str:
    """The APScheduler job id of source ``name``."""
    return f"sync:{name}"


class Scheduler:
    """The daemon's clockwork. ``start()`` schedules, ``stop_taking_work()`` then
    ``wait_idle()`` then ``shutdown()`` stop it in bounded time."""

    def __init__(self, app: App, *, dispatcher: Deliverer | None = None,
                 sync: SyncPass = _default_sync,
                 dispatch_interval: timedelta = DISPATCH_INTERVAL,
                 heartbeat_interval: timedelta = HEARTBEAT_INTERVAL,
                 stale_after: timedelta = STALE_AFTER) -> None:
        self.app = app
        self.dispatcher = dispatcher
        self._sync = sync
        self._dispatch_interval = dispatch_interval
        self._heartbeat_interval = heartbeat_interval
        self.stale_after = stale_after
        self.stats: dict[str, SourceStats] = {}
        self.dispatch_errors = 0
        # Counts finished passes and events: the HTTP API's cache is valid for one value.
        self.generation = 0
        self._beat = time.monotonic()
        self._idle = threading.Condition()
        self._running: dict[str, datetime] = {}
        self._dispatching = threading.Lock()
        self._accepting = True
        self._scheduler = self._make_scheduler(len(app.settings.enabled_sources()))

    @staticmethod
    def _make_scheduler(sources: int) -> BackgroundScheduler:
        # One worker per source, the dispatcher, the heartbeat, a spare for a reload's new
        # sources: no job ever waits for a worker another job holds.
        workers = sources + 4
        return BackgroundScheduler(
            # Webhook events (Strava) are handled one at a time in their own worker, so a
            # burst of them never queues in front of a source's pass.
            executors={"default": ThreadPoolExecutor(max_workers=workers),
                       _EVENTS: ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every enabled source (first pass now), the dispatcher and the heartbeat."""
        now = datetime.now(UTC)
        self._beat = time.monotonic()
        _quiet_executor_logs()
        self._scheduler.add_job(self._heartbeat, IntervalTrigger(
            seconds=self._heartbeat_interval.total_seconds()), id=_HEARTBEAT_JOB,
            name="heartbeat", misfire_grace_time=None)
        if self.dispatcher is not None:
            self._scheduler.add_job(self.dispatch, IntervalTrigger(
                seconds=self._dispatch_interval.total_seconds()), id=_DISPATCH_JOB,
                name="dispatch", next_run_time=now, misfire_grace_time=None)
        for name in self.app.settings.enabled_sources():
            self._add_source(name, now)
        self._scheduler.start()
        log.info("scheduler started", sources=self.app.settings.enabled_sources())

    def _add_source(self, name: str, first_run: datetime | None) -> None:
        interval = self.poll_interval(name)
        jitter = min(interval * 0.1, MAX_JITTER).total_seconds()
        self.stats.setdefault(name, SourceStats())
        self._scheduler.add_job(
            self._sync_job, IntervalTrigger(seconds=interval.total_seconds(), jitter=jitter),
            args=(name,), id=source_job_id(name), name=f"sync {name}",
            next_run_time=first_run, replace_existing=True,
            # A pass that missed its slot (system suspended, clock jump) still runs if it is
            # no later than half an interval; otherwise the next slot comes soon enough.
            misfire_grace_time=max(1, int(interval.total_seconds() / 2)),
        )

    def poll_interval(self, name: str) -> timedelta:
        """The configured poll interval of source ``name``."""
        section = getattr(self.app.settings, name)
        interval: timedelta = section.poll_interval
        return interval

    def replace_app(self, app: App, dispatcher: Deliverer | None = None) -> None:
        """Use a reloaded configuration: new sources are added (first pass now), removed ones
        dropped, changed poll intervals rescheduled. Passes already running finish as they
        began."""
        old = set(self.app.settings.enabled_sources())
        self.app = app
        if dispatcher is not None:
            self.dispatcher = dispatcher
        new = app.settings.enabled_sources()
        for name in old - set(new):
            if self._scheduler.get_job(source_job_id(name)) is not None:
                self._scheduler.remove_job(source_job_id(name))
        now = datetime.now(UTC)
        for name in new:
            job = self._scheduler.get_job(source_job_id(name))
            keep = job.next_run_time if job is not None else now
            self._add_source(name, keep)
        log.info("schedule reloaded", sources=new)

    def stop_taking_work(self) -> None:
        """Start no new pass; the ones running go on (see :meth:`wait_idle`)."""
        self._accepting = False
        if self._scheduler.running:
            self._scheduler.pause()

    def wait_idle(self, timeout: float, abort: threading.Event | None = None) -> bool:
        """Wait up to ``timeout`` seconds for running passes to finish; True when none is left.
        ``abort`` (a second Ctrl-C) ends the wait early."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0 or (abort is not None and abort.is_set()):
                    return False
                self._idle.wait(min(left, 0.2))
        return True

    def shutdown(self) -> None:
        """Stop the scheduler without waiting for threads (call :meth:`wait_idle` first)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    # -- what the HTTP API and the watchdog read ------------------------------------------------

    def heartbeat_age(self) -> float:
        """Seconds since the heartbeat job last ran."""
        return time.monotonic() - self._beat

    def alive(self) -> bool:
        """True while the scheduler runs jobs on time."""
        return (self._scheduler.running and self._accepting
                and self.heartbeat_age() < self.stale_after.total_seconds())

    def running(self) -> dict[str, datetime]:
        """Sources with a pass under way, and since when."""
        with self._idle:
            return {k: v for k, v in self._running.items()
                    if k != _DISPATCH_JOB and not k.startswith("event:")}

    def next_runs(self) -> dict[str, datetime | None]:
        """When each scheduled source runs next (``None``: paused or stopping)."""
        out: dict[str, datetime | None] = {}
        for name in self.app.settings.enabled_sources():
            job = self._scheduler.get_job(source_job_id(name))
            out[name] = job.next_run_time if job is not None and self._accepting else None
        return out

    def sync_soon(self, name: str) -> bool:
        """Run source ``name`` now (a webhook said something changed); False when it is not
        scheduled. A pass already running is not doubled: it picks the change up, or the
        next does."""
        job = self._scheduler.get_job(source_job_id(name))
        if job is None or not self._accepting:
            return False
        job.modify(next_run_time=datetime.now(UTC))
        self._scheduler.wakeup()
        return True

    def dispatch_soon(self) -> None:
        """Run the dispatcher now rather than at its next tick (an alert was just raised)."""
        job = self._scheduler.get_job(_DISPATCH_JOB)
        if job is not None and self._accepting:
            job.modify(next_run_time=datetime.now(UTC))
            self._scheduler.wakeup()

    def run_event(self, name: str, handler: Callable[..., object], *args: object) -> bool:
        """Handle an event (a Strava webhook) in the events worker, after the ones before it;
        False when stopping (the event stays wherever the caller stored it)."""
        if not self._accepting:
            return False
        self._scheduler.add_job(self._event_job, args=(name, handler, *args),
                                executor=_EVENTS, name=name, misfire_grace_time=None)
        return True

    def _event_job(self, name: str, handler: Callable[..., object], *args: object) -> None:
        if not self._accepting:
            return
        with self._work(f"event:{name}:{id(args)}"):
            try:
                handler(*args)
            except Exception:  # one bad event must not stop the ones after it
                log.exception("event handler crashed", event=name)
            finally:
                self.generation += 1

    # -- the jobs -------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()

    @contextmanager
    def _work(self, key: str) -> Iterator[datetime]:
        """Mark ``key`` as running while the block runs, for :meth:`wait_idle`."""
        since = datetime.now(UTC)
        with self._idle:
            self._running[key] = since
        try:
            yield since
        finally:
            with self._idle:
                self._running.pop(key, None)
                self._idle.notify_all()

    def _sync_job(self, name: str) -> None:
        if not self._accepting:
            return
        stats = self.stats.setdefault(name, SourceStats())
        started = time.monotonic()
        with self._work(name) as since:
            stats.running_since = since
            try:
                result = self._run_pass(name, stats)
            finally:
                stats.running_since = None
                stats.last_duration_s = time.monotonic() - started
                self.generation += 1
        if result is not None and (result.raised or result.resolved):
            self.dispatch()

    def _run_pass(self, name: str, stats: SourceStats) -> SourceResult | None:
        stats.runs += 1
        try:
            result = self._sync(self.app, name)
        except Exception:  # a bug in one pass must not stop this source's schedule
            stats.crashes += 1
            stats.errors += 1
            stats.last_outcome = "crashed"
            log.exception("sync pass crashed", source=name)
            return None
        stats.fetched += result.fetched
        _log_pass(result)
        if result.skipped_until is not None:
            stats.skipped += 1
            stats.last_outcome = "backoff"
        elif result.error is not None:
            stats.errors += 1
            stats.last_outcome = "error"
        else:
            stats.last_outcome = "ok"
        return result

    def dispatch(self) -> None:
        """One delivery pass, unless one is already running (it will see the new work)."""
        if (self.dispatcher is None or not self._accepting
                or not self._dispatching.acquire(blocking=False)):
            return
        try:
            with self._work(_DISPATCH_JOB):
                self.dispatcher.run_once(self.app.clock())
        except Exception:  # delivery failures are recorded per delivery; this is a bug
            self.dispatch_errors += 1
            log.exception("dispatcher pass crashed")
        finally:
            self._dispatching.release()
