"""The workout push when Garmin refuses or throttles (one notice, the Garmin back-off, no
loop, nothing doubled afterwards), the fake's corruption of a repeat group, and the
reconciler's arithmetic as a property: whatever the calendar holds, the changes leave one
entry per wanted session and never touch an entry of a workout syncd did not make."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from connectors.garmin.workout_calendar import CalendarEntry
from syncd.app import App
from syncd.errors import AuthError, RateLimited
from syncd.sources.garmin.reconcile import Wanted, calendar_changes
from syncd.store.tables import AlertEventRow
from tests.garmin.fake_garmin import FakeGarmin
from tests.garmin.workout_support import garmin_pass, local, open_athlete

MONDAY = date(2026, 9, 14)
W2 = "syncd: W2 4:00 jog (1:00 bouts) / 13:00 walk"


@pytest.fixture
def clock_start() -> datetime:
    return local(MONDAY, 6)


@pytest.fixture
def app(tmp_path: Path, fake: FakeGarmin, token_dir: Path, clock) -> Iterator[App]:
    application = open_athlete(tmp_path, fake, token_dir, clock)
    yield application
    application.close()


def notices(app: App) -> list[str]:
    with app.store.read() as tx:
        rows = tx.scalars(select(AlertEventRow).where(AlertEventRow.type == "operator.notice"))
        return [row.payload["data"]["message"] for row in rows]


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (401, AuthError)])
def test_a_refusal_stops_the_push_with_one_notice_and_no_loop(app, fake, clock, status, error):
    """Uploads refused for a whole day: the pass fails, Garmin backs off for 6 hours, one
    notice; once Garmin answers again the interrupted upload is looked for, then made once."""
    service = fake.workout_service
    fake.fail("/workout-service/workout", status)
    first = garmin_pass(app, clock)
    assert isinstance(first.error, error)
    tries = []
    for _ in range(47):  # the scheduler's 30-minute polls for the rest of the day
        clock.advance(minutes=30)
        garmin_pass(app, clock)
        tries.append(len(fake.calls("/workout-service/")))
    # One try every 6 hours at most (a 401 is retried once after a token refresh).
    assert tries[-1] <= 5 * (2 if status == 401 else 1)
    assert len(notices(app)) == 1
    assert "Garmin login needs attention" in notices(app)[0]

    fake.faults.clear()
    clock.advance(hours=7)
    assert garmin_pass(app, clock).ok
    today = clock.now.date()
    entries = service.entries()
    assert entries and all(day >= today for day, _ in entries)
    assert len(set(entries)) == len(entries) and len(set(service.names())) == len(
        service.names())


def test_an_upload_whose_answer_was_lost_is_found_not_made_again(app, fake, clock):
    """Garmin stored the first upload but its answer never arrived (what a kill between the
    upload and its record leaves): the next pass finds the workout by name, brings it up to
    date, and schedules it; the library holds each workout once."""
    service = fake.workout_service
    service.lost_replies = 1
    first = garmin_pass(app, clock)
    assert first.ok and first.failures  # counted among the pass's failures, no back-off
    assert service.names() == [W2] and service.entries() == []
    service.writes.clear()
    assert garmin_pass(app, clock).ok
    w3 = "syncd: W3 6:00 jog (1:00 bouts) / 11:00 walk"
    assert [w[0] for w in service.changes()] == ["update", "upload", *["schedule"] * 6]
    assert service.names() == [W2, w3] and len(service.entries()) == 6


def test_the_fake_empties_a_repeat_group_without_iterations_but_keeps_syncds(app, fake, clock):
    garmin_pass(app, clock)
    service = fake.workout_service
    group = {"type": "RepeatGroupDTO", "stepOrder": 1, "numberOfIterations": 3,
             "endCondition": {"conditionTypeId": 2, "conditionTypeKey": "time"},
             "workoutSteps": [{"type": "ExecutableStepDTO", "stepOrder": 2}]}
    hand = service.add_workout({"workoutName": "Bad repeats",
                                "workoutSegments": [{"workoutSteps": [group]}]})
    assert service.workouts[hand]["workoutSegments"][0]["workoutSteps"][0]["workoutSteps"] == []
    ours = next(w for w in service.workouts.values() if w["workoutName"] == W2)
    kept = ours["workoutSegments"][0]["workoutSteps"][1]
    assert kept["endCondition"]["conditionTypeId"] == 7 and len(kept["workoutSteps"]) == 2


def test_the_month_is_zero_based_on_the_wire(fake, token_dir):
    """Month 12 does not exist on Garmin's calendar: December is 11."""
    fake.workout_service.add_schedule(fake.workout_service.add_workout(
        {"workoutName": "Xmas run"}), date(2026, 12, 24))
    december = fake.workout_service.handle("GET", "/calendar-service/year/2026/month/11", {},
                                           b"")
    assert december is not None and b"Xmas run" in december[2]
    refused = fake.workout_service.handle("GET", "/calendar-service/year/2026/month/12", {},
                                          b"")
    assert refused is not None and refused[0] == 400


FIRST = date(2026, 9, 14)
days = st.integers(-3, 30).map(lambda n: FIRST + timedelta(days=n))
own_or_not = st.sampled_from([1, 2, 3, 9])  # 9: a workout the runner made


@given(wanted=st.lists(st.tuples(days, st.sampled_from(["a", "b"])), max_size=10,
                       unique_by=lambda w: w[0]),
       present=st.lists(st.tuples(own_or_not, days), max_size=15))
def test_the_changes_leave_one_entry_per_wanted_session(wanted, present):
    end = FIRST + timedelta(days=28)
    sessions = [Wanted(day, name, {"workoutName": name}) for day, name in wanted
                if FIRST <= day < end]
    ids = {"a": 1, "b": 2}
    entries = [CalendarEntry(100 + i, workout, day, "") for i, (workout, day) in
               enumerate(present)]
    changes = calendar_changes(sessions, ids, entries, [1, 2, 3], FIRST, end)
    removed = {e.schedule_id for e in changes.unschedule}
    assert all(e.workout_id != 9 and FIRST <= e.day < end for e in changes.unschedule)
    after = Counter((e.workout_id, e.day) for e in entries if e.schedule_id not in removed)
    after.update(changes.schedule)
    in_window = Counter({k: n for k, n in after.items() if k[0] != 9 and FIRST <= k[1] < end})
    assert in_window == Counter((ids[s.name], s.day) for s in sessions)
    # Nothing is removed only to be put back: an entry kept wherever one is wanted.
    assert not set(changes.schedule) & {(e.workout_id, e.day) for e in changes.unschedule}
