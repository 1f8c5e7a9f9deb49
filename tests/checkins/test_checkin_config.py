"""``[checkin] enabled`` and ``time``: defaults, and a bad value named with its key."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.errors import ConfigError
from tests.support.config import write_config


def test_the_defaults_are_on_for_own_mail_at_eight(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path), env={})
    assert settings.checkin.enabled is None and settings.checkin.time == time(8, 0)


@pytest.mark.parametrize(("written", "expected"), [
    ('time = "06:45"', time(6, 45)), ("time = 07:15:00", time(7, 15)),
    ('time = "7:05"', time(7, 5)),
])
def test_a_time_of_day_is_read(tmp_path: Path, written: str, expected: time) -> None:
    settings = load_settings(write_config(tmp_path, extra=f"[checkin]\n{written}\n"), env={})
    assert settings.checkin.time == expected


@pytest.mark.parametrize("written", ['"8am"', '"24:00"', '"07:60"', "800", '"07:5"', '""'])
def test_a_bad_time_is_named_with_its_key_and_the_form_it_takes(tmp_path: Path,
                                                              written: str) -> None:
    config = write_config(tmp_path, extra=f"[checkin]\ntime = {written}\nenabled = \"maybe\"\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(config, env={})
    problems = "\n".join(raised.value.problems)
    assert 'checkin.time: ' in problems and '"HH:MM"' in problems and '"08:00"' in problems
    assert "checkin.enabled" in problems  # every problem at once


def test_an_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(write_config(tmp_path, extra="[checkin]\nhour = 8\n"), env={})
    assert any("checkin.hour: unknown key" in p for p in raised.value.problems)
