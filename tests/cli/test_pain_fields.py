"""``syncd pain SCORE --when W --symptom S...``: what is printed, stored and raised, and the
values refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from syncd.cli.main import main
from tests.support.config import write_config


@pytest.fixture
def config(tmp_path: Path, state: Path) -> Path:
    """An athlete without a plan (only the pain rules speak)."""
    return write_config(tmp_path, database=None, athlete={"plan": None, "plan_start": None})


def syncd(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    code = main(["--config", str(config), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def alerts(capsys: pytest.CaptureFixture[str], config: Path) -> list[dict[str, Any]]:
    code, out, _ = syncd(capsys, config, "alerts", "--json", "--all")
    assert code == 0
    return sorted(json.loads(out), key=lambda a: (a["rule"], a["message"]))


def test_a_rising_next_morning_score_warns(config: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = syncd(capsys, config, "pain", "3", "--at", "2026-11-19T08:00",
                         "--when", "next_morning")
    assert (code, out) == (0, "pain 3/10 (the next morning) recorded at 2026-11-19 08:00\n")
    code, out, _ = syncd(capsys, config, "pain", "2", "--at", "2026-11-19T19:00",
                         "--when", "after", "--note", "after the hill")
    assert (code, out) == (0, "pain 2/10 (right after the run) recorded at 2026-11-19 19:00\n")
    code, out, _ = syncd(capsys, config, "pain", "4", "--at", "2026-11-20T08:00",
                         "--when", "next_morning")
    assert code == 0
    assert out.splitlines()[0] == "pain 4/10 (the next morning) recorded at 2026-11-20 08:00"
    assert ("  WARNING morning_pain_rising: Next-morning pain rose from 3/10 on 2026-11-19 to "
            "4/10 on 2026-11-20.") in out.splitlines()
    assert [(a["rule"], a["severity"], a["observed"], a["limit"], a["unit"])
            for a in alerts(capsys, config)] == [
        ("morning_pain_rising", "warning", 4.0, 3.0, "pain"),
        ("pain_stop", "critical", 4.0, 4.0, "pain")]


def test_a_symptom_raises_red_flag_even_at_score_zero(config: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = syncd(capsys, config, "pain", "0", "--at", "2026-11-20T21:00",
                         "--symptom", "numbness", "--symptom", "swelling")
    assert code == 0
    assert out.splitlines() == [
        "pain 0/10 (swelling, numbness) recorded at 2026-11-20 21:00",
        "  CRITICAL red_flag: Red flag on 2026-11-20: swelling and numbness reported with "
        "pain 0/10.",
        "    Swelling: get an urgent medical evaluation. Numbness: get an urgent medical "
        "evaluation. Do not run until you have been seen."]
    (flag,) = alerts(capsys, config)
    assert (flag["rule"], flag["severity"], flag["observed"], flag["limit"], flag["unit"]) == (
        "red_flag", "critical", 2.0, 0.0, "symptoms")
    assert flag["subject"]["kind"] == "pain"


def test_the_same_report_again_changes_nothing_other_symptoms_are_a_new_report(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = ("pain", "1", "--at", "2026-11-20T21:00", "--symptom", "locking")
    syncd(capsys, config, *report)
    code, out, _ = syncd(capsys, config, *report)
    assert code == 0 and "red_flag" not in out
    assert len(alerts(capsys, config)) == 1
    code, out, _ = syncd(capsys, config, *report, "--symptom", "night_pain")
    assert "CRITICAL red_flag" in out and "locking (or clicking) and pain at night" in out
    assert len(alerts(capsys, config)) == 2


@pytest.mark.parametrize(("option", "value", "choices"), [
    ("--when", "yesterday", "'during', 'after', 'next_morning', 'other'"),
    ("--symptom", "headache", "'swelling', 'numbness', 'trouble_walking', 'locking', "
                              "'night_pain'"),
])
def test_an_unknown_value_is_refused_naming_the_option_and_the_choices(
        config: Path, capsys: pytest.CaptureFixture[str], option: str, value: str,
        choices: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "pain", "2", option, value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: invalid choice: '{value}' (choose from {choices})" in err
    assert alerts(capsys, config) == []
