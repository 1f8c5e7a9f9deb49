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
never both land. Either way the consent the link's page showed is recorded with the use, the
athlete's other pending links are closed (an older link left in
a mail opens nothing), and the source's back-off is lifted, so that the first sync does not
wait hours for an authorization that failed before.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import structlog

from syncd.config import Settings
from syncd.errors import ConfigError
from syncd.sharing import consent_text
from syncd.sources.registry import enabled_sources, hooks_for
from syncd.store.consents import GIVEN, record_consent
from syncd.store.credentials import STRAVA_TOKENS, put_credential, strava_account_elsewhere
from syncd.store.invites import SUPERSEDED, Invite, consume_invite, revoke_invites
from syncd.store.state import lift_backoff

if TYPE_CHECKING:
    from connectors.strava.tokens import Tokens
    from syncd.app import App

log = structlog.get_logger("syncd.invites")

LINK_PATH = "/onboard"
# The accounts a link can connect (the file source needs no account).
CONNECTABLE = ("strava", "garmin")
STAGING_MAX_AGE_S = 3600.0  # an abandoned Garmin sign-in (its session cookies) is kept this long
Outcome = Literal["connected", "gone", "taken"]


def connectable_sources(app: App) -> list[str]:
    """The accounts ``app``'s athlete can connect through a link: Strava and Garmin, when
    configured for them."""
    return [name for name in enabled_sources(app) if name in CONNECTABLE]


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
        if tokens.athlete_id is not None and strava_account_elsewhere(
                tx, app.athlete_id, tokens.athlete_id):
            return "taken"
        if not consume_invite(tx, invite.id, now, "strava"):
            return "gone"
        # The athlete's other links stop working: an old one must not connect later.
        revoke_invites(tx, app.athlete_id, now, used_for=SUPERSEDED)
        # Not DbCredentialStore.save, which commits on its own: the tokens must commit with
        # the invite's use, or not at all.
        put_credential(tx, app.athlete_id, STRAVA_TOKENS, tokens.as_json(), now)
        # The consent the link's page showed, given by connecting: with the tokens or not.
        record_consent(tx, app.athlete_id, "strava", GIVEN, consent_text("strava"), "invite",
                       now)
        # The source was failing for want of an authorization, which the athlete just gave.
        lift_backoff(tx, app.athlete_id, "strava")
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
    try:
        with app.store.write() as tx:
            if not consume_invite(tx, invite.id, app.clock(), "garmin"):
                return "gone"
            revoke_invites(tx, app.athlete_id, app.clock(), used_for=SUPERSEDED)
            record_consent(tx, app.athlete_id, "garmin", GIVEN, consent_text("garmin"),
                           "invite", app.clock())
        hooks_for("garmin").adopt_sign_in(app, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # Only now: a pass started earlier would have failed on the missing tokens again.
    with app.store.write() as tx:
        lift_backoff(tx, app.athlete_id, "garmin")
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
