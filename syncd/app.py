"""The running application: settings, plan, athlete, store and channels, built once and shared
by the CLI commands, the scheduler and the HTTP API."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from syncd.config import Settings
from syncd.config.notify import carries
from syncd.config.plans import resolve_plan
from syncd.config.sections import AthleteSection
from syncd.models import Activity, Alert, Gear, PainReport, PainWhen
from syncd.pipeline.evaluation import local_midnight, reevaluate, with_watched_span
from syncd.pipeline.positions import week_positions
from syncd.plan import Plan, week_start
from syncd.progress import WeekSummary, weeks_overview
from syncd.rules import Athlete, History
from syncd.store import Store, queries
from syncd.store.activities import UpsertResult, upsert_activities
from syncd.store.alerts import ApplyResult, list_alerts, open_alert_count
from syncd.store.checkins import answer_morning
from syncd.store.other_activities import first_data_day, load_others
from syncd.store.state import sync_states


class Roster(Protocol):
    """The athletes an App is one of: what :class:`syncd.clinic.Clinic` offers each App (the
    clinic builds the Apps, so an App knows it by this face only)."""

    settings: Settings
    clock: Callable[[], datetime]

    @property
    def store(self) -> Store:
        """The database every athlete's App shares."""

    def plan_at(self, path: Path) -> Plan:
        """The plan in ``path``, read once for every athlete who follows it."""

    def roster(self) -> list[AthleteSection]:
        """Every athlete's section."""

    def refresh(self) -> bool:
        """Read the athletes added from the command line again; True when that changed."""

    def names(self) -> list[str]:
        """The athletes' names."""

    def apps(self) -> list[App]:
        """One App per athlete."""

    def app(self, name: str | None = None) -> App:
        """The App of athlete ``name`` (without a name, the only athlete's)."""

    def app_for_id(self, athlete_id: int) -> App | None:
        """The App of the athlete stored under ``athlete_id``, if watched."""

    def watched(self, athlete_id: int) -> App | None:
        """:meth:`app_for_id`, re-reading the roster once for an athlete added since."""

    def close(self) -> None:
        """Release the shared database."""


def utcnow() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


@dataclass(slots=True)
class Ingested:
    """What storing a batch of activities did, and the evaluation that followed."""

    upsert: UpsertResult
    evaluation: ApplyResult | None


