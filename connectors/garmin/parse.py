"""Reading Garmin Connect's JSON into activity fields. Pure functions, no I/O.

Shapes read here (all from ``connectapi``):

- the activity list (``activitylist-service/activities/search/activities``): flat entries with
  ``startTimeLocal``/``startTimeGMT`` ("2026-01-08 08:10:21"), durations in seconds,
  ``activityType.typeKey`` and ``splitSummaries`` with Garmin's run/walk detection
  (``RWD_RUN``, ``RWD_WALK``, ``RWD_STAND``: totals and ``noOfSplits`` per kind);
- the activity detail (``activity-service/activity/{id}``): ``summaryDTO`` (with the post-run
  ``directWorkoutFeel`` and ``directWorkoutRpe`` when the runner gave them),
  ``timeZoneUnitDTO`` and the same ``splitSummaries``;
- typed splits (``.../{id}/typedsplits``): ``splits``, one per bout, with ``type``,
  ``startTimeGMT``, ``duration`` and ``distance``;
- laps (``.../{id}/splits``): ``lapDTOs`` with ``startTimeGMT``, ``duration``, ``distance``,
  ``averageSpeed`` and, for workout steps, ``intensityType``;
- a multisport (a triathlon, or sports changed with the lap key): the list holds only the
  parent (``multi_sport``, ``isMultiSportParent``), whose totals span every leg; its legs
  (``metadataDTO.childIds``, with ``childActivityTypes``) are activities of their own, read
  one by one from the detail call (``summaryDTO`` carries the list's fields).

Anything missing or of the wrong type raises :class:`InvalidResponse` naming the activity, so
that one changed record is skipped and the rest kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from syncd.errors import InvalidResponse
from syncd.models import Segment, SegmentKind, SportFamily, sport_family

RWD_KINDS: dict[str, SegmentKind] = {"RWD_RUN": "run", "RWD_WALK": "walk", "RWD_STAND": "stand"}
# Garmin Connect's "how did you feel" scale, 0-100 in steps of 25, as the app words it.
FEEL_LABELS = {0: "very weak", 25: "weak", 50: "normal", 75: "strong", 100: "very strong"}
# Workout-step laps say what they were; warm-up and cool-down fall back to the speed.
_REST_INTENSITIES = {"REST", "RECOVERY"}
_ACTIVE_INTENSITIES = {"ACTIVE", "INTERVAL"}
# The list fields whose change means the activity must be read again (its name and feel too,
# since both are stored); other fields (profile image URLs, counters) change without meaning.
MULTISPORT_TYPES = {"multi_sport", "multisport"}
_FINGERPRINT_FIELDS = (
    "activityName", "startTimeGMT", "startTimeLocal", "duration", "elapsedDuration",
    "movingDuration", "distance", "splitSummaries", "manualActivity", "lapCount",
    "directWorkoutFeel", "directWorkoutRpe",
)


@dataclass(frozen=True, slots=True)
class RunWalk:
    """Garmin's run/walk detection totals for one activity."""

    run_s: float
    walk_s: float
    stand_s: float
    run_bouts: int | None
    walk_bouts: int | None


@dataclass(frozen=True, slots=True)
class Listed:
    """What one activity-list entry says: enough to decide which other calls it needs."""

    activity_id: str
    sport_type: str
    sport: SportFamily
    start_utc: datetime
    local_start: datetime
    run_walk: RunWalk | None
    has_split_summaries: bool
    lap_count: int | None
    has_feel: bool

    @property
    def local_date(self) -> date:
        """The local calendar day the activity started on."""
        return self.local_start.date()


def read_listed(entry: Any) -> Listed:
    """Read one activity-list entry. Raises :class:`InvalidResponse` when it lacks what every
    activity needs (id, type, start times)."""
    if not isinstance(entry, dict):
        raise InvalidResponse("Garmin sent an activity-list entry that is not an object")
    activity_id = _activity_id(entry)
    sport_type = _type_key(entry.get("activityType"), activity_id)
    summaries = entry.get("splitSummaries")
    return Listed(
        activity_id=activity_id,
        sport_type=sport_type,
        sport=sport_family(sport_type),
        start_utc=parse_time(entry.get("startTimeGMT"), activity_id, "startTimeGMT", utc=True),
        local_start=parse_time(entry.get("startTimeLocal"), activity_id, "startTimeLocal"),
        run_walk=run_walk(summaries, activity_id) if summaries is not None else None,
        has_split_summaries=summaries is not None,
        lap_count=_optional_int(entry.get("lapCount")),
        has_feel=bool(feel_fields(entry)),
    )


def is_multisport_parent(entry: Mapping[str, Any]) -> bool:
    """True for a multisport parent: its totals span every leg, so it is not an activity."""
    kind = entry.get("activityType") or entry.get("activityTypeDTO")
    key = kind.get("typeKey") if isinstance(kind, Mapping) else None
    return (key in MULTISPORT_TYPES or entry.get("isMultiSportParent") is True
            or entry.get("parent") is True or bool(entry.get("childIds")))


