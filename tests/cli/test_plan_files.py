"""``syncd plan --fit DIR [--week N]`` and ``syncd plan --calendar-url [--revoke]``: files a
watch imports (read back with fitdecode), and a feed address that works until replaced or
revoked (checked against the web application)."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from syncd.cli.main import main
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.plan import load_plan
from syncd.web import create_app
from syncd.workouts import workout_for
from tests.support.config import write_config
from tests.test_workouts import INTENSITIES, SHIPPED, decoded_steps, unrolled_fit

PUBLIC = "https://syncd.example.org"
TOKEN = "s3cret-token-for-tests"


def run(config: Path, *args: str) -> tuple[int, str, str]:
    """``syncd --config CONFIG ARGS``: exit code, standard output, standard error."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["--config", str(config), *args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def config(tmp_path: Path, state: Path) -> Path:
    """The default athlete on the hip plan, behind a token and a public address."""
    return write_config(tmp_path, server={"token": TOKEN, "public_url": PUBLIC})


# -- FIT files --------------------------------------------------------------------------------


def test_every_plan_week_becomes_a_fit_file_fitdecode_reads_back(config: Path,
                                                                  tmp_path: Path) -> None:
    """Fourteen files, one per week; each decodes into the week's steps and durations."""
    folder = tmp_path / "watch" / "workouts"
    code, out, _ = run(config, "plan", "--fit", str(folder))
    assert code == 0
    files = sorted(folder.glob("*.fit"))
    assert [f.name for f in files] == [f"syncd-week-{n:02d}.fit" for n in range(1, 15)]
    assert "week  5: " in out and "4:00 jog (2:00 bouts) / 13:00 walk" in out
    for week, path in zip(load_plan(SHIPPED).weeks, files, strict=True):
        message, steps, file_type = decoded_steps(path.read_bytes())
        assert (file_type, message["sport"]) == ("workout", "running")
        assert message["num_valid_steps"] == len(steps)
        assert unrolled_fit(steps) == [(INTENSITIES[s.kind], float(s.seconds))
                                       for s in workout_for(week).flat()]
    assert not list(folder.glob("*.part"))


def test_one_week_and_its_repeat_step(config: Path, tmp_path: Path) -> None:
    """``--week 2``: one file, whose repeat step sends the watch back to the first jog."""
    code, _, _ = run(config, "plan", "--fit", str(tmp_path / "out"), "--week", "2")
    assert code == 0
    [path] = (tmp_path / "out").glob("*.fit")
    message, steps, _ = decoded_steps(path.read_bytes())
    assert message["wkt_name"] == "syncd W2 1:30 jog/13:30 walk"
    assert [(s["duration_type"], s.get("duration_time")) for s in steps] == [
        ("time", 300.0), ("time", 30.0), ("time", 105.0), ("repeat_until_steps_cmplt", None),
        ("time", 30.0), ("time", 300.0)]
    assert (steps[3]["duration_step"], steps[3]["repeat_steps"]) == (1, 2)


@pytest.mark.parametrize(("args", "named"), [
    (["--fit", "{tmp}/x", "--week", "15"], "--week 15: the plan has weeks 1 to 14"),
    (["--week", "3"], "--week: goes with --fit DIR"),
    (["--revoke"], "--revoke: goes with --calendar-url"),
])
def test_wrong_options_say_what_to_do(config: Path, tmp_path: Path, args: list[str],
                                      named: str) -> None:
    """Exit 2 with one message naming the option; nothing written."""
    code, out, err = run(config, "plan", *[a.format(tmp=tmp_path) for a in args])
    assert code == 2 and named in err and out == ""
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").iterdir())


def test_a_folder_that_cannot_be_made_is_one_line(config: Path, tmp_path: Path) -> None:
    """A file where the folder should go: exit 1, the path named."""
    (tmp_path / "blocked").write_text("", encoding="utf-8")
    code, _, err = run(config, "plan", "--fit", str(tmp_path / "blocked" / "x"))
    assert code == 1 and "cannot create" in err and "blocked" in err


# -- the calendar address ---------------------------------------------------------------------


def status_of(config: Path, url: str) -> int:
    """What the web application answers for the feed address ``url``, on the public host."""
    app = open_app(load_settings(config))
    try:
        with TestClient(create_app(app), base_url=PUBLIC) as http:
            return http.get(url.removeprefix(PUBLIC)).status_code
    finally:
        app.close()


def test_the_calendar_url_works_until_replaced_or_revoked(config: Path) -> None:
    """Each call prints a new address on the public URL that replaces the last; --revoke ends
    it. The key goes to standard output only."""
    code, first, err = run(config, "plan", "--calendar-url")
    first = first.strip()
    assert code == 0 and first.startswith(f"{PUBLIC}/calendar/") and first.endswith(".ics")
    key = first.removeprefix(f"{PUBLIC}/calendar/").removesuffix(".ics")
    assert len(key) == 43 and key not in err
    assert status_of(config, first) == 200
    _, second, _ = run(config, "plan", "--calendar-url")
    assert second.strip() != first
    assert (status_of(config, first), status_of(config, second.strip())) == (404, 200)
    assert run(config, "plan", "--calendar-url", "--revoke")[1] == "calendar feed ended\n"
    assert status_of(config, second.strip()) == 404
    assert run(config, "plan", "--calendar-url", "--revoke")[1] == "no calendar feed to end\n"


def test_without_a_public_url_the_address_is_the_dashboards(tmp_path: Path,
                                                             state: Path) -> None:
    """The dashboard's listen address stands in for a missing public_url."""
    path = write_config(tmp_path, server={"listen": "127.0.0.1:9123"})
    code, out, _ = run(path, "plan", "--calendar-url")
    assert code == 0 and out.startswith("http://127.0.0.1:9123/calendar/")
