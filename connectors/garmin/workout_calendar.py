"""Garmin's workout library and training calendar through garminconnect: list, upload,
update and delete workouts; read a month of the calendar, schedule and unschedule.

Garmin's calendar-service counts months from 0 on the wire (garminconnect's
``get_scheduled_workouts`` takes a 1-based month and subtracts one). Scheduling is not
idempotent: every POST adds a calendar entry, so callers look at the calendar first. Errors
are syncd's (:meth:`connectors.garmin.session.GarminSession.call`): 401 raises
:class:`~syncd.errors.AuthError`, 427/429 :class:`~syncd.errors.RateLimited`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from garminconnect import GarminConnectNotFoundError

from connectors.garmin.session import GarminSession
from syncd.errors import InvalidResponse

GONE = object()  # what a call on a workout or entry that no longer exists returns


class WorkoutGone(InvalidResponse):
    """The workout is no longer in the library (deleted in Garmin Connect)."""

PAGE = 100  # workouts per library page (garminconnect's default and Garmin's usual cap)
MAX_PAGES = 50  # a library bigger than 5,000 workouts is read no further


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """A workout scheduled on the calendar: the entry's id (what unscheduling takes), the
    workout it shows, its local day and title."""

    schedule_id: int
    workout_id: int
    day: date
    title: str


@dataclass(frozen=True, slots=True)
class LibraryWorkout:
    """A workout in the athlete's library."""

    workout_id: int
    name: str


class WorkoutCalendar:
    """The athlete's Garmin workouts and calendar, over one :class:`GarminSession`."""

    def __init__(self, session: GarminSession) -> None:
        self.session = session

    def month(self, year: int, month: int) -> list[CalendarEntry]:
        """The workouts scheduled in ``month`` (1-12) of ``year``; other calendar items
        (activities, notes, events) are left out."""
        body = self.session.call(lambda g: g.get_scheduled_workouts(year, month),
                                 f"the workout calendar of {year}-{month:02d}")
        items = body.get("calendarItems") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise InvalidResponse(f"Garmin sent no calendar items for {year}-{month:02d}")
        return [entry for item in items if (entry := _entry(item)) is not None]

    def workouts(self) -> Iterator[LibraryWorkout]:
        """Every workout in the athlete's library, page by page."""
        for page in range(MAX_PAGES):
            body = self.session.call(_page(page * PAGE), "the workout library")
            if not isinstance(body, list):
                raise InvalidResponse("Garmin sent no workout list")
            yield from (found for item in body if (found := _workout(item)) is not None)
            if len(body) < PAGE:
                return

    def upload(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add the workout ``payload`` to the library; returns the stored workout as Garmin
        answers it (with its ``workoutId``)."""
        body = self.session.call(lambda g: g.upload_workout(payload),
                                 f"uploading the workout {payload.get('workoutName')!r}")
        if not isinstance(body, dict) or _int(body.get("workoutId")) is None:
            raise InvalidResponse("Garmin stored a workout but sent no workout id")
        return body

    def update(self, workout_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Replace workout ``workout_id``'s content in place (its id and schedules stay);
        returns what Garmin stored, or an empty dict when it answers without a body."""
        body = self.session.call(_or_gone(lambda g: g.update_workout(workout_id, payload)),
                                 f"updating the workout {workout_id}")
        if body is GONE:
            raise WorkoutGone(f"the Garmin workout {workout_id} is gone")
        return body if isinstance(body, dict) else {}

    def delete(self, workout_id: int) -> None:
        """Delete workout ``workout_id`` from the library (done when it is already gone)."""
        self.session.call(_or_gone(lambda g: g.delete_workout(workout_id)),
                          f"deleting the workout {workout_id}")

    def schedule(self, workout_id: int, day: date) -> int | None:
        """Put workout ``workout_id`` on the calendar on ``day``; returns the entry's id when
        Garmin says it. Raises :class:`WorkoutGone` when the workout no longer exists."""
        body = self.session.call(
            _or_gone(lambda g: g.schedule_workout(workout_id, day.isoformat())),
            f"scheduling the workout {workout_id} on {day}")
        if body is GONE:
            raise WorkoutGone(f"the Garmin workout {workout_id} is gone")
        return _int(body.get("workoutScheduleId")) if isinstance(body, dict) else None

    def unschedule(self, schedule_id: int) -> None:
        """Remove calendar entry ``schedule_id`` (the workout stays in the library; done when
        the entry is already gone)."""
        self.session.call(_or_gone(lambda g: g.unschedule_workout(schedule_id)),
                          f"removing the calendar entry {schedule_id}")


def _page(start: int) -> Callable[[Any], Any]:
    """The library call for the page from ``start``."""
    return lambda garmin: garmin.get_workouts(start, PAGE)


def _or_gone(action: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``action``, answering :data:`GONE` instead of raising when Garmin says 404."""
    def run(garmin: Any) -> Any:
        try:
            return action(garmin)
        except GarminConnectNotFoundError:
            return GONE

    return run


def _entry(item: Any) -> CalendarEntry | None:
    """A scheduled workout from one calendar item, or ``None`` for anything else."""
    if not isinstance(item, dict) or item.get("itemType") != "workout":
        return None
    schedule_id, workout_id = _int(item.get("id")), _int(item.get("workoutId"))
    try:
        day = date.fromisoformat(str(item.get("date")))
    except ValueError:
        return None
    if schedule_id is None or workout_id is None:
        return None
    return CalendarEntry(schedule_id, workout_id, day, str(item.get("title") or ""))


def _workout(item: Any) -> LibraryWorkout | None:
    """A library workout from one list item, or ``None`` when it has no id."""
    if not isinstance(item, dict) or (workout_id := _int(item.get("workoutId"))) is None:
        return None
    return LibraryWorkout(workout_id, str(item.get("workoutName") or ""))


def _int(value: Any) -> int | None:
    """``value`` as a positive id, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number > 0 else None
