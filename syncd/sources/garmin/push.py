"""The coming planned sessions as scheduled Garmin workouts (``[garmin] push_workouts``): what
should be on the calendar, read against what is there, changed by the smallest set of calls.

Run after every successful Garmin pass of an athlete (inside the pass's fetch claim, so no
other process pushes for the athlete at the same time). Safe to stop at any moment:

- an upload is recorded as an intent (a row without an id) before the call and completed
  after it; a row still without an id means the outcome is unknown, and the next pass looks
  for the workout by its name before uploading again;
- calendar entries are not recorded at all: every pass reads the calendar of the months it
  touches, so an entry made just before a crash is found, and kept, by the next one;
- updates replace a workout in place (its id, and so its calendar entries, stay).

A workout replaced by an edit of its plan week is deleted once no entry shows it; the
workouts of past weeks stay (the runner's history, and a week that comes back is scheduled
again without an upload). With ``push_workouts`` off, the same pass undoes it: syncd's
entries from today on are removed and every workout it made is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from connectors.garmin.workout_calendar import CalendarEntry, WorkoutCalendar, WorkoutGone
from syncd.errors import InvalidResponse
from syncd.pipeline.positions import week_positions
from syncd.sources.garmin.reconcile import (
    LibraryChange,
    Wanted,
    by_name,
    calendar_changes,
    library_changes,
)
from syncd.store.garmin_workouts import (
    OwnWorkout,
    forget_own_workout,
    own_workouts,
    save_own_workout,
)
from syncd.workouts import (
    garmin_workout_json,
    session_days,
    syncd_week,
    workout_for,
    workout_name,
)

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.sources.garmin.push")
# How far ahead syncd looks for its own entries: the largest workout_days, so that entries
# pushed with a longer window (or before the plan moved) are still found and removed.
KEPT_DAYS = 28


@dataclass(slots=True)
class PushResult:
    """The calls one push made."""

    uploaded: int = 0
    updated: int = 0
    deleted: int = 0
    scheduled: int = 0
    unscheduled: int = 0

    def __bool__(self) -> bool:
        return any((self.uploaded, self.updated, self.deleted, self.scheduled,
                    self.unscheduled))


def wanted_sessions(app: App, today: date, days: int) -> list[Wanted]:
    """The planned sessions from ``today`` for ``days`` days, each with its workout: on the
    athlete's run days (``[athlete] run_days``, else spread by the plan's rest-day rule), in
    the plan week each week is (the evaluator's answer: a gated repeat or step-back moves
    it)."""
    athlete = app.athlete
    if athlete.plan is None or athlete.plan_start is None:
        return []
    end = today + timedelta(days=days)
    with app.store.read() as tx:
        positions = week_positions(tx, app.athlete_id, athlete, today, end - timedelta(days=1),
                                   app.clock())
    found = []
    for position in positions:
        week = athlete.plan.week(position.number) if position.number else None
        if week is None or week.sessions == 0:
            continue
        workout = workout_for(week)
        name = workout_name(workout)
        payload = garmin_workout_json(workout, name)
        days_of_week = session_days(position.start, week.sessions,
                                    athlete.limits.rest_days_between_runs, app.profile.run_days)
        found += [Wanted(day, name, payload) for day in days_of_week if today <= day < end]
    return found


class Pusher:
    """One push for one athlete through one Garmin session."""

    def __init__(self, app: App, calendar: WorkoutCalendar) -> None:
        self.app = app
        self.calendar = calendar
        self.result = PushResult()
        self._again: dict[int, int] = {}  # a workout deleted by hand -> its new upload

    def run(self, wanted: Sequence[Wanted], today: date, *, on: bool = True) -> PushResult:
        """Make the calendar from ``today`` hold ``wanted`` and nothing else of syncd's; with
        ``on`` false (pushing turned off), also delete every workout syncd made."""
        own = self._own()
        if not wanted and not own:
            return self.result  # never pushed, nothing wanted: not one call
        end = today + timedelta(days=KEPT_DAYS)
        entries = self._entries(today, end)
        ids = self._library(wanted, own)
        own_ids = {o.workout_id for o in self._own() if o.workout_id is not None}
        changes = calendar_changes(wanted, ids, entries, own_ids, today, end)
        for entry in changes.unschedule:
            self.calendar.unschedule(entry.schedule_id)
            self.result.unscheduled += 1
        sessions = by_name(wanted)
        for workout_id, day in changes.schedule:
            self._schedule(workout_id, day, ids, sessions)
        removed = {e.schedule_id for e in changes.unschedule}
        kept = [e for e in entries if e.schedule_id not in removed]
        self._delete_unused(wanted, kept, on)
        return self.result

    # -- the library --------------------------------------------------------------------------

    def _own(self) -> list[OwnWorkout]:
        with self.app.store.read() as tx:
            return own_workouts(tx, self.app.athlete_id)

    def _library(self, wanted: Sequence[Wanted], own: Sequence[OwnWorkout]) -> dict[str, int]:
        """Upload, update or find every wanted workout; returns each wanted name's id."""
        ids = {o.name: o.workout_id for o in own if o.workout_id is not None}
        for change in library_changes(wanted, own):
            ids[change.name] = self._apply(change)
        return {name: ids[name] for name in by_name(wanted)}

    def _apply(self, change: LibraryChange) -> int:
        if change.action == "find":
            found = self._find(change.name)
            if found is not None:
                self._save(OwnWorkout(change.name, "", found))  # content unknown: update it
                return self._update(change, found)
        if change.action == "update" and change.workout_id is not None:
            try:
                return self._update(change, change.workout_id)
            except WorkoutGone:  # deleted in Garmin Connect by hand: make it again
                log.info("workout gone from Garmin, uploading it again", workout=change.name)
        return self._upload(change)

    def _upload(self, change: LibraryChange) -> int:
        """Upload, with the intent recorded first (a crash leaves a row without an id)."""
        self._save(OwnWorkout(change.name, change.digest, None))
        stored = self.calendar.upload(dict(change.payload))
        workout_id = int(stored["workoutId"])
        self._save(OwnWorkout(change.name, change.digest, workout_id))
        self.result.uploaded += 1
        if _step_count(stored.get("workoutSegments")) != _step_count(
                change.payload.get("workoutSegments")):
            # Garmin silently empties a repeat group it cannot read: never schedule that.
            self._remove(OwnWorkout(change.name, change.digest, workout_id))
            raise InvalidResponse(f"Garmin changed the steps of the workout {change.name!r} "
                                  "when storing it; syncd deleted it and left it unscheduled")
        return workout_id

    def _update(self, change: LibraryChange, workout_id: int) -> int:
        self.calendar.update(workout_id, dict(change.payload))
        self._save(OwnWorkout(change.name, change.digest, workout_id))
        self.result.updated += 1
        return workout_id

    def _find(self, name: str) -> int | None:
        """The id of the workout ``name`` an interrupted pass uploaded; further copies (a
        crash loop) are deleted."""
        matches = sorted(w.workout_id for w in self.calendar.workouts() if w.name == name)
        for extra in matches[1:]:
            self.calendar.delete(extra)
            self.result.deleted += 1
        return matches[0] if matches else None

    def _save(self, workout: OwnWorkout) -> None:
        with self.app.store.write() as tx:
            save_own_workout(tx, self.app.athlete_id, workout)

    def _delete_unused(self, wanted: Sequence[Wanted], entries: Iterable[CalendarEntry],
                       on: bool) -> None:
        """Delete syncd's workouts that a wanted workout of the same plan week replaced (an
        edited plan) and that no entry read shows, past days included: the runner's history
        of past weeks stays, and a week that comes back (a step-back) is used again. With
        pushing off, every one goes."""
        names = set(by_name(wanted))
        weeks = {syncd_week(name) for name in names}
        shown = {e.workout_id for e in entries} if on else set()
        for own in self._own():
            replaced = not on or syncd_week(own.name) in weeks
            if own.name not in names and own.workout_id not in shown and replaced:
                self._remove(own)

    def _remove(self, own: OwnWorkout) -> None:
        """Delete one of syncd's workouts from the library (every copy of its name when its
        upload's outcome is unknown), then forget it."""
        found = [own.workout_id] if own.workout_id is not None else [
            w.workout_id for w in self.calendar.workouts() if w.name == own.name]
        for workout_id in found:
            self.calendar.delete(workout_id)
            self.result.deleted += 1
        with self.app.store.write() as tx:
            forget_own_workout(tx, self.app.athlete_id, own.name)

    # -- the calendar -------------------------------------------------------------------------

    def _entries(self, first: date, end: date) -> list[CalendarEntry]:
        """The scheduled workouts of every month from ``first``'s to ``end``'s (Garmin's
        calendar answers by month)."""
        entries: dict[int, CalendarEntry] = {}
        year, month = first.year, first.month
        while (year, month) <= (end.year, end.month):
            # A month's answer also holds the days of its first and last weeks that belong to
            # the months around it: one entry, read twice, is still one entry.
            entries.update((e.schedule_id, e) for e in self.calendar.month(year, month))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return list(entries.values())

    def _schedule(self, workout_id: int, day: date, ids: dict[str, int],
                  sessions: dict[str, Wanted]) -> None:
        """Schedule ``workout_id`` on ``day``; a workout deleted in Garmin Connect (its
        entries went with it) is uploaded again first, and ``ids`` learns its new id."""
        workout_id = self._again.get(workout_id, workout_id)
        try:
            self.calendar.schedule(workout_id, day)
        except WorkoutGone:
            name = next(n for n, i in ids.items() if i == workout_id)
            session = sessions[name]
            log.info("workout gone from Garmin, uploading it again", workout=name)
            ids[name] = self._again[workout_id] = self._upload(
                LibraryChange("upload", name, session.payload, session.digest))
            self.calendar.schedule(ids[name], day)
        self.result.scheduled += 1