def is_listed_leg(entry: Mapping[str, Any]) -> bool:
    """True for a multisport leg that a list shows beside its parent (read with the parent)."""
    return bool(entry.get("parentId")) and not is_multisport_parent(entry)


def is_transition(sport_type: str) -> bool:
    """Garmin's transition legs (``transition``, ``transition_v2``): time between sports."""
    return sport_type.startswith("transition")


def leg_ids(source: Mapping[str, Any]) -> list[str] | None:
    """The ids of a multisport's legs, transitions left out when the types are given, from a
    list entry (``childIds``) or the parent's detail (``metadataDTO``); ``None`` if neither
    names them."""
    metadata = source.get("metadataDTO")
    holder = metadata if isinstance(metadata, Mapping) and "childIds" in metadata else source
    ids = holder.get("childIds")
    if not isinstance(ids, list):
        return None
    kinds = holder.get("childActivityTypes")
    if not isinstance(kinds, list) or len(kinds) != len(ids):
        kinds = [""] * len(ids)
    return [str(i) for i, kind in zip(ids, kinds, strict=True)
            if not (isinstance(kind, str) and is_transition(kind))]


def leg_entry(detail: Any, parent_id: str) -> dict[str, Any]:
    """A leg's detail (``activity-service/activity/{id}``) in the list's shape, so that a leg
    is read like any listed activity. Raises :class:`InvalidResponse` when it is no detail."""
    if not isinstance(detail, dict) or not isinstance(detail.get("summaryDTO"), dict):
        raise InvalidResponse(f"Garmin multisport {parent_id}: a leg's detail has no "
                              "summaryDTO; skipped")
    summary, metadata = detail["summaryDTO"], detail.get("metadataDTO") or {}
    entry: dict[str, Any] = {
        "activityId": detail.get("activityId"), "activityName": detail.get("activityName"),
        "activityType": detail.get("activityTypeDTO"), "parentId": parent_id,
        "lapCount": metadata.get("lapCount"), "manualActivity": metadata.get("manualActivity"),
    }
    for key in ("startTimeLocal", "startTimeGMT", "duration", "elapsedDuration",
                "movingDuration", "distance", "directWorkoutFeel", "directWorkoutRpe"):
        if key in summary:
            entry[key] = summary[key]
    if "splitSummaries" in detail:
        entry["splitSummaries"] = detail["splitSummaries"]
    return entry


