"""Onboarding links as stored: only a token's SHA-256 is kept, and a link is *pending* until
it is used, revoked or expired.

Using a link is a single ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``: when two
requests race with the same link, the database lets exactly one of them change the row. What
a used link leaves is :mod:`syncd.invites`'s business.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from syncd.errors import ConfigError
from syncd.store.tables import InviteRow

DEFAULT_VALIDITY = timedelta(days=7)
MAX_VALIDITY = timedelta(days=90)
TOKEN_BYTES = 32
REVOKED = "revoked"
SUPERSEDED = "superseded"  # closed when another link of the athlete was used
# A token is 43 URL-safe characters; anything much longer is not one (and is not hashed).
_MAX_TOKEN_CHARS = 100


@dataclass(frozen=True, slots=True)
class Invite:
    """One onboarding link as stored (never the token itself)."""

    id: int
    athlete_id: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    used_for: str | None = None
    token_sha256: str = field(default="", repr=False)

    @classmethod
    def from_row(cls, row: InviteRow) -> Invite:
        """The invite stored in ``row``."""
        return cls(id=row.id, athlete_id=row.athlete_id, created_at=row.created_at,
                   expires_at=row.expires_at, used_at=row.used_at, used_for=row.used_for,
                   token_sha256=row.token_sha256)


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    """A new invite and its token: the token exists only here, to be put in the link."""

    token: str = field(repr=False)
    invite: Invite


def token_digest(token: str) -> str:
    """The SHA-256 (hex) stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_invite(tx: Session, athlete_id: int, now: datetime,
                  valid: timedelta = DEFAULT_VALIDITY) -> IssuedInvite:
    """Store a new invite for ``athlete_id``, usable until ``now + valid``."""
    if not timedelta(0) < valid <= MAX_VALIDITY:
        raise ConfigError([f"--valid: an invite is valid for at most {MAX_VALIDITY.days} days "
                           "(and more than none); e.g. --valid 7d"])
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = InviteRow(token_sha256=token_digest(token), athlete_id=athlete_id, created_at=now,
                    expires_at=now + valid)
    tx.add(row)
    tx.flush()
    return IssuedInvite(token, Invite.from_row(row))


def pending_invite(tx: Session, token: str, now: datetime) -> Invite | None:
    """The pending invite whose link carries ``token``; ``None`` alike for a token that is
    unknown, expired, used or revoked."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    row = tx.scalars(select(InviteRow).where(
        InviteRow.token_sha256 == token_digest(token), *_pending(now))).one_or_none()
    return Invite.from_row(row) if row is not None else None


def pending_invite_by_id(tx: Session, invite_id: int, now: datetime) -> Invite | None:
    """The pending invite ``invite_id`` (``None`` when there is none, or it is no longer
    pending)."""
    row = tx.scalars(select(InviteRow).where(InviteRow.id == invite_id, *_pending(now))
                     ).one_or_none()
    return Invite.from_row(row) if row is not None else None


def consume_invite(tx: Session, invite_id: int, now: datetime, used_for: str) -> bool:
    """Mark invite ``invite_id`` used for ``used_for`` (``strava``, ``garmin``); True for the
    one caller that did, False when it was no longer pending (used meanwhile, expired)."""
    result = tx.execute(update(InviteRow).where(InviteRow.id == invite_id, *_pending(now))
                        .values(used_at=now, used_for=used_for))
    return _changed(result) == 1


def pending_invites(tx: Session, athlete_id: int, now: datetime) -> list[Invite]:
    """The athlete's pending invites, oldest first."""
    rows = tx.scalars(select(InviteRow).where(InviteRow.athlete_id == athlete_id,
                                              *_pending(now)).order_by(InviteRow.id))
    return [Invite.from_row(row) for row in rows]


def revoke_invites(tx: Session, athlete_id: int, now: datetime,
                   invite_id: int | None = None, used_for: str = REVOKED) -> int:
    """Make the athlete's pending invites (or only ``invite_id``) unusable; returns how many.
    The rows stay, marked used for ``used_for`` (``revoked``, or ``superseded`` when another
    of the athlete's links was used), as a record of what was sent."""
    query = update(InviteRow).where(InviteRow.athlete_id == athlete_id, *_pending(now))
    if invite_id is not None:
        query = query.where(InviteRow.id == invite_id)
    return _changed(tx.execute(query.values(used_at=now, used_for=used_for)))


def invite_ids(tx: Session, athlete_id: int) -> list[int]:
    """The ids of every invite of ``athlete_id``, whatever became of them."""
    return list(tx.scalars(select(InviteRow.id).where(InviteRow.athlete_id == athlete_id)))


def _pending(now: datetime) -> tuple[Any, ...]:
    return InviteRow.used_at.is_(None), InviteRow.expires_at > now


def _changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
