"""The everyday commands in a clinic: without --athlete, `status` and `alerts` cover every
athlete; a command about one athlete asks which; with --athlete each sees only their own."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from syncd.cli.main import main
from tests.support.config import write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """Two athletes in different time zones, one of them inside the plan."""
    return write_config(tmp_path, athletes=[
        {"name": "ana", "timezone": "Europe/Lisbon", "plan_start": date(2026, 11, 9)},
        {"name": "ben", "timezone": "Asia/Tokyo"}])


def run(config: Path, *args: str) -> int:
    return main(["--config", str(config), *args])


# Rules judged against the real today (these commands run on the real clock).
AGAINST_TODAY = frozenset({"missed_session", "no_data"})


def test_each_athlete_sees_only_their_own(config: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "--athlete", "ana", "pain", "5", "--at", "2026-11-20T08:00") == 0
    assert run(config, "--athlete", "ben", "pain", "2", "--at", "2026-11-20T08:00") == 0
    capsys.readouterr()

    assert run(config, "--athlete", "ana", "alerts", "--json") == 0
    ana = json.loads(capsys.readouterr().out)
    # Every alert listed is ana's; her days since the report (judged against the real today:
    # missed_session, no_data) are hers too, but their numbers change daily, so the pain
    # alert is the one compared exactly.
    assert {a["athlete"] for a in ana} == {"ana"}
    assert [(a["athlete"], a["rule"], a["observed"]) for a in ana
            if a["rule"] not in AGAINST_TODAY] == [("ana", "pain_stop", 5)]
    assert run(config, "--athlete", "ben", "alerts", "--json") == 0
    ben = json.loads(capsys.readouterr().out)
    assert {a["athlete"] for a in ben} <= {"ben"}
    assert [a for a in ben if a["rule"] not in AGAINST_TODAY] == []


def test_status_and_alerts_cover_every_athlete_when_none_is_named(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "--athlete", "ben", "pain", "6", "--at", "2026-11-20T08:00") == 0
    capsys.readouterr()

    assert run(config, "status", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    rows = {row["athlete"]: row for row in summary["athletes"]}
    assert [row["athlete"] for row in summary["athletes"]] == ["ben", "ana"]  # severe first
    assert rows["ben"]["open_alerts"]["critical"] == 1
    assert rows["ana"]["open_alerts"]["total"] == 0
    assert summary["totals"]["open_alerts"]["critical"] == 1

    assert run(config, "status") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ben: outside the plan; 1 critical")
    assert lines[-1] == "2 athletes; open alerts: 1 critical, 0 warning, 0 info"

    assert run(config, "alerts") == 0
    assert "CRITICAL ben: pain_stop" in capsys.readouterr().out


def test_a_command_about_one_athlete_asks_which(config: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run(config, "pain", "3") == 2
    err = capsys.readouterr().err
    assert "watches 2 athletes; name one with --athlete (ana, ben)" in err
    assert run(config, "--athlete", "cleo", "plan") == 2
    assert "athlete 'cleo' is not watched by this syncd; athletes: ana, ben" in (
        capsys.readouterr().err)


def test_sync_leaves_a_source_another_syncd_is_reading(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """`syncd sync` beside a running daemon: a source whose pass the daemon holds is skipped,
    never read twice at once; the other athlete's is read."""
    from syncd.clinic import Clinic
    from syncd.config import load_settings
    from syncd.store.leases import fetch_claim

    for name in ("ana", "ben"):
        (tmp_path / name).mkdir()
    config = write_config(tmp_path, files={}, athletes=[
        {"name": "ana", "watch": [tmp_path / "ana"]}, {"name": "ben", "watch": [tmp_path / "ben"]}])
    clinic = Clinic(load_settings(config))
    try:
        ana = clinic.app("ana")
        with fetch_claim(ana.store, ana.athlete_id, "files") as mine:
            assert mine
            assert run(config, "sync") == 0
    finally:
        clinic.close()
    out = capsys.readouterr().out
    assert "ana/files: a pass is running in another syncd; skipped" in out
    assert "files: 0 fetched, 0 new" in out.split("athlete ben:")[1]
