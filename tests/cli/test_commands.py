"""The ``syncd`` command as a user runs it: exit codes, one-line errors, what is printed and
what is (or is not) stored."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from syncd.cli.main import main
from tests.support.config import write_config as build_config

ROOT = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(body, encoding="utf-8")
    return path




def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_config_lists_every_problem_and_writes_nothing(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, """
[athlete]
timezone = "Europe/Berln"
plan_start = "next monday"
[strava]
poll_interval = "15x"
client_secret = "s3cr3t-value"
[sever]
listen = "127.0.0.1:1"
""")
    code, out, err = run(capsys, "--config", str(config), "check-config")
    assert code == 2
    assert "athlete.timezone" in err and "Europe/Berln" in err
    assert "athlete.plan_start" in err
    assert 'strava.poll_interval: "15x" is not a duration' in err
    assert "sever: unknown key; did you mean 'server'?" in err
    assert "s3cr3t-value" not in err + out
    assert "Traceback" not in err
    assert not state.exists(), "nothing may be written before the configuration is valid"


def test_broken_plan_stops_every_command_with_all_problems(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "p"\n[[weeks]]\nsessions = 0\nrun_min = 2\n'
                    '[[weeks]]\nsessions = 3\nrun_min = -1\nwalk_mins = 3\n', encoding="utf-8")
    config = write_config(tmp_path, '[athlete]\nplan = "plan.toml"\n')
    code, _, err = run(capsys, "--config", str(config), "status")
    assert code == 2
    assert "week 1" in err and "at least one session" in err
    assert "run_min" in err and "walk_mins: unknown key" in err
    assert not state.exists()


def test_check_config_reports_the_configurations_and_the_plans_problems_together(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "p"\n[[weeks]]\nsessions = 0\nrun_min = 2\n', encoding="utf-8")
    config = write_config(tmp_path, '[athlete]\nplan = "plan.toml"\ntimezone = "Europe/Berln"\n'
                                    '[strava]\npoll_interval = "15x"\n')
    code, out, err = run(capsys, "--config", str(config), "check-config")
    assert code == 2
    assert "3 problems" in err
    assert "athlete.timezone" in err and 'strava.poll_interval: "15x"' in err
    assert f"athlete.plan {plan}: weeks[0] (week 1)" in err and "at least one session" in err
    assert out == "" and not state.exists()


def test_a_plan_shared_by_athletes_is_reported_once(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.toml"
    plan.write_text('name = "p"\n[[weeks]]\nsessions = 3\nrun_min = -1\n', encoding="utf-8")
    config = write_config(tmp_path, '[[athletes]]\nname = "ana"\nplan = "plan.toml"\n'
                                    '[[athletes]]\nname = "ben"\nplan = "plan.toml"\n')
    code, _, err = run(capsys, "--config", str(config), "check-config")
    assert code == 2
    assert err.count("run_min") == 1 and "athletes[1].plan" in err


def test_plan_json_has_dates_from_the_start(tmp_path: Path, state: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = build_config(tmp_path, database=None, athlete={"plan_start": date(2026, 11, 2)})
    code, out, _ = run(capsys, "--config", str(config), "plan", "--json")
    assert code == 0
    weeks = json.loads(out)["weeks"]
    assert weeks[0] == {"week": 1, "sessions": 7, "run_min": 0, "walk_min": 15,
                        "session_min": 15, "run_interval_s": None,
                        "start": "2026-11-02", "end": "2026-11-08"}
    assert weeks[3]["start"] == "2026-11-23" and weeks[3]["run_min"] == 2


# These commands run on the real clock: what did not happen (a plan week ended with sessions
# missing, days without data) is judged against today, so its numbers change every day.
# They are left out here only; tests/rules and the e2e shoes scenario check them exactly.
AGAINST_TODAY = frozenset({"missed_session", "no_data"})


def about_the_data(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts about the data the test typed in, not about today's date."""
    return [a for a in alerts if a["rule"] not in AGAINST_TODAY]


