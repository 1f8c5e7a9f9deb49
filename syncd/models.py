"""Plain domain types shared by connectors, the store, the rules and delivery. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

SportFamily = Literal["run", "walk", "hike", "other"]
SegmentKind = Literal["run", "walk", "stand"]
Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}

DEFAULT_ATHLETE = "default"

_RUN_TYPES = {
    "run", "running", "trailrun", "trail_running", "virtualrun", "treadmill_running",
    "track_running", "street_running", "indoor_running", "ultra_run", "obstacle_run",
}
_WALK_TYPES = {"walk", "walking", "casual_walking", "speed_walking", "indoor_walking"}
_HIKE_TYPES = {"hike", "hiking"}


def sport_family(sport_type: str | None) -> SportFamily:
    """Map a source's sport type (Strava ``TrailRun``, Garmin ``trail_running``, FIT ``running``)
    to the family the rules reason about; anything unknown is ``other``."""
    if not sport_type:
        return "other"
    key = sport_type.strip().lower().replace(" ", "_")
    if key in _RUN_TYPES or key.replace("_", "") in _RUN_TYPES:
        return "run"
    if key in _WALK_TYPES or key.replace("_", "") in _WALK_TYPES:
        return "walk"
    if key in _HIKE_TYPES:
        return "hike"
    return "other"


@dataclass(frozen=True, slots=True)
class Segment:
    """One run, walk or stand bout inside an activity, in seconds from the activity's start."""

    kind: SegmentKind
    offset_s: float
    duration_s: float
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """A normalized activity from any source.

    ``start_utc`` is timezone-aware UTC; ``local_start`` is the naive wall-clock time where the
    activity happened (weeks are counted in local days). ``run_s``/``walk_s`` and ``segments``
    are ``None``/empty when the source does not separate running from walking.
    """

    source: str
    source_id: str
    sport: SportFamily
    sport_type: str
    start_utc: datetime
    local_start: datetime
    elapsed_s: float
    timezone: str | None = None
    moving_s: float | None = None
    distance_m: float | None = None
    run_s: float | None = None
    walk_s: float | None = None
    segments: tuple[Segment, ...] = ()
    gear_id: str | None = None
    name: str | None = None
    manual: bool = False
    deleted: bool = False
    external_id: str | None = None
    athlete: str = DEFAULT_ATHLETE
    extra: dict[str, Any] = field(default_factory=dict)
    raw: Any = None

    @property
    def key(self) -> str:
        """The activity's id across syncd: ``source:source_id``."""
        return f"{self.source}:{self.source_id}"

    @property
    def duration_s(self) -> float:
        """Moving time when known, else elapsed time (DESIGN section 5: session time)."""
        return self.moving_s if self.moving_s is not None else self.elapsed_s


@dataclass(frozen=True, slots=True)
class Session:
    """A canonical, not deleted running activity, as the rules see it."""

    key: str
    start_utc: datetime
    local_start: datetime
    duration_s: float
    run_s: float
    longest_run_s: float
    distance_m: float | None = None
    gear_id: str | None = None

    @property
    def local_date(self) -> date:
        """The local calendar day the session started on."""
        return self.local_start.date()

    @property
    def end_utc(self) -> datetime:
        """When the session ended (start plus its time)."""
        return self.start_utc + timedelta(seconds=self.duration_s)

    @classmethod
    def conservative(cls, key: str, start_utc: datetime, local_start: datetime,
                     elapsed_s: float, moving_s: float | None, run_s: float | None,
                     longest_run_s: float | None, distance_m: float | None = None,
                     gear_id: str | None = None) -> Session:
        """A session from what a source knew; the unknown parts read conservatively.

        Session time is moving time, else elapsed. Without a run/walk split the whole
        session counts as running, and without bouts the running is one bout: over-counting
        warns early while under-counting hides a breach.
        """
        duration = moving_s if moving_s is not None else elapsed_s
        running = run_s if run_s is not None else duration
        return cls(key=key, start_utc=start_utc, local_start=local_start, duration_s=duration,
                   run_s=running,
                   longest_run_s=longest_run_s if longest_run_s is not None else running,
                   distance_m=distance_m, gear_id=gear_id)

    @classmethod
    def from_activity(cls, activity: Activity) -> Session:
        """Build the rules' view of a running activity (see :meth:`conservative`)."""
        runs = [s.duration_s for s in activity.segments if s.kind == "run"]
        return cls.conservative(activity.key, activity.start_utc, activity.local_start,
                                activity.elapsed_s, activity.moving_s, activity.run_s,
                                max(runs) if runs else None, activity.distance_m,
                                activity.gear_id)


