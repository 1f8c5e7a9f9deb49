"""GarminConnector against the Connector contract: activities published on the fake Garmin."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest
from fake_garmin import FakeGarmin, make_entry
from garmin_support import NOW

from connectors.base import Connector
from connectors.garmin import GarminConnector

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "connectors"))
from contract import ConnectorContract


class TestGarminContract(ConnectorContract):
    @pytest.fixture
    def connector(self, connector: object, fake: FakeGarmin,
                  request: pytest.FixtureRequest) -> Connector:
        request.instance.fake = fake
        built = connector()  # type: ignore[operator]
        assert isinstance(built, GarminConnector)
        return built

    def publish(self, connector: Connector, n: int) -> None:
        local = (NOW - timedelta(days=10) + timedelta(days=2 * n)).replace(tzinfo=None)
        self.fake.activities.append(make_entry(3000 + n, local, type_key="walking"))
