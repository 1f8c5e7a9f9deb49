"""``syncd import`` of multisport and badly timed FIT files, into the real SQLite file: one
row per leg, the local day from the athlete's zone when the file's is a placeholder, one line
per refused file, and nothing changed by a second import."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.files.reader import content_id
from syncd.cli.main import main
from tests.connectors.fit_builders import TRIATHLON, activity_fit, run
from tests.support.config import write_config

START = datetime(2026, 10, 4, 7, 0, tzinfo=UTC)  # 09:00 in Berlin
RELATIVE = ("timestamps are relative to the device's power-on and the file holds no real "
            "time to anchor them")


def stored(state: Path) -> list[tuple]:
    with sqlite3.connect(state / "syncd.db") as db:
        return db.execute("SELECT source_id, sport, sport_type, local_start, elapsed_s, "
                          "distance_m, run_s FROM activities ORDER BY start_utc").fetchall()


def test_import_stores_each_leg_and_refuses_what_cannot_be_dated(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, database=None)
    inbox = tmp_path / "watch"
    inbox.mkdir()
    triathlon = activity_fit(START, TRIATHLON, utc_offset_s=7200)
    app_run = activity_fit(START + timedelta(days=2), (run(1500, 4200.0),), local_timestamp=0)
    (inbox / "triathlon.fit").write_bytes(triathlon)
    (inbox / "app-run.fit").write_bytes(app_run)
    relative = inbox / "forerunner.fit"
    relative.write_bytes(activity_fit(START + timedelta(days=4), (run(1800, 5000.0),),
                                      utc_offset_s=None, power_on=START))

    code = main(["--config", str(config), "import", str(inbox)])
    out = capsys.readouterr().out

    assert code == 1
    assert out.startswith("imported 4, skipped as duplicate 0, failed 1;")
    [failed] = [line for line in out.splitlines() if line.startswith("  failed")]
    assert failed.startswith(f"  failed {relative}: {relative}: {RELATIVE} (")
    file_id = content_id(triathlon)
    assert stored(state) == [
        (file_id, "other", "swimming/open_water", "2026-10-04 09:00:00.000000", 900.0, 750.0,
         None),
        (f"{file_id}-3", "other", "cycling/road", "2026-10-04 09:17:30.000000", 2400.0,
         20000.0, None),
        (f"{file_id}-5", "run", "running", "2026-10-04 09:59:00.000000", 1580.0, 5000.0,
         pytest.approx(1580.0, abs=5)),
        # A local timestamp of 0: the athlete's own zone gives the day, not 1989.
        (content_id(app_run), "run", "running", "2026-10-06 09:00:00.000000", 1500.0, 4200.0,
         pytest.approx(1500.0, abs=5)),
    ]

    code = main(["--config", str(config), "import", str(inbox)])
    out = capsys.readouterr().out
    assert code == 1 and out.startswith("imported 0, skipped as duplicate 4, failed 1;")
