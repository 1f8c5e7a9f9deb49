"""The ``syncd run`` process: the scheduler and the HTTP server in one process, with systemd's
notify protocol and watchdog.

Start-up: migrate the database, bind the listen address, serve, start the scheduler, then
``READY=1``. While running: ``WATCHDOG=1`` at half of ``WATCHDOG_USEC``, sent only while the
scheduler's heartbeat is fresh, so a stuck scheduler gets the service restarted. SIGTERM or
SIGINT: ``STOPPING=1``, no new pass starts, running passes get ``stop_timeout`` seconds to
finish, the server closes, exit 0 (a second signal stops waiting). SIGHUP: reload the
configuration (sources, poll intervals, plan, channels, log level); changes to ``[server]`` or
``[database]`` need a restart and are reported as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

import structlog
import uvicorn

from syncd.alerts.dispatcher import Dispatcher
from syncd.app import App
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.errors import ConfigError, SyncdError
from syncd.runtime.exposure import check_exposure
from syncd.runtime.listen import (
    ListenError,
    NoColorMessage,
    ServerWithoutSignals,
    bind,
    dashboard_url,
)
from syncd.runtime.mqtt import MqttPublisher, mqtt_publisher
from syncd.runtime.scheduler import Coordinator, Deliverer, Scheduler
from syncd.runtime.server import AcceptErrorLog, OncePerMinute, server_config
from syncd.runtime.systemd import Notifier
from syncd.sources.hooks import EventInbox
from syncd.sources.registry import enabled_sources, hooks_for, source_names
from syncd.store import leases, replicas

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger("syncd.runtime.daemon")

STOP_TIMEOUT_S = 20.0
READY_TIMEOUT_S = 30.0
# A standby tries to take the lead this often, and the leader checks it still holds it: with
# the lock released when the holder dies, a standby takes over within this many seconds.
LEADERSHIP_CHECK_S = 5.0
# The leader reads the athletes added from the command line (on any replica) this often.
ROSTER_REFRESH_S = 30.0


class WebFactory(Protocol):
    """Builds the HTTP application the daemon serves: :func:`syncd.web.create_app`, handed
    in by ``syncd run`` (the web layer sits above the runtime)."""

    def __call__(self, app: App, *, scheduler: Scheduler | None = None) -> FastAPI:
        """The ASGI application serving ``app`` and showing ``scheduler``'s state."""


