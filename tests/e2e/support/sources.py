"""What each fake source holds on each pass of a scenario, in the source's own wire format.

Before pass *n* the publisher rebuilds the fakes' state from the scenario: activities that
have appeared by then, in their latest edited version, without the deleted ones; and it
drops the new activity files into the watched folder. Ids are stable: the i-th Strava
activity of a scenario is always the same Strava id, a file's id is its content hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from .activity_files import activity_file, file_id
from .servers import (
    FakeGarmin,
    FakeStrava,
    bouts_laps,
    make_entry,
    make_gear,
    make_typed_splits,
    summary,
)
from .spec import RUN_MPS, WALK_MPS, ActivitySpec, Scenario

STRAVA_IDS = 16_790_000_001
GARMIN_IDS = 21_480_000_001
STRAVA_SPORTS = {"run": "Run", "walk": "Walk", "hike": "Hike"}
GARMIN_SPORTS = {"run": "running", "walk": "walking", "hike": "hiking"}


@dataclass
class Publisher:
    """Keeps the fakes and the watched folder in step with the scenario, pass by pass."""

    scenario: Scenario
    strava: FakeStrava | None
    garmin: FakeGarmin | None
    inbox: Path
    keys: dict[str, str] = field(default_factory=dict)  # activity name -> "source:id"
    gear_ids: dict[str, str] = field(default_factory=dict)  # gear name -> the source's id

    def __post_init__(self) -> None:
        counters = {"strava": STRAVA_IDS, "garmin": GARMIN_IDS}
        for spec in self.scenario.activities:
            if spec.source in counters:
                self.keys[spec.name] = f"{spec.source}:{counters[spec.source]}"
                counters[spec.source] += 1
        for i, gear in enumerate(self.scenario.gear, start=1):
            self.gear_ids[gear.name] = (f"g{9000 + i}" if gear.source == "strava"
                                        else f"a1b2c3d4{i:024d}")

    def source_id(self, name: str) -> str:
        """The id the activity has at its source."""
        return self.keys[name].split(":", 1)[1]

    def publish(self, at_pass: int) -> None:
        """Set every source to what it holds during ``at_pass``."""
        versions = [v for spec in self.scenario.activities
                    if (v := self.scenario.version(spec.name, at_pass)) is not None]
        if self.strava is not None:
            self._strava([v for v in versions if v.source == "strava" and not v.deleted])
        if self.garmin is not None:
            self._garmin([v for v in versions if v.source == "garmin" and not v.deleted])
        for spec in versions:
            if spec.source == "file" and spec.appears == at_pass:
                self._file(spec)

    # -- Strava -----------------------------------------------------------------------------

    def _strava(self, versions: list[ActivitySpec]) -> None:
        fake = self.strava
        assert fake is not None
        fake.activities.clear()
        fake.laps.clear()
        for spec in versions:
            item, laps = self.strava_activity(spec)
            fake.add(item, laps)
        for gear in self.scenario.gear:
            if gear.source == "strava":
                gear_id = self.gear_ids[gear.name]
                fake.gear[gear_id] = {"id": gear_id, "name": gear.name, "kind": "shoe",
                                      "distance": gear.km * 1000, "primary": False,
                                      "retired": gear.retired}

    def strava_activity(self, spec: ActivitySpec) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The list item and the laps of one activity as Strava serves them."""
        activity_id = int(self.source_id(spec.name))
        start = spec.start_utc
        external_id = None
        if spec.copy_of is not None and spec.link == "external_id":
            external_id = f"garmin_push_{self.source_id(spec.copy_of)}"
        item = summary(activity_id, start, sport_type=STRAVA_SPORTS[spec.sport],
                       elapsed_s=spec.elapsed_s, distance_m=spec.metres, name=spec.title,
                       gear_id=self.gear_ids.get(spec.gear or ""), external_id=external_id)
        offset = spec.utc_offset_s
        sign, hours, minutes = "+" if offset >= 0 else "-", abs(offset) // 3600, \
            abs(offset) % 3600 // 60
        item.update(start_date_local=spec.local_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    timezone=f"(GMT{sign}{hours:02d}:{minutes:02d}) {spec.zone}",
                    utc_offset=float(offset))
        if spec.split:
            bouts = [(b.seconds, RUN_MPS if b.kind == "run" else WALK_MPS) for b in spec.bouts]
        else:
            bouts = [(spec.elapsed_s, spec.metres / spec.elapsed_s)]
        return item, bouts_laps(activity_id, start, bouts)

    # -- Garmin -----------------------------------------------------------------------------

    def _garmin(self, versions: list[ActivitySpec]) -> None:
        fake = self.garmin
        assert fake is not None
        fake.activities = []
        fake.typed_splits.clear()
        for spec in versions:
            entry = self.garmin_entry(spec)
            fake.activities.append(entry)
            runs = [b.seconds for b in spec.bouts if b.kind == "run"]
            walks = [b.seconds for b in spec.bouts if b.kind == "walk"]
            if spec.split and len(runs) >= 2 and walks:
                fake.typed_splits[str(entry["activityId"])] = make_typed_splits(
                    entry, [float(r) for r in runs], [float(w) for w in walks],
                    walk_first=spec.bouts[0].kind == "walk")
        fake.gear, fake.gear_stats = [], {}
        for gear in self.scenario.gear:
            if gear.source == "garmin":
                uuid = self.gear_ids[gear.name]
                entry, stats = make_gear(uuid, gear.name, gear.km * 1000,
                                         status="retired" if gear.retired else "active")
                fake.gear.append(entry)
                fake.gear_stats[uuid] = stats

    def garmin_entry(self, spec: ActivitySpec) -> dict[str, Any]:
        """The activity-list entry of one activity, with Garmin's run/walk detection when the
        activity mixes running and walking."""
        kinds = [b.kind for b in spec.bouts]
        if any(a == b for a, b in pairwise(kinds)):
            raise ValueError(f"activity {spec.name}: Garmin bouts must alternate run and walk")
        runs = [b.seconds for b in spec.bouts if b.kind == "run"]
        walks = [b.seconds for b in spec.bouts if b.kind == "walk"]
        detected = spec.split and spec.sport == "run" and bool(runs) and bool(walks)
        entry = make_entry(int(self.source_id(spec.name)), spec.local_start,
                           utc_offset_h=spec.utc_offset_s / 3600,
                           type_key=GARMIN_SPORTS[spec.sport], duration=float(spec.elapsed_s),
                           distance=spec.metres,
                           run_walk=(float(sum(runs)), float(sum(walks))) if detected else None,
                           bouts=(len(runs), len(walks)))
        # A watch that never paused: moving, elapsed and timer time agree.
        entry.update(movingDuration=float(spec.elapsed_s), elapsedDuration=float(spec.elapsed_s),
                     activityName=spec.title)
        return entry

    # -- files ------------------------------------------------------------------------------

    def _file(self, spec: ActivitySpec) -> None:
        name, data = activity_file(spec)
        self.inbox.mkdir(parents=True, exist_ok=True)
        (self.inbox / name).write_bytes(data)
        self.keys[spec.name] = f"file:{file_id(data)}"
