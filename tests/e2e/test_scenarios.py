"""The acceptance scenarios: each folder under ``scenarios/`` is one test that runs the real
``syncd`` command against fake Strava and Garmin servers, a signature-checking webhook
receiver and an SMTP server, and compares the outcome with the alerts the scenario expects."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import trustme

from .support.expect import check_all
from .support.runner import Runner
from .support.spec import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
FOLDERS = sorted(p for p in SCENARIOS.iterdir() if (p / "scenario.toml").is_file())
RULE_IDS = {"session_length", "session_run_time", "run_interval", "weekly_increase",
            "sessions_per_week", "rest_day", "run_in_walk_week", "session_spike", "load_ratio",
            "pain_stop", "pain_persistent", "pain_rising", "shoe_mileage", "missed_session",
            "no_data"}


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """The certificate authority of the SMTP server's STARTTLS certificate."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The authority as a PEM file, for ``SSL_CERT_FILE`` in syncd's environment."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(params=FOLDERS, ids=[p.name for p in FOLDERS])
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """One scenario, its days counted back from the athlete's today."""
    return load_scenario(request.param)


@pytest.mark.slow
def test_scenario(scenario: Scenario, tmp_path: Path, ca: trustme.CA, ca_file: Path) -> None:
    outcome = Runner(scenario, tmp_path, ca_file).run(ca)
    again = load_scenario(scenario.folder)
    if again.today != scenario.today:
        # The athlete's midnight passed during the run: every relative day moved by one.
        scenario, folder = again, tmp_path / "after-midnight"
        folder.mkdir()
        outcome = Runner(scenario, folder, ca_file).run(ca)
    problems = check_all(scenario, outcome)
    assert not problems, f"scenario {scenario.name} ({scenario.title}):\n  " + "\n  ".join(
        problems)


def test_the_scenarios_cover_every_rule_and_situation() -> None:
    scenarios = [load_scenario(folder) for folder in FOLDERS]
    assert len(scenarios) >= 12
    rules = {alert.rule for s in scenarios for alert in s.alerts}
    assert rules == RULE_IDS, f"rule ids without a scenario: {sorted(RULE_IDS - rules)}"
    resolved = {alert.rule for s in scenarios for alert in s.alerts if alert.status == "resolved"}
    assert resolved, "no scenario resolves an alert"
    plans = [(s.folder / s.plan).read_text() if (s.folder / s.plan).is_file() else "" for s in
             scenarios]
    assert any('progression = "gated"' in text for text in plans), "no gated scenario"
    assert any('progression = "gated"' not in text for text in plans), "no calendar scenario"
    both = [s.name for s in scenarios if any(a.copy_of for a in s.activities)]
    assert both, "no scenario has one run from Garmin and Strava"
    assert any(c.delete for s in scenarios for c in s.changes), "no deletion"
    assert any(not c.delete for s in scenarios for c in s.changes), "no edit"
    assert any(a.appears > 1 and a.day < s.activity(b.name).day for s in scenarios
               for a in s.activities for b in s.activities if b.appears < a.appears), \
        "no late upload (an activity older than one already synced)"
    assert any(a.zone != s.timezone for s in scenarios for a in s.activities), \
        "no run recorded in another time zone"
    assert any(_crosses_dst(s) for s in scenarios), "no scenario in a DST week"


def _crosses_dst(scenario: Scenario) -> bool:
    """True when the athlete's UTC offset changes between the scenario's first and last
    activity."""
    zone = ZoneInfo(scenario.timezone)
    offsets = {datetime.combine(a.day, a.clock).replace(tzinfo=zone).utcoffset()
               for a in scenario.activities}
    return len(offsets) > 1
