"""The shipped unit passes ``systemd-analyze verify`` with no warning and scores an exposure of
at most 2.0 in ``systemd-analyze security`` (skipped where systemd's tools are absent)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "syncd.service"
INSTALLED = "/opt/syncd/bin/syncd"

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is absent (.ci/run installs it)")


@pytest.fixture
def unit(tmp_path: Path) -> Path:
    """The unit, its ExecStart pointed at this environment's ``syncd`` (verify checks that the
    program exists; the shipped path is the README's /opt/syncd venv)."""
    here = Path(sys.prefix) / "bin" / "syncd"
    assert here.exists(), "the syncd console script is not installed in this environment"
    text = UNIT.read_text()
    assert INSTALLED in text
    copy = tmp_path / "syncd.service"
    copy.write_text(text.replace(INSTALLED, str(here)))
    return copy


def test_verify_reports_nothing(unit: Path) -> None:
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


def test_security_exposure_is_at_most_two(unit: Path) -> None:
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                             str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    score = re.search(r"Overall exposure level for syncd\.service: (\d+\.\d+)", result.stdout)
    assert score is not None, result.stdout
    assert float(score.group(1)) <= 2.0, result.stdout


def test_the_unit_is_a_notify_service_with_a_watchdog() -> None:
    settings = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    assert settings["Type"] == "notify"
    assert settings["WatchdogSec"] == "60s"
    assert settings["ExecStart"].endswith(" run")
    assert settings["DynamicUser"] == "yes" and settings["StateDirectory"] == "syncd"
    assert settings["LoadCredential"].startswith("syncd:")


def test_the_unit_bounds_descriptors_memory_and_tasks() -> None:
    settings = dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                    if "=" in line and not line.startswith("#"))
    # 4096 descriptors: syncd serves at most 1024 connections with that many (half for itself).
    assert settings["LimitNOFILE"] == "4096"
    assert settings["MemoryMax"] == "1G"
    assert settings["TasksMax"] == "256"


def test_the_connection_limit_fits_the_units_descriptors() -> None:
    from syncd.runtime.server import MAX_CONNECTIONS, connection_limit

    limit = int(dict(line.split("=", 1) for line in UNIT.read_text().splitlines()
                     if line.startswith("LimitNOFILE="))["LimitNOFILE"])
    assert connection_limit(limit) == MAX_CONNECTIONS
    assert connection_limit(256) == 96  # a small limit: fewer connections, never EMFILE
