"""GarminConnector against the Connector contract: activities published on the fake Garmin."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.base import Connector
from connectors.garmin import GarminConnector
from tests.connectors.contract import ConnectorContract
from tests.garmin.fake_garmin import FakeGarmin, make_entry
from tests.garmin.garmin_support import NOW


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
