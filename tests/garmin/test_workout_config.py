"""``[garmin] push_workouts`` and ``workout_days``, ``[athlete] run_days``: defaults, and every
bad value reported at once with its key and what to write instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.errors import ConfigError
from tests.support.config import write_config


def test_the_defaults_push_nothing_and_spread_the_runs(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path, garmin={}), env={})
    assert settings.garmin is not None
    assert (settings.garmin.push_workouts, settings.garmin.workout_days) == (False, 14)
    assert settings.roster()[0].run_days is None


def test_run_days_and_the_window_are_read(tmp_path: Path) -> None:
    config = write_config(tmp_path, athlete={"run_days": ["tue", "sat"]},
                          garmin={"push_workouts": True, "workout_days": 7})
    settings = load_settings(config, env={})
    assert settings.roster()[0].run_days == ["tue", "sat"]
    assert settings.garmin is not None and settings.garmin.workout_days == 7


@pytest.mark.parametrize(("athlete", "garmin", "expected"), [
    ({"run_days": ["mon", "monday"]}, {"workout_days": 60},
     ["athlete.run_days[2]: \"monday\": input should be 'mon', 'tue', 'wed', 'thu', 'fri', "
      "'sat' or 'sun'", "garmin.workout_days: 60: input should be less than or equal to 28"]),
    ({"run_days": ["mon", "mon"]}, {"workout_days": 0},
     ["athlete.run_days: names a day twice; name each run day once",
      "garmin.workout_days: 0: input should be greater than or equal to 1"]),
    ({"run_days": []}, {},
     ["athlete.run_days: is empty; name at least one day, e.g. [\"mon\", \"wed\", \"fri\"], "
      "or leave it out to spread the runs by the plan"]),
])
def test_bad_values_are_named_together(tmp_path: Path, athlete: dict[str, object],
                                       garmin: dict[str, object], expected: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(tmp_path, athlete=athlete, garmin=garmin), env={})
    assert caught.value.problems == expected
