"""The leading replica's chores: work for the whole clinic on a fixed interval, beside the
sources' passes (the morning check-ins, the daily re-evaluation, each source's upkeep of the
data it stored, such as raw records' retention). The scheduler runs each
chore in a job of its own, on the leader only, at most once at a time; a new chore is one
entry in :data:`CHORES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from apscheduler.triggers.interval import IntervalTrigger

from syncd.runtime.checkins import CHECKIN_INTERVAL, send_due_checkins
from syncd.runtime.daily import DAILY_INTERVAL, evaluate_new_days
from syncd.runtime.digest import DIGEST_INTERVAL, queue_due_digest
from syncd.runtime.retention import RETENTION_INTERVAL, sources_upkeep

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.runtime.scheduler")


@dataclass(frozen=True, slots=True)
class Chore:
    """One chore: its name (the job is ``chore:<name>``), how often it runs (the first run
    at the start), and what it does for the running App's clinic."""

    name: str
    interval: timedelta
    work: Callable[[App], object]

    @property
    def job_id(self) -> str:
        """The scheduler's id of the chore's job (and of its runs, for ``wait_idle``)."""
        return f"chore:{self.name}"

    def trigger(self) -> IntervalTrigger:
        """When the chore runs: every :attr:`interval`."""
        return IntervalTrigger(seconds=self.interval.total_seconds())

    def __call__(self, app: App) -> None:
        """Run the chore once; a failure is logged, never raised (the next run comes)."""
        try:
            self.work(app)
        except Exception:
            log.exception("chore crashed", chore=self.name)


CHORES: tuple[Chore, ...] = (
    Chore("checkins", CHECKIN_INTERVAL, send_due_checkins),
    Chore("daily", DAILY_INTERVAL, evaluate_new_days),
    Chore("digest", DIGEST_INTERVAL, queue_due_digest),
    Chore("retention", RETENTION_INTERVAL, sources_upkeep),
)
