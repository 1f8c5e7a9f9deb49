"""Write the bundled sample history: eight weeks of return-to-running for the shipped hip plan.

    .venv/bin/python scripts/make_sample_history.py [OUT_DIR]    (default: examples/)

Deterministic (fixed seed, fixed dates): running it again rewrites the same bytes. The athlete
lives in Europe/Berlin; the plan (config/plans/hip-return-run-walk.toml) starts on Monday
2026-09-07. Walks are GPX files, week 3 is TCX (laps marked Active/Resting), the other runs are
FIT files: week 2 with one lap (run/walk comes from the record speeds), weeks 4-8 with one lap
per jog or walk (a watch's run/walk mode). Runs jog at about 2.6 m/s and walk at about
1.4 m/s, on either side of syncd's 1.9 m/s threshold.

Deliberate breaches (plan week: prescribed -> what the history holds):

- week 5, Sat 2026-10-10: one session of 21.25 min (1,275 s) against 17 min prescribed, +25 %
  (limit 18.7 min with the 10 % tolerance): ``session_length``.
- week 6 (2026-10-12 to 10-18): four sessions of 6 min running instead of three: 24 min of
  running against max(last week 12 min, prescribed 18 min) x 1.1 = 19.8 min, +33 %:
  ``weekly_increase`` and ``sessions_per_week`` (4 > 3).
- week 7: runs on Tue 2026-10-20 and Wed 2026-10-21, consecutive days: ``rest_day`` on the
  Wednesday run.
- week 7 pain (examples/pain.csv): 0 on Tue 10-20 morning, 2 on Wed 10-21 evening after that
  day's run (``pain_rising``), 5 on Sat 10-24 after the run (``pain_stop``, critical; and
  ``pain_rising`` again, 5 > 2), back to 0 on Mon 10-26 morning.

Everything else follows the plan: week 1 six 15-min walks; week 2 three 15-min sessions with a
30-s jog every 5 min (1.5 min running); week 3 two 1-min jogs (2 min); week 4 2/15; week 5
4/13; week 6 6/11; week 7 8/9; week 8 10/7 (sessions of 17 min, jogs split in two bouts).
Week 8 starts after the end of summer time (2026-10-25), so its files carry +01:00.
"""

from __future__ import annotations

import csv
import math
import random
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import gpxpy.gpx
from fit_tool.fit_file_builder import FitFileBuilder
from fit_tool.profile.messages.activity_message import ActivityMessage
from fit_tool.profile.messages.event_message import EventMessage
from fit_tool.profile.messages.file_id_message import FileIdMessage
from fit_tool.profile.messages.lap_message import LapMessage
from fit_tool.profile.messages.record_message import RecordMessage
from fit_tool.profile.messages.session_message import SessionMessage
from fit_tool.profile.profile_type import (
    Event,
    EventType,
    FileType,
    Intensity,
    Manufacturer,
    Sport,
    SubSport,
)

SEED = 20260907
PLAN_START = date(2026, 9, 7)
ZONE = ZoneInfo("Europe/Berlin")
RUN_MPS, WALK_MPS = 2.6, 1.4
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
HOME = (52.5145, 13.3501)  # a park loop; the exact place does not matter
TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"

Bouts = list[tuple[str, int]]  # (kind "run"/"walk", seconds)


@dataclass(frozen=True)
class Outing:
    """One recorded activity of the history."""

    day: date
    start: time
    kind: str  # walk-gpx | run-fit-records | run-tcx-laps | run-fit-laps
    bouts: Bouts

    @property
    def start_utc(self) -> datetime:
        """The start as an aware UTC time (the local time in Europe/Berlin)."""
        return datetime.combine(self.day, self.start, ZONE).astimezone(UTC)


def week_day(week: int, weekday: int) -> date:
    """The local date of ``weekday`` (0 = Monday) in plan week ``week`` (1-based)."""
    return PLAN_START + timedelta(days=7 * (week - 1) + weekday)


