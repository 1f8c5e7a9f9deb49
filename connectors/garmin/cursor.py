"""The Garmin connector's cursor: what it needs to remember between polls, as JSON.

- ``newest``: the newest local date seen; the next poll lists from it minus the look-back;
- ``seen``: for each activity inside the look-back window, a digest of its list entry and its
  local date. An unchanged entry is skipped without any further request (every poll lists the
  whole window again, to catch late uploads and edits); an entry that vanished from a complete
  listing was deleted on Garmin;
- ``gear_checked``: when the gear was last read (at most daily);
- ``profile_id``: the Garmin profile the gear calls need;
- ``legs``: for each multisport parent in ``seen``, the legs read for it (the activities it
  stands for): they count as listed while the parent is, and are deleted with it;
- ``backfill``: where an unfinished backfill stopped (its first date, and the local date and
  count of entries on that date already read), so the next pass continues there.

The cursor is stored by syncd after the records it came with, so a pass that fails leaves the
previous cursor, and the next pass repeats only the unfinished part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from connectors.garmin.parse import Listed

VERSION = 1


@dataclass(slots=True)
class Backfill:
    """An unfinished backfill: from ``since``, continued at ``resume_date`` after skipping
    ``skip`` entries of that date."""

    since: date
    resume_date: date
    skip: int


@dataclass(slots=True)
class GarminCursor:
    """The connector's memory between polls (see the module docstring)."""

    newest: date | None = None
    seen: dict[str, tuple[str, str]] = field(default_factory=dict)
    gear_checked: datetime | None = None
    profile_id: int | None = None
    backfill: Backfill | None = None
    legs: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, text: str | None) -> GarminCursor:
        """Read a cursor; a missing or unreadable one (an older version) starts afresh."""
        try:
            data = json.loads(text) if text else None
            return cls._from_dict(data) if isinstance(data, dict) else cls()
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> GarminCursor:
        if data.get("v") != VERSION:
            return cls()
        backfill = data.get("backfill")
        return cls(
            newest=date.fromisoformat(data["newest"]) if data.get("newest") else None,
            seen={str(k): (str(v[0]), str(v[1])) for k, v in (data.get("seen") or {}).items()},
            gear_checked=(datetime.fromisoformat(data["gear_checked"])
                          if data.get("gear_checked") else None),
            profile_id=data.get("profile_id"),
            backfill=Backfill(date.fromisoformat(backfill["since"]),
                              date.fromisoformat(backfill["resume_date"]),
                              int(backfill["skip"])) if backfill else None,
            # Cursors written before multisport legs were read have none.
            legs={str(k): [str(i) for i in v] for k, v in (data.get("legs") or {}).items()},
        )

    def dump(self) -> str:
        """The cursor as compact JSON."""
        backfill = self.backfill
        return json.dumps({
            "v": VERSION,
            "newest": self.newest.isoformat() if self.newest else None,
            "seen": {k: list(v) for k, v in sorted(self.seen.items())},
            "gear_checked": self.gear_checked.isoformat() if self.gear_checked else None,
            "profile_id": self.profile_id,
            "backfill": None if backfill is None else {
                "since": backfill.since.isoformat(),
                "resume_date": backfill.resume_date.isoformat(), "skip": backfill.skip},
            **({"legs": dict(sorted(self.legs.items()))} if self.legs else {}),
        }, separators=(",", ":"))

    def unchanged(self, listed: Listed, digest: str) -> bool:
        """True when this entry was read before and its digest has not changed since."""
        known = self.seen.get(listed.activity_id)
        return known is not None and known[0] == digest

    def remember(self, listed: Listed, digest: str) -> None:
        """Note an entry as read in full, and move ``newest`` forward."""
        self.seen[listed.activity_id] = (digest, listed.local_date.isoformat())
        if self.newest is None or listed.local_date > self.newest:
            self.newest = listed.local_date

    def vanished(self, listed_ids: set[str], after: date) -> list[str]:
        """Ids remembered from a day after ``after`` that a complete listing no longer had.

        The window's first day is left out: whether Garmin filters it by local or UTC date
        is not certain, and a wrongly deleted run would hide a breach."""
        return sorted(activity_id for activity_id, (_, day) in self.seen.items()
                      if activity_id not in listed_ids and date.fromisoformat(day) > after)

    def prune(self, lookback: timedelta) -> None:
        """Forget entries older than the next poll's window."""
        if self.newest is None:
            return
        first = self.newest - lookback
        self.seen = {k: v for k, v in self.seen.items() if date.fromisoformat(v[1]) >= first}
        self.legs = {k: v for k, v in self.legs.items() if k in self.seen}
