"""The scheduler in-process, with the sync pass given as a function: one source stuck in its
pass neither delays the other source, nor webhook events, nor the heartbeat; stopping waits
for running passes only as long as it is told."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
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
    """Two sources polled every second (files, and strava standing for any slow one)."""
    config = write_config(tmp_path, 8765, poll="1s", extra='''
[strava]
client_id = "1"
client_secret = "x"
poll_interval = "1s"
''')
    application = open_app(load_settings(config))
    yield application
    application.close()


def test_a_stuck_pass_holds_nothing_but_itself(app: App) -> None:
    release = threading.Event()
    passes: dict[str, int] = {"files": 0, "strava": 0}
    handled: list[str] = []

    def sync(_: App, name: str) -> SourceResult:
        passes[name] += 1
        if name == "strava":
            release.wait(30)
        return SourceResult(name)

    scheduler = Scheduler(app, sync=sync)
    scheduler.start()
    try:
        wait_until(lambda: "strava" in scheduler.running(), 5, "the strava pass to start")
        wait_until(lambda: passes["files"] >= 3, 10, "three files passes")
        assert scheduler.run_event("an event", handled.append, "event 1")
        wait_until(lambda: handled == ["event 1"], 5, "the event to be handled")
        assert scheduler.alive() and passes["strava"] == 1
        assert scheduler.stats["strava"].running_since is not None

        scheduler.stop_taking_work()
        assert not scheduler.alive()
        started = time.monotonic()
        assert scheduler.wait_idle(0.3) is False
        assert 0.3 <= time.monotonic() - started < 2
        assert not scheduler.run_event("too late", handled.append, "event 2")
        release.set()
        assert scheduler.wait_idle(5) is True
    finally:
        release.set()
        scheduler.shutdown()
    assert passes["strava"] == 1 and handled == ["event 1"]
    assert scheduler.stats["files"].runs == passes["files"]
    assert scheduler.stats["strava"].last_outcome == "ok"


def test_a_pass_that_crashes_is_counted_and_the_schedule_goes_on(app: App) -> None:
    calls: list[str] = []

    def sync(_: App, name: str) -> SourceResult:
        calls.append(name)
        if name == "files":
            raise RuntimeError("a bug in the pass")
        return SourceResult(name)

    scheduler = Scheduler(app, sync=sync)
    scheduler.start()
    try:
        wait_until(lambda: calls.count("files") >= 2, 10, "a second files pass after a crash")
    finally:
        scheduler.stop_taking_work()
        scheduler.wait_idle(5)
        scheduler.shutdown()
    stats = scheduler.stats["files"]
    assert stats.crashes >= 2 and stats.last_outcome == "crashed"
