"""One athlete's sources in ``[sources] canonical_order``, in the daemon as in ``syncd sync``.

A run that two sources report is evaluated on its canonical copy (Garmin's, with the run/walk
split) when that copy lands first; the lesser copy (Strava's) then links to it and changes no
finding. Landed the other way round, the lesser copy is evaluated alone and raises alerts that
the canonical copy resolves a moment later: a false alarm for the runner. So a source's pass
waits, before it fetches, while a source ahead of it in the order has a pass of the same
athlete owed, due or running:

- at start-up (and when passes are added: a reload, a new athlete, gaining the leadership)
  every first pass is *owed* until it ran, so the first passes run in canonical order and
  every source has landed before the lesser copies are evaluated;
- the leader's chores (the daily re-evaluation, the check-ins), a coordinator's first tick
  (a clinic's Strava) and a source's stored webhook events (its inbox, drained at start)
  wait for the first passes too;
- later, each source keeps its own poll interval; a lesser pass that comes while a better
  one of the athlete is due or running waits for it (polls that do not meet run as before).

A pass that must wait gives its worker back and is tried again a moment later (a waiting
job must not hold a worker that the pass it waits for, or the heartbeat, needs). The wait is
bounded (:data:`ORDER_WAIT`): a source that hangs delays the ones after it that long at most,
never stops them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

import structlog

from syncd.config.sections import order_names

log = structlog.get_logger("syncd.runtime.scheduler")

ORDER_WAIT = timedelta(minutes=2)
_TICK_S = 0.1


def source_rank(name: str, order: Sequence[str]) -> int:
    """Where source ``name`` stands in ``order`` (kinds ``garmin``, ``file``, ``strava``;
    the ``files`` source is kind ``file``); sources not listed come last."""
    kinds = order_names(order)
    return kinds.index(name) if name in kinds else len(kinds)


class SourceOrder:
    """Which source passes are owed or running, per athlete (named as in the scheduler's
    pass keys), and the wait for the better ones (thread-safe: each pass runs in its own
    worker)."""

    def __init__(self, max_wait: timedelta = ORDER_WAIT) -> None:
        self.max_wait = max_wait
        self._owed: dict[str, set[str]] = {}
        self._running: dict[str, set[str]] = {}
        self._deferred: dict[tuple[str, str], float] = {}  # put off since (monotonic)
        self._changed = threading.Condition()

    def owe(self, athlete: str, sources: Iterable[str]) -> None:
        """The first passes of ``athlete``'s ``sources`` are about to be scheduled."""
        with self._changed:
            self._owed.setdefault(athlete, set()).update(sources)

    def forget(self, athlete: str, source: str) -> None:
        """``athlete``'s ``source`` is no longer scheduled: nothing waits for it."""
        with self._changed:
            self._owed.get(athlete, set()).discard(source)
            self._changed.notify_all()

    def owes(self, athlete: str) -> set[str]:
        """The sources of ``athlete`` whose first pass has not run yet."""
        with self._changed:
            return set(self._owed.get(athlete, ()))

    def ready(self, athlete: str, source: str, order: Sequence[str],
              due: Callable[[str], bool]) -> bool:
        """True when ``athlete``'s ``source`` may start its pass now: no source ahead of it
        in ``order`` has a pass of the athlete owed, ``due`` or running, or the pass has been
        put off for :attr:`max_wait` already. The pass then counts as running until
        :meth:`done`; on False the caller tries again shortly (without holding a worker)."""
        rank = source_rank(source, order)
        with self._changed:
            key = (athlete, source)
            if self._blocked(athlete, rank, order, due):
                since = self._deferred.setdefault(key, time.monotonic())
                if time.monotonic() - since < self.max_wait.total_seconds():
                    return False
                log.warning("a source ahead in canonical_order is still busy; going on",
                            source=source, athlete=athlete or None,
                            waited_s=self.max_wait.total_seconds())
            self._deferred.pop(key, None)
            self._running.setdefault(athlete, set()).add(source)
            return True

    def done(self, athlete: str, source: str) -> None:
        """``athlete``'s ``source`` finished its pass (whatever the outcome)."""
        with self._changed:
            self._running.get(athlete, set()).discard(source)
            self._owed.get(athlete, set()).discard(source)
            self._changed.notify_all()

    def first_passes_done(self, source: str | None, order: Sequence[str]) -> bool:
        """True when no athlete owes a first pass of a source ahead of ``source`` (a
        coordinator's tick, a source's webhook events), or of any source (``None``: a chore
        that evaluates what landed)."""
        rank = len(order) + 1 if source is None else source_rank(source, order)
        with self._changed:
            return not any(source_rank(owed, order) < rank
                           for owing in self._owed.values() for owed in owing)

    def wait_first_passes(self, source: str, order: Sequence[str],
                          stopping: Callable[[], bool]) -> bool:
        """Wait (at most :attr:`max_wait`) until :meth:`first_passes_done` for ``source``
        (in a worker of its own, such as the webhook events'); False when stopping."""
        deadline = time.monotonic() + self.max_wait.total_seconds()
        while not self.first_passes_done(source, order) and time.monotonic() < deadline:
            if stopping():
                return False
            with self._changed:
                self._changed.wait(_TICK_S)
        return True

    def _blocked(self, athlete: str, rank: int, order: Sequence[str],
                 due: Callable[[str], bool]) -> bool:
        ahead = self._owed.get(athlete, set()) | self._running.get(athlete, set())
        if any(source_rank(other, order) < rank for other in ahead):
            return True
        kinds = order_names(order[:rank])
        return any(due(other) for other in kinds)