@dataclass(frozen=True, slots=True)
class OtherActivity:
    """A canonical, not deleted activity that is not a run: a walk or a hike (the sessions of
    a walk-only week) or cross-training (a ride, a swim, strength...). It shows the runner
    was active (``no_data``) and is never running load."""

    key: str
    sport: SportFamily
    sport_type: str
    start_utc: datetime
    local_start: datetime
    duration_s: float

    @property
    def local_date(self) -> date:
        """The local calendar day the activity started on."""
        return self.local_start.date()

    @property
    def walking(self) -> bool:
        """True for a walk or a hike."""
        return self.sport in ("walk", "hike")

    @property
    def cross_training(self) -> bool:
        """True for anything that is neither running nor walking (rides, swims, strength)."""
        return not self.walking


class PainWhen(StrEnum):
    """When the pain was felt (DESIGN section 10): during a run, right after it, the next
    morning, or at some other time (the default, and what older reports read as)."""

    DURING = "during"
    AFTER = "after"
    NEXT_MORNING = "next_morning"
    OTHER = "other"


class Symptom(StrEnum):
    """A warning symptom reported with pain; any one of them means see a professional."""

    SWELLING = "swelling"
    NUMBNESS = "numbness"
    TROUBLE_WALKING = "trouble_walking"
    LOCKING = "locking"
    NIGHT_PAIN = "night_pain"


# The allowed values, in the order forms and messages list them (one place for every interface).
PAIN_WHENS: tuple[str, ...] = tuple(w.value for w in PainWhen)
SYMPTOMS: tuple[str, ...] = tuple(s.value for s in Symptom)
# How forms and messages name them.
WHEN_LABELS: dict[str, str] = {"during": "during the run", "after": "right after the run",
                               "next_morning": "the next morning", "other": "at another time"}
SYMPTOM_LABELS: dict[str, str] = {"swelling": "swelling", "numbness": "numbness",
                                  "trouble_walking": "trouble walking",
                                  "locking": "locking (or clicking)",
                                  "night_pain": "pain at night"}


def pain_when(value: str) -> str:
    """``value`` when it is one of :data:`PAIN_WHENS`; else ``ValueError`` naming the choices."""
    if value not in PAIN_WHENS:
        raise ValueError(f"when {value!r} is not one of {', '.join(PAIN_WHENS)}")
    return str(value)


def pain_symptoms(values: Iterable[str]) -> tuple[str, ...]:
    """The known symptoms among ``values``, each once, in :data:`SYMPTOMS` order (so the same
    set is always the same tuple); ``ValueError`` naming an unknown one and the choices."""
    given = {values} if isinstance(values, str) else set(values)  # one name is one symptom
    unknown = sorted(given - set(SYMPTOMS))
    if unknown:
        raise ValueError(f"symptom {unknown[0]!r} is not one of {', '.join(SYMPTOMS)}")
    return tuple(s for s in SYMPTOMS if s in given)


@dataclass(frozen=True, slots=True)
class PainReport:
    """A pain score (0-10) the runner reported at a moment, with an optional note, when it
    was felt (:data:`PAIN_WHENS`) and the warning symptoms that came with it
    (:data:`SYMPTOMS`, kept in that order)."""

    id: str
    at_utc: datetime
    score: int
    local_at: datetime | None = None
    note: str | None = None
    when: str = PainWhen.OTHER.value
    symptoms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A report is valid by construction: every interface and the store go through here.
        object.__setattr__(self, "when", pain_when(self.when))
        object.__setattr__(self, "symptoms", pain_symptoms(self.symptoms))


