"""The Strava cursor: where polling stands, what a backfill has done, what is owed.

It is stored by syncd between passes as one JSON string, opaque to everything but this
connector. An unreadable cursor (a downgrade, a hand edit) starts over from the configured
history rather than failing: re-reading is idempotent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog

VERSION = 1
log = structlog.get_logger("connectors.strava")


@dataclass(frozen=True, slots=True)
class Seen:
    """An activity delivered within the look-back window, and what it looked like."""

    start: int  # epoch seconds
    fingerprint: str
    sport_type: str
    elapsed_s: float


@dataclass(slots=True)
class Backfill:
    """A history backfill in progress: from which local date, and the start (epoch seconds)
    of the last activity fully delivered."""

    since: date
    after: int


@dataclass(slots=True)
class SyncCursor:
    """Everything the connector remembers between passes."""

    newest: int | None = None  # start of the newest activity, set once a walk reached today
    seen: dict[int, Seen] = field(default_factory=dict)
    pending: list[int] = field(default_factory=list)  # stored without laps: enrich later
    retry: dict[int, int] = field(default_factory=dict)  # unreadable items -> attempts so far
    backfill: Backfill | None = None
    gear_at: int | None = None  # when gear was last fetched (epoch seconds)
    gear_ids: list[str] = field(default_factory=list)
    budget: dict[str, Any] | None = None

    def encode(self) -> str:
        """The cursor as the string syncd stores."""
        return json.dumps({
            "v": VERSION,
            "newest": self.newest,
            "seen": {str(k): [s.start, s.fingerprint, s.sport_type, s.elapsed_s]
                     for k, s in sorted(self.seen.items())},
            "pending": self.pending,
            "retry": {str(k): n for k, n in sorted(self.retry.items())},
            "backfill": ({"since": self.backfill.since.isoformat(), "after": self.backfill.after}
                         if self.backfill else None),
            "gear_at": self.gear_at,
            "gear_ids": sorted(set(self.gear_ids)),
            "budget": self.budget,
        }, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None) -> SyncCursor:
        """Read a stored cursor; ``None`` or an unreadable one gives a fresh cursor."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") != VERSION:
                raise ValueError(f"version {data.get('v')!r}")
            return cls._from(data)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            log.warning("strava cursor unreadable, starting over", reason=str(err))
            return cls()

    @classmethod
    def _from(cls, data: dict[str, Any]) -> SyncCursor:
        backfill = data.get("backfill")
        return cls(
            newest=_int(data.get("newest")),
            seen={int(k): Seen(int(v[0]), str(v[1]), str(v[2]), float(v[3]))
                  for k, v in (data.get("seen") or {}).items()},
            pending=[int(v) for v in data.get("pending") or ()],
            retry={int(k): int(v) for k, v in (data.get("retry") or {}).items()},
            backfill=(Backfill(date.fromisoformat(backfill["since"]), int(backfill["after"]))
                      if backfill else None),
            gear_at=_int(data.get("gear_at")),
            gear_ids=[str(g) for g in data.get("gear_ids") or ()],
            budget=data.get("budget") if isinstance(data.get("budget"), dict) else None,
        )


def epoch(moment: datetime) -> int:
    """Whole seconds since 1970 (UTC)."""
    return int(moment.astimezone(UTC).timestamp())


def _int(value: Any) -> int | None:
    return None if value is None else int(value)
