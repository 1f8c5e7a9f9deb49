"""The scheduler's timing across wall-clock steps.

APScheduler 3 keeps each job's next run as a wall-clock time and compares it with the wall
clock, while it sleeps on a monotonic timer. When the clock steps back an hour (an NTP step, a
VM resumed from a snapshot) every job waits an hour longer; when it steps forward, every job
is an hour late at once and a source's pass may be dropped as a misfire. Here the scheduler
reads both clocks each time it wakes up, before it looks at what is due: when the wall clock
moved more (or less) than the monotonic one, every job's next run moves by the difference, so
each keeps its place in elapsed time and no poll is skipped or doubled.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

log = structlog.get_logger("syncd.runtime.scheduler")

# A difference between the two clocks smaller than this is drift or a slow wake-up, not a step.
STEP_TOLERANCE_S = 1.0


class StepSafeScheduler(BackgroundScheduler):
    """APScheduler's background scheduler whose jobs keep their pace when the wall clock
    steps (``wall`` and ``mono`` are the two clocks it compares)."""

    def __init__(self, *args: Any, wall: Callable[[], float] = time.time,
                 mono: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        self._wall, self._mono = wall, mono
        self._readings = (wall(), mono())
        self.steps: list[float] = []  # the steps followed, in seconds (for the logs and tests)
        self._following = threading.Lock()  # the scheduler's thread and a job's modifier
        super().__init__(*args, **kwargs)

    def _process_jobs(self) -> float | None:
        # APScheduler's one place that decides what is due: follow a step first.
        self.follow_steps()
        wait: float | None = super()._process_jobs()
        return wait

    def follow_steps(self) -> float:
        """Move every job's next run by the wall clock's step since the last look, if it
        stepped; the step in seconds (0 when none)."""
        with self._following:
            wall, mono = self._wall(), self._mono()
            last_wall, last_mono = self._readings
            self._readings = (wall, mono)
            step = (wall - last_wall) - (mono - last_mono)
            if abs(step) < STEP_TOLERANCE_S:
                return 0.0
            self.steps.append(step)
            log.warning("the wall clock stepped; polls keep their pace", step_s=round(step, 1))
            self._shift(timedelta(seconds=step))
            return step

    def _shift(self, step: timedelta) -> None:
        now = datetime.now(self.timezone)
        for job in self.get_jobs():
            if job.next_run_time is None:  # paused
                continue
            # A job already due stays due (now), none is moved into the past.
            moved: datetime = max(job.next_run_time + step, now)
            job.modify(next_run_time=moved)
