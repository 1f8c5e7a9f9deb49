"""Every real file in ../shared/fixtures, read by syncd and by an independent reader.

For each activity file the stored sport family, start (UTC and local day), elapsed and session
time, distance and, for runs, the counted running time must match what another library reads
from the same file (see corpus_support); a file that holds no activity must be refused with one
line that names it and says what is wrong, and the table below says which files those are, so
that a change of behaviour shows. API captures (Garmin, Strava JSON) go through their
connectors' normalize, compared with the JSON itself.

A summary of what was checked, imported and refused (and why) is printed at the end of the
session.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from connectors.base import RawRecord
from connectors.files import FilesConnector
from connectors.garmin import GarminConnector
from connectors.strava import StravaConnector
from syncd.cli.main import main
from syncd.errors import SyncdError
from syncd.models import Activity, Session
from tests.connectors.corpus_support import (
    ATHLETE_ZONE,
    Leg,
    Reading,
    corpus_files,
    garmin_leg,
    json_records,
    read_fit,
    read_gpx,
    read_tcx,
    sdk_messages,
    strava_leg,
)
from tests.connectors.files_support import FIXTURES, make_context
from tests.support.config import write_config

pytestmark = [
    pytest.mark.skipif(not FIXTURES.is_dir(),
                       reason="../shared/fixtures is absent (a fresh clone has none)"),
    # fitdecode warns about the Coros file's misaligned field, and reads on (as it should).
    pytest.mark.filterwarnings("ignore:invalid field size:UserWarning"),
]

# -- tolerances ---------------------------------------------------------------------------------
# Start: FIT stores whole seconds; GPX and TCX times carry fractions a reader may round.
START_TOLERANCE_S = 2.0
# Elapsed time and distance come from the same summary fields (FIT session, TCX laps, the
# JSON) or the same first and last points; 1 % covers two great-circle formulas over a GPX
# track and a device rounding each lap, the absolute part the files a few seconds long.
DURATION_REL, DURATION_ABS_S = 0.01, 2.0
DISTANCE_REL, DISTANCE_ABS_M = 0.01, 5.0
# Session time (moving time, else elapsed) is a judgement where the file has no timer total:
# gpxpy counts a step as moving above 1 km/h, and GPS jitter near any such line moves a few
# percent (the cerknicko copies differ by 5 % between 2D and 3D distance alone).
MOVING_REL, MOVING_ABS_S = 0.10, 30.0
# Running time: the independent reading counts every step at 1.9 m/s or more; syncd merges
# bouts shorter than a few seconds into their neighbours. Measured against the session time.
RUN_REL, RUN_ABS_S = 0.10, 30.0

# -- what syncd must refuse, and why ------------------------------------------------------------
# Reason classes and what a reason of that class must say (besides the file's name).
REASON_PATTERNS = {
    "not an activity": r"not an activity|only activity files|settings|workout|monitoring|weight",
    "damaged": r"damaged|truncated|corrupt|checksum|not a readable|cut short",
    "no times": r"no (timestamps|times)|with a time|without (timestamps|times)|untimed",
    "no track points": r"no track points|route|no track",
    "relative times": r"relative|since the device",
    # The issue asks the reason to name how many points had times: checked separately.
    "mostly untimed": r"time",
}
EXPECTED_REFUSALS = {
    # FIT files that are not activities (fitparse reads their file_id type).
    "dtcooper__tests_files_nametest.FIT": "not an activity",  # Edge 510 settings
    "polyvertex__tests_files_MonitoringFile.fit": "not an activity",
    "polyvertex__tests_files_Settings.fit": "not an activity",
    "polyvertex__tests_files_Settings2.fit": "not an activity",
    "polyvertex__tests_files_WeightScaleMultiUser.fit": "not an activity",
    "polyvertex__tests_files_WeightScaleSingleUser.fit": "not an activity",
    "polyvertex__tests_files_WorkoutCustomTargetValues.fit": "not an activity",
    "polyvertex__tests_files_WorkoutIndividualSteps.fit": "not an activity",
    "polyvertex__tests_files_WorkoutRepeatGreaterThanStep.fit": "not an activity",
    "polyvertex__tests_files_WorkoutRepeatSteps.fit": "not an activity",
    # An activity file whose three records carry no timestamp.
    "polyvertex__tests_files_DeveloperData.fit": "no times",
    # Damaged FIT files: checksums, headers, cut short (fitparse refuses them too).
    "dtcooper__tests_files_nick.fit": "damaged",
    "dtcooper__tests_files_strava-android-app-201.10-b1218918.fit": "damaged",
    "polyvertex__tests_files_invalid_activity-activity-filecrc.fit": "damaged",
    "polyvertex__tests_files_invalid_activity-filecrc.fit": "damaged",
    "polyvertex__tests_files_invalid_activity-settings-corruptheader.fit": "damaged",
    "polyvertex__tests_files_invalid_activity-settings-nodata.fit": "damaged",
    "polyvertex__tests_files_invalid_activity-unexpected-eof.fit": "damaged",
    # GPX files with waypoints or routes only, or an empty track.
    "tkrajina__test_files_custom_schema_locations.gpx": "no track points",
    "tkrajina__test_files_default_schema_locations.gpx": "no track points",
    "tkrajina__test_files_gpx1.1_with_extensions.gpx": "no track points",
    "tkrajina__test_files_gpx1.1_with_extensions_without_namespaces.gpx": "no track points",
    "tkrajina__test_files_gpx_with_garmin_extension.gpx": "no track points",
    "tkrajina__test_files_route.gpx": "no track points",
    "tkrajina__test_files_unicode.gpx": "no track points",
    "tkrajina__test_files_unicode2.gpx": "no track points",
    "tkrajina__test_files_unicode_with_bom.gpx": "no track points",
    "tkrajina__test_files_unicode_with_bom_noencoding.gpx": "no track points",
    # GPX tracks without a single time: a drawn route, not a recording.
    "tkrajina__test_files_track-with-extremes.gpx": "no times",
    "tkrajina__test_files_track-with-small-floats.gpx": "no times",
    "tkrajina__test_files_track_with_dilution_errors.gpx": "no times",
    # No corpus file is mostly untimed: korita-zbevnica's 358 untimed points are a saved copy
    # beside its timed active log (513 points), and one cerknicko copy lost its last time:
    # both are read from their timed points.
}
# fitparse 1.2 (the release on PyPI) stops at a field whose size does not match its type;
# its later source falls back to bytes, as Garmin's own SDK does, which reads these instead.
FITPARSE_CANNOT_READ = {"dtcooper__tests_files_coros-pace-2-cycling-misaligned-fields.fit"}
# API captures that hold no activity object, by what they are.
JSON_NOT_ACTIVITIES = {
    "strava_swagger.json": "strava-api-description",
    "stravalib_swagger__gear.json": "other",  # a pair of shoes
    "stravalib_swagger__laps.json": "strava-laps",
    "stravalib_swagger__streams.json": "other",
    "activity-search-service-1.2.json": "garmin-search-1.2",  # a retired Garmin service
    "activityTypes.json": "other",
    "activity_2541953812_samples.json": "other",
    "activity_2541953812_zones.json": "other",
    "device_856399.json": "other",
    "device_99280678.json": "other",
    "userstats.json": "other",
    # Activity details: syncd reads one only beside its list entry, as it fetches them; the
    # corpus holds the entry of garth's 21482825013 (checked with it), not of the others.
    "activity_154105348_gpx_device_null.json": "garmin-detail",
    "activity_2541953812.json": "garmin-detail",
    "activity_995784118_gpx_device_0.json": "garmin-detail",
    "activity_emoji.json": "garmin-detail",
    "activity_multisport_child.json": "garmin-detail",
    "activity_multisport_detail.json": "garmin-detail",
    "garth__test_activity_get_detail_21482825013.json": "garmin-detail",
}
# A representative subset, imported with the real ``syncd import`` into a SQLite file.
IMPORT_SUBSET = (
    "fit/forerunner110-run-5laps.fit", "fit/fenix6x-yoga.fit", "realworld/fit/tormoder__testdata_"
    "misc_unterminated-strings.fit", "realworld/fit/polyvertex__tests_files_garmin-fenix-5-"
    "walk.fit", "realworld/gpx/tkrajina__test_files_around-visnjan-with-car.gpx",
    "realworld/gpx/tkrajina__test_files_track-with-less-sec-time.gpx",
    "realworld/tcx/vkurup__tests_files_test.tcx",
    "realworld/tcx/vkurup__tests_files_sup_activity_1.tcx",
)
REFUSED_SUBSET = (
    "realworld/fit/polyvertex__tests_files_Settings.fit",
    "realworld/fit/polyvertex__tests_files_invalid_activity-filecrc.fit",
    "realworld/gpx/tkrajina__test_files_route.gpx",
    "realworld/gpx/tkrajina__test_files_track-with-extremes.gpx",
)

SUMMARY: Counter[str] = Counter()
REFUSALS: Counter[str] = Counter()
DISAGREEMENTS: list[str] = []


@dataclass(frozen=True, slots=True)
class Stored:
    """What syncd stored for one activity: from a normalized Activity or a database row."""

    sport: str
    start_utc: datetime
    local_start: datetime
    elapsed_s: float
    moving_s: float | None
    distance_m: float | None
    run_s: float | None
    walk_s: float | None

    @classmethod
    def of(cls, activity: Activity) -> Stored:
        """The fields of a normalized activity."""
        return cls(activity.sport, activity.start_utc, activity.local_start, activity.elapsed_s,
                   activity.moving_s, activity.distance_m, activity.run_s, activity.walk_s)

    @property
    def counted_run_s(self) -> float:
        """The running time the rules count (syncd's own conservative reading)."""
        return Session.conservative("x", self.start_utc, self.local_start, self.elapsed_s,
                                    self.moving_s, self.run_s, None).run_s


# -- syncd's side -------------------------------------------------------------------------------


def kind_of(path: Path) -> str:
    """fit, gpx, tcx, garmin or strava."""
    if path.suffix.lower() in (".fit", ".gpx", ".tcx"):
        return path.suffix.lower().lstrip(".")
    return "garmin" if "garmin" in path.parts else "strava"


@cache
def syncd_file(path: Path) -> tuple[list[Activity], list[str]]:
    """What ``syncd import`` reads from one file: its activities, or its refusal lines."""
    files = FilesConnector(None, make_context(ATHLETE_ZONE))
    batch = files.read_paths([path])
    return [files.normalize(r) for r in batch.records], [reason for _, reason in batch.failures]


@cache
def independent(path: Path) -> Reading:
    """The independent reading of one activity file."""
    kind = kind_of(path)
    if kind == "fit":
        if path.name in FITPARSE_CANNOT_READ:
            return read_fit(path, sdk_messages)
        return read_fit(path)
    return read_gpx(path) if kind == "gpx" else read_tcx(path)


def garmin_activity(entry: dict[str, Any], detail: dict[str, Any] | None) -> Activity:
    """The Garmin connector's activity for one list entry (with its detail when captured)."""
    connector = GarminConnector(None, make_context(ATHLETE_ZONE))
    payload = {"activity": entry} if detail is None else {"activity": entry, "detail": detail}
    return connector.normalize(RawRecord(str(entry["activityId"]), payload))


def strava_activity(item: dict[str, Any]) -> Activity:
    """The Strava connector's activity for one activity object (its laps when it has them)."""
    connector = StravaConnector(None, make_context(ATHLETE_ZONE))
    payload = {"activity": item, "laps": item.get("laps")}
    return connector.normalize(RawRecord(str(item["id"]), payload))


# -- comparing ----------------------------------------------------------------------------------


def _near(stored: float | None, truth: float | None, rel: float, absolute: float) -> bool:
    if stored is None or truth is None:
        return not stored and not truth  # unknown and zero both mean "nothing"
    return abs(stored - truth) <= max(absolute, rel * abs(truth))


def disagreements(stored: Stored, leg: Leg) -> list[str]:
    """Each field where syncd's value is outside the tolerance around the independent one."""
    found = []
    if stored.sport != leg.family:
        found.append(f"sport family: syncd {stored.sport!r} vs {leg.family!r} ({leg.label})")
    if leg.family != "run" and (stored.sport == "run" or stored.run_s):
        found.append(f"counts a {leg.label} as running ({stored.run_s} s)")
    if abs((stored.start_utc - leg.start_utc).total_seconds()) > START_TOLERANCE_S:
        found.append(f"start UTC: syncd {stored.start_utc} vs {leg.start_utc}")
    if (stored.local_start.date() != leg.local_day
            or abs((stored.local_start - leg.local_start).total_seconds()) > START_TOLERANCE_S):
        found.append(f"local start: syncd {stored.local_start} vs {leg.local_start}")
    checks = (
        ("elapsed s", stored.elapsed_s, leg.elapsed_s, DURATION_REL, DURATION_ABS_S),
        ("session s", _session(stored.moving_s, stored.elapsed_s),
         _session(leg.moving_s, leg.elapsed_s), MOVING_REL, MOVING_ABS_S),
        ("distance m", stored.distance_m, leg.distance_m, DISTANCE_REL, DISTANCE_ABS_M),
    )
    found += [f"{name}: syncd {_show(a)} vs {_show(b)}" for name, a, b, rel, absolute in checks
              if not _near(a, b, rel, absolute)]
    if leg.family == "run" and leg.run_s is not None:
        base = _session(leg.moving_s, leg.elapsed_s)
        if abs(stored.counted_run_s - leg.run_s) > max(RUN_ABS_S, RUN_REL * base):
            found.append(f"run s: syncd {_show(stored.counted_run_s)} vs {_show(leg.run_s)}")
    split = (stored.run_s or 0.0) + (stored.walk_s or 0.0)
    if split > stored.elapsed_s + DURATION_ABS_S:
        found.append(f"run + walk {split:.1f} s is longer than the activity "
                     f"({stored.elapsed_s:.1f} s)")
    return found


def _session(moving: float | None, elapsed: float) -> float:
    return moving if moving is not None else elapsed


def _show(value: float | None) -> str:
    return "None" if value is None else f"{value:.1f}"


def compare_all(name: str, stored: list[Stored], legs: list[Leg]) -> list[str]:
    """Pair syncd's activities with the legs in start order and list every disagreement."""
    if len(stored) != len(legs):
        return [f"{name}: syncd stored {len(stored)} activities, the file holds {len(legs)} "
                f"({', '.join(leg.label for leg in legs)})"]
    pairs = zip(sorted(stored, key=lambda s: s.start_utc),
                sorted(legs, key=lambda leg: leg.start_utc), strict=True)
    return [f"{name}: {problem}" for s, leg in pairs for problem in disagreements(s, leg)]


def check_refusal(path: Path, reading: Reading, reasons: list[str],
                  activities: list[Activity]) -> list[str]:
    """The file is refused as the table says, in one line naming it and what is wrong."""
    expected = EXPECTED_REFUSALS[path.name]
    problems = []
    if reading.refusal != expected:
        problems.append(f"the independent reader says {reading.refusal or 'an activity'}"
                        f" ({reading.detail}), the table says {expected}")
    if activities or len(reasons) != 1:
        stored = "; ".join(f"{a.sport} {a.elapsed_s:.0f} s {a.distance_m or 0:.0f} m"
                           for a in activities)
        return [*problems, f"expected one refusal ({expected}: {reading.detail}); syncd "
                f"stored {len(activities)} activities [{stored}] and refused {reasons}"]
    reason = reasons[0]
    if path.name not in reason or "\n" in reason:
        problems.append(f"the refusal does not name the file in one line: {reason!r}")
    if not re.search(REASON_PATTERNS[expected], reason, re.IGNORECASE):
        problems.append(f"the refusal does not say {expected!r}: {reason!r}")
    if expected == "mostly untimed" and not re.search(rf"\b{reading.timed_points}\b", reason):
        problems.append(f"the refusal does not say how many points had times "
                        f"({reading.detail}): {reason!r}")
    return problems


# -- the tests ----------------------------------------------------------------------------------


ALL_FILES = corpus_files()


def _id(path: Path) -> str:
    return str(path.relative_to(FIXTURES))


@pytest.fixture(scope="module", autouse=True)
def summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print how many files of each kind were checked, imported and refused, and why."""
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.getplugin("terminalreporter"), plugins.getplugin("capturemanager")
    if reporter is None or capture is None or not SUMMARY:
        return
    with capture.global_and_fixture_disabled():  # to the terminal, not into a test's capture
        reporter.write("\n")  # after the progress dots
        reporter.write_sep("-", "real-world corpus")
        for key in sorted(SUMMARY):
            reporter.write_line(f"{key}: {SUMMARY[key]}")
        for reason in sorted(REFUSALS):
            reporter.write_line(f"refused, {reason}: {REFUSALS[reason]}")
        for line in DISAGREEMENTS:
            reporter.write_line(f"DISAGREES {line}")


def test_the_corpus_is_there_and_every_file_is_classified() -> None:
    """Every file is an activity file, an expected refusal, or a known API capture."""
    names = {p.name for p in ALL_FILES}
    assert len(ALL_FILES) >= 110, "the shared corpus lost files"
    assert set(EXPECTED_REFUSALS) <= names
    assert set(JSON_NOT_ACTIVITIES) <= names


@pytest.mark.parametrize("path", [p for p in ALL_FILES if kind_of(p) in ("fit", "gpx", "tcx")],
                         ids=_id)
def test_activity_file_matches_an_independent_reading(path: Path) -> None:
    kind = kind_of(path)
    SUMMARY[f"{kind} files checked"] += 1
    activities, reasons = syncd_file(path)
    reading = independent(path)
    if path.name in EXPECTED_REFUSALS:
        REFUSALS[f"{kind}, {EXPECTED_REFUSALS[path.name]}"] += 1
        problems = check_refusal(path, reading, reasons, activities)
    else:
        SUMMARY[f"{kind} files imported"] += 1
        SUMMARY[f"{kind} activities stored"] += len(activities)
        if reading.refusal is not None:
            problems = [f"the independent reader finds no activity ({reading.refusal}: "
                        f"{reading.detail}); add the file to the table if that is right"]
        elif reasons:
            problems = [f"syncd refused a file the independent reader reads: {reasons}"]
        else:
            problems = compare_all(path.name, [Stored.of(a) for a in activities], reading.legs)
    DISAGREEMENTS.extend(f"{_id(path)}: {p}" for p in problems)
    assert problems == []


@pytest.mark.parametrize("path", [p for p in ALL_FILES if kind_of(p) in ("garmin", "strava")],
                         ids=_id)
def test_api_capture_matches_the_json_itself(path: Path) -> None:
    kind = kind_of(path)
    SUMMARY[f"{kind} captures checked"] += 1
    shape, entries, details = json_records(path)
    if path.name in JSON_NOT_ACTIVITIES:
        assert shape == JSON_NOT_ACTIVITIES[path.name]
        assert entries == []
        SUMMARY[f"{kind} captures without an activity object ({shape})"] += 1
        return
    assert shape in ("garmin-list", "strava-activity"), f"unknown capture {shape}"
    details = {**garmin_details(), **details}
    problems = []
    for entry in entries:
        SUMMARY[f"{kind} activities checked"] += 1
        try:
            if kind == "garmin":
                detail = details.get(str(entry["activityId"]))
                stored, leg = garmin_activity(entry, detail), garmin_leg(entry, detail)
            else:
                stored, leg = strava_activity(entry), strava_leg(entry)
        except SyncdError as err:
            problems.append(f"{entry.get('activityId', entry.get('id'))}: refused ({err})")
            continue
        problems += compare_all(f"{path.name} {stored.source_id}", [Stored.of(stored)], [leg])
    DISAGREEMENTS.extend(problems)
    assert problems == []


@cache
def garmin_details() -> dict[str, dict[str, Any]]:
    """Every Garmin activity detail in the corpus, by activity id (a list entry in one file
    and its detail in another are one record, as syncd fetches them)."""
    found: dict[str, dict[str, Any]] = {}
    for path in ALL_FILES:
        if kind_of(path) == "garmin":
            found.update(json_records(path)[2])
    return found


# -- the real command ---------------------------------------------------------------------------


ATHLETE = {"timezone": ATHLETE_ZONE}


def _folder(tmp_path: Path, name: str, relative: tuple[str, ...]) -> Path:
    """A temporary folder holding copies of some shared files (syncd skips symbolic links)."""
    folder = tmp_path / name
    folder.mkdir()
    for item in relative:
        shutil.copyfile(FIXTURES / item, folder / Path(item).name)
    return folder


def _import(tmp_path: Path, state: str, folder: Path, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str], Path]:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / state))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    config = write_config(tmp_path, database=None, athlete=ATHLETE)
    code = main(["--config", str(config), "import", str(folder)])
    return code, capsys.readouterr().out.splitlines(), tmp_path / state / "syncd.db"


def stored_rows(database: Path) -> dict[str, Stored]:
    """The file activities in the SQLite store, by file name, read with plain sqlite3."""
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT sport, start_utc, local_start, elapsed_s, moving_s, "
                          "distance_m, run_s, walk_s, raw FROM activities WHERE source = 'file'")
        return {json.loads(raw)["file_name"]: Stored(
            sport, datetime.fromisoformat(start).replace(tzinfo=UTC),
            datetime.fromisoformat(local), elapsed, moving, distance, run, walk)
            for sport, start, local, elapsed, moving, distance, run, walk, raw in rows}


def test_syncd_import_of_mixed_real_files_refuses_one_line_each_and_stores_the_rest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path, "mixed", IMPORT_SUBSET + REFUSED_SUBSET)
    code, lines, database = _import(tmp_path, "state", folder, capsys, monkeypatch)
    assert code == 1, "a refused file makes the import exit non-zero"
    assert lines[0].startswith(f"imported {len(IMPORT_SUBSET)}, skipped as duplicate 0, "
                               f"failed {len(REFUSED_SUBSET)};")
    failed = [line for line in lines if line.startswith("  failed ")]
    assert len(failed) == len(REFUSED_SUBSET)
    for item in REFUSED_SUBSET:
        name = Path(item).name
        [line] = [f for f in failed if f.startswith(f"  failed {folder / name}:")]
        assert re.search(REASON_PATTERNS[EXPECTED_REFUSALS[name]], line, re.IGNORECASE), line
    rows = stored_rows(database)
    assert sorted(rows) == sorted(Path(item).name for item in IMPORT_SUBSET)
    problems = []
    for item in IMPORT_SUBSET:
        path = FIXTURES / item
        problems += compare_all(f"stored row of {path.name}", [rows[path.name]],
                                independent(path).legs)
    DISAGREEMENTS.extend(problems)
    SUMMARY["files imported by syncd import into SQLite"] += len(rows)
    SUMMARY["files refused by syncd import"] += len(failed)
    assert problems == []


def test_syncd_import_of_only_good_files_exits_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _folder(tmp_path, "good", IMPORT_SUBSET)
    code, lines, database = _import(tmp_path, "state", folder, capsys, monkeypatch)
    assert code == 0
    assert lines[0].startswith(f"imported {len(IMPORT_SUBSET)}, skipped as duplicate 0, "
                               "failed 0;")
    assert not [line for line in lines if line.startswith("  failed ")]
    assert len(stored_rows(database)) == len(IMPORT_SUBSET)
