"""The scheduler of a clinic, in-process with the sync pass given as a function: one job per
athlete and source, each pass with that athlete's App; only the leader schedules; a pass whose
claim another process holds is skipped; athletes added at run time get their passes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from syncd.app import App
from syncd.clinic import Clinic
from syncd.config import load_settings
from syncd.pipeline.sync import SourceResult
from syncd.runtime.scheduler import Scheduler
from syncd.store.leases import fetch_claim
from syncd.store.tables import AthleteRow
from tests.support.config import write_config
from tests.support.waiting import wait_until


def _config(folder: Path) -> Path:
    for name in ("ana", "ben", "cleo"):
        (folder / name).mkdir()
    return write_config(folder, files={"poll_interval": "1s"}, athletes=[
        {"name": "ana", "timezone": "Europe/Lisbon", "watch": [folder / "ana"]},
        {"name": "ben", "timezone": "America/New_York", "watch": [folder / "ben"]},
        {"name": "cleo", "timezone": "Asia/Tokyo"}])


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[Clinic]:
    """Three athletes: ana and ben with their own folders, cleo with no source at all."""
    clinic = Clinic(load_settings(_config(tmp_path)))
    yield clinic
    clinic.close()


class Recorder:
    """A sync pass that records which athlete's App ran which source."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, app: App, name: str) -> SourceResult:
        with self.lock:
            self.calls.append((app.athlete.name, name))
        return SourceResult(name)

    def athletes(self) -> set[str]:
        with self.lock:
            return {athlete for athlete, _ in self.calls}


def _stop(scheduler: Scheduler) -> None:
    scheduler.stop_taking_work()
    scheduler.wait_idle(5)
    scheduler.shutdown()


def test_every_athlete_source_gets_its_own_pass_with_its_own_app(clinic: Clinic) -> None:
    recorder = Recorder()
    scheduler = Scheduler(clinic.apps()[0], sync=recorder)
    assert set(scheduler.next_runs()) == {"ana/files", "ben/files"}  # cleo has no folder
    scheduler.start()
    try:
        wait_until(lambda: recorder.athletes() == {"ana", "ben"}, 10, "both athletes' passes")
    finally:
        _stop(scheduler)
    assert {source for _, source in recorder.calls} == {"files"}
    assert scheduler.stats["ana/files"].runs >= 1 and scheduler.stats["ben/files"].runs >= 1


def test_only_the_leader_schedules_and_leadership_can_move(clinic: Clinic) -> None:
    recorder = Recorder()
    scheduler = Scheduler(clinic.apps()[0], sync=recorder, leader=False)
    scheduler.start()
    try:
        threading.Event().wait(1.5)
        assert recorder.calls == []  # a standby runs no pass
        assert all(run is None for run in scheduler.next_runs().values())
        scheduler.set_leader(True)
        wait_until(lambda: recorder.athletes() == {"ana", "ben"}, 10, "passes once leading")
        scheduler.set_leader(False)
        scheduler.wait_idle(5)
        count = len(recorder.calls)
        threading.Event().wait(1.5)
        assert len(recorder.calls) == count  # stepped down: no new pass
    finally:
        _stop(scheduler)


def test_a_pass_whose_claim_is_held_elsewhere_is_skipped(clinic: Clinic) -> None:
    recorder = Recorder()
    ana = clinic.app("ana")
    with fetch_claim(ana.store, ana.athlete_id, "files") as mine:
        assert mine
        scheduler = Scheduler(ana, sync=recorder)
        scheduler.start()
        try:
            wait_until(lambda: scheduler.stats.get("ana/files") is not None
                       and scheduler.stats["ana/files"].skipped >= 1, 10, "ana's pass skipped")
            wait_until(lambda: "ben" in recorder.athletes(), 10, "ben's pass")
            assert ("ana", "files") not in recorder.calls
            assert scheduler.stats["ana/files"].last_outcome == "claimed elsewhere"
        finally:
            _stop(scheduler)


def test_an_athlete_added_at_run_time_gets_passes(clinic: Clinic, tmp_path: Path) -> None:
    recorder = Recorder()
    scheduler = Scheduler(clinic.apps()[0], sync=recorder)
    scheduler.start()
    try:
        wait_until(lambda: recorder.athletes() == {"ana", "ben"}, 10, "the first passes")
        folder = tmp_path / "dora"
        folder.mkdir()
        with clinic.store.write() as tx:
            tx.add(AthleteRow(name="dora", timezone="Europe/Oslo", origin="cli",
                              profile={"timezone": "Europe/Oslo", "watch": [str(folder)]},
                              created_at=clinic.clock()))
        assert clinic.refresh()
        scheduler.replace_app(clinic.apps()[0])
        wait_until(lambda: "dora" in recorder.athletes(), 10, "the new athlete's pass")
    finally:
        _stop(scheduler)
    with clinic.store.read() as tx:
        names = set(tx.scalars(select(AthleteRow.name)))
    assert names >= {"dora"}


class Coordinating:
    """A coordinator standing for the clinic's Strava: counts ticks and refreshes."""

    source = "strava"

    def __init__(self) -> None:
        self.ticks = 0
        self.refreshed = 0

    def tick(self, now: object) -> None:
        self.ticks += 1

    def refresh(self) -> None:
        self.refreshed += 1


def test_an_athlete_who_just_connected_gets_the_coordinators_next_tick_now(
        clinic: Clinic) -> None:
    coordinator = Coordinating()
    scheduler = Scheduler(clinic.apps()[0], sync=Recorder(), coordinators=[coordinator],
                          coordinator_interval=timedelta(hours=1))
    scheduler.start()
    try:
        wait_until(lambda: coordinator.ticks == 1, 5, "the first tick at start")
        assert scheduler.sync_soon("ana/strava")
        wait_until(lambda: coordinator.ticks == 2, 5, "a tick at once, not in an hour")
        assert coordinator.refreshed == 1
    finally:
        _stop(scheduler)
    assert not scheduler.sync_soon("ana/strava")  # stopped: nothing more runs
