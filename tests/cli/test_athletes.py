"""``syncd athletes`` as an operator runs it, on a SQLite file: adding, listing, removing,
exporting, importing and deleting athletes, with what is stored checked in the database."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from syncd.cli.main import main
from syncd.store import Store
from syncd.store.athletes import athlete_rows
from syncd.store.export_file import read_export
from syncd.store.tables import AthleteRow, Base
from tests.support.config import write_config

ROOT = Path(__file__).resolve().parents[2]
HISTORY = ROOT / "examples" / "history"  # 28 files from 2026-09-07, the hip plan's start

CLINIC = """
[database]
url = "sqlite:///{folder}/syncd.db"

[[athletes]]
name = "ana"
timezone = "Europe/Berlin"
plan_start = 2026-09-07
channels = ["webhook:therapist"]

[files]
watch = []

[garmin]
token_store = "{folder}/garmin"

[[webhooks]]
name = "therapist"
url = "http://127.0.0.1:9/hook"
min_severity = "critical"

[email]
host = "127.0.0.1"
sender = "syncd@clinic.example"
recipients = ["pt@clinic.example"]

[alerts]
weekly_summary = false
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clinic of one configured athlete, ana; files, Garmin, a webhook and mail."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    monkeypatch.delenv("SYNCD_ATHLETE", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "syncd.toml"
    path.write_text(CLINIC.format(folder=tmp_path), encoding="utf-8")
    (tmp_path / "ben-files").mkdir()
    return path


