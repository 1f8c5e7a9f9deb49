"""Strava work for every athlete of a clinic, run from one shared budget.

One Strava application serves every athlete, and Strava limits the application: 100 reads per
15 minutes and 1,000 per UTC day. :class:`StravaCoordinator` replaces the per-athlete Strava
poll jobs in clinic mode. On each :meth:`~StravaCoordinator.tick` (every few seconds, on the
leading replica) it gathers what could be done — webhook events waiting in the athletes'
inboxes, first syncs of athletes who just connected, laps owed, routine polls whose slot has
come, unfinished backfills — asks :func:`syncd.sources.strava.planner.choose` what fits now,
and runs it one
piece at a time, checking the budget Strava last reported before each piece (a first sync can
cost more than estimated). Each athlete's Strava fetch is claimed for the duration, so that a
replica never fetches it at the same time.

Webhook events are served as :func:`syncd.sources.strava.inbox.plan_inbox` says (many
events of one athlete by one listing), while the athlete's
:class:`~syncd.sources.strava.planner.EventAllowance`
lasts: a flood of forged events naming one athlete costs a few reads, and the others' events,
first syncs and polls go on.

The inboxes are read on every tick; the athletes' sync states are kept in memory, updated
after each pass the coordinator runs, and read again in full every few minutes (an athlete
who just connected, a ``syncd sync`` run by hand) or on :meth:`StravaCoordinator.refresh`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from syncd.pipeline.sync import SourceResult, make_connector, sync_source
from syncd.sources.registry import enabled_sources
from syncd.sources.strava.athlete_state import (
    SOURCE,
    AthleteState,
    read_states,
    remember_seen,
    sync_kind,
    waiting_inboxes,
)
from syncd.sources.strava.events import StravaEvent
from syncd.sources.strava.inbox import InboxWork, listing_pass, plan_inbox, process_event
from syncd.sources.strava.planner import (
    DAY,
    DEFAULT_LIMITS,
    BudgetView,
    EventAllowance,
    Kind,
    QuotaSettings,
    Work,
    affordable,
    budget_view,
    choose,
    events_reserve,
)
from syncd.sources.strava.polls import (
    Capacity,
    capacity,
    poll_interval,
    poll_slots,
    quota_settings,
)
from syncd.store.credentials import STRAVA_SUBSCRIPTION as SUBSCRIPTION
from syncd.store.credentials import STRAVA_TOKENS as TOKENS
from syncd.store.credentials import any_stored, athletes_holding
from syncd.store.state import stored_cursors

if TYPE_CHECKING:
    from connectors.strava.budget import RateBudget
    from syncd.app import App
    from syncd.clinic import Clinic

log = structlog.get_logger("syncd.sources.strava.coordinator")

# A tick stops starting work after this long; the rest waits for the next tick (the leader's
# other jobs, and a replica's fail-over, are not held up by a burst).
TICK_SECONDS = 20.0
# The athletes' sync states (and who has connected Strava) are read in full this often.
RESCAN = timedelta(minutes=5)
# Outcomes of an event that found something real: only these count as events seen (the
# expected events' reserve grows with them; forged events must not make it grow).
REAL_OUTCOMES = frozenset({"stored", "deleted", "revoked"})


@dataclass(frozen=True, slots=True)
class Done:
    """One piece of work the coordinator ran."""

    kind: Kind
    athlete: str
    outcome: str  # "stored", "synced", "failed: ...", "claimed elsewhere", ...
    reads: int  # requests it made


@dataclass(slots=True)
class TickReport:
    """What one tick did, for the scheduler and the logs."""

    at: datetime
    done: list[Done] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)  # candidates left, by kind
    results: list[SourceResult] = field(default_factory=list)  # the sync passes run
    budget: BudgetView | None = None  # after the tick
    interval: timedelta | None = None  # the routine poll interval in use

    @property
    def reads(self) -> int:
        """Requests made in this tick."""
        return sum(d.reads for d in self.done)


@dataclass(slots=True)
class _Measured:
    """Reads that one kind of work really took, on average."""

    runs: int = 0
    reads: int = 0

    @property
    def mean(self) -> float | None:
        return self.reads / self.runs if self.runs else None


class StravaCoordinator:
    """Runs every athlete's Strava work from the application's one budget."""

    source = SOURCE

    def __init__(self, clinic: Clinic, settings: QuotaSettings | None = None, *,
                 limits: tuple[int, int] = DEFAULT_LIMITS,
                 tick_seconds: float = TICK_SECONDS) -> None:
        self.clinic = clinic
        self.base_settings = settings or quota_settings(clinic)
        self.limits = limits
        self.tick_seconds = tick_seconds
        self.measured: dict[Kind, _Measured] = {kind: _Measured() for kind in Kind}
        self.events_seen: deque[datetime] = deque()
        self.allowance = EventAllowance()
        self.last_report: TickReport | None = None
        self._interval: timedelta | None = None
        self._webhooks: bool | None = None
        self._budget: RateBudget | None = None
        self._states: dict[int, AthleteState] = {}
        self._scanned: tuple[datetime, frozenset[int]] | None = None
        self._slots_for: tuple[tuple[str, ...], timedelta] | None = None
        self._slots: dict[str, timedelta] = {}
        # /status asks from the web server's threads while a tick runs in the scheduler's.
        self._lock = threading.Lock()

    # -- the tick -----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Run what is due and fits in the budget now, most urgent first."""
        now = now or self.clinic.clock()
        report = TickReport(at=now)
        apps, states = self._connected(now)
        if not apps:
            self.last_report = report
            return report
        settings = self.settings(now, len(apps))
        interval = self._interval = poll_interval(len(apps), self.limits[1], settings,
                                                  current=self._interval)
        candidates = self._candidates(now, apps, states, settings, interval)
        budget = self.budget(next(iter(apps.values())))
        chosen = choose(now, budget_view(budget, now, self.limits), candidates,
                        athletes=len(apps), settings=settings)
        reserve = events_reserve(now, len(apps), settings)
        started = time.monotonic()
        for work in chosen:
            if not affordable(budget_view(budget, now, self.limits), work, reserve, settings):
                break  # an earlier piece cost more than estimated: the rest waits
            if time.monotonic() - started > self.tick_seconds:
                break
            report.done.append(self._run(work, budget, now, report))
        ran = {id(w) for w in chosen[:len(report.done)]}
        for work in candidates:
            if id(work) not in ran:
                name = work.kind.name.lower()
                report.waiting[name] = report.waiting.get(name, 0) + 1
        report.budget = budget_view(budget, now, self.limits)
        report.interval = interval
        self.last_report = report
        if report.done:
            log.debug("strava quota tick", ran=len(report.done), reads=report.reads,
                      window_left=report.budget.window_left, day_left=report.budget.day_left,
                      waiting=report.waiting)
        return report

    def refresh(self) -> None:
        """Read every athlete's sync state, and whether webhooks are on, again at the next
        tick (an athlete connected Strava, a subscription was made)."""
        self._scanned = None

    def _run(self, work: Work, budget: RateBudget, now: datetime,
             report: TickReport) -> Done:
        """Run one piece of work under the athlete's fetch claim; note what it cost."""
        from syncd.store.leases import fetch_claim

        app: App = work.payload[0]
        before = budget.requests
        if work.kind is Kind.EVENT and self.allowance.left(app.athlete_id, now) < work.cost:
            return Done(work.kind, work.athlete, "waits", 0)  # an earlier event spent it
        with fetch_claim(app.store, app.athlete_id, SOURCE) as mine:
            if not mine:
                return Done(work.kind, work.athlete, "claimed elsewhere", 0)
            if work.kind is Kind.EVENT:
                outcome = self._event(app, work.payload[1], now, report)
            else:
                result = sync_source(app, SOURCE)
                report.results.append(result)
                fresh = read_states(app.store, [app.athlete_id])
                with self._lock:
                    self._states.update(fresh)
                outcome = ("synced" if result.ok and result.skipped_until is None
                           else result.summary())
        reads = budget.requests - before
        if work.kind is Kind.EVENT:
            self.allowance.spend(app.athlete_id, now, reads)
        measured = self.measured[work.kind]
        measured.runs += 1
        measured.reads += reads
        return Done(work.kind, work.athlete, outcome, reads)

    def _event(self, app: App, work: InboxWork, now: datetime, report: TickReport) -> str:
        """Serve waiting events: one, or many by one listing (a sync pass)."""
        if work.listing:
            outcome, result = listing_pass(app, work.events)
            report.results.append(result)
            return outcome
        stored = work.events[0]
        event = StravaEvent(**stored.fields())
        outcome = process_event(app, event, stored)
        if outcome in REAL_OUTCOMES:
            with self._lock:
                self.events_seen.append(now)
        if outcome == "stored":
            remember_seen(app, event)
        return outcome

    # -- what is due --------------------------------------------------------------------------

    def _connected(self, now: datetime) -> tuple[dict[int, App], dict[int, AthleteState]]:
        """The Apps of the athletes who use Strava and have connected it, and their sync
        states, by athlete id; the states are read again when :data:`RESCAN` has passed or the
        roster changed."""
        apps = {app.athlete_id: app for app in self.clinic.apps()
                if SOURCE in enabled_sources(app)}
        roster = frozenset(apps)
        with self._lock:
            if (self._scanned is None or self._scanned[1] != roster
                    or now - self._scanned[0] >= RESCAN or now < self._scanned[0]):
                store = self.clinic.store
                with store.read() as tx:
                    connected = athletes_holding(tx, TOKENS) & roster
                states = {k: v for k, v in read_states(store, None).items() if k in connected}
                states.update({k: AthleteState() for k in connected - set(states)})
                self._states = states
                self._scanned = (now, roster)
                self._webhooks = None
            states = dict(self._states)
        return {k: apps[k] for k in sorted(states)}, states

    def _candidates(self, now: datetime, apps: Mapping[int, App],
                    states: Mapping[int, AthleteState], settings: QuotaSettings,
                    interval: timedelta) -> list[Work]:
        """Waiting events of athletes whose allowance lasts, and at most one sync pass per
        athlete (at its most urgent kind; none when a listing serves its events)."""
        costs = settings.costs
        slots = self._slots_of(tuple(app.athlete.name for app in apps.values()), interval)
        candidates: list[Work] = []
        listed: set[int] = set()
        for athlete_id, events in waiting_inboxes(self.clinic.store, apps).items():
            app = apps[athlete_id]
            for work in plan_inbox(events):
                if self.allowance.left(athlete_id, now) < work.cost:
                    break  # the rest waits (and coalesces) until the allowance comes back
                sent = datetime.fromtimestamp(min(work.oldest, now.timestamp()), now.tzinfo)
                candidates.append(Work(Kind.EVENT, app.athlete.name, work.cost, sent,
                                       (app, work)))
                if work.listing:
                    listed.add(athlete_id)
        for athlete_id, app in apps.items():
            state = states[athlete_id]
            if athlete_id in listed:
                continue  # the listing is this athlete's sync pass
            if state.backoff_until is not None and state.backoff_until > now:
                continue  # failing or rate limited: the pass would not run
            name = app.athlete.name
            kind, since = sync_kind(now, state, slots[name], interval)
            if kind is not None and since is not None:
                candidates.append(Work(kind, name, costs[kind].most, since, (app,)))
        return candidates

    def _slots_of(self, names: tuple[str, ...], interval: timedelta) -> dict[str, timedelta]:
        """:func:`poll_slots`, computed again only when the athletes or the interval change."""
        if self._slots_for != (names, interval):
            self._slots = poll_slots(names, interval)
            self._slots_for = (names, interval)
        return self._slots

    # -- settings, budget and status ----------------------------------------------------------

    def settings(self, now: datetime, athletes: int) -> QuotaSettings:
        """The settings, with the mode (webhooks or polling) and, when more events arrived in
        the last 24 hours than the settings expect, the events seen per athlete and day."""
        with self._lock:
            while self.events_seen and self.events_seen[0] <= now - DAY:
                self.events_seen.popleft()
            seen = len(self.events_seen)
        base = self.base_settings
        observed = seen / athletes if athletes else 0.0
        return replace(base, webhooks=self.webhooks(),
                       activities_per_athlete_day=max(base.activities_per_athlete_day,
                                                      observed))

    def webhooks(self) -> bool:
        """True when Strava pushes events: a verify token is configured and a subscription
        is stored (``syncd strava subscribe``). Read again with the sync states."""
        if self._webhooks is None:
            section = self.clinic.settings.strava
            if section is None or section.webhook_verify_token is None:
                self._webhooks = False
            else:
                with self.clinic.store.read() as tx:
                    self._webhooks = any_stored(tx, SUBSCRIPTION)
        return self._webhooks

    def budget(self, app: App) -> RateBudget:
        """The application's budget, shared with every Strava connector of this process;
        on first use, the newest one saved in the athletes' cursors (another replica's)."""
        if self._budget is None:
            from connectors.strava.connector import StravaConnector
            from connectors.strava.cursor import SyncCursor

            connector = make_connector(app, SOURCE)
            assert isinstance(connector, StravaConnector)
            self._budget = connector.api.budget
            with app.store.read() as tx:
                cursors = stored_cursors(tx, SOURCE)
            for cursor in cursors:
                self._budget.load(SyncCursor.decode(cursor).budget)
        return self._budget

    def capacity(self, now: datetime) -> Capacity:
        """How far the budget goes with the athletes connected now."""
        athletes = len(self._connected(now)[0])
        return capacity(athletes, self.limits[1], self.settings(now, athletes))

    def quota_status(self, now: datetime | None = None) -> dict[str, Any]:
        """The shared quota for ``GET /status``: reads used and left in the window and the
        day, the mode, the routine poll interval, the athletes served and servable, and the
        reads each kind of work took on average."""
        now = now or self.clinic.clock()
        apps, _ = self._connected(now)
        settings = self.settings(now, len(apps))
        served = capacity(len(apps), self.limits[1], settings)
        interval = self._interval or served.interval
        out: dict[str, Any] = {
            "mode": "webhooks" if settings.webhooks else "polling",
            "poll_interval_s": int(interval.total_seconds()),
            "configured_interval_s": int(served.configured_interval.total_seconds()),
            "stretched": interval > served.configured_interval,
            "athletes": {"served": served.athletes, "servable": served.servable,
                         "servable_at_most": served.servable_at_most},
            "reads_per_athlete_day": round(served.reads_per_athlete_day, 2),
            "reads_per_day": round(served.reads_per_day, 1),
            "events_per_athlete_day": round(settings.activities_per_athlete_day, 2),
            "measured_reads": {kind.name.lower(): round(m.mean, 2)
                               for kind, m in self.measured.items() if m.mean is not None},
        }
        if apps:
            view = budget_view(self.budget(next(iter(apps.values()))), now, self.limits)
            out["reads"] = {
                "15min": {"used": view.window_used, "left": view.window_left,
                          "limit": view.window_limit, "resets_at": _iso(view.window_resets)},
                "day": {"used": view.day_used, "left": view.day_left,
                        "limit": view.day_limit, "resets_at": _iso(view.day_resets)},
            }
        if self.last_report is not None:
            out["waiting"] = dict(self.last_report.waiting)
            out["last_tick_at"] = _iso(self.last_report.at)
        if served.athletes > served.servable_at_most:
            out["warning"] = (f"{served.athletes} athletes expect more Strava reads than the "
                              f"application's {self.limits[1]} a day allow "
                              f"(about {served.servable_at_most} fit): events will wait; ask "
                              "Strava for a higher limit or use a second application")
        return out


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
