"""``syncd alerts ack ID [--note TEXT]``: the acknowledgement is recorded under the login name
of the user at the command line, the first one stays the alert's, and ``syncd alerts``
(``--json`` and ``--all`` as before) shows it."""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.cli.main import main
from syncd.clinic import open_app
from syncd.config import load_settings
from tests.alerts.support import finding, raise_alerts
from tests.support.config import write_config

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)


def _alerts(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict]:
    assert main(["--config", str(config), "alerts", "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_ack_from_the_command_line(tmp_path: Path, state: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path)
    app = open_app(load_settings(config), lambda: NOW)
    [alert] = raise_alerts(app, [finding(1, severity="critical")], NOW).raised
    app.close()

    assert main(["--config", str(config), "alerts", "ack", alert.id, "--note",
                 "Rest two days."]) == 0
    said = capsys.readouterr().out
    assert main(["--config", str(config), "alerts", "ack", alert.id]) == 0
    again = capsys.readouterr().out
    [listed] = _alerts(config, capsys)

    user = getpass.getuser()
    assert f"acknowledged {alert.id}" in said and user in said
    assert "note added" in again
    assert listed["acknowledged"]["by"] == user
    assert listed["acknowledged"]["note"] == "Rest two days."
    assert [a["note"] for a in listed["acks"]] == ["Rest two days.", ""]
    assert _alerts(config, capsys, "--all")[0]["id"] == alert.id
    assert main(["--config", str(config), "alerts"]) == 0
    assert f"(acknowledged by {user})" in capsys.readouterr().out
    assert main(["--config", str(config), "alerts", "ack", "no-such-alert"]) != 0
    assert "no alert has the id" in capsys.readouterr().err
