"""Every crash the fuzz targets found, as a fixed input: each is now a clear ``SyncdError``
naming the file (or key), or a value quietly left out, instead of an exception from deep
inside a parser."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connectors.files.fit import parse_fit
from connectors.files.gpx import parse_gpx
from connectors.files.limits import ArchiveLimits
from connectors.files.reader import FileReader, ImportBatch
from connectors.files.tcx import parse_tcx
from syncd.app import App
from syncd.config import load_settings
from syncd.errors import ConfigError, InvalidFile
from syncd.sources.strava.callback import CALLBACK_PATH

from .support import ATHLETE_ID, HISTORY, SUBSCRIPTION_ID, fit_examples, fix_fit, inbox
from .test_activity_files import NOW, read_file

TCX_HEAD = ('<?xml version="1.0" encoding="UTF-8"?><TrainingCenterDatabase xmlns="http://www.'
            'garmin.com/xmlschemas/TrainingCenterDatabase/v2"><Activities><Activity '
            'Sport="Running"><Id>2026-10-05T06:00:00Z</Id>')
TCX_TAIL = "</Activity></Activities></TrainingCenterDatabase>"
TRACK = ("<Track><Trackpoint><Time>2026-10-05T06:00:00Z</Time><DistanceMeters>0"
         "</DistanceMeters></Trackpoint><Trackpoint><Time>{bad}</Time></Trackpoint>"
         "<Trackpoint><Time>2026-10-05T06:10:00Z</Time><DistanceMeters>{metres}"
         "</DistanceMeters></Trackpoint></Track>")


def tcx(*laps: str) -> bytes:
    return (TCX_HEAD + "".join(laps) + TCX_TAIL).encode()


def lap(start: str = "2026-10-05T06:00:00Z", seconds: str = "600", metres: str = "1500",
        bad_time: str = "2026-10-05T06:05:00Z", track_metres: str = "1500") -> str:
    return (f'<Lap StartTime="{start}"><TotalTimeSeconds>{seconds}</TotalTimeSeconds>'
            f"<DistanceMeters>{metres}</DistanceMeters><Intensity>Active</Intensity>"
            + TRACK.format(bad=bad_time, metres=track_metres) + "</Lap>")


def test_a_fit_body_one_byte_short_is_refused_not_an_assertion() -> None:
    # fitdecode asserts that a record fits in the declared body: it did not, with a last
    # byte cut and the size and checksum rewritten to match.
    damaged = fix_fit(fit_examples()[0][:-3] + b"\0\0")
    with pytest.raises(InvalidFile, match=r"^short\.fit: not a readable FIT file"):
        parse_fit(damaged, "short.fit")


def test_a_tcx_lap_with_an_impossible_start_time_is_refused_by_name() -> None:
    with pytest.raises(InvalidFile, match=r"laps\.tcx: a TCX lap has an unreadable start time "
                                          r"\('2026-02-30T00:00:00Z'\)"):
        parse_tcx(tcx(lap(start="2026-02-30T00:00:00Z")), "laps.tcx")


def test_a_tcx_trackpoint_with_a_broken_time_is_skipped_and_the_run_kept() -> None:
    activity = read_file(parse_tcx, tcx(lap(bad_time="2026-10-05T0605:00")), "laps.tcx")
    assert (activity.elapsed_s, activity.distance_m) == (600.0, 1500.0)


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "1e999"])
def test_a_tcx_number_that_is_not_finite_is_left_out_of_the_json_payload(text: str) -> None:
    activity = read_file(parse_tcx, tcx(lap(metres=text, track_metres=text)), "laps.tcx")
    assert activity.distance_m is None
    json.dumps(activity.raw, allow_nan=False)


def test_a_tcx_declaring_an_unknown_encoding_is_refused_by_name() -> None:
    data = tcx(lap()).replace(b'encoding="UTF-8"', b'encoding="f-8"')
    with pytest.raises(InvalidFile, match=r"^laps\.tcx: not a readable TCX file"):
        parse_tcx(data, "laps.tcx")


@pytest.mark.parametrize(("lat", "lon"), [("100", "13.3"), ("52.5", "-200"), ("nan", "13.3")])
def test_a_gpx_point_off_the_globe_is_refused_by_name(lat: str, lon: str) -> None:
    data = ('<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix'
            '.com/GPX/1/1"><trk><trkseg><trkpt lat="52.5" lon="13.3"><time>2026-10-05T06:00:00Z'
            f'</time></trkpt><trkpt lat="{lat}" lon="{lon}"><time>2026-10-05T06:01:00Z</time>'
            "</trkpt></trkseg></trk></gpx>").encode()
    with pytest.raises(InvalidFile, match=r"^walk\.gpx: a GPX track point lies off the globe"):
        parse_gpx(data, "walk.gpx")


def _import(data: bytes) -> ImportBatch:
    batch = ImportBatch()
    FileReader(lambda: NOW, limits=ArchiveLimits()).read_data(data, Path("export.zip"), batch)
    return batch


def _zip(members: dict[str, bytes]) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return bytearray(buffer.getvalue())


def test_an_export_member_whose_local_name_is_not_utf8_fails_alone() -> None:
    fit = (HISTORY / "2026-10-05-run.fit").read_bytes()
    data = _zip({"activities/a.fit": b"x", "activities/b.fit": fit})
    # The first member's local header says "UTF-8 name" and holds a byte that is not.
    data[6:8] = struct.pack("<H", 0x800)
    data[30 + len("activities/")] = 0xE0
    batch = _import(bytes(data))
    assert [where for where, _ in batch.failures] == ["export.zip:activities/a.fit"]
    assert "unreadable archive member" in batch.failures[0][1]


def test_an_export_claiming_a_future_zip_version_is_refused_by_name() -> None:
    data = _zip({"activities/a.fit": b"x"})
    central = data.rfind(b"PK\x01\x02")
    data[central + 6:central + 8] = struct.pack("<H", 99)  # version needed to extract
    [(where, reason)] = _import(bytes(data)).failures
    assert where == "export.zip" and "not a readable zip archive (zip file version" in reason


def test_an_activities_csv_with_nan_times_stores_no_nan() -> None:
    csv = (b"Activity ID,Activity Date,Activity Name,Activity Type,Elapsed Time,Distance,"
           b"Filename\n1,\"Nov 2, 2026, 6:00:00 AM\",Jog,Run,nan,inf,\n"
           b"2,\"Nov 1, 2026, 6:00:00 AM\",Jog,Run,900,2.5,\n")
    batch = _import(bytes(_zip({"activities.csv": csv})))
    assert [r.payload["elapsed_s"] for r in batch.records] == [900.0]
    json.dumps([r.payload for r in batch.records], allow_nan=False)


def test_a_strava_event_with_nan_in_its_updates_is_stored_as_plain_json(
        callback: tuple[TestClient, App]) -> None:
    client, app = callback
    body = (f'{{"object_type": "activity", "object_id": 77, "aspect_type": "update", '
            f'"owner_id": {ATHLETE_ID}, "subscription_id": {SUBSCRIPTION_ID}, '
            '"updates": {"title": "Jog", "n": NaN, "deep": {"x": 1}}}').encode()
    answer = client.post(CALLBACK_PATH, content=body, headers={"content-type": "application/json"})
    assert answer.json() == {"status": "accepted"}
    [stored] = [e for e in inbox(app) if e["object_id"] == 77]
    assert stored["updates"] == {"title": "Jog"}


@pytest.mark.parametrize(("value", "reason"), [
    ('"1000000000d"', "is longer than 100 years"), ("1e300", "is longer than 100 years"),
    ("nan", "is not a duration"), ("inf", "is not a duration"),
])
def test_a_poll_interval_out_of_range_is_a_config_problem(tmp_path: Path, value: str,
                                                          reason: str) -> None:
    path = tmp_path / "syncd.toml"
    path.write_text(f"[files]\npoll_interval = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={"STATE_DIRECTORY": str(tmp_path)})
    assert str(path) in str(caught.value)
    assert any(p.startswith("files.poll_interval:") and reason in p
               for p in caught.value.problems), caught.value.problems