class App:
    """One athlete's syncd: everything a command needs, opened on first use.

    ``profile`` is the athlete's section (default: the configuration's first athlete). Every
    App belongs to a ``clinic`` (a single athlete is a clinic of one) and shares its ``store``;
    :func:`syncd.clinic.open_app` opens one on its own.
    """

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utcnow, *,
                 clinic: Roster, profile: AthleteSection | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.profile = profile if profile is not None else settings.roster()[0]
        self.clinic = clinic
        # An App opened on its own (syncd.clinic.open_app) closes its clinic of one with it.
        self.closes_clinic = False

    @cached_property
    def plan(self) -> Plan | None:
        """The athlete's plan, validated."""
        name = self.profile.plan
        if not name:
            return None
        path = resolve_plan(name, self.settings.config_dir)
        return self.clinic.plan_at(path)  # a clinic's athletes mostly share a few plans

    @cached_property
    def athlete(self) -> Athlete:
        """The athlete as the rules see them."""
        section = self.profile
        return Athlete(name=section.name, timezone=section.timezone, plan=self.plan,
                       plan_start=section.plan_start)

    @property
    def store(self) -> Store:
        """The database every athlete of the clinic shares, migrated to this version of
        syncd."""
        return self.clinic.store

    @cached_property
    def athlete_id(self) -> int:
        """The athlete's row id, created on first use."""
        with self.store.write() as tx:
            return queries.ensure_athlete(tx, self.athlete.name, self.athlete.timezone)

    @property
    def zone(self) -> ZoneInfo:
        """The athlete's time zone."""
        return ZoneInfo(self.athlete.timezone)

    def today(self) -> date:
        """The athlete's local date now."""
        return self.athlete.local_date(self.clock())

    def channels(self) -> list[str]:
        """Names of the delivery channels this athlete's alerts go to (each gets one delivery
        per event): the shared ones the athlete routes to, and their own mail."""
        return athlete_channels(self.settings, self.profile)

    # -- writing ------------------------------------------------------------------------------

    def ingest(self, activities: Iterable[Activity], gear: Iterable[Gear] = (),
               source: str | None = None) -> Ingested:
        """Store activities (and the source's gear) and re-evaluate what they touched, in one
        transaction."""
        order = tuple(self.settings.sources.canonical_order)
        gear = list(gear)
        with self.store.write() as tx:
            first_before = queries.first_session_date(tx, self.athlete_id)
            watched = first_data_day(tx, self.athlete_id, self.zone)
            # The App's clock: [strava] raw_retention counts from when a record was stored.
            result = upsert_activities(tx, self.athlete_id, activities, canonical_order=order,
                                       now=self.clock())
            if gear and source:
                queries.upsert_gear(tx, self.athlete_id, source, gear)
            evaluation = None
            if result.affected_dates or gear:
                # An earlier first run changes which weeks have the 28 days of history the
                # load ratio needs, far outside the new runs' window: evaluate everything.
                # Only a change on or before the first run's day can move it.
                later = first_before is not None and all(
                    day > first_before for day in result.affected_dates)
                first_after = (first_before if later
                               else queries.first_session_date(tx, self.athlete_id))
                dates = (None if first_after != first_before else with_watched_span(
                    tx, self.athlete_id, self.athlete, result.affected_dates, watched,
                    self.today()))
                evaluation = reevaluate(tx, self.athlete_id, self.athlete, dates,
                                        self.clock(), self.channels(),
                                        first_session=first_after, first_known=True)
        return Ingested(result, evaluation)

    def record_pain(self, score: int, at: datetime | None = None, note: str | None = None,
                    *, when: str = "other", symptoms: Iterable[str] = ()
                    ) -> tuple[PainReport, ApplyResult]:
        """Store a pain report and evaluate the sessions around it. ``when`` and ``symptoms``
        take the values of :data:`~syncd.models.PAIN_WHENS` and
        :data:`~syncd.models.SYMPTOMS` (``ValueError`` naming the choices otherwise)."""
        moment = (at or self.clock()).astimezone(UTC)
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        asked = PainReport("", moment, score, when=when, symptoms=tuple(symptoms))
        with self.store.write() as tx:
            watched = first_data_day(tx, self.athlete_id, self.zone)
            same = [p for p in queries.load_pain(tx, self.athlete_id, moment,
                                                 moment + timedelta(seconds=1))
                    if (p.at_utc, p.score, p.when, p.symptoms)
                    == (moment, score, asked.when, asked.symptoms)]
            if same:  # the same report again (a re-run import): nothing changes
                return same[0], ApplyResult()
            report = queries.add_pain(tx, self.athlete_id, moment, score, note, local,
                                      when=asked.when, symptoms=asked.symptoms,
                                      now=self.clock())
            if report.when == PainWhen.NEXT_MORNING:  # that morning's check-in is answered
                answer_morning(tx, self.athlete_id, local.date(), int(report.id), self.clock())
            dates = {local.date()}
            following = queries.first_session_after(tx, self.athlete_id, local)
            if following is not None:
                dates.add(following.local_date)
            dates = with_watched_span(tx, self.athlete_id, self.athlete, dates, watched,
                                      self.today())
            result = reevaluate(tx, self.athlete_id, self.athlete, dates, self.clock(),
                                self.channels())
        return report, result

    def evaluate_all(self) -> ApplyResult:
        """Re-evaluate the whole history (after a plan or configuration change)."""
        with self.store.write() as tx:
            return reevaluate(tx, self.athlete_id, self.athlete, None, self.clock(),
                              self.channels())

    # -- reading ------------------------------------------------------------------------------

    def alerts(self, include_resolved: bool = False) -> list[Alert]:
        """Stored alerts, newest first."""
        with self.store.read() as tx:
            return list_alerts(tx, self.athlete_id, include_resolved=include_resolved)

    def weeks(self, first: date | None = None, last: date | None = None) -> list[WeekSummary]:
        """Plan against actual for each week from ``first`` (the plan start, or 8 weeks ago)
        to ``last`` (today, or the plan's last week when that is later)."""
        today = self.today()
        start = self.athlete.plan_start
        if first is None:
            first = start if start is not None else today - timedelta(weeks=8)
        if last is None:
            last = today
            if start is not None and self.plan is not None:
                last = max(today, start + timedelta(weeks=len(self.plan.weeks)) - timedelta(days=1))
        # From the start of ``first``'s week: a week's actual counts its days before ``first``.
        history_from = (min(week_start(first, start), start) if start
                        else week_start(first, None))
        until = local_midnight(last + timedelta(days=1))
        with self.store.read() as tx:
            sessions = queries.load_sessions(tx, self.athlete_id, local_midnight(history_from),
                                             until)
            # Walks and cross-training: shown beside the running, never counted as it.
            others = load_others(tx, self.athlete_id, local_midnight(history_from), until)
            # The plan week of each week as the evaluator counted it (step-backs, repeats).
            positions = week_positions(tx, self.athlete_id, self.athlete, first, last,
                                       self.clock())
        history = History(sessions=sessions, others=others)
        return weeks_overview(self.athlete, history, first, last, today, positions)

    def status(self) -> dict[str, Any]:
        """What ``syncd status`` and ``GET /status`` show."""
        today = self.today()
        current = next(iter(self.weeks(today, today)), None)
        with self.store.read() as tx:
            open_alerts = open_alert_count(tx, self.athlete_id)
            sources = sync_states(tx, self.athlete_id)
        return {
            "athlete": self.athlete.name,
            "today": today.isoformat(),
            "plan": None if self.plan is None else {
                "name": self.plan.name,
                "start": self.athlete.plan_start.isoformat() if self.athlete.plan_start else None,
                "weeks": len(self.plan.weeks),
                "progression": self.plan.limits.progression,
                "regression": self.plan.limits.regression,
            },
            "week": current.as_dict() if current else None,
            "open_alerts": open_alerts,
            "sources": sources,
        }

    def close(self) -> None:
        """Release the database connections when this App was opened on its own (otherwise
        the clinic's store is the clinic's to close)."""
        if self.closes_clinic:
            self.clinic.close()


def athlete_channels(settings: Settings, profile: AthleteSection) -> list[str]:
    """The channels one athlete's alerts go to."""
    shared = settings.shared_channels()
    names = [n for n in shared if carries(settings.notify, n, profile)]
    if profile.email and settings.email is not None:
        names.append(own_email_channel(profile.name))
    return names


def own_email_channel(athlete_name: str) -> str:
    """The channel of an athlete's own mail."""
    return f"email:{athlete_name}"


def own_mail(channel: str) -> bool:
    """True for an athlete's own mail channel (``email:<athlete>``): a patient's mailbox, not
    the operator's."""
    return channel.startswith("email:")


def plan_json(plan: Plan, start: date | None) -> list[dict[str, Any]]:
    """The plan week by week, with dates when a start date is configured."""
    out = []
    for week in plan.weeks:
        entry: dict[str, Any] = {
            "week": week.number, "sessions": week.sessions, "run_min": week.run_min,
            "walk_min": week.walk_min, "session_min": week.session_min,
            "run_interval_s": week.run_interval_s,
        }
        if start is not None:
            first = start + timedelta(weeks=week.number - 1)
            entry["start"] = first.isoformat()
            entry["end"] = (first + timedelta(days=6)).isoformat()
        out.append(entry)
    return out
