"""A plan week as a workout: the steps add up to the prescription, no jog outlasts the bout,
Garmin's JSON numbers its steps in order and ends every repeat group on iterations, the FIT
file decodes (with fitdecode, an independent reader) into the same steps, and the sessions of
a week fall on the run days or by the rest-day rule."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import fitdecode
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.plan import PlanWeek, load_plan
from syncd.workout_fit import fit_workout
from syncd.workouts import (
    WEEKDAYS,
    Repeat,
    Step,
    Workout,
    garmin_workout_json,
    prescribed_seconds,
    session_days,
    syncd_week,
    workout_for,
    workout_from_garmin_json,
    workout_name,
)

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "plans" / "hip-return-run-walk.toml"
PROPERTIES = settings(max_examples=200, deadline=None)


@st.composite
def plan_weeks(draw: st.DrawFn) -> PlanWeek:
    """Any valid plan week: minutes in quarter steps or odd seconds, a bout or none."""
    run_min = draw(st.one_of(st.just(0.0), st.integers(1, 3600).map(lambda s: s / 60)))
    walk_min = draw(st.one_of(st.just(0.0), st.integers(1, 3600).map(lambda s: s / 60)))
    if run_min == 0 and walk_min == 0:
        walk_min = 15.0
    bout = draw(st.one_of(st.none(), st.integers(1, 1800).map(float)))
    if bout is not None and run_min and bout > run_min * 60:
        bout = None  # the plan refuses a bout longer than the running
    return PlanWeek(number=draw(st.integers(1, 52)), sessions=draw(st.integers(1, 7)),
                    run_min=run_min, walk_min=walk_min, session_min=run_min + walk_min,
                    run_interval_s=bout)


def week(run_min: float, walk_min: float, bout: float | None, number: int = 5) -> PlanWeek:
    """A plan week of three sessions."""
    return PlanWeek(number=number, sessions=3, run_min=run_min, walk_min=walk_min,
                    session_min=run_min + walk_min, run_interval_s=bout)


# -- the steps --------------------------------------------------------------------------------


@PROPERTIES
@given(plan_weeks())
def test_steps_add_up_to_the_prescription_and_no_jog_outlasts_the_bout(plan: PlanWeek) -> None:
    """Jogging and walking seconds are exactly the prescription's; every jog is at most the
    bout; groups repeat at least twice; no step is empty and no two walks follow each other."""
    workout = workout_for(plan)
    run_s, walk_s = prescribed_seconds(plan)
    assert (workout.run_s, workout.walk_s) == (run_s, walk_s)
    if plan.run_interval_s:
        assert workout.longest_jog_s <= plan.run_interval_s
    steps = workout.flat()
    assert all(step.seconds > 0 for step in steps)
    assert all(item.iterations >= 2 for item in workout.items if isinstance(item, Repeat))
    kinds = ["jog" if step.is_run else "walk" for step in steps]
    assert "walk walk" not in " ".join(kinds)
    # A warm-up only first, a cool-down only last; with a second of walking for each walk
    # step (warm-up, recoveries, cool-down), all of them.
    assert all(step.kind != "warmup" for step in steps[1:])
    assert all(step.kind != "cooldown" for step in steps[:-1])
    if run_s and walk_s >= kinds.count("jog") + 1:
        assert "jog jog" not in " ".join(kinds)
        assert (steps[0].kind, steps[-1].kind) == ("warmup", "cooldown")


def test_the_shipped_plan_weeks_as_the_runner_sees_them() -> None:
    """Week 1 walks, week 2 jogs 30 s three times, week 5 is 2 x 2:00, week 11 runs through."""
    hip = load_plan(SHIPPED)
    assert workout_for(hip.weeks[0]).items == (Step("walk", 900),)
    assert workout_for(hip.weeks[1]).items == (
        Step("warmup", 300), Repeat(2, (Step("jog", 30), Step("walk", 105))),
        Step("jog", 30), Step("cooldown", 300))
    assert workout_for(hip.weeks[4]).items == (
        Step("warmup", 300), Step("jog", 120), Step("walk", 180), Step("jog", 120),
        Step("cooldown", 300))
    assert workout_for(hip.weeks[10]).items == (Step("jog", 1020),)


def test_a_remainder_shorter_than_the_bout_is_the_last_jog() -> None:
    """5 min of running in 2-minute bouts: two full jogs in the group, then a 1:00 jog."""
    workout = workout_for(week(5, 13, 120))
    assert workout.items == (
        Step("warmup", 300), Repeat(2, (Step("jog", 120), Step("walk", 90))),
        Step("jog", 60), Step("cooldown", 300))


def test_short_walking_is_shared_equally_and_the_rest_goes_to_the_cool_down() -> None:
    """Seven minutes of walking round two 5-minute jogs: 2:20 each, never a 5-minute warm-up."""
    assert workout_for(week(10, 7, 300)).items == (
        Step("warmup", 140), Step("jog", 300), Step("walk", 140), Step("jog", 300),
        Step("cooldown", 140))
    assert workout_for(week(10, 425 / 60, 300)).items[-1] == Step("cooldown", 143)


def test_continuous_running_is_one_jog_between_the_walks() -> None:
    """No bout (or a bout as long as the running): one jog step."""
    for bout in (None, 1200.0):
        assert workout_for(week(20, 10, bout)).items == (
            Step("warmup", 300), Step("jog", 1200), Step("cooldown", 300))


# -- Garmin's JSON ----------------------------------------------------------------------------


def _orders(steps: list[dict[str, Any]]) -> list[int]:
    """Every stepOrder, depth first (a group before its steps)."""
    found: list[int] = []
    for step in steps:
        found.append(step["stepOrder"])
        found += _orders(step.get("workoutSteps", []))
    return found


@PROPERTIES
@given(plan_weeks())
def test_garmin_json_numbers_steps_in_order_and_round_trips(plan: PlanWeek) -> None:
    """stepOrder counts up from 1 through groups; every group ends on its iterations
    (conditionTypeId 7); time conditions in seconds; the JSON reads back into the workout."""
    workout = workout_for(plan)
    name = workout_name(workout)
    data = json.loads(json.dumps(garmin_workout_json(workout, name)))
    assert data["sportType"]["sportTypeKey"] == "running"
    steps = data["workoutSegments"][0]["workoutSteps"]
    orders = _orders(steps)
    assert orders == list(range(1, len(orders) + 1))
    for step in steps:
        if step["type"] == "RepeatGroupDTO":
            assert step["endCondition"]["conditionTypeId"] == 7
            assert step["numberOfIterations"] == step["endConditionValue"] >= 2
        else:
            assert step["endCondition"]["conditionTypeKey"] == "time"
    assert data["estimatedDurationInSecs"] == sum(prescribed_seconds(plan))
    assert workout_from_garmin_json(data) == workout
    assert syncd_week(name) == plan.number and len(name) <= 80


def test_garmin_step_types_say_what_each_step_is() -> None:
    """Warm-up, interval (jog), recovery (walk), cool-down; the group's steps are its children."""
    data = garmin_workout_json(workout_for(week(1.5, 13.5, 30)), "syncd: W2")
    steps = data["workoutSegments"][0]["workoutSteps"]
    assert [s["stepType"]["stepTypeKey"] for s in steps] == \
        ["warmup", "repeat", "interval", "cooldown"]
    group = steps[1]
    assert [(s["stepType"]["stepTypeKey"], s["endConditionValue"], s["childStepId"])
            for s in group["workoutSteps"]] == [("interval", 30.0, 1), ("recovery", 105.0, 1)]


