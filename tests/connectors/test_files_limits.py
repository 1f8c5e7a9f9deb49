"""The edges of the files source: a symbolic link in a watched folder is skipped (it could
reach another athlete's folder), and an activity file past ``[files] max_file_mb`` or
``max_points`` is refused, saying which limit, before anything is built from it."""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from connectors.files import FilesConnector
from connectors.files.reader import content_id
from syncd.cli.main import main
from tests.connectors.files_support import HISTORY, make_context
from tests.connectors.strava_export_support import gz, strava_gpx, utc
from tests.support.config import write_config

RUN_FIT = HISTORY / "2026-10-05-run.fit"
WALK_GPX = HISTORY / "2026-09-07-walk.gpx"


def watcher(*folders: Path, **settings: object) -> FilesConnector:
    return FilesConnector(SimpleNamespace(watch=[str(f) for f in folders], **settings),
                          make_context())


# -- symbolic links -------------------------------------------------------------------------

@pytest.fixture
def clinic(tmp_path: Path) -> tuple[Path, Path]:
    """Two athletes' watched folders; Bo's holds a run of his own."""
    ana, bo = tmp_path / "ana", tmp_path / "bo"
    ana.mkdir()
    (bo / "runs").mkdir(parents=True)
    shutil.copy2(RUN_FIT, bo / "runs" / "bo-run.fit")
    return ana, bo


def test_a_link_to_another_athletes_file_is_skipped_and_said_once(
        clinic: tuple[Path, Path]) -> None:
    ana, bo = clinic
    shutil.copy2(WALK_GPX, ana / "walk.gpx")
    (ana / "borrowed.fit").symlink_to(bo / "runs" / "bo-run.fit")
    (ana / "all-of-bo").symlink_to(bo / "runs", target_is_directory=True)
    files = watcher(ana)
    first = files.fetch(None)
    assert [r.source_id for r in first.records] == [content_id(WALK_GPX.read_bytes())]
    assert sorted(first.failures) == [
        (str(ana / "all-of-bo"), f"{ana / 'all-of-bo'}: is a symbolic link; skipped (put the "
         "file itself in the folder: a link can reach files that are not the athlete's)"),
        (str(ana / "borrowed.fit"), f"{ana / 'borrowed.fit'}: is a symbolic link; skipped "
         "(put the file itself in the folder: a link can reach files that are not the "
         "athlete's)"),
    ]
    second = files.fetch(first.cursor)
    assert (second.records, second.failures) == ([], [])


def test_a_file_replaced_by_a_link_is_not_followed(clinic: tuple[Path, Path]) -> None:
    ana, bo = clinic
    own = ana / "run.fit"
    shutil.copy2(WALK_GPX, ana / "walk.gpx")
    first = watcher(ana).fetch(None)
    own.symlink_to(bo / "runs" / "bo-run.fit")
    second = watcher(ana).fetch(first.cursor)
    assert second.records == []
    assert [where for where, _ in second.failures] == [str(own)]


def test_import_skips_links_inside_a_folder_but_follows_one_it_is_given(
        clinic: tuple[Path, Path]) -> None:
    ana, bo = clinic
    (ana / "borrowed.fit").symlink_to(bo / "runs" / "bo-run.fit")
    files = watcher()
    batch = files.read_paths([ana])
    assert (batch.records, [w for w, _ in batch.failures]) == ([], [str(ana / "borrowed.fit")])
    batch = files.read_paths([ana / "borrowed.fit"])  # named by the user: their choice
    assert ([r.source_id for r in batch.records], batch.failures) == (
        [content_id(RUN_FIT.read_bytes())], [])


# -- size and point limits ------------------------------------------------------------------

def test_a_file_past_the_size_limit_is_refused_without_being_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.gpx"
    with huge.open("wb") as stream:
        stream.truncate(47 << 20)  # the 47 MB GPX that took 28 s and 876 MB
    shutil.copy2(WALK_GPX, tmp_path / "walk.gpx")
    started = time.perf_counter()
    batch = watcher().read_paths([tmp_path])
    assert time.perf_counter() - started < 2
    assert batch.failures == [(str(huge), f"{huge}: is 47.0 MB, more than the 32 MB allowed "
                               "for an activity file ([files] max_file_mb); refused (raise "
                               "[files] max_file_mb if it is a real recording)")]
    assert [r.source_id for r in batch.records] == [content_id(WALK_GPX.read_bytes())]


