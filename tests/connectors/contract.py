"""The Connector contract, as a test class every connector's tests subclass.

A subclass provides two hooks: the ``connector`` fixture (a fresh connector with nothing to
fetch yet) and ``publish(connector, n)``, which makes the n-th new activity available at the
source (an in-memory add, a file dropped in a folder, a response on a fake server).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.base import REGISTRY, Connector, FetchResult, RawRecord, connector_class
from syncd.errors import SyncdError
from syncd.models import Activity


class ConnectorContract:
    """Behaviour every connector shares. Subclasses define ``connector`` and ``publish``."""

    @pytest.fixture
    def connector(self) -> Connector:
        raise NotImplementedError

    def publish(self, connector: Connector, n: int) -> None:
        """Make one new activity (the n-th, from 0) available to the next fetch."""
        raise NotImplementedError

    def garbage_record(self) -> RawRecord:
        """A record this connector cannot normalize."""
        return RawRecord("bogus", {"bogus": True})

    def test_registered_under_its_name(self, connector: Connector) -> None:
        assert connector.name in REGISTRY
        assert connector_class(connector.name) is type(connector)

    def test_first_fetch_returns_what_exists_and_a_cursor(self, connector: Connector) -> None:
        self.publish(connector, 0)
        self.publish(connector, 1)
        result = connector.fetch(None)
        assert isinstance(result, FetchResult)
        assert isinstance(result.cursor, str)
        assert len(result.records) == 2
        assert len({r.source_id for r in result.records}) == 2

    def test_fetch_with_the_cursor_returns_only_what_is_new(self, connector: Connector) -> None:
        self.publish(connector, 0)
        first = connector.fetch(None)
        assert connector.fetch(first.cursor).records == []
        self.publish(connector, 1)
        second = connector.fetch(first.cursor)
        assert len(second.records) == 1
        assert second.records[0].source_id not in {r.source_id for r in first.records}

    def test_backfill_since_returns_old_records_again(self, connector: Connector) -> None:
        self.publish(connector, 0)
        first = connector.fetch(None)
        again = connector.fetch(first.cursor, since=date(2000, 1, 1))
        assert [r.source_id for r in again.records] == [r.source_id for r in first.records]

    def test_normalize_gives_a_well_formed_activity(self, connector: Connector) -> None:
        self.publish(connector, 0)
        record = connector.fetch(None).records[0]
        activity = connector.normalize(record)
        assert isinstance(activity, Activity)
        assert activity.source_id == record.source_id
        assert activity.sport in ("run", "walk", "hike", "other")
        assert activity.start_utc.utcoffset() == UTC.utcoffset(None)
        assert activity.local_start.tzinfo is None
        assert activity.elapsed_s > 0
        assert activity.start_utc < datetime.now(UTC)

    def test_normalize_is_repeatable(self, connector: Connector) -> None:
        self.publish(connector, 0)
        record = connector.fetch(None).records[0]
        assert connector.normalize(record) == connector.normalize(record)

    def test_unreadable_record_raises_a_syncd_error(self, connector: Connector) -> None:
        with pytest.raises(SyncdError) as caught:
            connector.normalize(self.garbage_record())
        assert str(caught.value)

    def test_normalize_all_collects_failures(self, connector: Connector) -> None:
        self.publish(connector, 0)
        good = connector.fetch(None).records[0]
        activities, failures = connector.normalize_all([good, self.garbage_record()])
        assert [a.source_id for a in activities] == [good.source_id]
        assert [source_id for source_id, _ in failures] == ["bogus"]

