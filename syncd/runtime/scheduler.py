"""APScheduler wiring for ``syncd run``: one job per enabled source on its poll interval, the
alert dispatcher on a short interval and after every sync, and a heartbeat that proves the
scheduler still runs jobs (the watchdog and ``/healthz`` read it).

Every job runs in a thread pool with a worker for each job, and each job has
``max_instances=1``: a source that hangs holds its own worker (and an athlete's sources after
it in canonical order, for a bounded wait: runtime/ordering.py), so the dispatcher and the
heartbeat keep their schedule. Jobs live in memory (never a shared job store); wall-clock
steps are followed (runtime/clocksteps.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from apscheduler.triggers.interval import IntervalTrigger

from syncd.runtime.chores import CHORES, Chore
from syncd.runtime.executors import EVENTS_EXECUTOR, background_scheduler, quiet_executor_logs
from syncd.runtime.ordering import SourceOrder
from syncd.runtime.passes import (
    Deliverer,
    SourceStats,
    SyncPass,
    athlete_source,
    default_sync,
    marked_running,
    pass_key,
    run_counted,
    source_job_id,
)
from syncd.sources.hooks import Coordinator
from syncd.sources.registry import enabled_sources

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.runtime.scheduler")

DISPATCH_INTERVAL = timedelta(seconds=5)
HEARTBEAT_INTERVAL = timedelta(seconds=5)
# The heartbeat is stale (the scheduler is stuck) after this long without a beat.
STALE_AFTER = timedelta(seconds=30)
# Jitter spreads polls of many daemons (and of sources sharing a host) over time; capped so that
# a 15-minute poll never drifts by more than a minute.
MAX_JITTER = timedelta(seconds=60)
_HEARTBEAT_JOB = "heartbeat"
RETRY_SOON = timedelta(seconds=0.5)  # a job waiting for another's first pass looks again
_NEVER = datetime.max.replace(tzinfo=UTC)
_DISPATCH_JOB = "dispatch"


class Scheduler:
    """The daemon's clockwork. ``start()`` schedules, ``stop_taking_work()`` then
    ``wait_idle()`` then ``shutdown()`` stop it in bounded time."""

    def __init__(self, app: App, *, dispatcher: Deliverer | None = None,
                 sync: SyncPass = default_sync,
                 dispatch_interval: timedelta = DISPATCH_INTERVAL,
                 heartbeat_interval: timedelta = HEARTBEAT_INTERVAL,
                 stale_after: timedelta = STALE_AFTER,
                 coordinators: list[Coordinator] | None = None,
                 coordinator_interval: timedelta = timedelta(seconds=10),
                 leader: bool = True) -> None:
        self.app = app
        self.dispatcher = dispatcher
        self._sync = sync
        self.coordinators = list(coordinators or [])
        self._coordinator_interval = coordinator_interval
        # Only the leader of several replicas schedules sources; every replica delivers.
        self.leader = leader
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
        # Each athlete's sources in canonical order (first passes, and polls that meet).
        self.order = SourceOrder()
        self._scheduler = background_scheduler(len(self._passes()))

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every enabled source (first pass now), the dispatcher and the heartbeat."""
        now = datetime.now(UTC)
        self._beat = time.monotonic()
        quiet_executor_logs()
        self._scheduler.add_job(self._heartbeat, IntervalTrigger(
            seconds=self._heartbeat_interval.total_seconds()), id=_HEARTBEAT_JOB,
            name="heartbeat", misfire_grace_time=None)
        if self.dispatcher is not None:
            self._scheduler.add_job(self.dispatch, IntervalTrigger(
                seconds=self._dispatch_interval.total_seconds()), id=_DISPATCH_JOB,
                name="dispatch", next_run_time=now, misfire_grace_time=None)
        if self.leader:
            self._schedule_sources(now)
        for chore in CHORES:  # the leader's work for the whole clinic (runtime/chores.py)
            self._scheduler.add_job(self._chore, chore.trigger(), args=(chore,), id=chore.job_id,
                                    name=chore.name, next_run_time=now, misfire_grace_time=None)
        self._scheduler.start()
        log.info("scheduler started", sources=self.app.settings.enabled_sources(),
                 athletes=len(self._apps()), leader=self.leader)

    def _apps(self) -> list[App]:
        return self.app.clinic.apps()

    def _passes(self) -> dict[str, tuple[App, str]]:
        """Every (athlete, source) the scheduler runs on its own job, by key; sources run by
        a coordinator are left out."""
        coordinated = {c.source for c in self.coordinators}
        return {pass_key(app, name): (app, name) for app in self._apps()
                for name in enabled_sources(app) if name not in coordinated}

    def _schedule_sources(self, first_run: datetime | None) -> None:
        """Add (or update) a job for every pass and coordinator; drop jobs of passes gone."""
        passes = self._passes()
        for job in self._scheduler.get_jobs():
            key = job.id.removeprefix("sync:")
            if job.id.startswith("sync:") and key not in passes:
                job.remove()
                self.order.forget(*athlete_source(key))
        for key, (app, name) in passes.items():
            job = self._scheduler.get_job(source_job_id(key))
            keep = job.next_run_time if job is not None else first_run
            if job is None and first_run is not None:
                self.order.owe(athlete_source(key)[0], [name])
            self._add_source(key, app, name, keep)
        for coordinator in self.coordinators:
            job_id = f"coordinate:{coordinator.source}"
            if self._scheduler.get_job(job_id) is None:
                self._scheduler.add_job(
                    self._coordinate_job, IntervalTrigger(
                        seconds=self._coordinator_interval.total_seconds()),
                    args=(coordinator,), id=job_id, name=f"coordinate {coordinator.source}",
                    next_run_time=first_run, misfire_grace_time=None)

    def _unschedule_sources(self) -> None:
        for job in self._scheduler.get_jobs():
            if job.id.startswith(("sync:", "coordinate:")):
                job.remove()

    def _add_source(self, key: str, app: App, name: str, first_run: datetime | None) -> None:
        interval = self.poll_interval(name)
        jitter = min(interval * 0.1, MAX_JITTER).total_seconds()
        self.stats.setdefault(key, SourceStats())
        self._scheduler.add_job(
            self._sync_job, IntervalTrigger(seconds=interval.total_seconds(), jitter=jitter),
            args=(key,), id=source_job_id(key), name=f"sync {key}",
            next_run_time=first_run, replace_existing=True,
            # A pass that missed its slot (system suspended, clock jump) still runs if it is
            # no later than half an interval; otherwise the next slot comes soon enough.
            misfire_grace_time=max(1, int(interval.total_seconds() / 2)),
        )

    def poll_interval(self, name: str) -> timedelta:
        """The configured poll interval of source ``name``."""
        section = self.app.settings.source_section(name)
        interval: timedelta = section.poll_interval
        return interval

    def replace_app(self, app: App, dispatcher: Deliverer | None = None,
                    coordinators: list[Coordinator] | None = None) -> None:
        """Use a reloaded configuration (or roster): new passes are added (first pass now),
        removed ones dropped, changed poll intervals rescheduled. Passes already running finish
        as they began."""
        self.app = app
        if dispatcher is not None:
            self.dispatcher = dispatcher
        if coordinators is not None:
            for job in self._scheduler.get_jobs():
                if job.id.startswith("coordinate:"):
                    job.remove()
            self.coordinators = list(coordinators)
        if self.leader:
            self._schedule_sources(self._now())
        log.info("schedule reloaded", sources=app.settings.enabled_sources(),
                 athletes=len(self._apps()))

    def refresh_coordinators(self) -> None:
        """The athletes changed: every coordinator reads them again at its next tick (and
        keeps what it learnt, such as the budget)."""
        for coordinator in self.coordinators:
            coordinator.refresh()

    def set_leader(self, leader: bool) -> None:
        """Start (first passes now) or stop scheduling sources, as this replica gains or loses
        the leadership. Passes already running finish as they began."""
        if leader == self.leader:
            return
        self.leader = leader
        if not self._accepting:
            return
        if leader:
            self._schedule_sources(self._now())
        else:
            self._unschedule_sources()
        self._scheduler.wakeup()

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
        """Passes under way (by :func:`pass_key`), and since when."""
        with self._idle:
            return {k: v for k, v in self._running.items()
                    if k != _DISPATCH_JOB and not k.startswith(("event:", "coordinate:", "chore:"))}

    def next_runs(self) -> dict[str, datetime | None]:
        """When each scheduled pass runs next, by :func:`pass_key` (``None``: paused,
        stopping, or another replica schedules)."""
        out: dict[str, datetime | None] = {}
        for key in self._passes():
            job = self._scheduler.get_job(source_job_id(key))
            out[key] = job.next_run_time if job is not None and self._accepting else None
        return out

    def sync_soon(self, name: str) -> bool:
        """Run pass ``name`` (a :func:`pass_key`) now, e.g. a webhook said something changed
        or an athlete just connected an account; False when it is not scheduled here. A pass
        already running is not doubled: it picks the change up, or the next does. A source
        run by a coordinator (a clinic's Strava) gets the coordinator's next tick now, with
        its view of the athletes refreshed."""
        job = self._scheduler.get_job(source_job_id(name))
        source = name.rpartition("/")[2]
        for coordinator in self.coordinators:
            if coordinator.source == source:
                coordinator.refresh()
                job = self._scheduler.get_job(f"coordinate:{source}")
        if job is None or not self._accepting:
            return False
        job.modify(next_run_time=self._now())
        self._scheduler.wakeup()
        return True

    def dispatch_soon(self) -> None:
        """Run the dispatcher now rather than at its next tick (an alert was just raised)."""
        job = self._scheduler.get_job(_DISPATCH_JOB)
        if job is not None and self._accepting:
            job.modify(next_run_time=self._now())
            self._scheduler.wakeup()

    def run_event(self, name: str, handler: Callable[..., object], *args: object) -> bool:
        """Handle an event (a Strava webhook) in the events worker, after the ones before it;
        False when stopping (the event stays wherever the caller stored it)."""
        if not self._accepting:
            return False
        self._scheduler.add_job(self._event_job, args=(name, handler, *args), name=name,
                                executor=EVENTS_EXECUTOR, next_run_time=self._now(),
                                misfire_grace_time=None)
        return True

    def _now(self) -> datetime:
        """The wall clock, for a job's next run: a step of the clock is followed first (so
        that the job is not moved with the others)."""
        self._scheduler.follow_steps()
        return datetime.now(UTC)

    def _event_job(self, name: str, handler: Callable[..., object], *args: object) -> None:
        source = name.partition(" ")[0]  # "<source> inbox": after the first passes ahead of it
        if source in self.app.settings.enabled_sources() and not self.order.wait_first_passes(
                source, self._canonical(), lambda: not self._accepting):
            return
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

    def _work(self, key: str) -> AbstractContextManager[datetime]:
        """Mark ``key`` as running while the block runs, for :meth:`wait_idle`."""
        return marked_running(self._idle, self._running, key)

    def _sync_job(self, key: str) -> None:
        if not self._accepting:
            return
        found = self._passes().get(key)
        if found is None:
            return  # the athlete or source went away in a reload
        app, name = found
        stats, athlete = self.stats.setdefault(key, SourceStats()), athlete_source(key)[0]
        if not self.order.ready(athlete, name, app.settings.sources.canonical_order,
                                lambda other: self._due(app, other)):
            return self._retry_soon(source_job_id(key))  # a source ahead of it goes first
        with self._work(key) as since:
            started = time.monotonic()
            stats.running_since = since
            try:
                result = run_counted(app, name, stats, self._sync)
            finally:
                self.order.done(athlete, name)
                stats.running_since = None
                stats.last_duration_s = time.monotonic() - started
                self.generation += 1
        if result is not None and (result.raised or result.resolved):
            self.dispatch()

    def _due(self, app: App, name: str) -> bool:
        """True when ``app``'s athlete's source ``name`` has a pass due and not yet started."""
        job = self._scheduler.get_job(source_job_id(pass_key(app, name)))
        return job is not None and (job.next_run_time or _NEVER) <= datetime.now(UTC)

    def _canonical(self) -> list[str]:
        return list(self.app.settings.sources.canonical_order)

    def _retry_soon(self, job_id: str) -> None:
        """Run job ``job_id`` again in a moment (it waits for another without a worker)."""
        job = self._scheduler.get_job(job_id)
        if job is not None and self._accepting:
            job.modify(next_run_time=datetime.now(UTC) + RETRY_SOON)

    def _coordinate_job(self, coordinator: Coordinator) -> None:
        if not self._accepting or not self.leader:
            return
        job_id = f"coordinate:{coordinator.source}"  # its first tick after the better sources'
        if not self.order.first_passes_done(coordinator.source, self._canonical()):
            return self._retry_soon(job_id)
        with self._work(job_id):
            try:
                coordinator.tick(self.app.clock())
            except Exception:  # a bug in one tick must not stop the next
                log.exception("coordinator tick crashed", source=coordinator.source)
            finally:
                self.generation += 1
        self.dispatch()

    def _chore(self, chore: Chore) -> None:
        # After the first passes landed: a re-evaluation before them finds no runs at all.
        if not self.order.first_passes_done(None, self._canonical()):
            return self._retry_soon(chore.job_id)
        if self._accepting and self.leader:  # as the sources' passes: the leader's alone
            with self._work(chore.job_id):
                chore(self.app)

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
