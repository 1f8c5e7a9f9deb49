"""Hypothesis: whatever happens between Garmin passes (days go by, the plan start moves, pushing
is turned off and on, run days change), after each pass the Garmin calendar holds exactly one
entry per planned session of the window, the runner's own entries are as they were, and a
second pass writes nothing."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.garmin.tokens import save_profile
from syncd.sources.garmin.push import wanted_sessions
from tests.garmin.fake_garmin import PROFILE, FakeGarmin
from tests.garmin.workout_support import garmin_pass, local, open_athlete
from tests.support.clock import Clock

START = date(2026, 9, 7)
steps = st.lists(st.tuples(
    st.integers(0, 9),                        # days that go by
    st.integers(-9, 9),                       # the plan start moves by this many days
    st.booleans(),                            # pushing on
    st.sampled_from([None, ["tue", "thu", "sat"], ["mon", "fri"]]),  # run days
), min_size=1, max_size=4)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=steps)
def test_every_pass_leaves_one_entry_per_planned_session(steps):
    with tempfile.TemporaryDirectory() as folder, FakeGarmin().running() as fake:
        tokens = Path(folder) / "tokens"
        fake.write_token_store(tokens)
        save_profile(tokens, PROFILE["profileId"], PROFILE["displayName"])
        service = fake.workout_service
        own = service.add_workout({"workoutName": "Hill repeats"})
        service.add_schedule(own, date(2026, 9, 16))
        mine_before = [e for e in service.entries() if e[1] == "Hill repeats"]
        clock = Clock(local(date(2026, 9, 14), 6))
        start = START
        for days, move, on, run_days in steps:
            clock.advance(days=days)
            start += timedelta(days=move)
            app = open_athlete(Path(folder), fake, tokens, clock, plan_start=start,
                               push_workouts=on, athlete={"run_days": run_days})
            try:
                assert garmin_pass(app, clock).ok
                today = app.today()
                wanted = wanted_sessions(app, today, 14) if on else []
                ours = [e for e in service.entries()
                        if e[1] != "Hill repeats" and e[0] >= today]
                assert ours == sorted((w.day, w.name) for w in wanted)
                assert [e for e in service.entries() if e[1] == "Hill repeats"] == mine_before
                written = len(service.writes)
                assert garmin_pass(app, clock).ok and len(service.writes) == written
            finally:
                app.close()
