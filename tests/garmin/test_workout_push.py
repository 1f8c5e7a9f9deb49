"""The plan on the Garmin calendar ([garmin] push_workouts), against the fake workout service
and calendar: what one Garmin pass writes, what a moved plan start, an edited plan, a gated
repeat and a step-back change, what the runner's own workouts keep, and how it is undone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from syncd.app import App
from syncd.store.garmin_workouts import OwnWorkout, own_workouts, save_own_workout
from syncd.workouts import workout_from_garmin_json
from tests.garmin.fake_garmin import FakeGarmin
from tests.garmin.workout_support import garmin_pass, local, open_athlete, plan_text, run
from tests.support.clock import Clock

W1 = "syncd: W1 2:00 jog (1:00 bouts) / 15:00 walk"
W2 = "syncd: W2 4:00 jog (1:00 bouts) / 13:00 walk"
W3 = "syncd: W3 6:00 jog (1:00 bouts) / 11:00 walk"
MONDAY = date(2026, 9, 14)  # plan week 2 of the plan from Monday 2026-09-07
# Plan weeks 2 and 3 on their Mondays, Wednesdays and Fridays (a rest day between runs).
TWO_WEEKS = [(date(2026, 9, 14), W2), (date(2026, 9, 16), W2), (date(2026, 9, 18), W2),
             (date(2026, 9, 21), W3), (date(2026, 9, 23), W3), (date(2026, 9, 25), W3)]


@pytest.fixture
def clock_start() -> datetime:
    """Monday of plan week 2, 06:00 in Berlin."""
    return local(MONDAY, 6)


@pytest.fixture
def app(tmp_path: Path, fake: FakeGarmin, token_dir: Path, clock: Clock) -> Iterator[App]:
    application = open_athlete(tmp_path, fake, token_dir, clock)
    yield application
    application.close()


def reopen(app: App, tmp_path: Path, fake: FakeGarmin, token_dir: Path, clock: Clock,
           **changes: object) -> App:
    """The same athlete after an edit of the configuration (``open_athlete``'s keywords)."""
    app.close()
    return open_athlete(tmp_path, fake, token_dir, clock, **changes)  # type: ignore[arg-type]


def schedules(*entries: tuple[date, str]) -> list[tuple[str, ...]]:
    return [("schedule", name, day.isoformat()) for day, name in entries]


def unschedules(*entries: tuple[date, str]) -> list[tuple[str, ...]]:
    return [("unschedule", name, day.isoformat()) for day, name in entries]


def test_two_weeks_are_pushed_with_one_upload_per_workout(app, fake, clock):
    service = fake.workout_service
    result = garmin_pass(app, clock)
    assert result.ok and result.failures == []
    assert service.changes() == [("upload", W2), ("upload", W3), *schedules(*TWO_WEEKS)]
    assert service.entries() == TWO_WEEKS
    # Garmin's months count from 0: September and October are 8 and 9 on the wire.
    assert [c.path for c in fake.calls("/calendar-service/")] == [
        "/calendar-service/year/2026/month/8", "/calendar-service/year/2026/month/9"]
    # What the watch gets: warm-up, the jog/walk repeats with their iterations, cool-down.
    stored = {w["workoutName"]: w for w in service.workouts.values()}
    week2 = workout_from_garmin_json(stored[W2])
    assert (week2.run_s, week2.walk_s, week2.longest_jog_s) == (240, 780, 60)
    group = stored[W2]["workoutSegments"][0]["workoutSteps"][1]
    assert (group["type"], group["numberOfIterations"], len(group["workoutSteps"])) == (
        "RepeatGroupDTO", 3, 2)

    again = garmin_pass(app, clock)  # nothing changed: the calendar is read, nothing written
    assert again.ok and len(service.writes) == 8 and service.entries() == TWO_WEEKS


def test_a_moved_plan_start_moves_only_the_entries_that_changed(app, fake, token_dir, clock,
                                                                 tmp_path):
    """From Monday 7 to Wednesday 9 September: the weeks run Wednesday to Tuesday, so the
    sessions fall on 16, 18, 20 (week 2) and 23, 25, 27 (week 3)."""
    service = fake.workout_service
    garmin_pass(app, clock)
    app = reopen(app, tmp_path, fake, token_dir, clock, plan_start=date(2026, 9, 9))
    service.writes.clear()
    garmin_pass(app, clock)
    assert service.changes() == [
        *unschedules((date(2026, 9, 14), W2), (date(2026, 9, 21), W3)),
        *schedules((date(2026, 9, 20), W2), (date(2026, 9, 27), W3))]
    assert service.entries() == [(date(2026, 9, d), W2) for d in (16, 18, 20)] + [
        (date(2026, 9, d), W3) for d in (23, 25, 27)]
    app.close()


def test_an_edited_week_replaces_its_workout_and_only_its_entries(app, fake, token_dir, clock,
                                                                   tmp_path):
    service = fake.workout_service
    garmin_pass(app, clock)
    app = reopen(app, tmp_path, fake, token_dir, clock, plan=plan_text(runs=(2, 4, 5, 8, 10)))
    service.writes.clear()
    garmin_pass(app, clock)
    w3 = "syncd: W3 5:00 jog (1:00 bouts) / 12:00 walk"
    week3 = [(date(2026, 9, d), W3) for d in (21, 23, 25)]
    assert service.changes() == [("upload", w3), *unschedules(*week3),
                                 *schedules(*[(day, w3) for day, _ in week3]), ("delete", W3)]
    assert service.entries() == [*TWO_WEEKS[:3], *[(day, w3) for day, _ in week3]]
    assert service.names() == [W2, w3]
    app.close()


def test_a_workout_of_an_older_content_is_updated_in_place(app, fake, clock):
    """The same name with another content (a syncd upgrade that builds it differently): one
    update, the id and every calendar entry stay."""
    service = fake.workout_service
    garmin_pass(app, clock)
    with app.store.write() as tx:
        w2 = next(o for o in own_workouts(tx, app.athlete_id) if o.name == W2)
        save_own_workout(tx, app.athlete_id, OwnWorkout(W2, "an older digest", w2.workout_id))
    service.writes.clear()
    garmin_pass(app, clock)
    assert service.changes() == [("update", W2)]
    assert service.entries() == TWO_WEEKS


def test_a_workout_deleted_in_garmin_connect_is_made_again(app, fake, clock):
    """The runner deleted plan week 2's workout (and with it its entries): the next pass
    finds the entries missing, learns the workout is gone, uploads it once and schedules it."""
    service = fake.workout_service
    garmin_pass(app, clock)
    gone = next(i for i, w in service.workouts.items() if w["workoutName"] == W2)
    service.handle("DELETE", f"/workout-service/workout/{gone}", {}, b"")
    service.writes.clear()
    assert garmin_pass(app, clock).ok
    assert service.changes() == [("schedule", W2, "2026-09-14"), ("upload", W2),  # 404
                                 *schedules(*TWO_WEEKS[:3])]
    assert service.entries() == TWO_WEEKS and service.names() == [W3, W2]


def test_a_gated_step_back_and_repeat_move_the_coming_sessions(fake, token_dir, clock,
                                                               tmp_path):
    """Gated: week 1 ended clean, so week 2 is plan week 2 (week 3, not begun, shows it too).
    Pain 5 on Thursday of week 2 sends week 3 back to plan week 1; with no run in week 3,
    week 4 repeats it: only the new days are added. When the plan moves on again, plan week
    2's workout is scheduled again, not uploaded again."""
    service = fake.workout_service
    app = open_athlete(tmp_path, fake, token_dir, clock, plan=plan_text("gated"))
    app.ingest([run(date(2026, 9, d), f"r{d}") for d in (7, 9, 11)])
    garmin_pass(app, clock)
    assert service.entries() == [(date(2026, 9, d), W2) for d in (14, 16, 18, 21, 23, 25)]

    app.ingest([run(date(2026, 9, d), f"r{d}") for d in (14, 16)])
    app.record_pain(5, local(date(2026, 9, 17), 20))
    clock.now = local(date(2026, 9, 17), 21)
    service.writes.clear()
    garmin_pass(app, clock)
    week3 = [(date(2026, 9, d), W2) for d in (21, 23, 25)]
    back = [(day, W1) for day, _ in week3] + [(date(2026, 9, d), W1) for d in (28, 30)]
    assert service.changes() == [("upload", W1), *unschedules(*week3), *schedules(*back)]

    clock.now = local(date(2026, 9, 28), 6)
    service.writes.clear()
    garmin_pass(app, clock)
    added = [(date(2026, 10, d), W1) for d in (2, 5, 7, 9)]
    assert service.changes() == schedules(*added)
    assert service.entries() == [(date(2026, 9, d), W2) for d in (14, 16, 18)] + back + added

    # Week 4 ends clean: week 5 is plan week 2 again, whose workout is still in the library.
    app.record_pain(0, local(date(2026, 9, 27), 20))
    app.ingest([run(date(2026, 9, 28), "r28"), run(date(2026, 9, 30), "r30"),
                run(date(2026, 10, 2), "r32")])
    clock.now = local(date(2026, 10, 5), 6)
    service.writes.clear()
    garmin_pass(app, clock)
    week5 = [(date(2026, 10, d), W1) for d in (5, 7, 9)]
    ahead = [(date(2026, 10, d), W2) for d in (5, 7, 9, 12, 14, 16)]
    assert service.changes() == [*unschedules(*week5), *schedules(*ahead)]
    assert service.names() == [W2, W1]
    app.close()


def test_the_runners_own_workouts_and_entries_are_left_alone_and_push_can_be_undone(
        app, fake, token_dir, clock, tmp_path):
    service = fake.workout_service
    tempo = service.add_workout({"workoutName": "Tempo 20", "sportType": {"sportTypeId": 1}})
    service.add_schedule(tempo, date(2026, 9, 15))
    service.add_schedule(tempo, date(2026, 9, 21))  # a day syncd also uses
    garmin_pass(app, clock)
    app = reopen(app, tmp_path, fake, token_dir, clock, plan_start=date(2026, 9, 9))
    garmin_pass(app, clock)
    app = reopen(app, tmp_path, fake, token_dir, clock, push_workouts=False)
    service.writes.clear()
    garmin_pass(app, clock)
    ours = [(date(2026, 9, d), W2) for d in (16, 18, 20)] + [
        (date(2026, 9, d), W3) for d in (23, 25, 27)]
    assert service.changes() == [*unschedules(*ours), ("delete", W2), ("delete", W3)]
    assert service.entries() == [(date(2026, 9, 15), "Tempo 20"), (date(2026, 9, 21), "Tempo 20")]
    assert service.names() == ["Tempo 20"]
    assert not any("Tempo" in part for write in service.writes for part in write.what)

    fake.requests.clear()
    garmin_pass(app, clock)  # undone: not one more call to the workout service or calendar
    assert fake.calls("/workout-service/") == fake.calls("/calendar-service/") == []
    app.close()


@pytest.mark.parametrize(("moment", "expected"), [
    # 00:30 on Monday in Berlin is still Sunday in UTC: the local day counts.
    (local(date(2026, 9, 14), 0, 30), [(date(2026, 9, 14), W2)]),
    # The night the clocks go back (Sunday 25 October): Monday 00:30 local.
    (local(date(2026, 10, 26), 0, 30), [(date(2026, 10, 26), W2)]),
    (local(date(2026, 10, 25), 23, 30), []),
])
def test_the_window_starts_on_the_local_day(fake, token_dir, clock, tmp_path, moment, expected):
    """One day ahead (``workout_days = 1``) on a plan whose week 2 begins on the Monday."""
    start = date(2026, 9, 7) if moment.month == 9 else date(2026, 10, 19)
    clock.now = moment
    app = open_athlete(tmp_path, fake, token_dir, clock, plan_start=start, workout_days=1)
    garmin_pass(app, clock)
    assert fake.workout_service.entries() == expected
    app.close()


def test_run_days_put_the_sessions_on_the_named_days(fake, token_dir, clock, tmp_path):
    app = open_athlete(tmp_path, fake, token_dir, clock, workout_days=7,
                       athlete={"run_days": ["tue", "thu", "sat"]})
    garmin_pass(app, clock)
    assert fake.workout_service.entries() == [(date(2026, 9, d), W2) for d in (15, 17, 19)]
    app.close()
