"""The README's main command: ``./dev demo`` runs ``syncd run`` on the sample history, prints
the dashboard URL and the four sample alerts as its webhook receiver gets them, serves the
dashboard, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.waiting import wait_until

from .support import REPO

# The sample history's four breaches. The demo runs on the real clock, so the plan weeks that
# have ended since the sample's last run show as missed_session, and while the plan runs the
# silence since then as no_data.
SAMPLE_BREACHES = ("rest_day", "session_length", "sessions_per_week", "weekly_increase")
TIME_BASED = {"missed_session", "no_data"}


def _busy(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_serves_the_dashboard_and_prints_signed_alerts(tmp_path: Path) -> None:
    if _busy(8765) or _busy(8766):
        pytest.skip("ports 8765/8766 are in use (a demo already running?)")
    output = tmp_path / "demo.out"
    env = {"PATH": "/usr/bin:/bin", "SYNCD_DEMO_STATE": str(tmp_path / "state")}
    with open(output, "w") as out:
        demo = subprocess.Popen([sys.executable, "-m", "syncd.cli.demo", "--fresh"], cwd=REPO,
                                stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        wait_until(lambda: all(f">> webhook: WARNING {rule}:" in output.read_text()
                               for rule in SAMPLE_BREACHES), 60,
                   "the four sample alerts to arrive by webhook")
        with urllib.request.urlopen("http://127.0.0.1:8765/", timeout=5) as page:
            assert page.status == 200 and "Open alerts (" in page.read().decode()
        demo.send_signal(signal.SIGINT)
        assert demo.wait(20) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    text = output.read_text()
    assert "dashboard: http://127.0.0.1:8765/" in text
    assert "WARNING weekly_increase: Week 6: 24 min of running" in text


def test_the_demos_own_commands_read_the_demos_database(tmp_path: Path) -> None:
    """``./dev demo COMMAND`` runs one command on the demo's configuration and state folder,
    so what the demo stored is what the command shows (a plain ``syncd --config
    examples/syncd.toml`` reads the user's own state folder instead)."""
    env = {"PATH": "/usr/bin:/bin", "SYNCD_DEMO_STATE": str(tmp_path / "state"),
           "HOME": str(tmp_path / "home")}

    def demo(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syncd.cli.demo", *argv], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=120)

    # An import stores and evaluates without delivering (the demo's receiver may be busy).
    assert demo("--fresh", "import", str(REPO / "examples" / "history")).returncode == 0
    assert (tmp_path / "state" / "syncd.db").is_file()
    listed = demo("alerts", "--json")
    assert listed.returncode == 0, listed.stderr
    rules = {alert["rule"] for alert in json.loads(listed.stdout)}
    assert rules - set(SAMPLE_BREACHES) <= TIME_BASED and set(SAMPLE_BREACHES) <= rules
    plain = subprocess.run([sys.executable, "-m", "syncd.cli", "--config",
                            str(REPO / "examples" / "syncd.toml"), "alerts", "--json"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(plain.stdout) == [], "the user's own state folder holds nothing"
