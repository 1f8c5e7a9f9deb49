"""Strava exports as Strava really writes them: numeric GPX types, the CSV row as the authority
on sport, name and gear, activities.csv in the athlete's language, gzipped and plain files,
and rows whose file is missing. Each is checked on what is stored, what is reported and, for
``syncd import``, the exit code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors.files import FilesConnector
from connectors.files.strava_types import csv_type_name, gpx_type_name
from syncd.cli.main import main
from tests.connectors.files_support import HISTORY
from tests.connectors.strava_export_support import (
    RUN_WORD,
    WALK_WORD,
    Export,
    Row,
    gz,
    strava_gpx,
    utc,
)
from tests.support.config import write_config

RUN_FIT = HISTORY / "2026-09-15-run.fit"  # a run/walk session, FIT sport "running"
RUN_TCX = HISTORY / "2026-09-21-run.tcx"
RIVER_RUN = strava_gpx(utc(2026, 9, 14, 5, 20), 20, type_code="9")


def read_export(files: FilesConnector, tmp_path: Path, export: Export):
    """Import the export's zip; return the batch and its activities by name."""
    path = tmp_path / "export_4711.zip"
    path.write_bytes(export.zip_bytes())
    batch = files.read_paths([path])
    activities = [files.normalize(record) for record in batch.records]
    return batch, {a.name: a for a in activities}


# -- the GPX type number --------------------------------------------------------------------

@pytest.mark.parametrize(("code", "sport", "sport_type"), [
    ("9", "run", "run"), ("10", "walk", "walk"), ("4", "hike", "hike"),
    ("53", "run", "virtualrun"), ("1", "other", "ride"),
])
def test_a_strava_gpx_is_read_by_its_type_number(files: FilesConnector, tmp_path: Path,
                                                 code: str, sport: str, sport_type: str) -> None:
    path = tmp_path / "Morning_Run.gpx"
    path.write_bytes(strava_gpx(utc(2026, 9, 14, 5, 20), 5, type_code=code))
    batch = files.read_paths([path])
    activity = files.normalize(batch.records[0])
    assert (activity.sport, activity.sport_type) == (sport, sport_type)


def test_type_words_and_numbers_are_strava_types() -> None:
    assert [gpx_type_name(t) for t in ("9", " 10 ", "running", "99", None)] == [
        "Run", "Walk", "running", "99", None]
    assert [csv_type_name(w) for w in ("Carrera", "course à pied", "LAUFEN", "Hardlopen",
                                        "Corsa", "Corrida", "Weight Training", "Bogus")] == [
        "Run", "Run", "Run", "Run", "Run", "Run", "WeightTraining", None]


# -- the CSV row is the authority -------------------------------------------------------------

def test_the_csv_row_decides_the_sport_name_and_gear(files: FilesConnector,
                                                      tmp_path: Path) -> None:
    export = Export(rows=[
        # The file says ride (type 1): the athlete set it to Run on Strava.
        Row("101", utc(2026, 9, 14, 5, 20), "Tempo by the river", "Run", 1200, 3.36,
            gear="Pegasus 40", file="activities/101.gpx.gz", moving_s=1190, metres=3361.8),
        # The watch recorded a run; it was a walk with the dog.
        Row("102", utc(2026, 9, 15, 6, 0), "Walk with Bo", "Walk", 3000, 5.1,
            file="activities/102.fit.gz"),
    ], members={
        "activities/101.gpx.gz": gz(strava_gpx(utc(2026, 9, 14, 5, 20), 20, type_code="1")),
        "activities/102.fit.gz": gz(RUN_FIT.read_bytes()),
    })
    batch, found = read_export(files, tmp_path, export)
    assert batch.failures == []
    river, walk = found["Tempo by the river"], found["Walk with Bo"]
    assert (river.sport, river.sport_type, river.gear_id) == ("run", "Run", "Pegasus 40")
    assert (walk.sport, walk.sport_type, walk.run_s) == ("walk", "Walk", None)
    assert [g.id for g in batch.gear] == ["Pegasus 40"]


def test_the_real_english_header_reads_distance_and_times_from_the_metric_columns(
        files: FilesConnector, tmp_path: Path) -> None:
    export = Export(rows=[
        Row("103", utc(2026, 9, 16, 18, 0), "Treadmill", "Run", 1800, 4.2, gear="Pegasus 40",
            moving_s=1750, metres=4203.7),
    ])
    batch, found = read_export(files, tmp_path, export)
    treadmill = found["Treadmill"]
    assert batch.failures == []
    assert (treadmill.manual, treadmill.sport, treadmill.elapsed_s, treadmill.moving_s,
            treadmill.distance_m) == (True, "run", 1800, 1750, 4203.7)


# -- localized exports ----------------------------------------------------------------------

