"""A source added from outside syncd: its own package (tests/sources/fourth) and one
registration. ``syncd sync`` then stores its activities and evaluates them, its command and
its route are there, and removing it leaves syncd as it was."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from syncd.cli.main import main
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.errors import ConfigError
from syncd.runtime.scheduler import Scheduler
from syncd.sources.registry import enabled_sources, forget_source, register_source, source_names
from syncd.store.activities import find_activity
from syncd.web import create_app
from tests.sources.fourth import hooks
from tests.sources.fourth.settings import FourthSection

TODAY = datetime.now(UTC).date()
RUN_START = datetime.combine(TODAY - timedelta(days=1), time(7), tzinfo=UTC)


@pytest.fixture
def fourth() -> Iterator[None]:
    """The fourth source, registered for one test."""
    register_source("fourth", f"{hooks.__name__}:FourthHooks", section=FourthSection)
    yield
    forget_source("fourth")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A configuration enabling only the fourth source, in week 1 (walking only) of the
    shipped plan, with a 45-minute run and an entry that cannot be read in the feed."""
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps([
        {"id": "f1", "start": RUN_START.isoformat(), "sport": "Run", "seconds": 2700,
         "run_seconds": 2700, "distance_m": 7200},
        {"id": "f-bad", "sport": "Run"},
    ]), encoding="utf-8")
    path = tmp_path / "syncd.toml"
    path.write_text(f'[athlete]\ntimezone = "UTC"\nplan_start = "{TODAY - timedelta(days=2)}"\n'
                    f'[database]\nurl = "sqlite:///{tmp_path / "syncd.db"}"\n'
                    f'[fourth]\nfeed = "{feed}"\npoll_interval = "5m"\n', encoding="utf-8")
    return path


def test_syncd_sync_stores_and_evaluates_the_fourth_source(
        fourth: None, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "sync"]) == 0
    out = capsys.readouterr().out
    assert ("fourth: 2 fetched, 1 new, 0 updated, 0 unchanged, 0 deleted, 0 merged with "
            "another source; alerts 2 raised, 0 resolved; 1 failed") in out
    assert "  skipped f-bad: feed entry f-bad has no start or seconds" in out
    app = open_app(load_settings(config, env={}))
    try:
        with app.store.read() as tx:
            found = find_activity(tx, app.athlete_id, "fourth", "f1")
        assert found is not None
        stored, canonical = found
        assert (stored.start_utc, stored.run_s, stored.distance_m) == (RUN_START, 2700, 7200)
        assert canonical is None
        alerts = {alert.finding.rule: alert.finding for alert in app.alerts()}
        assert set(alerts) == {"run_in_walk_week", "session_length"}
        assert alerts["run_in_walk_week"].observed == 45
        assert alerts["run_in_walk_week"].activity_ids == ("fourth:f1",)
        assert app.status()["sources"]["fourth"]["last_error"] is None
    finally:
        app.close()


def test_a_second_pass_reads_only_what_is_new(
        fourth: None, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--config", str(config), "sync"])
    capsys.readouterr()
    assert main(["--config", str(config), "sync", "--source", "fourth"]) == 0
    assert capsys.readouterr().out.startswith("fourth: 0 fetched, 0 new")


def test_its_command_and_its_route_are_there(
        fourth: None, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "fourth-feed"]) == 0
    assert capsys.readouterr().out == "fourth feed feed.json: 2 entries\n"
    app = open_app(load_settings(config, env={}))
    try:
        assert enabled_sources(app) == ["fourth"]
        assert Scheduler(app).poll_interval("fourth") == timedelta(minutes=5)
        client = TestClient(create_app(app), base_url="http://127.0.0.1:8765")
        assert client.get("/fourth/feed").json() == {"source": "fourth"}
    finally:
        app.close()


def test_a_bad_section_is_refused_with_the_others(fourth: None, tmp_path: Path) -> None:
    path = tmp_path / "syncd.toml"
    path.write_text('[fourth]\npoll_interval = "soon"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_settings(path, env={})
    assert refused.value.problems == [
        "fourth.feed: required; add it to the configuration",
        'fourth.poll_interval: "soon" is not a duration; use e.g. "15m", "1h", "7d" or a '
        "number of seconds"]


def test_once_forgotten_its_section_is_unknown_again(config: Path) -> None:
    register_source("fourth", f"{hooks.__name__}:FourthHooks", section=FourthSection)
    forget_source("fourth")
    assert "fourth" not in source_names()
    with pytest.raises(ConfigError) as refused:
        load_settings(config, env={})
    assert refused.value.problems[0].startswith("fourth: unknown key")


def test_a_built_in_source_cannot_be_replaced() -> None:
    with pytest.raises(ValueError, match="built-in"):
        register_source("strava", f"{hooks.__name__}:FourthHooks")
    assert source_names() == ["garmin", "strava", "files"]
