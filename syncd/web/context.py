"""What every route reads: the running :class:`App` (swapped on a configuration reload), the
athletes of its clinic, and the scheduler (absent when the API runs without the daemon, as in
tests of the API alone).

A single-athlete install needs no athlete in any request. With several athletes (a clinic), the
routes about one athlete take ``?athlete=NAME``: :meth:`WebContext.athlete_app` answers 400
naming the parameter when it is missing, and 404 listing the athletes when it is unknown.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import structlog
from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from syncd.logs import redact_text
from syncd.sharing import OWN
from syncd.sources.registry import enabled_sources
from syncd.store.queries import ping
from syncd.web.overview import clinic_summary
from syncd.web.sharing_view import summary_for_clinic, token_audience, withdrawals

if TYPE_CHECKING:
    from syncd.app import App
    from syncd.runtime.scheduler import Scheduler

# What a source that never ran shows, so that every source has the same keys.
_NEVER_SYNCED: dict[str, Any] = {"last_success_at": None, "last_error_at": None,
                                 "last_error": None, "error_count": 0, "backoff_until": None}
T = TypeVar("T")
LISTED_NAMES = 20  # athletes named in a 400 or 404 before "and N more"
log = structlog.get_logger("syncd.web")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


# How old a computed /status, /alerts or /weeks may be served. Past this age the answer is
# still served at once while a fresh one is computed in the background (so a client polling
# many times a second costs one query a second and never waits for it); anything written
# through this process, by a sync pass or a reload is computed before the next answer.
CACHE_TTL_S = 1.0


@dataclass(slots=True)
class WebContext:
    """The daemon's parts the HTTP API shows.

    ``status_extras`` adds top-level keys to ``GET /status`` (single athlete and clinic
    overview alike): each callable is called per computed answer and its value shown under
    its name, e.g. the shared Strava quota or the replicas. A key never replaces one of the
    status's own keys, and a callable that fails is left out (and logged).
    """

    app: App
    scheduler: Scheduler | None = None
    cache_ttl_s: float = CACHE_TTL_S
    status_extras: dict[str, Callable[[], Any]] = field(default_factory=dict)
    _cache: dict[str, tuple[float, tuple[int, int, int], Any]] = field(default_factory=dict)
    _refreshing: set[str] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writes: int = 0

    async def cached_async(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` (in the thread pool: it reads the database), or its last value when
        nothing was written since (through this API, by a sync pass, or by a configuration
        reload); a value older than ``cache_ttl_s`` is refreshed in the background."""
        version = self._version()
        hit = self._cache.get(key)
        if hit is None or hit[1] != version:
            fresh = await run_in_threadpool(compute)
            self._cache[key] = (time.monotonic(), version, fresh)
            return fresh
        if time.monotonic() - hit[0] >= self.cache_ttl_s and key not in self._refreshing:
            self._refreshing.add(key)
            task = asyncio.get_running_loop().create_task(self._refresh(key, compute, version))
            self._tasks.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._tasks.discard)
        value: T = hit[2]
        return value

    async def _refresh(self, key: str, compute: Callable[[], Any],
                       version: tuple[int, int, int]) -> None:
        try:
            self._cache[key] = (time.monotonic(), version, await run_in_threadpool(compute))
        except Exception:  # the next request that needs it computes it and reports the error
            self._cache.pop(key, None)
        finally:
            self._refreshing.discard(key)

    def _version(self) -> tuple[int, int, int]:
        passes = self.scheduler.generation if self.scheduler is not None else 0
        return (self._writes, passes, id(self.app))

    def wrote(self) -> None:
        """Something was stored through the API: cached answers are out of date."""
        self._writes += 1

    # -- the athletes -------------------------------------------------------------------------

    def apps(self) -> list[App]:
        """Every athlete's App (a single athlete is a clinic of one)."""
        return self.app.clinic.apps()

    def several(self) -> bool:
        """True when this syncd watches more than one athlete (a clinic)."""
        return len(self.apps()) > 1

    def athlete_app(self, name: str | None) -> App:
        """The App of athlete ``name``; without a name, the only athlete's. Raises an
        :class:`HTTPException`: 400 when several athletes leave the choice open, 404 (with
        the athletes there are) for a name this syncd does not watch."""
        apps = self.apps()
        if name is None:
            if len(apps) == 1:
                return apps[0]
            raise HTTPException(400, f"this syncd watches {len(apps)} athletes: name one with "
                                     f"the query parameter athlete (?athlete=NAME); athletes: "
                                     f"{listing(apps)}")
        for app in apps:
            if app.profile.name == name:
                return app
        raise HTTPException(404, f"athlete {name!r} is not watched by this syncd; athletes: "
                                 f"{listing(apps) or 'none'}")

    def clinic_summary(self) -> dict[str, Any]:
        """Every athlete's plan week, compliance, open alerts and last sync (a few set-based
        queries, whatever the number of athletes), with the totals; in a clinic as the
        therapist may see it (:mod:`syncd.web.sharing_view`)."""
        apps = self.apps()
        summary = clinic_summary(apps, self.app.store, self.app.clock())
        if token_audience(self.app) == OWN:
            return summary
        return summary_for_clinic(summary, withdrawals(apps))

    def extra_status(self) -> dict[str, Any]:
        """The values of :attr:`status_extras`, by name; a failing one is left out."""
        out: dict[str, Any] = {}
        for name, compute in self.status_extras.items():
            try:
                out[name] = compute()
            except Exception as err:  # one broken figure must not take /status down
                log.warning("status figure left out", figure=name,
                            problem=scrub(str(err)))
        return out

    def database_ok(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.app.store.read() as tx:
                ping(tx)
        except Exception:  # any failure means "unreachable" to a health check
            return False
        return True

    def scheduler_state(self) -> Literal["ok", "stale", "absent"]:
        """``ok``, ``stale`` (the heartbeat stopped) or ``absent`` (API without a daemon)."""
        if self.scheduler is None:
            return "absent"
        return "ok" if self.scheduler.alive() else "stale"

    def sources(self, stored: dict[str, Any], app: App | None = None
                ) -> dict[str, dict[str, Any]]:
        """Every enabled or recorded source of ``app`` (default: the running App): its stored
        sync state, whether a pass runs now, and when the next one is due; error texts
        scrubbed of tokens and addresses."""
        app = app if app is not None else self.app
        enabled = enabled_sources(app)
        running = self.scheduler.running() if self.scheduler else {}
        next_runs = self.scheduler.next_runs() if self.scheduler else {}
        out: dict[str, dict[str, Any]] = {}
        for name in [*enabled, *sorted(set(stored) - set(enabled))]:
            state = {**_NEVER_SYNCED, **(stored.get(name) or {})}
            state = {key: scrub(value) for key, value in state.items()}
            # The scheduler names a clinic's passes "athlete/source", a single athlete's by
            # the source alone.
            key = f"{app.profile.name}/{name}"
            key = key if key in running or key in next_runs else name
            state["enabled"] = name in enabled
            state["running"] = key in running
            state["running_since"] = _iso(running.get(key))
            state["next_run_at"] = _iso(next_runs.get(key))
            out[name] = state
        return out


def scrub(value: Any) -> Any:
    """``value`` with tokens, secrets and e-mail addresses masked in every string."""
    if isinstance(value, str):
        return _EMAIL.sub("[address]", redact_text(value))
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def listing(apps: list[App]) -> str:
    """The athletes' names for a message: the first :data:`LISTED_NAMES`, then a count."""
    names = [a.profile.name for a in apps]
    shown = ", ".join(names[:LISTED_NAMES])
    more = len(names) - LISTED_NAMES
    return shown + (f" and {more} more" if more > 0 else "")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def context_of(request: Request) -> WebContext:
    """The context of the application serving ``request``."""
    context: WebContext = request.app.state.syncd
    return context


async def web_context(request: Request) -> WebContext:
    """FastAPI dependency: the context of the application serving ``request`` (async: a plain
    function would cost a hop through the thread pool on every request)."""
    return context_of(request)