@dataclass
class Daemon:
    """One ``syncd run``."""

    app: App
    web_factory: WebFactory
    dispatcher: Deliverer | None = None
    notifier: Notifier = field(default_factory=Notifier)
    stop_timeout: float = STOP_TIMEOUT_S
    leadership_check_s: float = LEADERSHIP_CHECK_S
    scheduler: Scheduler = field(init=False)
    web: FastAPI = field(init=False)
    leadership: leases.Leadership = field(init=False)
    replica_id: str = field(default_factory=replicas.new_replica_id)
    _retired: list[App] = field(default_factory=list)
    _retired_dispatchers: list[Deliverer | None] = field(default_factory=list)
    _abort: threading.Event = field(default_factory=threading.Event)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _failed: bool = False
    mqtt: MqttPublisher | None = None
    # The inbox of each source whose webhook stores events (it keeps what each athlete's
    # events may read), and the (source, athlete) whose inbox is queued to be drained (a
    # burst of events queues one drain, which serves them all).
    inboxes: dict[str, EventInbox] = field(default_factory=lambda: _inboxes())
    _drains: set[tuple[str, int]] = field(default_factory=set)
    _drains_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def clinic(self) -> Clinic:
        """The athletes served (a single athlete is a clinic of one)."""
        assert isinstance(self.app.clinic, Clinic)  # only a Clinic builds Apps
        return self.app.clinic

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; returns the exit code."""
        self.leadership_check_s = self.app.settings.server.leadership_check.total_seconds()
        for app in self.clinic.apps():
            _ = app.athlete_id  # migrates the database, checks it answers, creates the rows
        check_exposure(self.app.settings.server)  # before the port is bound
        if self.app.settings.clinic and not self.app.settings.server.named_tokens():
            log.warning("a clinic without [server] token: every program and user on this "
                        "machine can read the athletes' data; set token (or token_file)")
        sock = bind(self.app.settings.server.host, self.app.settings.server.port)
        if self.dispatcher is None:  # its claims name this replica (store/claim_holders.py)
            self.dispatcher = Dispatcher(self.app, holder=self.replica_id)
        store = self.clinic.store
        self.leadership = leases.Leadership(store, self.replica_id)
        leader = self.leadership.try_acquire()
        replicas.register_replica(store, self.replica_id, socket.gethostname(), os.getpid(),
                                  self.app.clock())
        replicas.beat(store, self.replica_id, leader, self.app.clock())  # /status at once
        self.scheduler = Scheduler(self.app, dispatcher=self.dispatcher, leader=leader,
                                   coordinators=coordinators_for(self.clinic))
        self.mqtt = mqtt_publisher(self.app.settings, lambda: self.clinic.apps(), self.scheduler)
        self.web = self.web_factory(self.app, scheduler=self.scheduler)
        for source in self.inboxes:  # the source's callback hands each stored event here
            setattr(self.web.state, f"on_{source}_event", partial(self._on_event, source))
        self.web.state.replica = self.replica_id
        self.web.state.syncd.status_extras["replicas"] = self.replicas_status
        for coordinator in self.scheduler.coordinators:
            key = hooks_for(coordinator.source).status_key
            if key is not None:
                self.web.state.syncd.status_extras[key] = partial(
                    self.coordinator_status, coordinator.source)
        clean = asyncio.run(self._serve(sock))
        code = 1 if self._failed else 0
        if not clean:
            _exit_now(code)
        return code

    async def _serve(self, sock: socket.socket) -> bool:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop, stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_reload)
        logging.getLogger("uvicorn.error").addFilter(NoColorMessage())
        logging.getLogger("uvicorn.error").addFilter(OncePerMinute("Exceeded concurrency limit."))
        loop.set_exception_handler(AcceptErrorLog())
        server = ServerWithoutSignals(server_config(self.web))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        await self._wait_started(server, serving)
        self.scheduler.start()
        if self.scheduler.leader:
            self._drain_inboxes()
        url = dashboard_url(sock)
        self.notifier.send("READY=1", f"STATUS=serving {url}")
        log.info("syncd running", dashboard=url, pid=os.getpid(), leader=self.scheduler.leader,
                 athletes=len(self.clinic.apps()))
        watchdog = asyncio.create_task(self._watchdog())
        leading = asyncio.create_task(self._lead())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([stopped, serving], return_when=asyncio.FIRST_COMPLETED)
        if serving.done() and not stop.is_set():
            # Exit non-zero so that systemd's Restart=on-failure brings the service back.
            self._failed = True
            log.error("the HTTP server stopped unexpectedly; stopping")
        leading.cancel()
        return await self._stop(server, serving, watchdog)

    # -- replicas -------------------------------------------------------------------------------

    def coordinator_status(self, source: str) -> dict[str, object] | None:
        """What the coordinator of ``source`` shows on ``/status`` (a clinic's shared Strava
        quota); ``None`` when no coordinator runs it (e.g. one athlete, whose quota shows
        under its source)."""
        for coordinator in self.scheduler.coordinators:
            if coordinator.source == source:
                return hooks_for(source).coordinator_status(coordinator, self.app.clock())
        return None

    def replicas_status(self) -> dict[str, object]:
        """What ``/status`` shows about the replicas: this one, whether it leads, and every
        replica seen in the last minute."""
        live = replicas.live_replicas(self.clinic.store, self.app.clock())
        return {"this": self.replica_id, "leader": self.scheduler.leader,
                "live": [replica.as_dict() for replica in live]}

    async def _lead(self) -> None:
        """Keep (or try to take) the leadership and report this replica, every few seconds."""
        last_refresh = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.leadership_check_s)
            try:
                refresh = loop.time() - last_refresh >= ROSTER_REFRESH_S
                await asyncio.to_thread(self._leadership_step, refresh)
                if refresh:
                    last_refresh = loop.time()
            except Exception:  # the next check tries again; the scheduler keeps its state
                log.exception("leadership check failed")

    def _leadership_step(self, refresh_roster: bool) -> None:
        was = self.scheduler.leader
        leader = self.leadership.holds() if was else self.leadership.try_acquire()
        if leader and refresh_roster and self.clinic.refresh():
            log.info("athletes changed", athletes=len(self.clinic.apps()))
            # The coordinators read the same clinic: they keep what they learnt (the budget,
            # the measured costs) and only re-read the athletes.
            self.scheduler.replace_app(self.app)
            self.scheduler.refresh_coordinators()
        self.scheduler.set_leader(leader)
        if leader and not was:
            log.info("scheduling as the leader", replica=self.replica_id)
            self._drain_inboxes()
        elif leader:
            self._drain_inboxes(only_waiting=True)
        store, now = self.clinic.store, self.app.clock()
        if not replicas.beat(store, self.replica_id, leader, now):
            replicas.register_replica(store, self.replica_id, socket.gethostname(),
                                      os.getpid(), now)
            replicas.beat(store, self.replica_id, leader, now)
        # A replica or command that died holding deliveries: take them over now, not at the
        # next dispatcher tick.
        if isinstance(self.dispatcher, Dispatcher) and self.dispatcher.orphaned_claims(now):
            self.scheduler.dispatch_soon()

    def _drain_inboxes(self, only_waiting: bool = False) -> None:
        """Hand the events stored by any replica (or before the last stop) to the events
        worker; a source's coordinator reads its inboxes itself."""
        for source, inbox in self.inboxes.items():
            if (self.app.settings.source_section(source) is None
                    or self._coordinated(source)):
                continue
            for app in self.clinic.apps():
                if source not in enabled_sources(app):
                    continue
                if only_waiting and not inbox.waiting(app):
                    continue
                self._queue_drain(source, app)

    def _coordinated(self, source: str) -> bool:
        return any(c.source == source for c in self.scheduler.coordinators)

    def _queue_drain(self, source: str, app: App) -> None:
        """Drain the athlete's inbox in the events worker, unless a drain is queued already
        (it will serve what arrived since)."""
        with self._drains_lock:
            if (source, app.athlete_id) in self._drains:
                return
            self._drains.add((source, app.athlete_id))
        if not self.scheduler.run_event(f"{source} inbox", self._drain, source, app):
            with self._drains_lock:
                self._drains.discard((source, app.athlete_id))

    def _drain(self, source: str, app: App) -> None:
        """Serve the athlete's waiting events of ``source``."""
        with self._drains_lock:
            self._drains.discard((source, app.athlete_id))
        self.inboxes[source].drain(app)

    def _on_reload(self) -> None:
        task = asyncio.get_running_loop().create_task(self._reload())
        self._tasks.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._tasks.discard)

    def _on_event(self, source: str, *args: object) -> None:
        """``source``'s callback stored an event (``(event)`` or ``(app, event)``): drain the
        athlete's inbox now when this replica leads; otherwise the event waits there for the
        leader, which drains the inboxes every few seconds (and at every start)."""
        app = self.app if len(args) == 1 else args[0]
        assert isinstance(app, App)
        if self.scheduler.leader and not self._coordinated(source):
            self._queue_drain(source, app)

    def _on_stop(self, stop: asyncio.Event, sig: int) -> None:
        if stop.is_set():
            # A second Ctrl-C: stop waiting for running passes.
            self._abort.set()
            return
        log.info("stopping", signal=signal.Signals(sig).name)
        stop.set()

    async def _wait_started(self, server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        while not server.started:
            if serving.done() or loop.time() > deadline:
                raise ListenError("the HTTP server did not start; see the log above")
            await asyncio.sleep(0.01)

    async def _watchdog(self) -> None:
        interval = self.notifier.watchdog_s
        if interval is None:
            return
        warned = False
        while True:
            if self.scheduler.alive():
                self.notifier.send("WATCHDOG=1")
                warned = False
            elif not warned:
                # No ping: systemd restarts the service when WatchdogSec= passes.
                log.error("scheduler stuck: not feeding the watchdog",
                          heartbeat_age_s=round(self.scheduler.heartbeat_age(), 1))
                warned = True
            await asyncio.sleep(interval)

    async def _stop(self, server: uvicorn.Server, serving: asyncio.Task[None],
                    watchdog: asyncio.Task[None]) -> bool:
        self.notifier.send("STOPPING=1", "STATUS=stopping")
        self.scheduler.stop_taking_work()
        running = sorted(self.scheduler.running())
        if running:
            log.info("waiting for running passes", sources=running,
                     timeout_s=self.stop_timeout)
        idle = await asyncio.to_thread(self.scheduler.wait_idle, self.stop_timeout, self._abort)
        server.should_exit = True
        await serving
        watchdog.cancel()
        self.scheduler.shutdown()
        self.leadership.release()  # a standby takes over at once
        if idle:  # (a pass still running may hold the write lock; the row just ages out)
            with contextlib.suppress(SyncdError):
                replicas.forget_replica(self.clinic.store, self.replica_id)
        if not idle:
            log.warning("stopped with passes still running; they are redone at the next "
                        "start", sources=sorted(self.scheduler.running()))
        if self.mqtt is not None:  # "offline" before the database goes
            await asyncio.to_thread(self.mqtt.stop)
        for dispatcher in [*self._retired_dispatchers, self.dispatcher]:
            if isinstance(dispatcher, Dispatcher):
                dispatcher.close()
        for app in [*self._retired, self.app]:
            app.clinic.close()
        log.info("stopped")
        return idle

    async def _reload(self) -> None:
        await asyncio.to_thread(self.reload)

    def reload(self) -> bool:
        """Read the configuration again and apply it; False (and the old one kept) when it is
        invalid or changes what needs a restart."""
        old = self.app.settings
        try:
            settings = load_settings(old.config_path)
            needs_restart = [name for name in ("database", "server", "mqtt")
                             if getattr(settings, name) != getattr(old, name)]
            if needs_restart:
                log.warning("configuration not reloaded: changes to "
                            + ", ".join(f"[{n}]" for n in needs_restart)
                            + " need a restart (systemctl restart syncd)")
                return False
            clinic = Clinic(settings, self.app.clock)
            apps = clinic.apps()
            for candidate in apps:  # a broken plan is refused here, before anything changes
                _ = candidate.athlete, candidate.athlete_id
            app = apps[0]
        except SyncdError as err:
            problems = err.problems if isinstance(err, ConfigError) else [str(err)]
            log.error("configuration not reloaded; the running one stays", problems=problems)
            return False
        self._retired.append(self.app)
        self._retired_dispatchers.append(self.dispatcher)
        self.app = app
        self.dispatcher = Dispatcher(app, holder=self.replica_id)
        self.scheduler.replace_app(app, self.dispatcher, coordinators=coordinators_for(clinic))
        self.web.state.syncd.app = app
        logging.getLogger().setLevel(settings.log.level.upper())
        log.info("configuration reloaded", sources=settings.enabled_sources(),
                 channels=app.channels())
        return True


def coordinators_for(clinic: Clinic) -> list[Coordinator]:
    """The configured sources run for every athlete from one job (in a clinic, Strava, whose
    request budget all the athletes share)."""
    found = (hooks_for(name).coordinator(clinic) for name in clinic.settings.enabled_sources())
    return [coordinator for coordinator in found if coordinator is not None]


def _inboxes() -> dict[str, EventInbox]:
    """A new inbox of every source whose webhook stores events."""
    found = ((name, hooks_for(name).inbox()) for name in source_names())
    return {name: inbox for name, inbox in found if inbox is not None}


def _exit_now(code: int) -> None:
    """Leave without joining the worker threads of passes that did not finish in time (the
    interpreter would wait for them forever); their transactions roll back."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