def test_the_size_limit_is_a_setting_and_holds_for_gzipped_files(tmp_path: Path) -> None:
    gpx = strava_gpx(utc(2026, 9, 14, 5, 20), 20)  # 1,201 points, about 0.3 MB
    (tmp_path / "run.gpx.gz").write_bytes(gz(gpx))
    batch = watcher(max_file_mb=0.1).read_paths([tmp_path / "run.gpx.gz"])
    assert batch.failures == [(str(tmp_path / "run.gpx.gz"),
                               f"{tmp_path / 'run.gpx.gz'}: inflates to more than the 0.1 MB "
                               "allowed for an activity file ([files] max_file_mb); refused "
                               "(raise [files] max_file_mb if it is a real recording)")]
    assert watcher(max_file_mb=1).read_paths([tmp_path / "run.gpx.gz"]).failures == []


@pytest.mark.parametrize("name", ["run.gpx", "export.zip"])
def test_a_track_past_the_point_limit_is_refused(tmp_path: Path, name: str) -> None:
    gpx = strava_gpx(utc(2026, 9, 14, 5, 20), 20)  # 1,201 points
    path = tmp_path / name
    if name.endswith(".zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("activities/9.gpx.gz", gz(gpx))
        path.write_bytes(buffer.getvalue())
        where = f"{path}:activities/9.gpx.gz"
    else:
        path.write_bytes(gpx)
        where = str(path)
    batch = watcher(max_points=1000).read_paths([path])
    assert batch.records == []
    assert batch.failures == [(where, f"{where}: 1,201 track points, more than the 1,000 "
                               "allowed for an activity file ([files] max_points); refused "
                               "(raise [files] max_points if it is a real recording)")]
    assert len(watcher(max_points=1201).read_paths([path]).records) == 1


def test_the_point_limit_holds_for_fit_files(tmp_path: Path) -> None:
    batch = watcher(max_points=100).read_paths([RUN_FIT])
    assert batch.records == []
    [(where, reason)] = batch.failures
    assert where == str(RUN_FIT)
    assert "track points, more than the 100 allowed for an activity file" in reason


def test_a_refused_file_in_a_watched_folder_is_reported_once(tmp_path: Path) -> None:
    big = tmp_path / "big.gpx"
    big.write_bytes(strava_gpx(utc(2026, 9, 14, 5, 20), 20))
    files = watcher(tmp_path, max_points=1000)
    first = files.fetch(None)
    assert [where for where, _ in first.failures] == [str(big)]
    assert files.fetch(first.cursor).failures == []


# -- syncd import on a folder of mixed files --------------------------------------------------

def test_syncd_import_prints_one_line_per_refused_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    config = write_config(tmp_path, database=None, athlete={"plan": None, "plan_start": None},
                          files={"max_points": 2000})
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir()
    elsewhere.mkdir()
    shutil.copy2(RUN_FIT, inbox / "run.fit")
    (inbox / "river.gpx").write_bytes(strava_gpx(utc(2026, 9, 14, 5, 20), 20))
    (inbox / "long.gpx").write_bytes(strava_gpx(utc(2026, 9, 20, 5, 20), 40))
    (inbox / "empty.gpx").write_bytes(b"")
    shutil.copy2(WALK_GPX, elsewhere / "walk.gpx")
    (inbox / "link.gpx").symlink_to(elsewhere / "walk.gpx")

    code = main(["--config", str(config), "import", str(inbox)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith("imported 2, skipped as duplicate 0, failed 3;")
    assert sorted(out[1:]) == [
        f"  failed {inbox / 'empty.gpx'}: {inbox / 'empty.gpx'}: GPX file is empty "
        "(export the activity again)",
        f"  failed {inbox / 'link.gpx'}: {inbox / 'link.gpx'}: is a symbolic link; skipped "
        "(put the file itself in the folder: a link can reach files that are not the "
        "athlete's)",
        f"  failed {inbox / 'long.gpx'}: {inbox / 'long.gpx'}: 2,401 track points, more than "
        "the 2,000 allowed for an activity file ([files] max_points); refused (raise [files] "
        "max_points if it is a real recording)",
    ]
    for refused in ("empty.gpx", "link.gpx", "long.gpx"):
        (inbox / refused).unlink()
    code = main(["--config", str(config), "import", str(inbox)])
    out = capsys.readouterr().out.splitlines()
    assert (code, out[0][:40]) == (0, "imported 0, skipped as duplicate 2, fail")
