"""Garmin Connect's workout library and training calendar, faked with Garmin's state and
habits, served by :class:`tests.garmin.fake_garmin.FakeGarmin` beside the activity API.

- Workouts get increasing ids; ``PUT`` replaces one in place (the id and its calendar entries
  stay); deleting one takes its calendar entries with it.
- ``POST /workout-service/schedule/{id}`` adds a calendar entry every time it is called:
  scheduling twice makes two entries, as on Garmin.
- A repeat group whose end condition is not ``conditionTypeId`` 7 ("iterations") is stored
  without its steps: Garmin accepts it and silently corrupts it.
- ``GET /calendar-service/year/{y}/month/{m}`` counts months from 0 (January is 0); a month
  of 12 is refused. Like Garmin's month view, it also lists the entries of the six days
  before and after the month (its first and last weeks), so two months share entries.

Every write is logged with its JSON body in :attr:`FakeWorkouts.writes`.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

Reply = tuple[int, dict[str, str], bytes]

_WORKOUT = re.compile(r"^/workout-service/workout/(\d+)$")
_SCHEDULE = re.compile(r"^/workout-service/schedule/(\d+)$")
_MONTH = re.compile(r"^/calendar-service/year/(\d{4})/month/(\d{1,2})$")
FIRST_WORKOUT_ID = 1_000_001
FIRST_SCHEDULE_ID = 5_000_001


@dataclass(frozen=True, slots=True)
class Write:
    """One write the service received: method, path, JSON body, and what it was in words:
    ``("upload", name)``, ``("update", name)``, ``("delete", name)``, ``("schedule", name,
    "YYYY-MM-DD")`` or ``("unschedule", name, "YYYY-MM-DD")``."""

    method: str
    path: str
    body: Any
    what: tuple[str, ...]


@dataclass(slots=True)
class Scheduled:
    """One calendar entry: the workout it shows on a day."""

    workout_id: int
    day: date


class FakeWorkouts:
    """The state of the workout library and calendar."""

    def __init__(self) -> None:
        self.workouts: dict[int, dict[str, Any]] = {}
        self.schedules: dict[int, Scheduled] = {}
        self.writes: list[Write] = []
        # Every workout and entry there ever was (what a write named, after a delete too).
        self._named: dict[int, str] = {}
        self._placed: dict[int, tuple[str, str]] = {}
        self.lost_replies = 0  # writes to carry out but answer 503, as if the reply were lost
        self._next_workout = FIRST_WORKOUT_ID
        self._next_schedule = FIRST_SCHEDULE_ID
        self._lock = threading.Lock()

    # -- test controls and views --------------------------------------------------------------

    def add_workout(self, payload: dict[str, Any]) -> int:
        """Store a workout as if the athlete made it in Garmin Connect; returns its id."""
        with self._lock:
            return self._store(copy.deepcopy(payload))

    def add_schedule(self, workout_id: int, day: date) -> int:
        """Put ``workout_id`` on ``day`` as if the athlete did; returns the entry's id."""
        with self._lock:
            return self._schedule(workout_id, day)

    def entries(self) -> list[tuple[date, str]]:
        """Every calendar entry as (day, workout name), in order."""
        with self._lock:
            return sorted((s.day, self.workouts[s.workout_id]["workoutName"])
                          for s in self.schedules.values())

    def names(self) -> list[str]:
        """The names of every workout in the library, in id order."""
        with self._lock:
            return [self.workouts[i]["workoutName"] for i in sorted(self.workouts)]

    def changes(self) -> list[tuple[str, ...]]:
        """What every write was, in order (see :class:`Write`)."""
        with self._lock:
            return [w.what for w in self.writes]

    # -- the service --------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> Reply | None:
        """Answer one request under the workout or calendar service (``None``: not one)."""
        if not path.startswith(("/workout-service/", "/calendar-service/")):
            return None
        data = json.loads(body) if body else None
        with self._lock:
            if method != "GET":
                self.writes.append(Write(method, path, data, self._what(method, path, data)))
            reply = self._route(method, path, query, data)
            if method != "GET" and self.lost_replies > 0:
                self.lost_replies -= 1
                return _json(503, {"message": "Service Unavailable"})
            return reply

    def _what(self, method: str, path: str, data: Any) -> tuple[str, ...]:
        if path == "/workout-service/workout":
            return ("upload", str(data.get("workoutName")))
        if match := _WORKOUT.match(path):
            verb = {"PUT": "update", "DELETE": "delete"}.get(method, method)
            return (verb, self._named.get(int(match.group(1)), "?"))
        if (match := _SCHEDULE.match(path)) and method == "POST":
            return ("schedule", self._named.get(int(match.group(1)), "?"), str(data["date"]))
        if match := _SCHEDULE.match(path):
            return ("unschedule", *self._placed.get(int(match.group(1)), ("?", "?")))
        return (method, path)

    def _route(self, method: str, path: str, query: dict[str, str], data: Any) -> Reply:
        if path == "/workout-service/workouts" and method == "GET":
            start, limit = int(query.get("start", "0")), int(query.get("limit", "20"))
            listed = [self._summary(i) for i in sorted(self.workouts)]
            return _json(200, listed[start:start + limit])
        if path == "/workout-service/workout" and method == "POST":
            return _json(200, self.workouts[self._store(data)])
        if match := _WORKOUT.match(path):
            return self._workout(method, int(match.group(1)), data)
        if match := _SCHEDULE.match(path):
            return self._schedule_call(method, int(match.group(1)), data)
        if (match := _MONTH.match(path)) and method == "GET":
            return self._month(int(match.group(1)), int(match.group(2)))
        return _json(404, {"message": f"no such path {path}"})

    def _workout(self, method: str, workout_id: int, data: Any) -> Reply:
        if workout_id not in self.workouts:
            return _json(404, {"message": "Workout not found"})
        if method == "GET":
            return _json(200, self.workouts[workout_id])
        if method == "PUT":
            self.workouts[workout_id] = _stored(data, workout_id)
            self._named[workout_id] = str(data.get("workoutName"))
            return 204, {}, b""
        if method == "DELETE":
            del self.workouts[workout_id]
            for sid in [s for s, e in self.schedules.items() if e.workout_id == workout_id]:
                del self.schedules[sid]
            return 204, {}, b""
        return _json(405, {"message": "method not allowed"})

    def _schedule_call(self, method: str, number: int, data: Any) -> Reply:
        if method == "POST":  # number: the workout
            if number not in self.workouts:
                return _json(404, {"message": "Workout not found"})
            day = date.fromisoformat(data["date"])
            sid = self._schedule(number, day)
            return _json(200, {"workoutScheduleId": sid, "calendarDate": day.isoformat(),
                               "workout": self.workouts[number]})
        if method == "DELETE":  # number: the calendar entry
            if self.schedules.pop(number, None) is None:
                return _json(404, {"message": "Schedule not found"})
            return 204, {}, b""
        return _json(405, {"message": "method not allowed"})

    def _month(self, year: int, wire_month: int) -> Reply:
        if not 0 <= wire_month <= 11:
            return _json(400, {"message": f"Invalid month {wire_month}"})
        month = wire_month + 1  # Garmin counts months from 0 on the wire
        first = date(year, month, 1)
        after = date(year + month // 12, month % 12 + 1, 1)
        shown = (first - timedelta(days=6), after + timedelta(days=5))
        items = [{"id": sid, "itemType": "workout", "workoutId": entry.workout_id,
                  "title": self.workouts[entry.workout_id]["workoutName"],
                  "date": entry.day.isoformat(), "sportTypeKey": "running",
                  "isRace": False, "primaryEvent": None}
                 for sid, entry in sorted(self.schedules.items())
                 if shown[0] <= entry.day <= shown[1]]
        items.append({"id": 1, "itemType": "activity", "date": f"{year}-{month:02d}-01",
                      "title": "Morning Run", "activityTypeId": 1})
        return _json(200, {"startDayOfMonth": 0, "numOfDaysInMonth": 31,
                           "calendarItems": items})

    # -- state --------------------------------------------------------------------------------

    def _store(self, payload: dict[str, Any]) -> int:
        workout_id = self._next_workout
        self._next_workout += 1
        self.workouts[workout_id] = _stored(payload, workout_id)
        self._named[workout_id] = str(payload.get("workoutName"))
        return workout_id

    def _schedule(self, workout_id: int, day: date) -> int:
        sid = self._next_schedule
        self._next_schedule += 1
        self.schedules[sid] = Scheduled(workout_id, day)
        self._placed[sid] = (self._named[workout_id], day.isoformat())
        return sid

    def _summary(self, workout_id: int) -> dict[str, Any]:
        stored = self.workouts[workout_id]
        return {key: stored.get(key) for key in ("workoutId", "workoutName", "sportType",
                                                 "ownerId", "estimatedDurationInSecs")}


def _stored(payload: dict[str, Any], workout_id: int) -> dict[str, Any]:
    """The workout as Garmin keeps it: its id and owner added, a repeat group without the
    iterations end condition emptied."""
    stored = copy.deepcopy(payload) | {"workoutId": workout_id, "ownerId": 2591602}
    for segment in stored.get("workoutSegments") or []:
        for step in segment.get("workoutSteps") or []:
            if step.get("type") == "RepeatGroupDTO" and \
                    (step.get("endCondition") or {}).get("conditionTypeId") != 7:
                step["workoutSteps"] = []
    return stored


def _json(status: int, body: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()