def jogs(run_s: int, walks: list[int]) -> Bouts:
    """Alternate walks and jogs of ``run_s``: walk, jog, walk, ..., walk."""
    bouts: Bouts = []
    for index, walk in enumerate(walks):
        if index:
            bouts.append(("run", run_s))
        bouts.append(("walk", walk))
    return bouts


WEEK2 = [("walk", 270), ("run", 30)] * 3  # a 30-s jog every 5 min: 1.5 min in 15
WEEK3 = jogs(60, [300, 300, 180])  # two 1-min jogs: 2 min in 15
WEEK4 = jogs(120, [420, 480])  # 2/15
WEEK5 = jogs(120, [300, 240, 240])  # 4/13
WEEK5_LONG = jogs(120, [300, 240, 495])  # 4 min running in 21.25 min: +25 %
WEEK6 = jogs(180, [240, 240, 180])  # 6/11
WEEK7 = jogs(240, [180, 180, 180])  # 8/9
WEEK8 = jogs(300, [150, 150, 120])  # 10/7


def history() -> list[Outing]:
    """Every activity of the eight weeks, in date order."""
    rng = random.Random(SEED)

    def at(hour: int) -> time:
        return time(hour, rng.randrange(0, 45, 5))

    outings = [Outing(week_day(1, d), at(18), "walk-gpx", [("walk", 900)]) for d in
               (0, 1, 2, 4, 5, 6)]
    schedule: list[tuple[int, tuple[int, ...], str, Bouts]] = [
        (2, (1, 3, 5), "run-fit-records", WEEK2),
        (3, (0, 2, 4), "run-tcx-laps", WEEK3),
        (4, (0, 2, 4), "run-fit-laps", WEEK4),
        (5, (0, 2), "run-fit-laps", WEEK5),
        (5, (5,), "run-fit-laps", WEEK5_LONG),
        (6, (0, 2, 4, 6), "run-fit-laps", WEEK6),
        (7, (1, 2, 5), "run-fit-laps", WEEK7),
        (8, (0, 2, 4), "run-fit-laps", WEEK8),
    ]
    for week, days, kind, bouts in schedule:
        outings += [Outing(week_day(week, d), at(7), kind, bouts) for d in days]
    return sorted(outings, key=lambda o: o.start_utc)


PAIN = [
    ("2026-09-08T08:00", 0, "walks feel fine"),
    ("2026-09-16T08:00", 0, ""),
    ("2026-09-22T19:00", 1, "slight ache after the jogs, gone by bedtime"),
    ("2026-09-29T08:00", 0, ""),
    ("2026-10-06T08:00", 0, ""),
    ("2026-10-13T08:00", 0, ""),
    ("2026-10-20T06:30", 0, "fresh this morning"),
    ("2026-10-21T19:00", 2, "hip sore after running two days in a row"),
    ("2026-10-24T12:00", 5, "sharp pain in the hip during the last jog"),
    ("2026-10-26T06:30", 0, "pain gone after two rest days"),
]


# --- samples -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One second of the activity: offset, speed and distance so far."""

    offset_s: int
    speed: float
    distance_m: float
    heart_rate: int


def samples(bouts: Bouts, rng: random.Random) -> list[Sample]:
    """1-Hz samples; a sample's speed covers the second that ends at it."""
    out = [Sample(0, 0.0, 0.0, 95)]
    distance, offset = 0.0, 0
    for kind, seconds in bouts:
        base = RUN_MPS if kind == "run" else WALK_MPS
        for _ in range(seconds):
            offset += 1
            speed = round(base + rng.uniform(-0.12, 0.12), 3)
            distance += speed
            heart = (150 if kind == "run" else 112) + rng.randrange(-4, 5)
            out.append(Sample(offset, speed, round(distance, 2), heart))
    return out


def position(distance_m: float) -> tuple[float, float]:
    """A point on a 1.2 km circular loop, ``distance_m`` along it."""
    radius = 1200 / (2 * math.pi)
    angle = distance_m / radius
    lat = HOME[0] + (radius * math.sin(angle)) / 111_320
    lon = HOME[1] + (radius * (1 - math.cos(angle))) / (111_320 * math.cos(math.radians(HOME[0])))
    return round(lat, 6), round(lon, 6)


