"""Alert routing between athletes of one syncd, on a SQLite file: each webhook gets the alerts
of the athletes routed to it and nobody else's, delivery pass after delivery pass."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.cli.main import main
from tests.alerts.support import OTHER_SECRET, SECRET, Receiver
from tests.support.config import write_config


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    """The therapist's webhook receiver and the team's."""
    therapist, team = Receiver(SECRET), Receiver(OTHER_SECRET)
    yield therapist, team
    therapist.close()
    team.close()


def test_each_webhook_gets_only_the_alerts_of_its_athletes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receivers: tuple[Receiver, Receiver],
        capsys: pytest.CaptureFixture[str]) -> None:
    therapist, team = receivers
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    monkeypatch.delenv("SYNCD_ATHLETE", raising=False)
    config = write_config(
        tmp_path, athletes=[{"name": "ana", "channels": ["webhook:therapist"]},
                            {"name": "ben", "channels": ["webhook:team"]},
                            {"name": "cleo", "channels": []}],
        webhooks=[{"name": "therapist", "url": therapist.url, "secret": SECRET},
                  {"name": "team", "url": team.url, "secret": OTHER_SECRET}])
    for name in ("ana", "ben", "cleo"):
        assert main(["--config", str(config), "--athlete", name, "pain", "6"]) == 0
    # Two passes: the second finds every event already routed and adds nothing.
    for _ in range(2):
        assert main(["--config", str(config), "deliver"]) == 0
    capsys.readouterr()

    def athletes(receiver: Receiver) -> list[str]:
        return [r.payload["data"]["athlete"] for r in receiver.verified()]

    assert athletes(therapist) == ["ana"]
    assert athletes(team) == ["ben"]
    assert main(["--config", str(config), "deliveries", "--all", "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count('"channel": "webhook:therapist"') == 1
    assert out.count('"channel": "webhook:team"') == 1
