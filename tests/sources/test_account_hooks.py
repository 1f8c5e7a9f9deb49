"""What a source's hooks tell the athlete commands: whose account is connected, and which of
an athlete's files go when they are deleted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.cli.main import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A clinic of ana and ben with Garmin; only ana signed in (a token folder of her own)."""
    store = tmp_path / "garmin"
    (store / "athletes" / "ana").mkdir(parents=True)
    (store / "athletes" / "ana" / "garmin_tokens.json").write_text("{}", encoding="utf-8")
    path = tmp_path / "syncd.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "syncd.db"}"\n'
                    f'[garmin]\ntoken_store = "{store}"\n'
                    '[[athletes]]\nname = "ana"\nplan = ""\n'
                    '[[athletes]]\nname = "ben"\nplan = ""\n', encoding="utf-8")
    return path


def test_a_garmin_token_folder_shows_the_athlete_connected(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "athletes", "list", "--json"]) == 0
    listing = {entry["name"]: entry["connected"] for entry in json.loads(capsys.readouterr().out)}
    assert listing == {"ana": {"strava": False, "garmin": True},
                       "ben": {"strava": False, "garmin": False}}


def test_deleting_an_athlete_removes_their_garmin_folder_only(
        config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "garmin" / "athletes" / "ben").mkdir()
    assert main(["--config", str(config), "--athlete", "ana", "status"]) == 0  # stores her
    code = main(["--config", str(config), "athletes", "delete", "ana", "--yes", "--force"])
    assert code == 0, capsys.readouterr()
    assert not (tmp_path / "garmin" / "athletes" / "ana").exists()
    assert (tmp_path / "garmin" / "athletes" / "ben").is_dir()
    assert str(tmp_path / "garmin" / "athletes" / "ana") in capsys.readouterr().out
