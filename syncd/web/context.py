"""What every route reads: the running :class:`App` (swapped on a configuration reload) and the
scheduler (absent when the API runs without the daemon, as in tests of the API alone)."""

from __future__ import annotations

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


# How long a computed /status, /alerts or /weeks is served again. A client polling many
# times a second (a dashboard on a wall, a monitoring check) then costs one query a second;
# anything written through this process or by a sync pass shows at once.
CACHE_TTL_S = 1.0


@dataclass(slots=True)
class WebContext:
    """The daemon's parts the HTTP API shows."""

    app: App
    scheduler: Scheduler | None = None
    cache_ttl_s: float = CACHE_TTL_S
    _cache: dict[str, tuple[float, tuple[int, int, int], Any]] = field(default_factory=dict)
    _writes: int = 0

    async def cached_async(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` (in the thread pool: it reads the database), or its value from less
        than ``cache_ttl_s`` ago when nothing was written since (through this API, by a sync
        pass, or by a configuration reload)."""
        version = self._version()
        hit = self._cache.get(key)
        if hit is not None and hit[1] == version and time.monotonic() - hit[0] < self.cache_ttl_s:
            value: T = hit[2]
            return value
        fresh = await run_in_threadpool(compute)
        self._cache[key] = (time.monotonic(), version, fresh)
        return fresh

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


def web_context(request: Request) -> WebContext:
    """FastAPI dependency: the context of the application serving ``request``."""
    context: WebContext = request.app.state.syncd
    return context
