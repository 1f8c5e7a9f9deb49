"""The daily re-evaluation in the real scheduler: with no new data, the driven clock passes
local midnight, ``no_data`` is raised and the webhook receives it once; a replica that does
not lead evaluates nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncd.alerts import Dispatcher
from syncd.app import App
from syncd.clinic import open_app
from syncd.models import Activity
from syncd.runtime.daily import DAILY_INTERVAL
from syncd.runtime.scheduler import Scheduler
from tests.alerts.support import Receiver, settings, webhook
from tests.support.clock import Clock
from tests.support.waiting import wait_until

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(day: str, clock: str) -> datetime:
    """The UTC instant of ``clock`` on local ``day`` in Berlin."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def app(tmp_path: Path, receiver: Receiver) -> Iterator[App]:
    """Week 1 of the hip plan from Monday 2026-11-16; a walk on Tuesday, then nothing."""
    config = settings(tmp_path, webhook=webhook(receiver.url),
                      athlete={"timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
                               "plan_start": date(2026, 11, 16).isoformat()})
    clock = Clock(berlin("2026-11-21", "23:59:00"))  # Saturday: 4 days of silence
    application = open_app(config, clock)
    walk = berlin("2026-11-17", "07:00")
    application.ingest([Activity(
        source="file", source_id="walk", sport="walk", sport_type="Walk", start_utc=walk,
        local_start=walk.astimezone(BERLIN).replace(tzinfo=None), elapsed_s=900,
        timezone="Europe/Berlin")])
    yield application
    application.close()


def no_data_events(receiver: Receiver) -> list[dict[str, object]]:
    return [r.payload for r in receiver.verified() if r.payload["data"]["rule"] == "no_data"]


def test_midnight_raises_no_data_and_it_arrives_once(app: App, receiver: Receiver) -> None:
    clock = app.clock
    assert isinstance(clock, Clock)
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        scheduler = Scheduler(app, dispatcher=dispatcher)
        scheduler.start()
        try:
            time.sleep(1)  # the first check runs at the start
            assert app.alerts() == []  # exactly silence_days: nothing

            clock.now = berlin("2026-11-22", "00:00:30")  # Sunday, just after midnight
            wait_until(lambda: bool(no_data_events(receiver)),
                       DAILY_INTERVAL.total_seconds() * 2 + 10, "the no_data webhook")
            time.sleep(DAILY_INTERVAL.total_seconds() + 1)  # another check, another dispatch
        finally:
            scheduler.stop_taking_work()
            scheduler.wait_idle(5)
            scheduler.shutdown()
    (event,) = no_data_events(receiver)
    assert event["type"] == "alert.raised"
    data = event["data"]
    assert isinstance(data, dict)
    assert (data["severity"], data["observed"], data["limit"], data["unit"]) == (
        "warning", 5.0, 4.0, "days")
    assert data["subject"] == {"kind": "silence", "since": "2026-11-17"}
    assert len({r.webhook_id for r in receiver.verified()}) == len(receiver.verified())


def test_a_replica_that_does_not_lead_evaluates_nothing(app: App, receiver: Receiver) -> None:
    clock = app.clock
    assert isinstance(clock, Clock)
    clock.now = berlin("2026-11-22", "00:00:30")
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        scheduler = Scheduler(app, dispatcher=dispatcher, leader=False)
        scheduler.start()
        try:
            time.sleep(DAILY_INTERVAL.total_seconds() + 1)
            assert app.alerts() == []
            scheduler.set_leader(True)
            wait_until(lambda: bool(no_data_events(receiver)),
                       DAILY_INTERVAL.total_seconds() * 2 + 10, "the no_data webhook")
        finally:
            scheduler.stop_taking_work()
            scheduler.wait_idle(5)
            scheduler.shutdown()
    assert [a.finding.rule for a in app.alerts()] == ["no_data"]
