"""The scenario format reads what it says and refuses what it cannot mean, so that a typo in
a scenario fails loudly instead of testing nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from .support.spec import Bout, ScenarioError, load_scenario, parse_bouts

TODAY = date(2026, 11, 21)
HEAD = """title = "t"
[athlete]
timezone = "Europe/Berlin"
plan_start = -30
"""


def write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "scenario.toml").write_text(HEAD + body, encoding="utf-8")
    return tmp_path


def test_bouts_read_minutes_and_seconds() -> None:
    assert parse_bouts("w5m r1m w4m30s r90 r30s") == (
        Bout("walk", 300), Bout("run", 60), Bout("walk", 270), Bout("run", 90),
        Bout("run", 30))


@pytest.mark.parametrize("text", ["", "x5m", "r", "w5h", "r-1m"])
def test_bouts_that_mean_nothing_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"bout|no bouts"):
        parse_bouts(text)


def test_days_count_back_from_today_and_passes_follow_the_entries(tmp_path: Path) -> None:
    folder = write(tmp_path, """
[[activity]]
name = "a"
source = "strava"
day = -3
time = "21:00"
zone = "America/New_York"
bouts = "w7m r2m w8m"
[[activity]]
name = "b"
source = "garmin"
day = 2026-03-29
minutes = 20
appears = 2
[[change]]
pass = 3
activity = "a"
delete = true
""")
    scenario = load_scenario(folder, TODAY)
    first, second = scenario.activities
    assert scenario.plan_start == date(2026, 10, 22)
    assert first.local_start.isoformat() == "2026-11-18T21:00:00"
    assert first.start_utc.isoformat() == "2026-11-19T02:00:00+00:00"
    assert first.elapsed_s == 1020 and first.metres == 7 * 75 + 300 + 8 * 75
    assert second.day == date(2026, 3, 29) and second.bouts == (Bout("run", 1200),)
    assert scenario.passes == 3
    assert scenario.version("a", 2) == first
    assert scenario.version("a", 3).deleted  # type: ignore[union-attr]
    assert scenario.version("b", 1) is None


@pytest.mark.parametrize(("body", "named"), [
    ('[[activity]]\nname = "a"\nsource = "strava"\nday = -3\nminutes = 5\nminute = 6\n',
     "unknown keys ['minute']"),
    ('[[activity]]\nname = "a"\nsource = "polar"\nday = -3\nminutes = 5\n', "source = 'polar'"),
    ('[[activity]]\nname = "a"\nsource = "strava"\nday = 0\nminutes = 5\n', "before today"),
    ('[[expect.alert]]\nrule = "rest_day"\nseverity = "warning"\nsubject = {activity = "zz"}\n'
     'observed = 0\nlimit = 1\n', "no 'zz'"),
    ('[[activity]]\nname = "f"\nsource = "file"\nday = -3\nminutes = 5\n'
     '[[change]]\npass = 2\nactivity = "f"\ndelete = true\n', "inbox"),
    # Only the rules a sparse history raises may be declared not concerned, and not expected.
    ('[expect]\nnot_concerned = ["rest_day"]\n', "cannot be declared"),
    ('[expect]\nnot_concerned = ["no_data"]\n[[expect.alert]]\nrule = "no_data"\n'
     'severity = "warning"\nsubject = {silence = -5}\nobserved = 5\nlimit = 4\n',
     "also expected"),
])
def test_a_scenario_that_cannot_mean_anything_names_the_problem(
        tmp_path: Path, body: str, named: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, body), TODAY)
    assert str(tmp_path / "scenario.toml") in str(caught.value)
    assert named in str(caught.value)
