"""The fourth source's connector: records of a JSON feed file, the cursor being how many were
read already."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import Connector, FetchResult, RawRecord
from syncd.errors import InvalidResponse, TransientError
from syncd.models import Activity, sport_family


class FeedConnector(Connector):
    """Reads ``settings.feed``: a JSON list of ``{"id", "start", "sport", "seconds",
    "run_seconds", "distance_m"}``."""

    name = "fourth"

    def fetch(self, cursor: str | None, *, since: date | None = None) -> FetchResult:
        """The records after the first ``cursor`` ones (all of them for a backfill)."""
        try:
            entries: list[dict[str, Any]] = json.loads(self.settings.feed.read_text("utf-8"))
        except OSError as err:
            raise TransientError(f"the feed {self.settings.feed} cannot be read: {err}") from None
        start = 0 if since is not None or cursor is None else int(cursor)
        records = [RawRecord(str(entry.get("id")), entry) for entry in entries[start:]]
        return FetchResult(records=records, cursor=str(len(entries)))

    def normalize(self, record: RawRecord) -> Activity:
        """One feed entry as an Activity; :class:`InvalidResponse` when it lacks a field."""
        entry = record.payload
        try:
            start = datetime.fromisoformat(entry["start"]).astimezone(UTC)
            seconds = float(entry["seconds"])
        except (KeyError, TypeError, ValueError):
            raise InvalidResponse(
                f"feed entry {record.source_id} has no start or seconds") from None
        return Activity(
            source=self.name, source_id=record.source_id, sport=sport_family(entry["sport"]),
            sport_type=entry["sport"], start_utc=start, local_start=start.replace(tzinfo=None),
            elapsed_s=seconds, moving_s=seconds, run_s=entry.get("run_seconds"),
            distance_m=entry.get("distance_m"), athlete=self.context.athlete, raw=entry)
