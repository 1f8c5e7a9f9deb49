"""The scheduler in-process, with the sync pass given as a function: an athlete's first
passes run in ``[sources] canonical_order`` (the lesser source starts after the better one
ended), a later poll of the lesser source that meets a running pass of the better one waits
for it, and a better source that hangs holds the lesser one only for the bounded wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.pipeline.sync import SourceResult
from syncd.runtime.scheduler import Scheduler
from tests.support.waiting import wait_until

from .support import write_config


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """Files and Strava polled every second, Strava's copy canonical."""
    config = write_config(tmp_path, 8765, poll="1s", extra='''
[strava]
client_id = "1"
client_secret = "x"
poll_interval = "1s"

[sources]
canonical_order = ["strava", "file"]
''')
    application = open_app(load_settings(config))
    yield application
    application.close()


class Passes:
    """The injected sync pass: records when each pass of each source began and ended."""

    def __init__(self, strava_s: float) -> None:
        self.strava_s = strava_s
        self.release = threading.Event()
        self.spans: list[tuple[str, float, float]] = []
        self.lock = threading.Lock()

    def __call__(self, _: App, name: str) -> SourceResult:
        began = time.monotonic()
        if name == "strava":
            self.release.wait(self.strava_s)
        with self.lock:
            self.spans.append((name, began, time.monotonic()))
        return SourceResult(name)

    def of(self, name: str) -> list[tuple[float, float]]:
        with self.lock:
            return [(b, e) for n, b, e in self.spans if n == name]


def _stop(scheduler: Scheduler, passes: Passes) -> None:
    passes.release.set()
    scheduler.stop_taking_work()
    scheduler.wait_idle(5)
    scheduler.shutdown()


def test_the_first_passes_run_in_canonical_order_and_meeting_polls_wait(app: App) -> None:
    passes = Passes(strava_s=0.6)
    scheduler = Scheduler(app, sync=passes)
    scheduler.start()
    try:
        wait_until(lambda: len(passes.of("files")) >= 4, 20, "four files passes")
    finally:
        _stop(scheduler, passes)
    strava, files = passes.of("strava"), passes.of("files")
    assert files[0][0] >= strava[0][1]  # the first files pass began after Strava's ended
    # No files pass ran while a Strava pass did.
    assert not any(fb < se and sb < fe for fb, fe in files for sb, se in strava), passes.spans


def test_a_hanging_better_source_holds_the_lesser_one_only_for_the_bounded_wait(
        app: App) -> None:
    passes = Passes(strava_s=60)
    scheduler = Scheduler(app, sync=passes)
    scheduler.order.max_wait = timedelta(seconds=1)
    started = time.monotonic()
    scheduler.start()
    try:
        wait_until(lambda: len(passes.of("files")) >= 2, 10, "files passes despite Strava")
        assert passes.of("strava") == []  # still hanging
    finally:
        _stop(scheduler, passes)
    assert passes.of("files")[0][0] - started >= 0.9
