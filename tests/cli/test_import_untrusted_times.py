"""``syncd import`` of a folder where some files have times or durations that cannot be
trusted: one line per refused file, the rest stored in SQLite, exit 1."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.cli.main import main
from tests.support.config import write_config

START = datetime(2026, 10, 5, 6, 45, tzinfo=UTC)


def gpx(points: list[tuple[float | None, float]]) -> bytes:
    """A run as GPSBabel writes GPX 1.1 (``gpxver=1.1``): an "ACTIVE LOG" track with its type;
    points are ``(seconds from the start or None for no time, metres north)``."""
    rows = "".join(
        f'<trkpt lat="{52.52 + north / 111_195:.9f}" lon="13.405000000">\n'
        "  <ele>34.000000</ele>\n"
        + ("" if offset is None else
           f"  <time>{START + timedelta(seconds=offset):%Y-%m-%dT%H:%M:%S}Z</time>\n")
        + "</trkpt>\n" for offset, north in points)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx\n  version="1.1"\n'
            '  creator="GPSBabel - http://www.gpsbabel.org"\n'
            '  xmlns="http://www.topografix.com/GPX/1/1">\n'
            f"<metadata>\n<time>{START:%Y-%m-%dT%H:%M:%S}Z</time>\n</metadata>\n"
            "<trk>\n  <name>ACTIVE LOG</name>\n  <type>running</type>\n<trkseg>\n"
            + rows + "</trkseg>\n</trk>\n</gpx>\n").encode()


def test_import_refuses_untrusted_times_one_line_each_and_stores_the_rest(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, database=None)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # A 10-minute run logged every 45 s (before: 0 s of moving time).
    sparse = [(45.0 * i, 2.7 * 45 * i) for i in range(14)] + [(600.0, 2.7 * 600)]
    (inbox / "a-sparse.gpx").write_bytes(gpx(sparse))
    # 3 of 412 points timed.
    partly = [(5.0 * i if i < 3 else None, 12.5 * i) for i in range(412)]
    (inbox / "b-partly.gpx").write_bytes(gpx(partly))
    # A phone left recording: 31 h.
    forgot = [(60.0 * i, 150.0 * i) for i in range(21)] + [(31 * 3600.0, 3000.0)]
    (inbox / "c-forgot.gpx").write_bytes(gpx(forgot))

    code = main(["--config", str(config), "import", str(inbox)])
    out = capsys.readouterr().out

    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("imported 1, skipped as duplicate 0, failed 2;")
    assert lines[1:] == [
        f"  failed {inbox / 'b-partly.gpx'}: {inbox / 'b-partly.gpx'}: GPX track: only 3 of 412 "
        "points have a time; when it ran and for how long cannot be known (export the activity "
        "again from the app or device that recorded it)",
        f"  failed {inbox / 'c-forgot.gpx'}: c-forgot.gpx: lasts 31 h, longer than any run "
        "(24 h); refused (check the recording's times, or split a recording left running)",
    ]
    with sqlite3.connect(state / "syncd.db") as db:
        rows = db.execute("SELECT sport, elapsed_s, moving_s, run_s, round(distance_m) "
                          "FROM activities").fetchall()
    assert len(rows) == 1
    sport, elapsed, moving, run, distance = rows[0]
    assert (sport, elapsed) == ("run", 600.0)
    assert distance == pytest.approx(1620, rel=0.01)
    assert moving == pytest.approx(600, abs=1)
    assert run == pytest.approx(600, abs=1)
