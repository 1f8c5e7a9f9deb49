"""One-time onboarding links: a clinic sends a patient a link that connects their Strava or
Garmin account to their athlete in syncd.

A link carries a random 32-byte token; the database keeps only its SHA-256, so a copy of the
database cannot open anybody's link. A link is *pending* until it is used, revoked or expired,
and only a pending link answers: the callers show one and the same page for a token that never
existed, one that expired and one that was used, so a stranger learns nothing by guessing.

Using a link is a single ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``: when two
requests race with the same link, the database lets exactly one of them change the row.

What a used link leaves (the web pages are :mod:`syncd.web.onboarding`): Strava's tokens are
stored in the same transaction that uses the invite up (:func:`connect_strava`); a Garmin
sign-in runs in a staging folder and its tokens move into the athlete's token folder only once
the invite is used up (:func:`connect_garmin`), so that two sign-ins racing with one link
never both land. Either way the athlete's other pending links are closed (an older link left in
a mail opens nothing), and the source's back-off is lifted, so that the first sync does not
wait hours for an authorization that failed before.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from syncd.config import Settings
from syncd.errors import ConfigError, StorageError
from syncd.store.state import STRAVA_TOKENS
from syncd.store.tables import AthleteRow, CredentialRow, InviteRow, SyncStateRow

if TYPE_CHECKING:
    from connectors.strava.tokens import Tokens
    from syncd.app import App

log = structlog.get_logger("syncd.invites")

DEFAULT_VALIDITY = timedelta(days=7)
MAX_VALIDITY = timedelta(days=90)
TOKEN_BYTES = 32
LINK_PATH = "/onboard"
# The accounts a link can connect (the file source needs no account).
CONNECTABLE = ("strava", "garmin")
REVOKED = "revoked"
SUPERSEDED = "superseded"  # closed when another link of the athlete was used
STAGING_MAX_AGE_S = 3600.0  # an abandoned Garmin sign-in (its session cookies) is kept this long
Outcome = Literal["connected", "gone", "taken"]
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


def connectable_sources(app: App) -> list[str]:
    """The accounts ``app``'s athlete can connect through a link: Strava and Garmin, when
    configured for them."""
    return [name for name in app.enabled_sources() if name in CONNECTABLE]


def invite_link(settings: Settings, token: str) -> str:
    """The link a patient opens: ``[server] public_url`` + ``/onboard/<token>``; raises
    :class:`ConfigError` without a public URL (call it with ``""`` to check first)."""
    public = settings.server.public_url
    if not public:
        raise ConfigError(["[server] public_url: set the address where patients reach syncd "
                           "(e.g. \"https://syncd.example.org\"); onboarding links are made "
                           "on it"])
    return f"{public.rstrip('/')}{LINK_PATH}/{token}"


# -- what a used link leaves ---------------------------------------------------------------------


def connect_strava(app: App, invite: Invite, tokens: Tokens) -> Outcome:
    """Store Strava's tokens for ``app``'s athlete and use up ``invite``, in one transaction:
    ``connected``; ``gone`` when the invite was used or expired meanwhile; ``taken`` when the
    Strava account is already connected for another athlete (nothing stored, the invite
    kept: the webhook callback tells athletes apart by their Strava account)."""
    now = app.clock()
    with app.store.write() as tx:
        if tokens.athlete_id is not None and _strava_account_elsewhere(
                tx, app.athlete_id, tokens.athlete_id):
            return "taken"
        if not consume_invite(tx, invite.id, now, "strava"):
            return "gone"
        # The athlete's other links stop working: an old one must not connect later.
        revoke_invites(tx, app.athlete_id, now, used_for=SUPERSEDED)
        _put_credential(tx, app.athlete_id, STRAVA_TOKENS, tokens.as_json(), now)
        _retry_now(tx, app.athlete_id, "strava")
    log.info("account connected through an invite", athlete=app.athlete.name,
             source="strava", invite=invite.id)
    return "connected"


def garmin_staging(app: App, invite: Invite) -> Path:
    """The folder where the Garmin sign-in of ``invite`` runs until the invite is used up
    (in the state directory, 0700)."""
    from connectors.garmin import tokens

    base = app.settings.state_dir / "onboarding"
    tokens.ensure_private_dir(base)
    return base / f"garmin-{invite.id}"


def connect_garmin(app: App, invite: Invite, staging: Path) -> Outcome:
    """Use up ``invite``, then move the tokens signed in to in ``staging`` into the athlete's
    Garmin token folder and, in a clinic, the database that every replica syncs from:
    ``connected``, or ``gone`` (nothing moved) when the invite was used or expired meanwhile.
    The staging folder is removed either way. Raises :class:`~syncd.errors.StorageError` when
    the tokens cannot be written."""
    from connectors.garmin import tokens
    from syncd.pipeline.sync import garmin_token_dir
    from syncd.sources.garmin.tokens import keep_sign_in

    try:
        with app.store.write() as tx:
            if not consume_invite(tx, invite.id, app.clock(), "garmin"):
                return "gone"
            revoke_invites(tx, app.athlete_id, app.clock(), used_for=SUPERSEDED)
        folder = garmin_token_dir(app)
        for name in (tokens.TOKEN_FILE, tokens.PROFILE_FILE):
            try:
                text = (staging / name).read_text(encoding="utf-8")
            except OSError as err:
                raise StorageError(f"cannot read the Garmin sign-in's {name} in {staging}: "
                                   f"{err.strerror}; send the athlete a new invite") from err
            tokens.write_private(folder / name, text)
        keep_sign_in(app, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # Only now: a pass started earlier would have failed on the missing tokens again.
    with app.store.write() as tx:
        _retry_now(tx, app.athlete_id, "garmin")
    log.info("account connected through an invite", athlete=app.athlete.name,
             source="garmin", invite=invite.id)
    return "connected"


def sweep_staging(state_dir: Path, max_age_s: float = STAGING_MAX_AGE_S) -> None:
    """Remove abandoned Garmin sign-ins: a pending one holds Garmin session cookies."""
    base = state_dir / "onboarding"
    if not base.is_dir():
        return
    for folder in base.glob("garmin-*"):
        try:
            if time.time() - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _strava_account_elsewhere(tx: Session, athlete_id: int, strava_athlete: int) -> bool:
    """True when another watched athlete holds tokens of the same Strava account."""
    values = tx.execute(select(CredentialRow.value).join(
        AthleteRow, AthleteRow.id == CredentialRow.athlete_id).where(
        CredentialRow.name == STRAVA_TOKENS, CredentialRow.athlete_id != athlete_id,
        AthleteRow.removed_at.is_(None))).scalars()
    return any(isinstance(value, Mapping) and value.get("athlete_id") == strava_athlete
               for value in values)


def _put_credential(tx: Session, athlete_id: int, name: str, value: dict[str, Any],
                    now: datetime) -> None:
    # DbCredentialStore.save commits in a transaction of its own; here the tokens must
    # commit with the invite's use, or not at all.
    row = tx.scalars(select(CredentialRow).where(CredentialRow.athlete_id == athlete_id,
                                                 CredentialRow.name == name)).one_or_none()
    if row is None:
        row = CredentialRow(athlete_id=athlete_id, name=name)
        tx.add(row)
    row.value = dict(value)
    row.updated_at = now


def _retry_now(tx: Session, athlete_id: int, source: str) -> None:
    """Lift the source's back-off: it was failing for want of an authorization, which the
    athlete just gave."""
    tx.execute(update(SyncStateRow).where(SyncStateRow.athlete_id == athlete_id,
                                          SyncStateRow.source == source)
               .values(backoff_until=None))


def _pending(now: datetime) -> tuple[Any, ...]:
    return InviteRow.used_at.is_(None), InviteRow.expires_at > now


def _changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