@pytest.mark.parametrize("language", ["en", "de", "fr", "es", "it", "pt", "nl"])
def test_a_localized_export_keeps_manual_runs_names_and_gear(
        files: FilesConnector, tmp_path: Path, language: str) -> None:
    export = Export(language=language, rows=[
        Row("201", utc(2026, 9, 14, 17, 20), "Rodaje del río", RUN_WORD[language], 1200, 3.36,
            gear="Pegasus 40", file="activities/201.gpx.gz", moving_s=1190, metres=3361.8),
        # Entered by hand, and the metres column left empty: the display column ("4,20 km"
        # in most languages) is all there is.
        Row("202", utc(2026, 9, 16, 18, 5), "Cinta", RUN_WORD[language], 1800, 4.2,
            gear="Pegasus 40", moving_s=1750),
        Row("203", utc(2026, 9, 17, 7, 30), "Paseo", WALK_WORD[language], 1500, 1.9,
            metres=1903.0),
    ], members={"activities/201.gpx.gz": gz(RIVER_RUN)})
    batch, found = read_export(files, tmp_path, export)
    assert batch.failures == []
    river, treadmill, stroll = found["Rodaje del río"], found["Cinta"], found["Paseo"]
    assert (river.sport, river.gear_id, river.manual) == ("run", "Pegasus 40", False)
    assert (treadmill.sport, treadmill.manual, treadmill.gear_id) == ("run", True, "Pegasus 40")
    assert (treadmill.elapsed_s, treadmill.moving_s) == (1800, 1750)
    assert treadmill.distance_m == pytest.approx(4200.0)
    assert treadmill.start_utc == utc(2026, 9, 16, 18, 5)
    assert (stroll.sport, stroll.distance_m) == ("walk", 1903.0)


def test_an_unknown_header_is_reported_and_the_files_still_count(
        files: FilesConnector, tmp_path: Path) -> None:
    # A CSV re-saved from a spreadsheet, its columns renamed and reordered: nothing in it can
    # be trusted, so it is named as a failure and the archive's files are read alone.
    path = tmp_path / "export_4711.zip"
    export = Export(members={"activities/301.gpx.gz": gz(RIVER_RUN)})
    export.csv_text = lambda: ("Quand,Numéro,Titre,Sorte,Fichier\n"  # type: ignore[method-assign]
                               '"14/09/2026 05:20",301,Rodaje,Carrera,activities/301.gpx.gz\n'
                               '"16/09/2026 18:05",302,Cinta,Carrera,\n')
    path.write_bytes(export.zip_bytes())
    batch = files.read_paths([path])
    assert [where for where, _ in batch.failures] == [f"{path}:activities.csv"]
    reason = batch.failures[0][1]
    assert "column names not recognised ('Quand', 'Numéro', 'Titre', 'Sorte', ...)" in reason
    assert "entries without a file were not imported" in reason
    assert [files.normalize(r).sport for r in batch.records] == ["run"]


def test_a_row_whose_date_cannot_be_read_is_named(files: FilesConnector,
                                                  tmp_path: Path) -> None:
    export = Export(rows=[Row("401", utc(2026, 9, 16, 18, 5), "Cinta", "Run", 1800, 4.2)])
    export.csv_text = lambda: Export.csv_text(export).replace(  # type: ignore[method-assign]
        "Sep 16, 2026, 6:05:00 PM", "sometime")
    path = tmp_path / "export.zip"
    path.write_bytes(export.zip_bytes())
    batch = files.read_paths([path])
    assert batch.records == []
    assert batch.failures == [(f"{path}:activities.csv#401",
                               f"{path}:activities.csv line 2 (activity 401): no readable date "
                               "or elapsed time, so the activity was not imported (enter it "
                               "again, or export again)")]



def test_a_row_with_a_negative_elapsed_time_is_refused_naming_its_line(
        files: FilesConnector, tmp_path: Path) -> None:
    export = Export(rows=[Row("402", utc(2026, 9, 16, 18, 5), "Cinta", "Run", -60, 4.2)])
    path = tmp_path / "export.zip"
    path.write_bytes(export.zip_bytes())
    batch = files.read_paths([path])
    assert batch.records == []
    assert batch.failures == [(f"{path}:activities.csv#402",
                               f"{path}:activities.csv line 2 (activity 402): no readable date "
                               "or elapsed time, so the activity was not imported (enter it "
                               "again, or export again)")]

# -- members: gzipped, plain, missing ---------------------------------------------------------

def test_gzipped_and_plain_members_are_read_alike(files: FilesConnector,
                                                  tmp_path: Path) -> None:
    export = Export(rows=[
        Row("501", utc(2026, 9, 15, 4, 0), "Intervals", "Run", 1020, 2.4,
            file="activities/501.fit.gz"),
        Row("502", utc(2026, 9, 14, 5, 20), "River", "Run", 1200, 3.36,
            file="activities/502.gpx"),
        Row("503", utc(2026, 9, 21, 5, 0), "Park loop", "Run", 1000, 2.5,
            file="activities/503.tcx.gz"),
    ], members={"activities/501.fit.gz": gz(RUN_FIT.read_bytes()),
                "activities/502.gpx": RIVER_RUN,
                "activities/503.tcx.gz": gz(RUN_TCX.read_bytes())})
    batch, found = read_export(files, tmp_path, export)
    assert batch.failures == []
    assert {name: (a.sport, a.manual) for name, a in found.items()} == {
        "Intervals": ("run", False), "River": ("run", False), "Park loop": ("run", False)}
    assert found["Intervals"].run_s == 90  # the FIT's own run/walk split is kept


