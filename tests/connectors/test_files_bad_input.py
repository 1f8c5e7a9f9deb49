"""Bad files: each one is a clear failure of its own while the rest of the batch goes on."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from connectors.files import ArchiveLimits, FilesConnector
from connectors.files.reader import content_id
from tests.connectors.files_support import HISTORY, make_context

GOOD_FIT = HISTORY / "2026-10-05-run.fit"
GOOD_GPX = HISTORY / "2026-09-07-walk.gpx"

NO_TIMES_GPX = b"""<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>
<trkpt lat="52.5" lon="13.3"></trkpt><trkpt lat="52.5001" lon="13.3001"></trkpt>
</trkseg></trk></gpx>"""

FUTURE_GPX = b"""<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
<trk><type>running</type><trkseg>
<trkpt lat="52.5" lon="13.3"><time>2030-05-01T06:00:00Z</time></trkpt>
<trkpt lat="52.501" lon="13.3"><time>2030-05-01T06:01:00Z</time></trkpt>
</trkseg></trk></gpx>"""


def import_with_good_file(files: FilesConnector, tmp_path: Path, name: str,
                          data: bytes) -> tuple[list[str], list[tuple[str, str]]]:
    """Import the bad file between two good ones; return the ids imported and the failures."""
    bad = tmp_path / name
    bad.write_bytes(data)
    batch = files.read_paths([GOOD_GPX, bad, GOOD_FIT])
    return [r.source_id for r in batch.records], batch.failures


def good_ids() -> list[str]:
    return [content_id(GOOD_GPX.read_bytes()), content_id(GOOD_FIT.read_bytes())]


@pytest.mark.parametrize(("name", "make", "reason"), [
    ("truncated.fit", lambda fit: fit[: len(fit) // 2], "FIT file is truncated"),
    ("crc.fit", lambda fit: fit[:-1] + bytes([fit[-1] ^ 0xFF]), "FIT checksum mismatch"),
    ("flipped.fit", lambda fit: fit[:3000] + bytes([fit[3000] ^ 0x01]) + fit[3001:],
     "FIT checksum mismatch"),
    ("empty.gpx", lambda fit: b"", "GPX file is empty"),
    ("no-times.gpx", lambda fit: NO_TIMES_GPX, "GPX track has no timestamps"),
    ("notxml.tcx", lambda fit: b"this is not <xml", "not a readable TCX file"),
    ("future.gpx", lambda fit: FUTURE_GPX, "starts on 2030-05-01 06:00 UTC, in the future"),
    ("bomb.fit.gz", lambda fit: gzip.compress(bytes(8 << 20)), "refused as a possible zip bomb"),
    ("notes.txt", lambda fit: b"hello", "not a FIT, GPX, TCX or zip file"),
])
def test_one_bad_file_fails_alone(files: FilesConnector, tmp_path: Path, name: str,
                                  make, reason: str) -> None:
    ids, failures = import_with_good_file(files, tmp_path, name, make(GOOD_FIT.read_bytes()))
    assert ids == good_ids()
    assert len(failures) == 1
    path, message = failures[0]
    assert path == str(tmp_path / name)
    assert reason in message
    assert name in message  # the message names the file


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_member_escaping_the_folder_is_refused(files: FilesConnector, tmp_path: Path) -> None:
    fit = GOOD_FIT.read_bytes()
    archive = zip_of({"../../etc/evil.fit": HISTORY.joinpath("2026-10-07-run.fit").read_bytes(),
                      "/abs/evil.gpx": GOOD_GPX.read_bytes(), "activities/ok.fit": fit})
    (tmp_path / "export.zip").write_bytes(archive)
    batch = files.read_paths([tmp_path / "export.zip"])
    assert [r.source_id for r in batch.records] == [content_id(fit)]
    assert sorted(path for path, _ in batch.failures) == [
        f"{tmp_path}/export.zip:../../etc/evil.fit", f"{tmp_path}/export.zip:/abs/evil.gpx"]
    assert all("escapes the archive; refused" in reason for _, reason in batch.failures)
    assert not (tmp_path.parent / "etc").exists()


def test_zip_bomb_member_is_refused_by_its_ratio(files: FilesConnector, tmp_path: Path) -> None:
    fit = GOOD_FIT.read_bytes()
    (tmp_path / "bomb.zip").write_bytes(zip_of({"a.fit": bytes(8 << 20), "b.fit": fit}))
    batch = files.read_paths([tmp_path / "bomb.zip"])
    assert [r.source_id for r in batch.records] == [content_id(fit)]
    assert [path for path, _ in batch.failures] == [f"{tmp_path}/bomb.zip:a.fit"]
    assert "compression ratio above 100" in batch.failures[0][1]


def test_archive_past_the_total_limit_is_refused_whole(tmp_path: Path) -> None:
    limits = ArchiveLimits(max_total_bytes=100_000)
    files = FilesConnector(SimpleNamespace(watch=[], archive_limits=limits), make_context())
    members = {f"activities/{p.name}": p.read_bytes() for p in sorted(HISTORY.glob("*.fit"))[:12]}
    (tmp_path / "big.zip").write_bytes(zip_of(members))
    batch = files.read_paths([tmp_path / "big.zip", GOOD_GPX])
    assert [r.source_id for r in batch.records] == [content_id(GOOD_GPX.read_bytes())]
    assert batch.failures[0][0] == str(tmp_path / "big.zip")
    assert "more than the 100000 allowed; refused as a possible zip bomb" in batch.failures[0][1]


def test_not_a_zip_is_a_failure(files: FilesConnector, tmp_path: Path) -> None:
    ids, failures = import_with_good_file(files, tmp_path, "export.zip", b"PK\x03\x04 broken")
    assert ids == good_ids()
    assert "not a readable zip archive" in failures[0][1]


def test_missing_path_is_a_failure(files: FilesConnector, tmp_path: Path) -> None:
    batch = files.read_paths([tmp_path / "nowhere.fit", GOOD_FIT])
    assert [r.source_id for r in batch.records] == [content_id(GOOD_FIT.read_bytes())]
    assert batch.failures[0][0] == str(tmp_path / "nowhere.fit")
    assert "cannot be read" in batch.failures[0][1]
