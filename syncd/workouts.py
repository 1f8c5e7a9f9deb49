"""A plan week's session as a structured workout: the steps a watch counts down, and the JSON
that Garmin Connect's workout service stores. Pure: data in, workout out.

How a session becomes steps (all durations whole seconds; ``run_s``/``walk_s`` are the week's
``run_min``/``walk_min`` times 60, rounded):

- A walk-only week (``run_min = 0``) is one walk step of ``walk_s`` (``session_min`` when a
  week gives neither running nor walking minutes).
- Continuous running (no ``run_interval_s``, or a bout as long as ``run_s``): a walk warm-up,
  one jog step of ``run_s``, a walk cool-down.
- Run/walk: ``run_s`` is cut into jogs of the bout (``run_interval_s``); a remainder shorter
  than the bout becomes one last, shorter jog. Between consecutive jogs comes a walk
  (recovery), so ``k`` jogs have ``k - 1`` recoveries and the session never has two walks in a
  row. The full jogs with the recovery after each form the repeat group; the last jog (a full
  bout, or the shorter remainder) stands outside it, directly before the cool-down:
  ``warm-up, (jog, walk) x n, jog, cool-down``. A group of one is written as plain steps.
- The walking: warm-up and cool-down walks of 5 minutes each when that leaves at least a minute
  for every recovery; the rest is shared equally by the recoveries (all of it goes to the
  cool-down when there is no recovery). With less walking, warm-up, recoveries and cool-down
  share it equally. Seconds that do not divide evenly go to the cool-down. A step that gets no
  time is left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from syncd.plan import PlanWeek

StepKind = Literal["warmup", "jog", "walk", "cooldown"]

WARM_S = 300  # warm-up and cool-down walks when the walking allows
MIN_RECOVERY_S = 60  # the least recovery that still leaves room for a 5-minute warm-up
NAME_PREFIX = "syncd:"  # every workout syncd creates is named "syncd: W<week> ..."
_NAME = re.compile(r"^syncd: W(\d{1,3})(?: |$)")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Step:
    """One timed step: a walk (warm-up, recovery, cool-down or a whole walk) or a jog."""

    kind: StepKind
    seconds: int

    @property
    def is_run(self) -> bool:
        """True for a jog step."""
        return self.kind == "jog"


@dataclass(frozen=True, slots=True)
class Repeat:
    """A repeat group: ``steps`` done ``iterations`` times in a row."""

    iterations: int
    steps: tuple[Step, ...]


Item = Step | Repeat


@dataclass(frozen=True, slots=True)
class Workout:
    """One session of plan week ``week``, as the steps in the order the watch runs them."""

    week: int
    items: tuple[Item, ...]

    def flat(self) -> tuple[Step, ...]:
        """Every step as done, repeat groups unrolled."""
        return tuple(_unrolled(self.items))

    @property
    def run_s(self) -> int:
        """Seconds of jogging."""
        return sum(step.seconds for step in self.flat() if step.is_run)

    @property
    def walk_s(self) -> int:
        """Seconds of walking."""
        return sum(step.seconds for step in self.flat() if not step.is_run)

    @property
    def longest_jog_s(self) -> int:
        """The longest jog step, in seconds (0 without one)."""
        return max((step.seconds for step in self.flat() if step.is_run), default=0)


def _unrolled(items: Iterable[Item]) -> Iterable[Step]:
    for item in items:
        if isinstance(item, Repeat):
            for _ in range(item.iterations):
                yield from item.steps
        else:
            yield item


# -- the builder ------------------------------------------------------------------------------


def prescribed_seconds(week: PlanWeek) -> tuple[int, int]:
    """The session's running and walking time in whole seconds (a week with neither walks
    its ``session_min``)."""
    run_s, walk_s = round(week.run_min * 60), round(week.walk_min * 60)
    if run_s == 0 and walk_s == 0:
        walk_s = round(week.session_min * 60)
    return run_s, walk_s


def workout_for(week: PlanWeek) -> Workout:
    """The workout for one session of ``week`` (see the module's docstring for the rules)."""
    run_s, walk_s = prescribed_seconds(week)
    if run_s == 0:
        return Workout(week.number, _kept([Step("walk", walk_s)]))
    # Whole seconds, rounded down so that no jog outlasts the plan's bout.
    bout = max(1, int(week.run_interval_s)) if week.run_interval_s else run_s
    jogs = [bout] * (run_s // bout) + ([run_s % bout] if run_s % bout else [])
    warm, recovery, cool = split_walk(walk_s, len(jogs) - 1)
    items: list[Item] = [Step("warmup", warm)]
    group = [Step("jog", bout), Step("walk", recovery)]
    if len(jogs) > 2:
        items.append(Repeat(len(jogs) - 1, tuple(s for s in group if s.seconds > 0)))
    elif len(jogs) == 2:
        items.extend(group)
    items += [Step("jog", jogs[-1]), Step("cooldown", cool)]
    return Workout(week.number, _kept(items))


def split_walk(walk_s: int, recoveries: int) -> tuple[int, int, int]:
    """``walk_s`` as (warm-up, each recovery, cool-down) seconds for ``recoveries`` recoveries."""
    if walk_s >= 2 * WARM_S + recoveries * MIN_RECOVERY_S:
        rest = walk_s - 2 * WARM_S
        if recoveries == 0:
            return WARM_S, 0, WARM_S + rest
        return WARM_S, rest // recoveries, WARM_S + rest % recoveries
    share = walk_s // (recoveries + 2)
    return share, share, share + walk_s % (recoveries + 2)


def _kept(items: Sequence[Item]) -> tuple[Item, ...]:
    """``items`` without steps of no time (a group left empty goes too)."""
    kept: list[Item] = []
    for item in items:
        if isinstance(item, Repeat):
            inner = tuple(s for s in item.steps if s.seconds > 0)
            if inner:
                kept.append(Repeat(item.iterations, inner))
        elif item.seconds > 0:
            kept.append(item)
    return tuple(kept)


# -- names ------------------------------------------------------------------------------------


def clock(seconds: int) -> str:
    """``seconds`` as m:ss (h:mm:ss from an hour)."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary(workout: Workout) -> str:
    """The session in a few words: ``4:00 jog (2:00 bouts) / 13:00 walk``."""
    if workout.run_s == 0:
        return f"walk {clock(workout.walk_s)}"
    jog = f"{clock(workout.run_s)} jog"
    if workout.longest_jog_s < workout.run_s:
        jog += f" ({clock(workout.longest_jog_s)} bouts)"
    return f"{jog} / {clock(workout.walk_s)} walk" if workout.walk_s else jog


def workout_name(workout: Workout) -> str:
    """The name syncd gives the workout: ``syncd: W5 4:00 jog (2:00 bouts) / 13:00 walk``.

    The prefix and week mark every workout syncd made (:func:`syncd_week`); a workout whose
    name does not start so was made by someone else and is left alone."""
    return f"{NAME_PREFIX} W{workout.week} {summary(workout)}"


def syncd_week(name: str) -> int | None:
    """The plan week of a workout syncd named, or ``None`` for any other name."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else None


def step_lines(workout: Workout) -> list[str]:
    """The steps for people, one line each: ``2 x (jog 2:00, walk 1:30)``."""
    return [_line(item) for item in workout.items]


def _line(item: Item) -> str:
    if isinstance(item, Repeat):
        inner = ", ".join(_line(step) for step in item.steps)
        return f"{item.iterations} x ({inner})"
    label = {"warmup": "warm-up walk", "cooldown": "cool-down walk"}.get(item.kind, item.kind)
    return f"{label} {clock(item.seconds)}"


# -- on which days ----------------------------------------------------------------------------


def session_days(first_day: date, sessions: int, rest_days: int,
                 run_days: Sequence[str] | None = None) -> list[date]:
    """The days of a plan week (``first_day`` to ``first_day + 6``) its sessions go on.

    With ``run_days`` (weekday names): those days in week order, then, when the week has more
    sessions than run days, the other days spread as below. Without: every ``rest_days + 1``-th
    day from the first, or spread evenly over the week when that does not fit (a daily walking
    week)."""
    sessions = max(0, min(sessions, 7))
    week = [first_day + timedelta(days=i) for i in range(7)]
    chosen = [day for day in week if run_days and WEEKDAYS[day.weekday()] in run_days]
    spaced = _spaced(week, sessions, rest_days)
    chosen += [day for day in spaced + week if day not in chosen]
    return sorted(chosen[:sessions])


def _spaced(week: list[date], sessions: int, rest_days: int) -> list[date]:
    gap = rest_days + 1
    if sessions and (sessions - 1) * gap <= 6:
        return [week[i * gap] for i in range(sessions)]
    return [week[(i * 7) // sessions] for i in range(sessions)]


# -- Garmin Connect's workout JSON ------------------------------------------------------------

# Garmin's ids for the step types syncd uses (its workout service's own numbering).
_STEP_TYPES = {"warmup": 1, "cooldown": 2, "jog": 3, "walk": 4}
_STEP_KEYS: dict[StepKind, str] = {"warmup": "warmup", "cooldown": "cooldown", "jog": "interval",
                                   "walk": "recovery"}
_KINDS: dict[str, StepKind] = {key: kind for kind, key in _STEP_KEYS.items()}
_RUNNING = {"sportTypeId": 1, "sportTypeKey": "running", "displayOrder": 1}
_TIME = {"conditionTypeId": 2, "conditionTypeKey": "time", "displayOrder": 2,
         "displayable": True}
# A repeat group without this end condition is silently corrupted by Garmin.
_ITERATIONS = {"conditionTypeId": 7, "conditionTypeKey": "iterations", "displayOrder": 7,
               "displayable": False}
_NO_TARGET = {"workoutTargetTypeId": 1, "workoutTargetTypeKey": "no.target",
              "displayOrder": 1}


def garmin_workout_json(workout: Workout, name: str) -> dict[str, Any]:
    """The workout as Garmin Connect's workout service stores it: a running workout of one
    segment, its steps numbered in order (``stepOrder``, a repeat group before its steps)."""
    order = iter(range(1, 1000))
    steps = [_garmin_item(item, order, None) for item in workout.items]
    return {
        "workoutName": name,
        "description": "; ".join(step_lines(workout)),
        "sportType": dict(_RUNNING),
        "estimatedDurationInSecs": workout.run_s + workout.walk_s,
        "workoutSegments": [{"segmentOrder": 1, "sportType": dict(_RUNNING),
                             "workoutSteps": steps}],
    }


def _garmin_item(item: Item, order: Iterator[int], child: int | None) -> dict[str, Any]:
    number = next(order)
    if isinstance(item, Repeat):
        return {
            "type": "RepeatGroupDTO", "stepOrder": number, "childStepId": 1,
            "stepType": {"stepTypeId": 6, "stepTypeKey": "repeat", "displayOrder": 6},
            "numberOfIterations": item.iterations, "smartRepeat": False,
            "endCondition": dict(_ITERATIONS), "endConditionValue": float(item.iterations),
            "workoutSteps": [_garmin_item(step, order, 1) for step in item.steps],
        }
    type_id = _STEP_TYPES[item.kind]
    return {
        "type": "ExecutableStepDTO", "stepOrder": number, "childStepId": child,
        "stepType": {"stepTypeId": type_id, "stepTypeKey": _STEP_KEYS[item.kind],
                     "displayOrder": type_id},
        "description": "Jog" if item.is_run else "Walk",
        "endCondition": dict(_TIME), "endConditionValue": float(item.seconds),
        "targetType": dict(_NO_TARGET),
    }


def workout_from_garmin_json(data: Mapping[str, Any]) -> Workout:
    """The workout back from Garmin's JSON (as :func:`garmin_workout_json` writes it). Raises
    ``ValueError`` for a step syncd does not write (another end condition, a nested group)."""
    week = syncd_week(str(data.get("workoutName", ""))) or 0
    items: list[Item] = []
    for segment in data.get("workoutSegments") or []:
        items += [_parsed_item(step, nested=False) for step in segment.get("workoutSteps") or []]
    return Workout(week, tuple(items))


def _parsed_item(data: Mapping[str, Any], *, nested: bool) -> Item:
    if data.get("type") == "RepeatGroupDTO" and not nested:
        if (data.get("endCondition") or {}).get("conditionTypeId") != 7:
            raise ValueError("a repeat group without the iterations end condition")
        steps = [_parsed_item(step, nested=True) for step in data.get("workoutSteps") or []]
        return Repeat(int(data["numberOfIterations"]), tuple(s for s in steps
                                                             if isinstance(s, Step)))
    key = (data.get("stepType") or {}).get("stepTypeKey")
    if data.get("type") != "ExecutableStepDTO" or key not in _KINDS:
        raise ValueError(f"a step syncd does not write: {data.get('type')} {key}")
    if (data.get("endCondition") or {}).get("conditionTypeKey") != "time":
        raise ValueError("a step that does not end on time")
    return Step(_KINDS[key], round(float(data["endConditionValue"])))
