"""MemoryConnector against the Connector contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import Connector
from connectors.memory import MemoryConnector
from syncd.models import Activity
from tests.connectors.contract import ConnectorContract


class TestMemoryContract(ConnectorContract):
    @pytest.fixture
    def connector(self) -> Connector:
        return MemoryConnector()

    def publish(self, connector: Connector, n: int) -> None:
        assert isinstance(connector, MemoryConnector)
        start = datetime(2026, 9, 15, 5, 0, tzinfo=UTC) + timedelta(days=2 * n)
        connector.add(Activity(
            source="memory", source_id=f"m{n}", sport="run", sport_type="Run",
            start_utc=start, local_start=start.replace(tzinfo=None) + timedelta(hours=2),
            elapsed_s=900.0,
        ))
