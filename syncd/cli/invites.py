"""``syncd athletes invite NAME``: a one-time link for a patient to connect their Strava or
Garmin account (the pages are :mod:`syncd.web.onboarding`).

- ``syncd athletes invite NAME [--valid 7d] [--source strava|garmin]`` prints the link
  (``[server] public_url`` + ``/onboard/<token>``); it works once, until it expires. With
  ``--source`` the page offers that account only.
- ``syncd athletes invite NAME --list`` lists the athlete's pending invites (never their links:
  only a hash of each is kept), ``--revoke ID`` or ``--revoke all`` makes them unusable.

The link goes to standard output only, never to a log.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from syncd.config.durations import parse_duration
from syncd.errors import ConfigError
from syncd.invites import CONNECTABLE, connectable_sources, invite_link
from syncd.store.invites import DEFAULT_VALIDITY, create_invite, pending_invites, revoke_invites

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.invites")
SubParsers = argparse._SubParsersAction  # the object ``add_subparsers()`` returns


def add_invite_command(subparsers: SubParsers[argparse.ArgumentParser]
                       ) -> argparse.ArgumentParser:
    """Add ``invite`` to the sub-commands of ``syncd athletes`` and return its parser."""
    text = "print a one-time link for the athlete to connect Strava or Garmin"
    invite = subparsers.add_parser("invite", help=text, description=text)
    invite.add_argument("name", metavar="NAME", help="the athlete")
    invite.add_argument("--valid", type=_validity, default=DEFAULT_VALIDITY, metavar="DURATION",
                        help="how long the link works, e.g. 2d or 36h (default 7d)")
    invite.add_argument("--source", choices=CONNECTABLE, default=None,
                        help="offer only this account on the page")
    other = invite.add_mutually_exclusive_group()
    other.add_argument("--list", action="store_true",
                       help="list the athlete's pending invites instead")
    other.add_argument("--revoke", metavar="ID|all", default=None,
                       help="make a pending invite (or all of them) unusable instead")
    # The athlete is NAME, not --athlete: the command picks them from the clinic itself.
    invite.set_defaults(handler=cmd_invite, needs_plan=False, scope="clinic")
    return invite


def cmd_invite(app: App, args: argparse.Namespace) -> int:
    """Create and print an invite, or list or revoke the pending ones."""
    athlete = _athlete(app, args.name)
    if args.list:
        return _list(athlete)
    if args.revoke is not None:
        return _revoke(athlete, args.revoke)
    sources = _sources(athlete, args.source)
    invite_link(athlete.settings, "")  # no public URL: say so before storing anything
    with athlete.store.write() as tx:
        issued = create_invite(tx, athlete.athlete_id, athlete.clock(), args.valid)
    link = invite_link(athlete.settings, issued.token)
    if args.source:
        link += f"?source={args.source}"
    name = athlete.athlete.name
    print(f"Onboarding link for {name} ({' or '.join(_label(s) for s in sources)}), "
          f"valid once until {_when(issued.invite.expires_at)}:")
    print(link)
    print(f"Send it to {name} only: whoever opens it connects their account to {name}'s.")
    log.info("invite created", athlete=name, invite=issued.invite.id,
             expires_at=issued.invite.expires_at.isoformat())
    return 0


def _athlete(app: App, name: str) -> App:
    """The App of athlete ``name`` (:class:`~syncd.clinic.UnknownAthlete` when unknown)."""
    return app.clinic.app(name)


def _sources(app: App, wanted: str | None) -> list[str]:
    """The accounts the link offers; :class:`ConfigError` when it could offer none."""
    name = app.athlete.name
    sources = connectable_sources(app)
    if wanted is not None:
        if wanted not in sources:
            raise ConfigError([f"--source {wanted}: athlete {name!r} does not use it; add "
                               f"[{wanted}] to the configuration and to the athlete's sources"])
        sources = [wanted]
    if not sources:
        raise ConfigError([f"athlete {name!r} uses neither Strava nor Garmin: configure "
                           "[strava] or [garmin] (and the athlete's sources) first"])
    strava = app.settings.strava
    if "strava" in sources and strava is not None and (
            not str(strava.client_id or "").isdigit() or strava.client_secret is None):
        raise ConfigError(["[strava]: the link needs the application's client_id and "
                           "client_secret (https://www.strava.com/settings/api)"])
    return sources


def _list(app: App) -> int:
    with app.store.read() as tx:
        invites = pending_invites(tx, app.athlete_id, app.clock())
    name = app.athlete.name
    if not invites:
        print(f"{name}: no pending invites")
    for invite in invites:
        print(f"{name}: invite {invite.id}, created {_when(invite.created_at)}, valid until "
              f"{_when(invite.expires_at)}")
    return 0


def _revoke(app: App, which: str) -> int:
    if which != "all" and not which.isdigit():
        raise ConfigError([f"--revoke {which}: give an invite's number (see --list) or all"])
    invite_id = None if which == "all" else int(which)
    with app.store.write() as tx:
        revoked = revoke_invites(tx, app.athlete_id, app.clock(), invite_id)
    if invite_id is not None and revoked == 0:
        raise ConfigError([f"--revoke {which}: {app.athlete.name!r} has no pending invite "
                           f"{which}; --list shows them"])
    print(f"{app.athlete.name}: {revoked} invite{'s' if revoked != 1 else ''} revoked")
    return 0


def _validity(text: str) -> timedelta:
    if text.strip().replace(".", "", 1).isdigit():
        # A bare number is seconds in the configuration; here it is more likely meant as days.
        raise argparse.ArgumentTypeError(f"{text!r}: give a unit, e.g. {text.strip()}d")
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err}; e.g. 7d or 36h") from None


def _label(source: str) -> str:
    return {"strava": "Strava", "garmin": "Garmin"}[source]


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