def test_only_syncd_names_are_recognised() -> None:
    """A workout someone made by hand, even one mentioning syncd, is not syncd's."""
    assert syncd_week("syncd: W12 20:00 jog") == 12
    for name in ("Tempo run", "syncd W5 my own", "my syncd: W5", "syncd: Week 5", ""):
        assert syncd_week(name) is None


# -- the FIT file -----------------------------------------------------------------------------


def decoded_steps(data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """The workout message, the workout_step messages and the file type, read by fitdecode."""
    workout: dict[str, Any] = {}
    steps: list[dict[str, Any]] = []
    file_type = ""
    with fitdecode.FitReader(io.BytesIO(data)) as reader:
        for frame in reader:
            if not isinstance(frame, fitdecode.FitDataMessage):
                continue
            fields = {f.name: f.value for f in frame.fields}
            if frame.name == "file_id":
                file_type = fields["type"]
            elif frame.name == "workout":
                workout = fields
            elif frame.name == "workout_step":
                steps.append(fields)
    return workout, steps, file_type


def unrolled_fit(steps: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """The FIT steps as done: a repeat step sends the watch back to its step index until the
    repetitions are done. Returns (intensity, seconds) per step."""
    done: list[tuple[str, float]] = []
    index, counts = 0, {}
    while index < len(steps):
        step = steps[index]
        if step["duration_type"] == "repeat_until_steps_cmplt":
            counts[index] = counts.get(index, 1) + 1
            if counts[index] <= step["repeat_steps"]:
                index = step["duration_step"]
                continue
        else:
            done.append((step["intensity"], step["duration_time"]))
        index += 1
    return done


INTENSITIES = {"warmup": "warmup", "jog": "active", "walk": "recovery", "cooldown": "cooldown"}


@settings(max_examples=40, deadline=None)
@given(plan_weeks())
def test_the_fit_file_decodes_into_the_same_steps(plan: PlanWeek) -> None:
    """fitdecode reads a workout file of running with num_valid_steps steps whose run-through
    is the workout's steps with their durations."""
    workout = workout_for(plan)
    data = fit_workout(workout, f"syncd W{plan.number}", datetime(2026, 1, 5, tzinfo=UTC))
    message, steps, file_type = decoded_steps(data)
    assert file_type == "workout"
    assert message["sport"] == "running" and message["num_valid_steps"] == len(steps)
    assert message["wkt_name"] == f"syncd W{plan.number}"
    assert unrolled_fit(steps) == [(INTENSITIES[s.kind], float(s.seconds))
                                   for s in workout.flat()]


def test_a_repeat_step_names_the_first_step_of_its_group() -> None:
    """Week 2's file: warm-up, jog, walk, repeat from step 1 twice in all, jog, cool-down."""
    _, steps, _ = decoded_steps(fit_workout(workout_for(week(1.5, 13.5, 30)), "w2",
                                            datetime(2026, 1, 5, tzinfo=UTC)))
    assert [s["message_index"] for s in steps] == list(range(6))
    repeat = steps[3]
    assert (repeat["duration_type"], repeat["duration_step"], repeat["repeat_steps"]) == \
        ("repeat_until_steps_cmplt", 1, 2)


# -- the days ---------------------------------------------------------------------------------


@PROPERTIES
@given(st.dates(date(2020, 1, 1), date(2035, 12, 31)), st.integers(0, 9), st.integers(0, 6),
       st.one_of(st.none(), st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7,
                                     unique=True)))
def test_sessions_fall_inside_their_week_once_each(first: date, sessions: int, rest: int,
                                                   run_days: list[str] | None) -> None:
    """As many distinct days as sessions (at most 7), all in the week, run days first."""
    days = session_days(first, sessions, rest, run_days)
    assert len(days) == len(set(days)) == min(sessions, 7)
    assert all(first <= day <= first + timedelta(days=6) for day in days)
    if run_days:
        named = [d for d in days if WEEKDAYS[d.weekday()] in run_days]
        assert len(named) == min(sessions, len(run_days))


def test_the_rest_day_rule_spreads_the_week() -> None:
    """Three sessions, a rest day between: days 1, 3 and 5; daily walking: every day."""
    monday = date(2026, 9, 7)
    assert session_days(monday, 3, 1) == [monday, monday + timedelta(2), monday + timedelta(4)]
    assert session_days(monday, 7, 1) == [monday + timedelta(i) for i in range(7)]
    assert session_days(monday, 3, 1, ["tue", "sat", "thu"]) == \
        [monday + timedelta(1), monday + timedelta(3), monday + timedelta(5)]


def test_a_workout_is_hashable_and_compares_by_its_steps() -> None:
    """Workouts are values: the same prescription gives an equal workout."""
    assert workout_for(week(4, 13, 120)) == workout_for(week(4, 13, 120))
    assert len({workout_for(week(4, 13, 120)), Workout(5, ())}) == 2
