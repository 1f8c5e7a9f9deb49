"""``syncd notify test`` sends a test push on each notify channel (or one) and says how it
went; ``syncd deliveries`` lists the notify channels' deliveries beside the others'."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cli.main import main
from syncd.clinic import open_app
from syncd.config import load_settings
from tests.support.config import write_config
from tests.support.ntfy import NtfyServer

from ..alerts.support import finding, raise_alerts


def _config(tmp_path: Path, ntfy: NtfyServer) -> Path:
    return write_config(tmp_path, athlete={"plan_start": None}, notify=[
        {"name": "phone", "url": ntfy.url("phone")},
        {"name": "desk", "url": ntfy.url("desk"), "min_severity": "critical"}])


def test_notify_test_pushes_on_every_channel_or_the_one_named(
        tmp_path: Path, ntfy: NtfyServer, state: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, ntfy)
    assert main(["--config", str(config), "notify", "test"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" in ")[0] for line in out] == ["notify:phone: delivered",
                                                       "notify:desk: delivered"]
    # A test goes out whatever the channel's filter: it tests the way there.
    assert [(m.topic, m.title) for m in ntfy.messages] == [("phone", "syncd test"),
                                                          ("desk", "syncd test")]

    ntfy.responder = lambda got: 500 if got.topic == "desk" else 200
    assert main(["--config", str(config), "notify", "test", "--channel", "phone"]) == 0
    assert main(["--config", str(config), "notify", "test", "--channel", "notify:desk"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("notify:phone: delivered in ")
    assert out[1].startswith("notify:desk: failed in ")
    assert "ntfy did not take the message" in out[1]


def test_notify_test_names_the_channels_there_are(
        tmp_path: Path, ntfy: NtfyServer, state: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, ntfy)
    assert main(["--config", str(config), "notify", "test", "--channel", "pager"]) == 2
    assert ("no notify channel pager configured (notify channels: notify:phone, "
            "notify:desk)") in capsys.readouterr().err
    assert main(["--config", str(config), "notify"]) == 2
    assert "test" in capsys.readouterr().out
    assert not ntfy.messages


def test_deliveries_lists_the_notify_channels(
        tmp_path: Path, ntfy: NtfyServer, state: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, ntfy)
    ntfy.responder = lambda got: 500 if got.topic == "phone" else 200
    app = open_app(load_settings(config))
    try:
        [alert] = raise_alerts(app, [finding(1, "pain_stop", "critical")], app.clock()).raised
    finally:
        app.close()
    assert main(["--config", str(config), "deliver"]) == 0
    capsys.readouterr()
    assert main(["--config", str(config), "deliveries", "--all"]) == 0
    lines = sorted(capsys.readouterr().out.splitlines())
    assert lines[0].startswith(f"delivered notify:desk alert.raised    {alert.id}: 1 attempt")
    assert lines[1].startswith(f"pending   notify:phone alert.raised    {alert.id}: 1 attempt, "
                               "next attempt ")
    assert "last error: ntfy did not take the message" in lines[1]