@dataclass(frozen=True, slots=True)
class Gear:
    """A pair of shoes (or other gear) and the distance it has covered, in metres."""

    id: str
    name: str | None = None
    distance_m: float = 0.0
    retired: bool = False


class SubjectKind(StrEnum):
    """What an alert is about."""

    ACTIVITY = "activity"
    WEEK = "week"
    PAIN = "pain"
    GEAR = "gear"
    SOURCE = "source"
    SILENCE = "silence"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a finding is about. ``key`` is stable across re-evaluations: the de-duplication key.

    ``anchor`` is the local date the subject belongs to; the evaluator uses it to know which
    stored alerts fall inside the window it re-evaluated.
    """

    kind: SubjectKind
    key: str
    anchor: date | None = None
    details: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The subject as it appears in the webhook payload."""
        out: dict[str, Any] = {"kind": self.kind.value}
        out.update(dict(self.details))
        return out

    @classmethod
    def activity(cls, session_key: str, anchor: date) -> Subject:
        """The subject for one activity."""
        return cls(SubjectKind.ACTIVITY, f"activity:{session_key}", anchor,
                   (("activity_id", session_key), ("date", anchor.isoformat())))

    @classmethod
    def week(cls, week_start: date, plan_week: int | None) -> Subject:
        """The subject for one week (plan-aligned when there is a plan start)."""
        return cls(SubjectKind.WEEK, f"week:{week_start.isoformat()}", week_start,
                   (("plan_week", plan_week), ("week_start", week_start.isoformat())))

    @classmethod
    def pain(cls, report: PainReport, anchor: date) -> Subject:
        """The subject for one pain report."""
        return cls(SubjectKind.PAIN, f"pain:{report.id}", anchor,
                   (("pain_report_id", report.id), ("at", utc_iso(report.at_utc))))

    @classmethod
    def silence(cls, since: date) -> Subject:
        """The subject for a silence that began after local day ``since`` (the last day with
        data): a silence after new data is a new subject. Like gear it has no anchor: every
        evaluation checks today's silence, whatever its window."""
        return cls(SubjectKind.SILENCE, f"silence:{since.isoformat()}", None,
                   (("since", since.isoformat()),))

    @classmethod
    def gear(cls, gear_id: str, band: str) -> Subject:
        """The subject for a pair of shoes crossing a mileage band (``warn``/``replace``)."""
        return cls(SubjectKind.GEAR, f"gear:{gear_id}:{band}", None,
                   (("gear_id", gear_id), ("band", band)))


@dataclass(frozen=True, slots=True)
class Finding:
    """A rule's verdict: the rule broke for this subject, with the numbers that show it."""

    rule: str
    severity: Severity
    subject: Subject
    observed: float
    limit: float
    unit: str
    message: str
    advice: str
    activity_ids: tuple[str, ...] = ()

    @property
    def dedupe_key(self) -> tuple[str, str]:
        """(rule, subject key): at most one alert exists for it at any time."""
        return (self.rule, self.subject.key)


class AlertStatus(StrEnum):
    """An alert is open until its condition no longer holds."""

    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Alert:
    """A stored finding with its identity and lifecycle, as delivered and shown."""

    id: str
    athlete: str
    finding: Finding
    status: AlertStatus
    created_at: datetime
    resolved_at: datetime | None = None

    def payload_data(self) -> dict[str, Any]:
        """The ``data`` object of the webhook payload and of ``GET /alerts`` (a contract)."""
        f = self.finding
        data: dict[str, Any] = {
            "id": self.id,
            "athlete": self.athlete,
            "rule": f.rule,
            "severity": f.severity,
            "status": self.status.value,
            "subject": f.subject.as_dict(),
            "observed": round(f.observed, 2),
            "limit": round(f.limit, 2),
            "unit": f.unit,
            "message": f.message,
            "advice": f.advice,
            "activity_ids": list(f.activity_ids),
            "created_at": utc_iso(self.created_at),
        }
        if self.resolved_at is not None:
            data["resolved_at"] = utc_iso(self.resolved_at)
        return data


def utc_iso(moment: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, to the second (the payloads' timestamp format)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