def fingerprint(entry: Mapping[str, Any]) -> str:
    """A short digest of the list fields that matter: equal digests, nothing to re-read."""
    chosen = {name: entry.get(name) for name in _FINGERPRINT_FIELDS}
    chosen["type"] = (entry.get("activityType") or {}).get("typeKey")
    text = json.dumps(chosen, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _activity_id(entry: Mapping[str, Any]) -> str:
    """The activity id as text; a missing or odd id makes the entry unreadable."""
    value = entry.get("activityId")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidResponse("Garmin sent an activity without a numeric activityId; skipped "
                              "(Garmin may have changed its activity list)")
    return str(value)


def _type_key(activity_type: Any, activity_id: str) -> str:
    """``activityType.typeKey`` (``typeKey`` at the top of a detail's ``activityTypeDTO``)."""
    key = activity_type.get("typeKey") if isinstance(activity_type, dict) else None
    if not isinstance(key, str) or not key:
        raise InvalidResponse(f"Garmin activity {activity_id} has no activity type; skipped "
                              "(Garmin may have changed its activity list)")
    return key


def parse_time(value: Any, activity_id: str, field: str, *, utc: bool = False) -> datetime:
    """A Garmin timestamp ("2026-01-08 14:10:21" or "2026-01-08T14:10:21.0"), naive local, or
    aware UTC when ``utc``."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise InvalidResponse(f"Garmin activity {activity_id} has no readable {field} "
                              f"({value!r}); skipped")
    if moment.tzinfo is not None:  # Garmin sends naive times; an offset would be a change
        moment = moment.astimezone(UTC).replace(tzinfo=None) if utc else moment.replace(
            tzinfo=None)
    return moment.replace(tzinfo=UTC) if utc else moment


def run_walk(summaries: Any, activity_id: str) -> RunWalk | None:
    """Garmin's run/walk totals from ``splitSummaries``; ``None`` when it did not detect any
    (an older watch, or the detection switched off)."""
    if not isinstance(summaries, list):
        raise InvalidResponse(f"Garmin activity {activity_id}: splitSummaries is not a list; "
                              "skipped")
    found: dict[SegmentKind, Mapping[str, Any]] = {}
    for summary in summaries:
        if isinstance(summary, dict) and summary.get("splitType") in RWD_KINDS:
            found[RWD_KINDS[summary["splitType"]]] = summary
    if not found:
        return None

    def seconds(kind: SegmentKind) -> float:
        return _number(found.get(kind, {}).get("duration", 0.0), activity_id, "split duration")

    def bouts(kind: SegmentKind) -> int | None:
        return _optional_int(found[kind].get("noOfSplits")) if kind in found else 0

    return RunWalk(run_s=seconds("run"), walk_s=seconds("walk"), stand_s=seconds("stand"),
                   run_bouts=bouts("run"), walk_bouts=bouts("walk"))


def typed_split_segments(payload: Any, start_utc: datetime, activity_id: str
                         ) -> tuple[Segment, ...]:
    """The run, walk and stand bouts of the typed splits, in order of their start."""
    splits = payload.get("splits") if isinstance(payload, dict) else None
    if not isinstance(splits, list):
        raise InvalidResponse(f"Garmin activity {activity_id}: typed splits without a list of "
                              "splits; skipped")
    bouts = [s for s in splits if isinstance(s, dict) and s.get("type") in RWD_KINDS]
    return _segments(((RWD_KINDS[s["type"]], s) for s in bouts), start_utc, activity_id)


def lap_segments(payload: Any, start_utc: datetime, activity_id: str, threshold_mps: float
                 ) -> tuple[Segment, ...]:
    """Bouts from laps: a workout step's intensity says run or walk, else the lap's average
    speed against ``threshold_mps``; neighbouring laps of one kind merge into one bout."""
    laps = payload.get("lapDTOs") if isinstance(payload, dict) else None
    if not isinstance(laps, list):
        raise InvalidResponse(f"Garmin activity {activity_id}: laps without lapDTOs; skipped")
    kinds = [(_lap_kind(lap, activity_id, threshold_mps), lap)
             for lap in laps if isinstance(lap, dict)]
    return merge_bouts(_segments(kinds, start_utc, activity_id))


def _lap_kind(lap: Mapping[str, Any], activity_id: str, threshold_mps: float) -> SegmentKind:
    """Run or walk for one lap. A lap without a speed counts as running (the safe reading)."""
    intensity = str(lap.get("intensityType") or "").upper()
    if intensity in _REST_INTENSITIES:
        return "walk"
    if intensity in _ACTIVE_INTENSITIES:
        return "run"
    speed = lap.get("averageSpeed")
    if speed is None:
        distance, duration = lap.get("distance"), lap.get("duration")
        if not distance or not duration:
            return "run"
        speed = _number(distance, activity_id, "lap distance") / _number(
            duration, activity_id, "lap duration")
    return "run" if _number(speed, activity_id, "lap speed") >= threshold_mps else "walk"


def _segments(parts: Iterable[tuple[SegmentKind, Mapping[str, Any]]], start_utc: datetime,
              activity_id: str) -> tuple[Segment, ...]:
    """Segments from (kind, split) pairs; a split without a start follows the previous one."""
    segments: list[Segment] = []
    follows = 0.0
    for kind, split in parts:
        duration = _number(split.get("duration"), activity_id, "split duration")
        offset = follows
        if split.get("startTimeGMT"):
            started = parse_time(split["startTimeGMT"], activity_id, "split startTimeGMT",
                                 utc=True)
            offset = max(0.0, (started - start_utc).total_seconds())
        distance = split.get("distance")
        segments.append(Segment(kind, offset, duration, None if distance is None else
                                _number(distance, activity_id, "split distance")))
        follows = offset + duration
    return tuple(sorted(segments, key=lambda s: s.offset_s))


def merge_bouts(segments: Iterable[Segment]) -> tuple[Segment, ...]:
    """Join neighbouring segments of one kind (two running laps are one running bout)."""
    merged: list[Segment] = []
    for segment in segments:
        last = merged[-1] if merged else None
        if last is not None and last.kind == segment.kind:
            distance = (None if last.distance_m is None or segment.distance_m is None
                        else last.distance_m + segment.distance_m)
            end = max(last.offset_s + last.duration_s, segment.offset_s + segment.duration_s)
            merged[-1] = Segment(last.kind, last.offset_s, end - last.offset_s, distance)
        else:
            merged.append(segment)
    return tuple(merged)


def feel_fields(*sources: Any) -> dict[str, Any]:
    """The post-run "how did you feel" (0-100) and perceived effort (Garmin's 10-100, stored as
    1-10) from the first source that has them: a list entry or a detail's ``summaryDTO``."""
    out: dict[str, Any] = {}
    for source in sources:
        if not isinstance(source, dict):
            continue
        feel, rpe = source.get("directWorkoutFeel"), source.get("directWorkoutRpe")
        if "feel" not in out and _is_number(feel):
            out["feel"] = feel
            if feel in FEEL_LABELS:
                out["feel_label"] = FEEL_LABELS[feel]
        if "perceived_effort" not in out and isinstance(rpe, int | float) and _is_number(rpe):
            out["perceived_effort"] = round(rpe / 10, 1)
    return out


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)  # not bool, which JSON keeps apart


def _number(value: Any, activity_id: str, what: str) -> float:
    """A number Garmin sent, or :class:`InvalidResponse` naming the activity and the field."""
    if type(value) not in (int, float):
        raise InvalidResponse(f"Garmin activity {activity_id}: {what} is {value!r}, not a "
                              "number; skipped")
    return float(value)


def optional_number(value: Any, activity_id: str, what: str) -> float | None:
    """A number, or ``None`` when Garmin left it out."""
    return None if value is None else _number(value, activity_id, what)


def _optional_int(value: Any) -> int | None:
    return int(value) if _is_number(value) else None
