"""What every route reads: the running :class:`App` (swapped on a configuration reload) and the
scheduler (absent when the API runs without the daemon, as in tests of the API alone)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from fastapi import Request
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from syncd.logs import redact_text

if TYPE_CHECKING:
    from syncd.app import App
    from syncd.scheduler import Scheduler

# What a source that never ran shows, so that every source has the same keys.
_NEVER_SYNCED: dict[str, Any] = {"last_success_at": None, "last_error_at": None,
                                 "last_error": None, "error_count": 0, "backoff_until": None}
T = TypeVar("T")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


# How old a computed /status, /alerts or /weeks may be served. Past this age the answer is
# still served at once while a fresh one is computed in the background (so a client polling
# many times a second costs one query a second and never waits for it); anything written
# through this process, by a sync pass or a reload is computed before the next answer.
CACHE_TTL_S = 1.0


@dataclass(slots=True)
class WebContext:
    """The daemon's parts the HTTP API shows."""

    app: App
    scheduler: Scheduler | None = None
    cache_ttl_s: float = CACHE_TTL_S
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

    def database_ok(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.app.store.read() as tx:
                tx.execute(text("SELECT 1"))
        except Exception:  # any failure means "unreachable" to a health check
            return False
        return True

    def scheduler_state(self) -> Literal["ok", "stale", "absent"]:
        """``ok``, ``stale`` (the heartbeat stopped) or ``absent`` (API without a daemon)."""
        if self.scheduler is None:
            return "absent"
        return "ok" if self.scheduler.alive() else "stale"

    def sources(self, stored: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Every enabled or recorded source: its stored sync state, whether a pass runs now,
        and when the next one is due; error texts scrubbed of tokens and addresses."""
        enabled = self.app.settings.enabled_sources()
        running = self.scheduler.running() if self.scheduler else {}
        next_runs = self.scheduler.next_runs() if self.scheduler else {}
        out: dict[str, dict[str, Any]] = {}
        for name in [*enabled, *sorted(set(stored) - set(enabled))]:
            state = {**_NEVER_SYNCED, **(stored.get(name) or {})}
            state = {key: scrub(value) for key, value in state.items()}
            state["enabled"] = name in enabled
            state["running"] = name in running
            state["running_since"] = _iso(running.get(name))
            state["next_run_at"] = _iso(next_runs.get(name))
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
