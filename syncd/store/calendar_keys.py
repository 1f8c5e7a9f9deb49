"""Calendar feed keys as stored: one per athlete, kept as its SHA-256 only.

A new key replaces the athlete's old one (the old feed URL stops working); revoking deletes
it. A key that is not one (the wrong shape or length) is never hashed or looked up.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syncd.store.calendar_tables import CalendarKeyRow

KEY_BYTES = 32
# secrets.token_urlsafe(32) is 43 characters of the URL-safe alphabet.
_KEY = re.compile(r"^[A-Za-z0-9_-]{43}$")


def key_hash(key: str) -> str:
    """The SHA-256 (hex) a key is stored as."""
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def new_calendar_key(tx: Session, athlete_id: int, now: datetime) -> str:
    """A new random key for the athlete's feed, replacing any earlier one; returns the key
    (stored only as its hash)."""
    key = secrets.token_urlsafe(KEY_BYTES)
    tx.execute(delete(CalendarKeyRow).where(CalendarKeyRow.athlete_id == athlete_id))
    tx.add(CalendarKeyRow(athlete_id=athlete_id, key_sha256=key_hash(key), created_at=now))
    tx.flush()
    return key


def revoke_calendar_key(tx: Session, athlete_id: int) -> bool:
    """Delete the athlete's key; ``True`` when there was one."""
    result = tx.execute(delete(CalendarKeyRow).where(CalendarKeyRow.athlete_id == athlete_id))
    return bool(getattr(result, "rowcount", 0))


def calendar_athlete(tx: Session, key: str) -> int | None:
    """The athlete whose live key ``key`` is, else ``None`` (unknown, revoked, replaced or not
    shaped like a key, all alike)."""
    if not _KEY.match(key):
        return None
    return tx.execute(select(CalendarKeyRow.athlete_id)
                      .where(CalendarKeyRow.key_sha256 == key_hash(key))).scalar_one_or_none()