def test_pain_three_is_quiet_four_is_critical(tmp_path: Path, state: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    config = build_config(tmp_path, database=None, athlete={"plan_start": date(2026, 11, 2)})
    code, out, _ = run(capsys, "--config", str(config), "pain", "3", "--at",
                       "2026-11-20T08:00", "--note", "stiff")
    assert code == 0 and "pain 3/10 recorded at 2026-11-20 08:00" in out
    assert "CRITICAL" not in out
    code, out, _ = run(capsys, "--config", str(config), "pain", "4", "--at",
                       "2026-11-20T20:00")
    assert code == 0
    assert "CRITICAL pain_stop: Pain 4/10 reported on 2026-11-20" in out

    code, out, _ = run(capsys, "--config", str(config), "alerts", "--json")
    alerts = about_the_data(json.loads(out))
    assert [(a["rule"], a["severity"], a["observed"], a["limit"]) for a in alerts] == [
        ("pain_stop", "critical", 4.0, 4.0)]
    alert = alerts[0]
    assert alert["athlete"] == "ana" and alert["subject"]["kind"] == "pain"
    assert set(alert) >= {"id", "athlete", "rule", "severity", "subject", "observed", "limit",
                          "unit", "message", "advice", "activity_ids", "created_at"}
    # The same report again (a repeated import) does not raise a second alert.
    run(capsys, "--config", str(config), "pain", "4", "--at", "2026-11-20T20:00")
    code, out, _ = run(capsys, "--config", str(config), "alerts", "--json", "--all")
    assert len(about_the_data(json.loads(out))) == 1


def test_pain_rejects_out_of_range_and_bad_time(tmp_path: Path, state: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = build_config(tmp_path, database=None, athlete={"plan_start": date(2026, 11, 2)})
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "pain", "11"])
    assert exited.value.code == 2
    code, _, err = run(capsys, "--config", str(config), "pain", "2", "--at", "yesterday")
    assert code == 2 and "--at: 'yesterday' is not a time" in err


def test_status_json_shows_current_week_against_plan(
        tmp_path: Path, state: Path, capsys: pytest.CaptureFixture[str]) -> None:
    today = datetime.now(UTC).date()
    start = today - timedelta(days=today.weekday()) - timedelta(weeks=3)  # in week 4
    config = build_config(tmp_path, database=None, athlete={"plan_start": start})
    code, out, _ = run(capsys, "--config", str(config), "status", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["athlete"] == "ana"
    assert status["open_alerts"] == 0
    week = status["week"]
    # Berlin may already be on the next day; either way it is plan week 4 or 5.
    assert week["plan_week"] in (4, 5)
    assert week["prescribed"]["sessions"] == 3
    assert week["actual"] == {"sessions": 0, "run_min": 0, "longest_session_min": 0,
                              "activity_ids": []}


def test_import_reports_duplicates_and_failures(tmp_path: Path, state: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = build_config(tmp_path, database=None)
    broken = tmp_path / "broken.gpx"
    broken.write_text("", encoding="utf-8")
    history = ROOT / "examples" / "history"
    code, out, _ = run(capsys, "--config", str(config), "import", str(history), str(broken))
    assert code == 1
    assert out.startswith("imported 28, skipped as duplicate 0, failed 1;")
    assert "broken.gpx" in out
    code, out, _ = run(capsys, "--config", str(config), "import", str(history))
    assert code == 0
    assert out.startswith("imported 0, skipped as duplicate 28, failed 0;")
    code, out, _ = run(capsys, "--config", str(config), "alerts", "--json")
    rules = sorted(a["rule"] for a in about_the_data(json.loads(out)))
    assert rules == ["rest_day", "session_length", "sessions_per_week", "weekly_increase"]


def test_unknown_source_is_a_config_error(tmp_path: Path, state: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = build_config(tmp_path, database=None)
    code, _, err = run(capsys, "--config", str(config), "sync", "--source", "strava")
    assert code == 2
    assert "--source strava: not enabled" in err


def test_console_script_runs_from_a_subprocess(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "STATE_DIRECTORY": str(tmp_path / "s"), "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "syncd.cli", "--config",
                           str(tmp_path / "missing.toml"), "status"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2
    assert "missing.toml: the configuration file does not exist" in proc.stderr
    assert proc.stderr.count("\n") <= 3 and "Traceback" not in proc.stderr