def _step_count(value: Any) -> int:
    """How many steps (groups and their steps) a workout's segments hold."""
    if isinstance(value, list):
        return sum(_step_count(item) for item in value)
    if isinstance(value, dict):
        inner = value.get("workoutSteps")
        return (1 if "stepOrder" in value else 0) + _step_count(inner)
    return 0


def push(app: App, calendar: WorkoutCalendar, settings: Any) -> PushResult:
    """Bring ``app``'s athlete's Garmin calendar in line with ``settings`` (the athlete's
    ``[garmin]`` section): the coming sessions with ``push_workouts``, none of syncd's
    without. Raises :class:`~syncd.errors.AuthError` or :class:`~syncd.errors.RateLimited`
    (the pass stops there; what was done stays done) and other
    :class:`~syncd.errors.SyncdError` for a call that failed."""
    today = app.today()
    on = bool(getattr(settings, "push_workouts", False))
    days = int(getattr(settings, "workout_days", 14))
    wanted = wanted_sessions(app, today, days) if on else []
    result = Pusher(app, calendar).run(wanted, today, on=on)
    if result:
        log.info("garmin workouts pushed", uploaded=result.uploaded, updated=result.updated,
                 scheduled=result.scheduled, unscheduled=result.unscheduled,
                 deleted=result.deleted)
    return result