# --- writers -------------------------------------------------------------------------------


def write_gpx(outing: Outing, points: list[Sample]) -> bytes:
    """A walk as GPX with a point every 5 s (``<type>walking</type>``)."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "syncd sample history"
    track = gpxpy.gpx.GPXTrack(name="Evening walk")
    track.type = "walking"  # type: ignore[assignment]  # gpxpy annotates it as None
    segment = gpxpy.gpx.GPXTrackSegment()
    for sample in points[::5]:
        lat, lon = position(sample.distance_m)
        moment = outing.start_utc + timedelta(seconds=sample.offset_s)
        segment.points.append(gpxpy.gpx.GPXTrackPoint(lat, lon, time=moment))
    track.segments.append(segment)
    gpx.tracks.append(track)
    return gpx.to_xml(version="1.1").encode()


def write_tcx(outing: Outing, points: list[Sample]) -> bytes:
    """A run as TCX: one lap per bout (jogs Active, walks Resting), a trackpoint every 5 s."""
    ET.register_namespace("", TCX_NS)
    root = ET.Element(f"{{{TCX_NS}}}TrainingCenterDatabase")
    activity = ET.SubElement(ET.SubElement(root, f"{{{TCX_NS}}}Activities"),
                             f"{{{TCX_NS}}}Activity", Sport="Running")
    _text(activity, "Id", _iso(outing.start_utc))
    offset = 0
    for kind, seconds in outing.bouts:
        inside = [p for p in points if offset < p.offset_s <= offset + seconds]
        start_distance = points[offset].distance_m
        lap = ET.SubElement(activity, f"{{{TCX_NS}}}Lap",
                            StartTime=_iso(outing.start_utc + timedelta(seconds=offset)))
        _text(lap, "TotalTimeSeconds", f"{seconds:.1f}")
        _text(lap, "DistanceMeters", f"{inside[-1].distance_m - start_distance:.2f}")
        _text(lap, "Intensity", "Active" if kind == "run" else "Resting")
        _text(lap, "TriggerMethod", "Manual")
        track = ET.SubElement(lap, f"{{{TCX_NS}}}Track")
        for sample in inside:
            if sample.offset_s % 5 and sample is not inside[-1]:
                continue
            point = ET.SubElement(track, f"{{{TCX_NS}}}Trackpoint")
            _text(point, "Time", _iso(outing.start_utc + timedelta(seconds=sample.offset_s)))
            _text(point, "DistanceMeters", f"{sample.distance_m:.2f}")
        offset += seconds
    _text(activity, "Notes", "Run/walk: 1-minute jogs")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _text(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, f"{{{TCX_NS}}}{tag}").text = value


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_fit(outing: Outing, points: list[Sample], laps_per_bout: bool) -> bytes:
    """A run as a FIT activity: 1-Hz records, laps, a session and the local time offset."""
    start = outing.start_utc
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.DEVELOPMENT.value
    file_id.product = 0
    file_id.serial_number = 20260907
    file_id.time_created = _ms(start)
    builder.add(file_id)
    builder.add(_timer_event(start, EventType.START))
    for sample in points:
        record = RecordMessage()
        record.timestamp = _ms(start + timedelta(seconds=sample.offset_s))
        record.distance = sample.distance_m
        record.speed = sample.speed
        record.heart_rate = sample.heart_rate
        builder.add(record)
    total = points[-1].offset_s
    end = start + timedelta(seconds=total)
    builder.add(_timer_event(end, EventType.STOP_ALL))
    bouts = outing.bouts if laps_per_bout else [("run", total)]
    offset = 0
    for index, (kind, seconds) in enumerate(bouts):
        distance = points[offset + seconds].distance_m - points[offset].distance_m
        builder.add(_lap(index, start, offset, seconds, distance, kind, laps_per_bout))
        offset += seconds
    builder.add(_session(start, total, points[-1].distance_m, len(bouts)))
    builder.add(_activity(end, total))
    return bytes(builder.build().to_bytes())


def _timer_event(moment: datetime, kind: EventType) -> EventMessage:
    event = EventMessage()
    event.timestamp = _ms(moment)
    event.event = Event.TIMER
    event.event_type = kind
    return event


def _lap(index: int, start: datetime, offset: int, seconds: int, distance: float, kind: str,
         marked: bool) -> LapMessage:
    lap = LapMessage()
    lap.message_index = index
    lap.start_time = _ms(start + timedelta(seconds=offset))
    lap.timestamp = _ms(start + timedelta(seconds=offset + seconds))
    lap.total_elapsed_time = seconds
    lap.total_timer_time = seconds
    lap.total_distance = round(distance, 2)
    lap.event = Event.LAP
    lap.event_type = EventType.STOP
    lap.sport = Sport.RUNNING
    if marked:
        lap.intensity = Intensity.ACTIVE if kind == "run" else Intensity.RECOVERY
    return lap


def _session(start: datetime, total: int, distance: float, laps: int) -> SessionMessage:
    session = SessionMessage()
    session.start_time = _ms(start)
    session.timestamp = _ms(start + timedelta(seconds=total))
    session.total_elapsed_time = total
    session.total_timer_time = total
    session.total_distance = round(distance, 2)
    session.sport = Sport.RUNNING
    session.sub_sport = SubSport.GENERIC
    session.num_laps = laps
    session.event = Event.SESSION
    session.event_type = EventType.STOP
    return session


def _activity(end: datetime, total: int) -> ActivityMessage:
    activity = ActivityMessage()
    activity.timestamp = _ms(end)
    activity.total_timer_time = total
    activity.num_sessions = 1
    local_end = end.astimezone(ZONE)
    shifted = end + (local_end.utcoffset() or timedelta(0))
    # FIT's local_timestamp is seconds since the FIT epoch, as if local time were UTC.
    activity.local_timestamp = int((shifted - FIT_EPOCH).total_seconds())
    return activity


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


# --- main ----------------------------------------------------------------------------------


def write_history(out_dir: Path, days: set[date] | None = None) -> list[Path]:
    """Write the activity files and pain.csv under ``out_dir``; return the paths written.

    ``days`` writes only the activities of those days (the same bytes as a full run).
    """
    folder = out_dir / "history"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir() if days is None else ():
        stale.unlink()
    rng = random.Random(SEED)
    written = []
    for outing in history():
        # Drawn for every outing, so that a partial run keeps the random stream in step.
        points = samples(outing.bouts, rng)
        if days is not None and outing.day not in days:
            continue
        stem = f"{outing.day.isoformat()}-{'walk' if outing.kind == 'walk-gpx' else 'run'}"
        if outing.kind == "walk-gpx":
            path, data = folder / f"{stem}.gpx", write_gpx(outing, points)
        elif outing.kind == "run-tcx-laps":
            path, data = folder / f"{stem}.tcx", write_tcx(outing, points)
        else:
            laps = outing.kind == "run-fit-laps"
            path, data = folder / f"{stem}.fit", write_fit(outing, points, laps)
        path.write_bytes(data)
        written.append(path)
    written.append(write_pain(out_dir / "pain.csv"))
    return written


def write_pain(path: Path) -> Path:
    """The pain reports as CSV: ``timestamp`` (local, with offset), ``score``, ``note``."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["timestamp", "score", "note"])
        for local, score, note in PAIN:
            moment = datetime.fromisoformat(local).replace(tzinfo=ZONE)
            writer.writerow([moment.isoformat(), score, note])
    return path


def main(argv: list[str]) -> int:
    """Write the history into ``argv[0]`` (default: the repository's examples/)."""
    out_dir = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "examples"
    paths = write_history(out_dir)
    size = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} files ({size / 1024:.0f} KiB) under {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
