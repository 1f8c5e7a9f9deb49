"""An in-memory connector: the fake source for tests and for the contract test class."""

from __future__ import annotations

from datetime import date
from typing import Any

from connectors.base import Connector, ConnectorContext, FetchResult, RawRecord
from syncd.errors import InvalidResponse
from syncd.models import Activity, Gear


class MemoryConnector(Connector):
    """Serves activities put into it. The cursor is the count of records already returned."""

    name = "memory"

    def __init__(self, settings: Any = None, context: ConnectorContext | None = None) -> None:
        super().__init__(settings, context or ConnectorContext(athlete="default", timezone="UTC"))
        self.activities: list[Activity] = []
        self.gear: list[Gear] = []
        self.fetches: list[tuple[str | None, date | None]] = []

    def add(self, *activities: Activity) -> None:
        """Make activities available to the next fetch."""
        self.activities.extend(activities)

    def fetch(self, cursor: str | None, *, since: date | None = None) -> FetchResult:
        """Return the activities added since ``cursor`` (all of them for a backfill)."""
        self.fetches.append((cursor, since))
        start = 0 if since is not None or cursor is None else int(cursor)
        records = [RawRecord(a.source_id, a, deleted=a.deleted) for a in self.activities[start:]]
        return FetchResult(records=records, cursor=str(len(self.activities)), gear=list(self.gear))

    def normalize(self, record: RawRecord) -> Activity:
        """The payload already is an Activity."""
        if not isinstance(record.payload, Activity):
            raise InvalidResponse(f"memory record {record.source_id} is not an Activity")
        return record.payload
