"""A scenario as data: ``scenarios/<name>/scenario.toml`` read into plain objects.

The format is described in ``tests/e2e/README.md``. Days are local dates of the athlete: an
integer is an offset from today (``-3``: three days ago), a TOML date is that date. Every
problem in a file is reported with the file and the key, so that a typo in a scenario fails
loudly instead of testing nothing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .declared import not_concerned, updated_summaries

RUN_MPS = 2.5  # every jog of a scenario, comfortably above syncd's 1.9 m/s threshold
WALK_MPS = 1.25
SOURCES = ("strava", "garmin", "file")
SPORTS = ("run", "walk", "hike")
SEVERITIES = ("info", "warning", "critical")
_BOUT = re.compile(r"^([rw])(?:(\d+)m)?(?:(\d+)s?)?$")


class ScenarioError(ValueError):
    """A scenario file that cannot be read; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class Bout:
    """One stretch of running or walking, in whole seconds."""

    kind: str  # "run" or "walk"
    seconds: int

    @property
    def metres(self) -> float:
        """The distance covered at the scenario's jogging or walking speed."""
        return self.seconds * (RUN_MPS if self.kind == "run" else WALK_MPS)


def parse_bouts(text: str) -> tuple[Bout, ...]:
    """``"w5m r1m w4m30s r90"`` -> walk 300 s, run 60 s, walk 270 s, run 90 s."""
    bouts = []
    for token in text.split():
        match = _BOUT.match(token)
        if not match or not (match.group(2) or match.group(3)):
            raise ValueError(f"bout {token!r} is not like r1m, w4m30s or r90")
        seconds = int(match.group(2) or 0) * 60 + int(match.group(3) or 0)
        bouts.append(Bout("run" if match.group(1) == "r" else "walk", seconds))
    if not bouts:
        raise ValueError("no bouts")
    return tuple(bouts)


@dataclass(frozen=True, slots=True)
class ActivitySpec:
    """One activity as a source holds it at some pass (edits give new versions)."""

    name: str
    source: str
    day: date
    clock: time
    zone: str
    sport: str
    bouts: tuple[Bout, ...]
    split: bool = True  # False: the source does not tell running from walking
    distance_m: float | None = None
    gear: str | None = None
    appears: int = 1
    copy_of: str | None = None  # the Garmin activity this Strava record is an upload of
    link: str = "external_id"  # how the copy names its original: "external_id" or "time"
    shift_s: int = 0  # seconds the copy's start differs from the original's
    file_format: str = "tcx"
    title: str = ""
    deleted: bool = False

    @property
    def local_start(self) -> datetime:
        """The wall-clock start where it was recorded (naive)."""
        return datetime.combine(self.day, self.clock) + timedelta(seconds=self.shift_s)

    @property
    def start_utc(self) -> datetime:
        """The start as aware UTC."""
        return self.local_start.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    @property
    def utc_offset_s(self) -> int:
        """The recording zone's offset from UTC at the start, in seconds."""
        offset = self.local_start.replace(tzinfo=ZoneInfo(self.zone)).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    @property
    def elapsed_s(self) -> int:
        """The activity's length."""
        return sum(b.seconds for b in self.bouts)

    @property
    def metres(self) -> float:
        """The distance: given, else the bouts' distance."""
        if self.distance_m is not None:
            return self.distance_m
        return round(sum(b.metres for b in self.bouts), 1)


@dataclass(frozen=True, slots=True)
class Change:
    """An edit (new field values) or a deletion of an activity at the source, from a pass on."""

    at_pass: int
    activity: str
    fields: dict[str, Any]
    delete: bool = False


@dataclass(frozen=True, slots=True)
class PainSpec:
    """A pain report the runner types in with ``syncd pain`` during a pass."""

    name: str
    at_pass: int
    local_at: datetime  # naive, the athlete's zone
    score: int
    note: str | None = None