def test_a_row_whose_file_is_missing_is_imported_from_its_totals(
        files: FilesConnector, tmp_path: Path) -> None:
    export = Export(rows=[
        Row("601", utc(2026, 9, 14, 5, 20), "River", "Run", 1200, 3.36,
            file="activities/601.gpx.gz"),
        Row("602", utc(2026, 9, 18, 6, 0), "Lost run", "Run", 1500, 3.9, gear="Pegasus 40",
            file="activities/602.fit.gz", moving_s=1480, metres=3912.0),
    ], members={"activities/601.gpx.gz": gz(RIVER_RUN)})
    batch, found = read_export(files, tmp_path, export)
    lost = found["Lost run"]
    assert batch.failures == []
    assert (lost.sport, lost.manual, lost.elapsed_s, lost.distance_m, lost.gear_id) == (
        "run", False, 1500, 3912.0, "Pegasus 40")
    zip_path = tmp_path / "export_4711.zip"
    assert batch.notes == [(f"{zip_path}:activities.csv#602",
                            f"{zip_path}:activities.csv line 3 (activity 602): "
                            "activities/602.fit.gz is not in the archive; imported from the "
                            "CSV's totals (no run/walk split)")]


# -- syncd import, as a user runs it ----------------------------------------------------------

ATHLETE = {"timezone": "Europe/Madrid"}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration and a state folder of the test's own."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    path = write_config(tmp_path, database=None, athlete=ATHLETE)
    return path


def stored(tmp_path: Path) -> dict[str, tuple]:
    """The stored activities by name: sport, sport type, manual, gear, distance."""
    with sqlite3.connect(tmp_path / "state" / "syncd.db") as db:
        rows = db.execute("SELECT name, sport, sport_type, manual, gear_id, distance_m "
                          "FROM activities ORDER BY start_utc").fetchall()
    return {name: tuple(rest) for name, *rest in rows}


def syncd(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


def test_syncd_import_of_a_spanish_export(tmp_path: Path, config: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    export = Export(language="es", rows=[
        Row("701", utc(2026, 9, 14, 17, 20), "Rodaje del río", "Carrera", 1200, 3.36,
            gear="Pegasus 40", file="activities/701.gpx.gz", moving_s=1190, metres=3361.8),
        Row("702", utc(2026, 9, 16, 18, 5), "Cinta", "Carrera", 1800, 4.2, gear="Pegasus 40"),
        Row("703", utc(2026, 9, 18, 6, 0), "Sin archivo", "Carrera", 1500, 3.9,
            file="activities/703.fit.gz", metres=3912.0),
    ], members={"activities/701.gpx.gz": gz(RIVER_RUN)})
    archive = tmp_path / "export_4711.zip"
    archive.write_bytes(export.zip_bytes())
    code, out = syncd(capsys, "--config", str(config), "import", str(archive))
    assert code == 0
    assert out[0].startswith("imported 3, skipped as duplicate 0, failed 0;")
    assert out[1:] == [f"  note {archive}:activities.csv#703: {archive}:activities.csv line 4 "
                       "(activity 703): activities/703.fit.gz is not in the archive; imported "
                       "from the CSV's totals (no run/walk split)"]
    assert stored(tmp_path) == {
        "Rodaje del río": ("run", "Run", 0, "Pegasus 40", pytest.approx(3357, abs=15)),
        "Cinta": ("run", "Run", 1, "Pegasus 40", pytest.approx(4200.0)),
        "Sin archivo": ("run", "Run", 0, None, 3912.0),
    }


def test_syncd_import_names_an_unknown_header_and_exits_1(
        tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export = Export(members={"activities/801.gpx.gz": gz(RIVER_RUN)})
    export.csv_text = lambda: ("Quand,Numéro,Titre,Sorte,Fichier\n"  # type: ignore[method-assign]
                               '"14/09/2026 05:20",801,Rodaje,Carrera,activities/801.gpx.gz\n')
    archive = tmp_path / "export.zip"
    archive.write_bytes(export.zip_bytes())
    code, out = syncd(capsys, "--config", str(config), "import", str(archive))
    assert code == 1
    assert out[0].startswith("imported 1, skipped as duplicate 0, failed 1;")
    assert out[1].startswith(f"  failed {archive}:activities.csv: {archive}:activities.csv: "
                             "column names not recognised")
    assert len(out) == 2
    assert stored(tmp_path) == {"Morning Run": ("run", "run", 0, None,
                                                pytest.approx(3357, abs=15))}