def syncd(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    """``syncd --config CONFIG ARGV``: exit code, standard output, standard error."""
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def listing(capsys: pytest.CaptureFixture[str], config: Path, *extra: str
            ) -> dict[str, dict[str, Any]]:
    code, out, err = syncd(capsys, config, "athletes", "list", "--json", *extra)
    assert code == 0, err
    return {entry["name"]: entry for entry in json.loads(out)}


def add_ben(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> str:
    code, out, err = syncd(capsys, config, "athletes", "add", "ben", "--timezone",
                           "America/New_York", "--plan-start", "2026-09-07", "--source",
                           "files", "--watch", "ben-files", "--channel", "webhook:therapist",
                           "--email", "ben@patients.example", *extra)
    assert code == 0, err
    return out


def stored_rows(config: Path, name: str) -> dict[str, int]:
    """Rows of every table that reach the athlete called ``name`` (every table is queried)."""
    store = Store.open(f"sqlite:///{config.parent / 'syncd.db'}")
    try:
        with store.read() as tx:
            athlete_id = tx.scalar(select(AthleteRow.id).where(AthleteRow.name == name))
            if athlete_id is None:
                return {}
            return {table.name: tx.scalar(select(func.count()).select_from(table).where(
                athlete_rows(table, athlete_id))) or 0 for table in Base.metadata.sorted_tables}
    finally:
        store.close()


def test_add_list_remove_and_add_back(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = add_ben(capsys, config)
    assert "added athlete ben (America/New_York, plan hip-return-run-walk from 2026-09-07)" in out
    assert "alert channels: webhook:therapist, email:ben" in out
    assert f"put ben's activity files into {config.parent / 'ben-files'}" in out

    athletes = listing(capsys, config)
    assert list(athletes) == ["ana", "ben"]
    ben = athletes["ben"]
    assert ben["origin"] == "cli" and ben["state"] == "watched"
    assert (ben["timezone"], ben["plan_start"], ben["sources"]) == (
        "America/New_York", "2026-09-07", ["files"])
    assert ben["channels"] == ["webhook:therapist", "email:ben"]
    assert athletes["ana"]["origin"] == "config"
    assert athletes["ana"]["channels"] == ["webhook:therapist"]

    # Ben's files arrive, and a pain report; then he leaves the clinic for a while.
    code, _, err = syncd(capsys, config, "--athlete", "ben", "import", str(HISTORY))
    assert code == 0, err
    assert syncd(capsys, config, "--athlete", "ben", "pain", "5")[0] == 0
    before = listing(capsys, config)["ben"]
    assert before["activities"] == 28 and before["open_alerts"] >= 2

    code, out, _ = syncd(capsys, config, "athletes", "remove", "ben")
    assert code == 0 and "removed ben" in out
    assert list(listing(capsys, config)) == ["ana"]
    removed = listing(capsys, config, "--all")["ben"]
    assert removed["state"] == "removed" and removed["removed_at"] is not None
    code, _, err = syncd(capsys, config, "--athlete", "ben", "status")
    assert code == 2 and "'ben' is not watched" in err

    out = add_ben(capsys, config)
    assert out.startswith("added back athlete ben") and "is kept" in out
    again = listing(capsys, config)["ben"]
    assert (again["activities"], again["open_alerts"]) == (28, before["open_alerts"])
    assert again["removed_at"] is None


def test_add_reports_every_problem_and_stores_nothing(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = syncd(capsys, config, "athletes", "add", "cleo", "--timezone",
                           "Europe/Berln", "--channel", "webhook:nurse", "--plan", "knee-plan",
                           "--source", "strava")
    assert code == 2 and out == ""
    assert "4 problems" in err
    assert "--timezone 'Europe/Berln': is not a known time zone" in err
    assert "--channel webhook:nurse: not configured; known channels: webhook:therapist, email" \
        in err
    assert "--plan knee-plan: 'knee-plan' is neither a plan file nor a shipped plan" in err
    assert "--source strava: not configured" in err
    code, _, err = syncd(capsys, config, "athletes", "add", "cleo", "--timezone", "UTC",
                         "--source", "files")
    assert code == 2 and "--source files: give --watch DIR" in err
    code, _, err = syncd(capsys, config, "athletes", "add", "ana", "--timezone", "UTC")
    assert code == 2 and "'ana' is in the configuration file" in err
    assert list(listing(capsys, config, "--all")) == ["ana"]

    add_ben(capsys, config)
    code, _, err = syncd(capsys, config, "athletes", "add", "ben", "--timezone", "UTC")
    assert code == 2 and "'ben' was added already; give --replace" in err
    assert listing(capsys, config)["ben"]["timezone"] == "America/New_York"
    code, out, _ = syncd(capsys, config, "athletes", "add", "ben", "--timezone", "UTC",
                         "--replace")
    assert code == 0 and out.startswith("replaced the settings of athlete ben (UTC")
    ben = listing(capsys, config)["ben"]
    # Replaced as a whole: what was not given again is back to the defaults.
    assert (ben["timezone"], ben["plan_start"], ben["channels"]) == (
        "UTC", None, ["webhook:therapist", "email"])


def test_a_configured_athlete_is_removed_in_the_file(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = syncd(capsys, config, "athletes", "remove", "ana")
    assert code == 2 and "'ana' is in the configuration file" in err
    code, _, err = syncd(capsys, config, "athletes", "remove", "nobody")
    assert code == 2 and "'nobody' was not added" in err


def test_export_and_import_round_trip(config: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    add_ben(capsys, config)
    syncd(capsys, config, "--athlete", "ben", "import", str(HISTORY))
    syncd(capsys, config, "--athlete", "ben", "pain", "6", "--note", "hip")

    code, out, err = syncd(capsys, config, "athletes", "export", "ben")
    assert code == 0, err
    first = next(tmp_path.glob("ben-*.zip"))
    assert f"exported ben to {first}" in out
    assert "activities 28 (segments" in out and "pain reports 1" in out
    assert first.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(first) as archive:
        assert "activities.json" in archive.namelist()

    # Into this database again: its alerts (whose ids the webhooks know) are stored already.
    code, _, err = syncd(capsys, config, "athletes", "import", str(first), "--name", "carla")
    assert code == 1 and "the alerts of this export are stored already, for athlete 'ben'" in err

    # Another clinic's syncd, with a database of its own.
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = other / "syncd.toml"
    elsewhere.write_text(CLINIC.format(folder=other), encoding="utf-8")
    code, out, err = syncd(capsys, elsewhere, "athletes", "import", str(first), "--name",
                           "carla")
    assert code == 0, err
    assert "imported carla" in out and "activities 28" in out
    carla = listing(capsys, elsewhere)["carla"]
    assert carla["origin"] == "cli" and carla["channels"] == ["webhook:therapist", "email:carla"]
    assert (carla["timezone"], carla["plan_start"]) == ("America/New_York", "2026-09-07")
    code, out, _ = syncd(capsys, elsewhere, "athletes", "export", "carla", "--output",
                         str(tmp_path / "carla.zip"))
    assert code == 0

    exported, again = read_export(first), read_export(tmp_path / "carla.zip")
    for data in (exported, again):
        del data["manifest"]  # when and by which syncd
    assert normalized(again) == normalized(exported)
    ben = syncd(capsys, config, "--athlete", "ben", "alerts", "--json", "--all")[1]
    carla = syncd(capsys, elsewhere, "--athlete", "carla", "alerts", "--json", "--all")[1]
    assert len(json.loads(ben)) >= 3
    assert json.loads(carla.replace('"carla"', '"ben"')) == json.loads(ben)

    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    code, _, err = syncd(capsys, config, "athletes", "import", str(broken))
    assert code == 6 and "damaged or not a zip file" in err


def normalized(data: dict[str, Any]) -> str:
    """An export as text with the athlete's names replaced: a renamed import differs in the
    athlete's name and own mail channel; the alert events it carries keep the name they were
    raised under."""
    text = json.dumps(data, sort_keys=True)
    for name in ("ben", "carla"):
        text = text.replace(f'"{name}"', '"NAME"').replace(f'"email:{name}"', '"email:NAME"')
    return text


def test_delete_shows_then_erases_everything(config: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    add_ben(capsys, config)
    syncd(capsys, config, "--athlete", "ben", "import", str(HISTORY))
    syncd(capsys, config, "--athlete", "ben", "pain", "5")
    syncd(capsys, config, "--athlete", "ana", "pain", "7")
    tokens = tmp_path / "garmin" / "athletes" / "ben"
    tokens.mkdir(parents=True)
    (tokens / "garmin_tokens.json").write_text("{}", encoding="utf-8")
    before = stored_rows(config, "ben")
    assert before["activities"] == 28 and before["alerts"] >= 2
    ana_before = stored_rows(config, "ana")

    code, out, _ = syncd(capsys, config, "athletes", "delete", "ben")
    assert code == 1 and "nothing was removed; run again with --yes" in out
    assert "  activities: 28" in out and f"would remove {tokens}" in out
    assert stored_rows(config, "ben") == before and tokens.is_dir()

    code, out, err = syncd(capsys, config, "athletes", "delete", "ben", "--yes")
    assert code == 0, err
    assert out.startswith("deleted ben: rows removed per table:")
    for table, count in before.items():
        if table != "replicas":
            assert f"  {table}: {count}\n" in out
    assert f"removed {tokens}" in out and not tokens.exists()
    assert stored_rows(config, "ben") == {}
    assert stored_rows(config, "ana") == ana_before
    assert "ben" not in listing(capsys, config, "--all")
    code, _, err = syncd(capsys, config, "athletes", "export", "ben")
    assert code == 2 and "nothing is stored about known athlete 'ben'" in err


def test_a_configured_athlete_is_deleted_only_with_force(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    syncd(capsys, config, "--athlete", "ana", "pain", "7")
    code, _, err = syncd(capsys, config, "athletes", "delete", "ana", "--yes")
    assert code == 2 and "would come back empty on the next run" in err
    assert stored_rows(config, "ana")["pain_reports"] == 1
    code, out, _ = syncd(capsys, config, "athletes", "delete", "ana", "--yes", "--force")
    assert code == 0 and "  pain_reports: 1" in out
    assert stored_rows(config, "ana") == {}


def test_invite_is_a_subcommand(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = syncd(capsys, config, "athletes", "invite", "ana")
    assert code == 2 and out == ""
    assert "[server] public_url: set the address where patients reach syncd" in err


def test_a_single_athlete_install_needs_no_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.delenv("SYNCD_ATHLETE", raising=False)
    monkeypatch.chdir(tmp_path)
    config = write_config(tmp_path, database=None, athlete={"plan": None})
    assert syncd(capsys, config, "import", str(HISTORY))[0] == 0
    assert syncd(capsys, config, "pain", "5")[0] == 0
    athletes = listing(capsys, config)
    assert list(athletes) == ["ana"] and athletes["ana"]["activities"] == 28

    code, _, err = syncd(capsys, config, "athletes", "add", "ben", "--timezone", "UTC")
    assert code == 2 and "move that athlete into an [[athletes]] entry" in err
    code, out, _ = syncd(capsys, config, "athletes", "export", "ana", "--output", "ana.zip")
    assert code == 0 and "activities 28" in out
    code, out, _ = syncd(capsys, config, "status", "--json")
    assert code == 0 and json.loads(out)["athlete"] == "ana"
