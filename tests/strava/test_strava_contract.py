"""StravaConnector against the Connector contract: activities published on the fake server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.base import Connector
from connectors.strava import StravaConnector
from tests.connectors.contract import ConnectorContract
from tests.strava.fake_strava import FakeStrava, bouts_laps, summary
from tests.strava.strava_support import NOW


class TestStravaContract(ConnectorContract):
    @pytest.fixture
    def connector(self, connector: StravaConnector, fake: FakeStrava,
                  request: pytest.FixtureRequest) -> Connector:
        request.instance.fake = fake
        return connector

    def publish(self, connector: Connector, n: int) -> None:
        start = NOW - timedelta(days=10) + timedelta(days=2 * n)
        activity_id = 5000 + n
        self.fake.add(summary(activity_id, start),
                      bouts_laps(activity_id, start, [(120, 2.8), (900, 1.4)]))