@dataclass(frozen=True, slots=True)
class GearSpec:
    """A pair of shoes a source reports, with its distance so far."""

    name: str
    source: str
    km: float
    retired: bool = False


@dataclass(frozen=True, slots=True)
class ExpectedAlert:
    """One alert ``syncd alerts --json --all`` must list at the end."""

    rule: str
    severity: str
    subject: dict[str, Any]
    observed: float
    limit: float
    status: str = "open"
    unit: str | None = None
    activities: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class ExpectedWeek:
    """The current week as ``syncd status --json`` shows it."""

    plan_week: int | None
    sessions: int
    run_min: float
    activities: tuple[str, ...] | None = None


@dataclass(slots=True)
class Scenario:
    """Everything one scenario folder says."""

    name: str
    folder: Path
    title: str
    today: date
    timezone: str
    plan: str
    plan_start: date | None
    settings: dict[str, dict[str, Any]]
    activities: list[ActivitySpec]
    changes: list[Change]
    pain: list[PainSpec]
    gear: list[GearSpec]
    alerts: list[ExpectedAlert]
    week: ExpectedWeek | None
    passes: int = 1
    # Rules the scenario declares it is not about (``[expect] not_concerned``): their alerts
    # are left out of the exact alert list (a sparse history raises missed_session/no_data
    # that a scenario about something else does not spell out); every other check holds.
    not_concerned: frozenset[str] = frozenset()
    # Plan weeks whose corrected weekly summary ("updated summary" mail) the scenario
    # expects (``[expect] updated_summaries``): a finished week changed after its summary.
    updated_summaries: tuple[int, ...] = ()
    _by_name: dict[str, ActivitySpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_name = {a.name: a for a in self.activities}

    def activity(self, name: str) -> ActivitySpec:
        """The activity called ``name`` as first published."""
        return self._by_name[name]

    def version(self, name: str, at_pass: int) -> ActivitySpec | None:
        """The activity as its source holds it during ``at_pass`` (None: not there yet)."""
        spec = self._by_name[name]
        if spec.appears > at_pass:
            return None
        for change in self.changes:
            if change.activity == name and change.at_pass <= at_pass:
                spec = replace(spec, deleted=True) if change.delete else _apply(spec, change)
        return spec

    def sources(self) -> set[str]:
        """The sources the scenario uses."""
        return {a.source for a in self.activities} | {g.source for g in self.gear}


def load_scenario(folder: Path, today: date | None = None) -> Scenario:
    """Read ``folder/scenario.toml``, its relative days counted from ``today`` (default: the
    athlete's local date now); raise :class:`ScenarioError` naming what is wrong."""
    path = folder / "scenario.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return _scenario(folder, data, today)
    except (KeyError, ValueError, TypeError) as err:
        if isinstance(err, ScenarioError):
            raise
        raise ScenarioError(f"{path}: {err}") from None


def _scenario(folder: Path, data: dict[str, Any], today: date | None) -> Scenario:
    athlete = data["athlete"]
    zone = str(athlete.get("timezone", "UTC"))
    if today is None:
        today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
    activities = [_activity(raw, i, zone, today) for i, raw in enumerate(data.get("activity", []))]
    scenario = Scenario(
        name=folder.name, folder=folder, title=str(data["title"]), today=today, timezone=zone,
        plan=str(athlete.get("plan", "hip-return-run-walk")),
        plan_start=_day(athlete["plan_start"], today) if "plan_start" in athlete else None,
        settings={k: dict(v) for k, v in data.get("settings", {}).items()},
        activities=activities,
        changes=[_change(raw, i) for i, raw in enumerate(data.get("change", []))],
        pain=[_pain(raw, i, today) for i, raw in enumerate(data.get("pain", []))],
        gear=[GearSpec(str(g["name"]), _one_of(g["source"], ("strava", "garmin"), "source"),
                       float(g["km"]), bool(g.get("retired", False)))
              for g in data.get("gear", [])],
        alerts=[_expected(raw, i) for i, raw in enumerate(data.get("expect", {}).get("alert", []))],
        week=_week(data.get("expect", {}).get("week")),
        not_concerned=not_concerned(data.get("expect", {})),
        updated_summaries=updated_summaries(data.get("expect", {})),
    )
    scenario.passes = max([1, *(a.appears for a in activities),
                           *(c.at_pass for c in scenario.changes),
                           *(p.at_pass for p in scenario.pain)])
    _check_names(scenario)
    return scenario


def day_of(value: Any, today: date) -> date:
    """A scenario's day: an offset from ``today`` (``-3``) or a TOML date."""
    return _day(value, today)


def _day(value: Any, today: date) -> date:
    if isinstance(value, bool):
        raise ValueError("a day is an offset from today (-3) or a date (2026-03-27)")
    if isinstance(value, int):
        return today + timedelta(days=value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError(f"day {value!r}: use an offset from today (-3) or a date (2026-03-27)")


def _clock(value: Any) -> time:
    return value if isinstance(value, time) else time.fromisoformat(str(value))


def _one_of(value: Any, allowed: tuple[str, ...], key: str) -> str:
    if value not in allowed:
        raise ValueError(f"{key} = {value!r}: one of {', '.join(allowed)}")
    return str(value)


_ACTIVITY_KEYS = {"name", "source", "day", "time", "zone", "sport", "bouts", "minutes", "split",
                  "distance_km", "gear", "appears", "copy_of", "link", "shift_s", "format",
                  "title"}


def _activity(raw: dict[str, Any], index: int, zone: str, today: date) -> ActivitySpec:
    where = f"activity[{index + 1}] ({raw.get('name', '?')})"
    unknown = set(raw) - _ACTIVITY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    try:
        sport = _one_of(raw.get("sport", "run"), SPORTS, "sport")
        return ActivitySpec(
            name=str(raw["name"]), source=_one_of(raw["source"], SOURCES, "source"),
            day=_day(raw["day"], today), clock=_clock(raw.get("time", "07:00")),
            zone=str(raw.get("zone", zone)), sport=sport, bouts=_bouts(raw, sport),
            split=bool(raw.get("split", True)),
            distance_m=float(raw["distance_km"]) * 1000 if "distance_km" in raw else None,
            gear=raw.get("gear"), appears=int(raw.get("appears", 1)),
            copy_of=raw.get("copy_of"),
            link=_one_of(raw.get("link", "external_id"), ("external_id", "time"), "link"),
            shift_s=int(raw.get("shift_s", 0)),
            file_format=_one_of(raw.get("format", "tcx"), ("tcx", "fit"), "format"),
            title=str(raw.get("title", f"{sport} {raw['name']}")),
        )
    except (KeyError, ValueError) as err:
        raise ValueError(f"{where}: {err}") from None


def _bouts(raw: dict[str, Any], sport: str) -> tuple[Bout, ...]:
    if "bouts" in raw:
        return parse_bouts(str(raw["bouts"]))
    minutes = float(raw["minutes"])
    return (Bout("run" if sport == "run" else "walk", round(minutes * 60)),)


def _apply(spec: ActivitySpec, change: Change) -> ActivitySpec:
    """A new version of ``spec`` with the change's fields (same keys as ``[[activity]]``)."""
    fields = change.fields
    values: dict[str, Any] = {"title": str(fields.get("title", spec.title + " (edited)"))}
    if "bouts" in fields or "minutes" in fields:
        values["bouts"] = _bouts(fields, str(fields.get("sport", spec.sport)))
    if "sport" in fields:
        values["sport"] = _one_of(fields["sport"], SPORTS, "sport")
    if "distance_km" in fields:
        values["distance_m"] = float(fields["distance_km"]) * 1000
    if "time" in fields:
        values["clock"] = _clock(fields["time"])
    return replace(spec, **values)


def _change(raw: dict[str, Any], index: int) -> Change:
    fields = {k: v for k, v in raw.items() if k not in ("pass", "activity", "delete")}
    allowed = {"bouts", "minutes", "sport", "distance_km", "time", "title"}
    if set(fields) - allowed:
        raise ValueError(f"change[{index + 1}]: cannot change {sorted(set(fields) - allowed)}")
    if not fields and not raw.get("delete"):
        raise ValueError(f"change[{index + 1}]: says neither what changed nor delete = true")
    return Change(int(raw["pass"]), str(raw["activity"]), fields, bool(raw.get("delete")))


def _pain(raw: dict[str, Any], index: int, today: date) -> PainSpec:
    score = int(raw["score"])
    if not 0 <= score <= 10:
        raise ValueError(f"pain[{index + 1}]: score {score} is not 0-10")
    local = datetime.combine(_day(raw["day"], today), _clock(raw.get("time", "20:00")))
    return PainSpec(str(raw.get("name", f"p{index + 1}")), int(raw.get("pass", 1)), local,
                    score, raw.get("note"))


def _expected(raw: dict[str, Any], index: int) -> ExpectedAlert:
    where = f"expect.alert[{index + 1}]"
    subject = raw["subject"]
    if not isinstance(subject, dict) or not (
            {"activity", "week", "pain", "gear", "silence"} & set(subject)):
        raise ValueError(f"{where}: subject must name an activity, week, pain, gear or silence")
    activities = raw.get("activities")
    return ExpectedAlert(
        rule=str(raw["rule"]), severity=_one_of(raw["severity"], SEVERITIES, "severity"),
        subject=dict(subject), observed=float(raw["observed"]), limit=float(raw["limit"]),
        status=_one_of(raw.get("status", "open"), ("open", "resolved"), "status"),
        unit=raw.get("unit"),
        activities=tuple(activities) if activities is not None else None)


def _week(raw: dict[str, Any] | None) -> ExpectedWeek | None:
    if raw is None:
        return None
    activities = raw.get("activities")
    plan_week = int(raw["plan_week"])
    return ExpectedWeek(plan_week or None, int(raw["sessions"]), float(raw["run_min"]),
                        tuple(activities) if activities is not None else None)


def _check_names(scenario: Scenario) -> None:
    """Every name a scenario refers to exists, so that a typo fails instead of passing."""
    names = {a.name for a in scenario.activities}
    gear = {g.name for g in scenario.gear}
    pain = {p.name for p in scenario.pain}
    if len(names) != len(scenario.activities):
        raise ValueError("two activities have the same name")
    refs = [(c.activity, names, "change") for c in scenario.changes]
    refs += [(a.copy_of, names, f"activity {a.name} copy_of") for a in scenario.activities
             if a.copy_of]
    refs += [(a.gear, gear, f"activity {a.name} gear") for a in scenario.activities if a.gear]
    for alert in scenario.alerts:
        subject = alert.subject
        for key, known in (("activity", names), ("pain", pain), ("gear", gear)):
            if key in subject:
                refs.append((subject[key], known, f"expected {alert.rule} subject"))
        refs += [(name, names, f"expected {alert.rule} activities")
                 for name in alert.activities or ()]
    files = {a.name for a in scenario.activities if a.source == "file"}
    for change in scenario.changes:
        if change.activity in files:
            raise ValueError(f"change of {change.activity}: the files source is an inbox, not "
                             "a mirror (README); edit or delete through strava or garmin")
    for name, known, where in refs:
        if name not in known:
            raise ValueError(f"{where}: no {name!r} in this scenario")
    late = [a.name for a in scenario.activities if a.day >= scenario.today]
    late += [p.name for p in scenario.pain if p.local_at.date() >= scenario.today]
    if late:
        # Today's times may still lie ahead when the suite runs early in the morning.
        raise ValueError(f"{', '.join(late)}: days must lie before today (day = -1 or earlier)")
