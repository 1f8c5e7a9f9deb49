"""One event of Strava's webhook: what is kept of a POSTed body, which is unsigned and may
come from anyone, so every field is checked and bounded."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OBJECT_TYPES = frozenset({"activity", "athlete"})
ASPECT_TYPES = frozenset({"create", "update", "delete"})
MAX_ID = 2**63 - 1  # Strava's ids are 64-bit; a BIGINT column holds no more
MAX_TITLE = 255
MAX_SPORT_TYPE = 40
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPORT_TYPE = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True, slots=True)
class StravaEvent:
    """One webhook event as Strava posts it (unsigned: only the ids are used), with only the
    fields Strava sends, each bounded (:meth:`parse`)."""

    object_type: str
    object_id: int
    aspect_type: str
    owner_id: int
    subscription_id: int
    event_time: int = 0
    updates: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any, now: datetime | None = None) -> StravaEvent | None:
        """The event in a POST body, or ``None`` when the body is not one: ids that are not
        positive 64-bit integers, an object or aspect type Strava does not send, an athlete
        event about someone other than its owner. A missing
        ``event_time`` is ``now`` (when given); ``updates`` keeps only Strava's keys."""
        if not isinstance(body, Mapping):
            return None
        ids = [body.get(k) for k in ("object_id", "owner_id", "subscription_id")]
        kinds = body.get("object_type"), body.get("aspect_type")
        if not all(_is_id(v) for v in ids) or not all(isinstance(k, str) for k in kinds) \
                or kinds[0] not in OBJECT_TYPES or kinds[1] not in ASPECT_TYPES:
            return None
        sent = body.get("event_time", int(now.timestamp()) if now is not None else 0)
        if not (type(sent) is int and 0 <= sent <= MAX_ID):
            return None
        object_id, owner_id, subscription_id = (int(v) for v in ids if isinstance(v, int))
        if kinds[0] == "athlete" and object_id != owner_id:
            return None  # an athlete event is about its owner: one per athlete, no more
        return cls(str(kinds[0]), object_id, str(kinds[1]), owner_id, subscription_id, sent,
                   strava_updates(body.get("updates")))

    @property
    def revokes(self) -> bool:
        """The athlete withdrew syncd's access (Strava sends ``"false"`` as a string)."""
        return (self.object_type == "athlete"
                and str(self.updates.get("authorized", "")).lower() == "false")

    def fields(self) -> dict[str, Any]:
        """The event's fields, as the inbox stores them."""
        return {"object_type": self.object_type, "object_id": self.object_id,
                "aspect_type": self.aspect_type, "owner_id": self.owner_id,
                "subscription_id": self.subscription_id, "event_time": self.event_time,
                "updates": dict(self.updates)}


def _is_id(value: Any) -> bool:
    """True for a positive integer that fits Strava's (and the database's) 64 bits."""
    return type(value) is int and 0 < value <= MAX_ID


def strava_updates(updates: Any) -> dict[str, Any]:
    """The ``updates`` of an event, kept to the keys Strava sends with values it sends: a
    ``title`` (control characters removed, at most 255 characters), a sport ``type`` (a
    word), ``private`` and ``authorized`` (``"true"``/``"false"``). Anything else goes."""
    if not isinstance(updates, Mapping):
        return {}
    kept: dict[str, Any] = {}
    title = updates.get("title")
    if isinstance(title, str):
        kept["title"] = _CONTROL.sub("", title)[:MAX_TITLE]
    sport = updates.get("type")
    if isinstance(sport, str) and len(sport) <= MAX_SPORT_TYPE and _SPORT_TYPE.fullmatch(sport):
        kept["type"] = sport
    for key in ("private", "authorized"):
        flag = _flag(updates.get(key))
        if flag is not None:
            kept[key] = flag
    return kept


def _flag(value: Any) -> str | None:
    """``"true"``/``"false"`` from Strava's string (or a boolean), else ``None``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    return None
