"""The APScheduler the daemon runs on: its worker pools, and the log level of its own lines."""

from __future__ import annotations

import logging
from datetime import UTC

from apscheduler.executors.pool import ThreadPoolExecutor

from syncd.runtime.clocksteps import StepSafeScheduler

EVENTS_EXECUTOR = "events"
# At most this many source passes run at once, whatever the number of athletes (a clinic's
# passes queue for a worker; each athlete's source still runs at most once at a time).
MAX_SOURCE_WORKERS = 8


def background_scheduler(passes: int) -> StepSafeScheduler:
    """The APScheduler for ``passes`` source passes: its worker pools, coalescing jobs that
    run at most once at a time, in UTC, keeping their pace when the wall clock steps
    (:mod:`syncd.runtime.clocksteps`)."""
    # One worker per source pass (up to a cap), the dispatcher, the heartbeat, a spare for
    # a reload's new sources: for a single athlete no job ever waits for a worker another
    # job holds.
    workers = min(passes, MAX_SOURCE_WORKERS) + 4
    return StepSafeScheduler(
        # Webhook events (Strava) are handled one at a time in their own worker, so a
        # burst of them never queues in front of a source's pass.
        executors={"default": ThreadPoolExecutor(max_workers=workers),
                   EVENTS_EXECUTOR: ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=UTC,
    )


def quiet_executor_logs() -> None:
    """APScheduler logs every job run at INFO: with a heartbeat every 5 s that floods the
    journal. Runs are logged by :func:`~syncd.runtime.passes.log_pass` instead; debug level
    shows them again."""
    root = logging.getLogger().getEffectiveLevel()
    level = logging.DEBUG if root <= logging.DEBUG else logging.WARNING
    logging.getLogger("apscheduler.executors").setLevel(level)
    logging.getLogger("apscheduler.scheduler").setLevel(level)
