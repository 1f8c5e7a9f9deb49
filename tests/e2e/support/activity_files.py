"""Activity files as watches and apps write them, for the files source of a scenario.

Runs are TCX with one lap per bout (jogs ``Active``, walks ``Resting``, as a watch's run/walk
mode writes them) or, when the run was recorded away from home, FIT with the local time
offset in its activity message; walks and hikes are GPX tracks. Every file is a pure
function of its activity spec, so a scenario gives the same bytes (and ids) on every run.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from .spec import RUN_MPS, WALK_MPS, ActivitySpec, Bout

TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
GPX_NS = "http://www.topografix.com/GPX/1/1"
FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
STEP_S = 5  # a track point every 5 seconds
HOME = (52.5145, 13.3501)


def file_id(data: bytes) -> str:
    """The source id the files source gives a file: its content's sha256, 20 hex digits
    (README: a file is identified by its content)."""
    return hashlib.sha256(data).hexdigest()[:20]


def activity_file(spec: ActivitySpec) -> tuple[str, bytes]:
    """(file name, bytes) for one activity."""
    if spec.sport != "run":
        return f"{spec.name}.gpx", gpx(spec)
    if spec.file_format == "fit":
        return f"{spec.name}.fit", fit(spec)
    return f"{spec.name}.tcx", tcx(spec)


def _points(spec: ActivitySpec, bouts: tuple[Bout, ...]) -> list[tuple[int, float]]:
    """(offset s, distance m) every :data:`STEP_S` seconds and at each bout's end."""
    points, offset, distance = [(0, 0.0)], 0, 0.0
    for bout in bouts:
        speed = RUN_MPS if bout.kind == "run" else WALK_MPS
        for step in range(STEP_S, bout.seconds + 1, STEP_S):
            points.append((offset + step, round(distance + step * speed, 2)))
        if bout.seconds % STEP_S:
            points.append((offset + bout.seconds, round(distance + bout.metres, 2)))
        offset += bout.seconds
        distance += bout.metres
    return points


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tcx(spec: ActivitySpec) -> bytes:
    """A run as TCX; without a split, one lap with no intensity (speeds decide)."""
    ET.register_namespace("", TCX_NS)

    def add(parent: ET.Element, tag: str, text: str) -> None:
        ET.SubElement(parent, f"{{{TCX_NS}}}{tag}").text = text

    root = ET.Element(f"{{{TCX_NS}}}TrainingCenterDatabase")
    activity = ET.SubElement(ET.SubElement(root, f"{{{TCX_NS}}}Activities"),
                             f"{{{TCX_NS}}}Activity", Sport="Running")
    start = spec.start_utc
    add(activity, "Id", _iso(start))
    laps = spec.bouts if spec.split else (Bout("run", spec.elapsed_s),)
    points = _points(spec, spec.bouts)
    offset = 0
    for bout in laps:
        lap = ET.SubElement(activity, f"{{{TCX_NS}}}Lap",
                            StartTime=_iso(start + timedelta(seconds=offset)))
        inside = [p for p in points if offset < p[0] <= offset + bout.seconds]
        before = next(d for o, d in reversed(points) if o <= offset)
        add(lap, "TotalTimeSeconds", f"{bout.seconds:.1f}")
        add(lap, "DistanceMeters", f"{inside[-1][1] - before:.2f}")
        if spec.split:
            add(lap, "Intensity", "Active" if bout.kind == "run" else "Resting")
        add(lap, "TriggerMethod", "Manual")
        track = ET.SubElement(lap, f"{{{TCX_NS}}}Track")
        for point_offset, distance in ([(0, 0.0)] if offset == 0 else []) + inside:
            point = ET.SubElement(track, f"{{{TCX_NS}}}Trackpoint")
            add(point, "Time", _iso(start + timedelta(seconds=point_offset)))
            add(point, "DistanceMeters", f"{distance:.2f}")
        offset += bout.seconds
    add(activity, "Notes", spec.title)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def gpx(spec: ActivitySpec) -> bytes:
    """A walk or hike as a GPX track on a straight line north of :data:`HOME`."""
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", version="1.1", creator="syncd e2e")
    track = ET.SubElement(root, f"{{{GPX_NS}}}trk")
    ET.SubElement(track, f"{{{GPX_NS}}}name").text = spec.title
    ET.SubElement(track, f"{{{GPX_NS}}}type").text = "hiking" if spec.sport == "hike" else \
        "walking"
    segment = ET.SubElement(track, f"{{{GPX_NS}}}trkseg")
    for offset, distance in _points(spec, spec.bouts):
        point = ET.SubElement(segment, f"{{{GPX_NS}}}trkpt",
                              lat=f"{HOME[0] + distance / 111_320:.6f}", lon=f"{HOME[1]:.6f}")
        ET.SubElement(point, f"{{{GPX_NS}}}time").text = _iso(
            spec.start_utc + timedelta(seconds=offset))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def fit(spec: ActivitySpec) -> bytes:
    """A run as a FIT activity file: records, one lap per bout marked active or recovery, a
    session, and the activity's local timestamp (which carries the zone it was recorded in)."""
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.activity_message import ActivityMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.lap_message import LapMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.messages.session_message import SessionMessage
    from fit_tool.profile.profile_type import FileType, Intensity, Manufacturer, Sport

    def ms(moment: datetime) -> int:
        return round(moment.timestamp() * 1000)

    start, total = spec.start_utc, spec.elapsed_s
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id_message = FileIdMessage()
    file_id_message.type = FileType.ACTIVITY
    file_id_message.manufacturer = Manufacturer.DEVELOPMENT.value
    file_id_message.product = 0
    file_id_message.serial_number = 4242
    file_id_message.time_created = ms(start)
    builder.add(file_id_message)
    points = _points(spec, spec.bouts)
    for offset, distance in points:
        record = RecordMessage()
        record.timestamp = ms(start + timedelta(seconds=offset))
        record.distance = distance
        builder.add(record)
    offset = 0
    for index, bout in enumerate(spec.bouts):
        lap = LapMessage()
        lap.message_index = index
        lap.start_time = ms(start + timedelta(seconds=offset))
        lap.timestamp = ms(start + timedelta(seconds=offset + bout.seconds))
        lap.total_elapsed_time = lap.total_timer_time = bout.seconds
        lap.total_distance = bout.metres
        lap.sport = Sport.RUNNING
        lap.intensity = Intensity.ACTIVE if bout.kind == "run" else Intensity.RECOVERY
        builder.add(lap)
        offset += bout.seconds
    end = start + timedelta(seconds=total)
    session = SessionMessage()
    session.start_time, session.timestamp = ms(start), ms(end)
    session.total_elapsed_time = session.total_timer_time = total
    session.total_distance = points[-1][1]
    session.sport = Sport.RUNNING
    session.num_laps = len(spec.bouts)
    builder.add(session)
    activity = ActivityMessage()
    activity.timestamp = ms(end)
    activity.total_timer_time = total
    activity.num_sessions = 1
    # FIT's local_timestamp: seconds since the FIT epoch, as if local time were UTC.
    shifted = end + timedelta(seconds=spec.utc_offset_s)
    activity.local_timestamp = int((shifted - FIT_EPOCH).total_seconds())
    builder.add(activity)
    return bytes(builder.build().to_bytes())
