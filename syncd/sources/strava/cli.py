"""``syncd auth strava`` and ``syncd strava subscribe|subscriptions|unsubscribe``.

- ``syncd auth strava`` prints Strava's authorize URL and catches the redirect on a one-shot
  listener on 127.0.0.1; on a headless server, open the URL anywhere and paste where the
  browser ended up with ``--redirect-url URL`` (or just ``--code CODE``).
- ``syncd auth strava --refresh-token TOKEN`` stores a token obtained elsewhere.
- ``syncd strava subscribe --callback-url URL`` asks Strava to send webhook events to
  syncd's callback (Strava checks it with a GET first, so ``syncd run`` must be reachable
  there); ``subscriptions`` lists the application's subscription; ``unsubscribe ID`` ends it.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from syncd.cli.auth import Add, auth_subcommand
from syncd.errors import AuthError, ConfigError

if TYPE_CHECKING:
    from connectors.strava import StravaConnector
    from connectors.strava.oauth import Grant
    from syncd.app import App

SUBSCRIPTION = "subscription"
CALLBACK_PATH = "/strava/webhook"


def register(add: Add) -> None:
    """Add ``auth strava`` and ``strava ...`` to the command line."""
    auth = auth_subcommand(add, "strava", cmd_auth_strava,
                           "authorize syncd to read your Strava activities and shoes")
    how = auth.add_mutually_exclusive_group()
    how.add_argument("--refresh-token", metavar="TOKEN", default=None,
                     help="store a refresh token obtained elsewhere (no browser)")
    how.add_argument("--code", metavar="CODE", default=None,
                     help="the code from Strava's redirect (headless servers)")
    how.add_argument("--redirect-url", metavar="URL", default=None,
                     help="the whole address the browser was sent back to (headless servers)")
    auth.add_argument("--port", type=int, default=0,
                      help="port of the one-shot listener on 127.0.0.1 (default: any free one)")
    auth.add_argument("--timeout", type=float, default=300.0,
                      help="seconds to wait for the browser (default 300)")

    strava = add("strava", _cmd_strava_help, "manage Strava's webhook subscription")
    strava.set_defaults(needs_plan=False, scope="clinic")
    sub = strava.add_subparsers(dest="strava_command", metavar="ACTION")
    subscribe = sub.add_parser("subscribe", help="send Strava's webhook events to syncd")
    subscribe.add_argument("--callback-url", default=None,
                           help=f"public URL of syncd's callback (default: [server] public_url "
                           f"+ {CALLBACK_PATH})")
    subscribe.set_defaults(handler=cmd_subscribe, needs_plan=False)
    listing = sub.add_parser("subscriptions", help="show the application's subscription")
    listing.set_defaults(handler=cmd_subscriptions, needs_plan=False)
    unsubscribe = sub.add_parser("unsubscribe", help="end a webhook subscription")
    unsubscribe.add_argument("id", type=int, metavar="ID")
    unsubscribe.set_defaults(handler=cmd_unsubscribe, needs_plan=False)


def strava_connector(app: App) -> StravaConnector:
    """The athlete's Strava connector; :class:`ConfigError` without a ``[strava]`` section."""
    if app.settings.strava is None:
        raise ConfigError(["[strava]: add the section with client_id and client_secret (or "
                           "client_secret_file) from https://www.strava.com/settings/api"])
    # Imported here: stravalib takes seconds to load, and most commands never need it.
    from connectors.strava import StravaConnector
    from syncd.pipeline.sync import make_connector

    connector = make_connector(app, "strava")
    assert isinstance(connector, StravaConnector)
    return connector


# -- auth ----------------------------------------------------------------------------------


def cmd_auth_strava(app: App, args: argparse.Namespace) -> int:
    """Authorize syncd and store the tokens; print whose they are."""
    from connectors.strava.oauth import authorize_with_code, authorize_with_refresh_token

    connector = strava_connector(app)
    api = connector.api
    if args.refresh_token:
        tokens = authorize_with_refresh_token(api, args.refresh_token)
        print(f"Strava authorized for athlete {tokens.athlete_id} (from the refresh token)")
        return 0
    grant = _grant(args, connector)
    tokens = authorize_with_code(api, grant)
    print(f"Strava authorized for athlete {tokens.athlete_id}")
    missing = grant.missing_scopes()
    if missing:
        print(f"warning: Strava did not grant {', '.join(missing)}: private activities or shoe "
              "distances stay invisible to syncd; run `syncd auth strava` again and keep "
              "every box ticked", file=sys.stderr)
    return 0


def _grant(args: argparse.Namespace, connector: StravaConnector) -> Grant:
    """The code from the command line, or from the browser's redirect to the listener."""
    from connectors.strava.oauth import (
        Grant,
        OneShotListener,
        authorize_url,
        grant_from_query,
        grant_from_url,
        new_state,
    )

    if args.code:
        return Grant(code=args.code.strip(), scope=None)
    if args.redirect_url:
        return grant_from_url(args.redirect_url)
    client_id, _ = connector.api.app_credentials()
    listener = OneShotListener(args.port)
    state = new_state()
    url = authorize_url(connector.api.api_url, client_id, listener.redirect_uri, state)
    print("Open this address in a browser and press Authorize:")
    print(f"  {url}")
    print("On a server without a browser: open it on any computer, then run\n"
          "  syncd auth strava --redirect-url 'ADDRESS'\n"
          "with the address the browser ends up on (the page itself will not load).",
          flush=True)
    query = listener.wait(args.timeout)
    if query is None:
        raise AuthError(f"no answer from Strava within {args.timeout:g} s; run `syncd auth "
                        "strava` again, or use --redirect-url on a headless server")
    return grant_from_query(query, state)


# -- webhook subscription ------------------------------------------------------------------


def _cmd_strava_help(app: App, args: argparse.Namespace) -> int:
    print("syncd: strava: name an action (subscribe, subscriptions, unsubscribe)",
          file=sys.stderr)
    return 2


def cmd_subscribe(app: App, args: argparse.Namespace) -> int:
    """Create the application's webhook subscription and remember its id."""
    connector = strava_connector(app)
    section = app.settings.strava
    assert section is not None
    token = section.webhook_verify_token
    if token is None or not token.get_secret_value():
        raise ConfigError(["strava.webhook_verify_token: set a random string (as "
                           "webhook_verify_token_file or SYNCD_STRAVA_WEBHOOK_VERIFY_TOKEN); "
                           "Strava sends it back when it checks the callback"])
    callback = args.callback_url or _default_callback(app)
    created = connector.api.create_subscription(callback, token.get_secret_value())
    _remember(connector, {"id": created["id"], "callback_url": callback})
    print(f"subscribed: Strava sends events for every athlete of the application to "
          f"{callback} (subscription {created['id']})")
    return 0


def cmd_subscriptions(app: App, args: argparse.Namespace) -> int:
    """List the application's subscription (Strava allows one) and remember its id."""
    connector = strava_connector(app)
    subscriptions = connector.api.list_subscriptions()
    if not subscriptions:
        print("no webhook subscription: syncd polls only (`syncd strava subscribe` to add one)")
    for entry in subscriptions:
        print(f"subscription {entry.get('id')}: {entry.get('callback_url')} "
              f"(since {entry.get('created_at')})")
    if subscriptions:
        _remember(connector, {"id": subscriptions[0]["id"],
                              "callback_url": subscriptions[0].get("callback_url")})
    return 0


def cmd_unsubscribe(app: App, args: argparse.Namespace) -> int:
    """Delete a subscription; syncd goes on polling."""
    from connectors.strava.api import NotFound

    connector = strava_connector(app)
    try:
        connector.api.delete_subscription(args.id)
    except NotFound:
        raise ConfigError([f"subscription {args.id}: Strava has no such subscription; "
                           "`syncd strava subscriptions` lists the one there is"]) from None
    credentials = connector.context.credentials
    stored = credentials.load(SUBSCRIPTION) if credentials is not None else None
    if credentials is not None and stored and stored.get("id") == args.id:
        credentials.delete(SUBSCRIPTION)
    print(f"unsubscribed: subscription {args.id} ended; syncd keeps polling")
    return 0


def _default_callback(app: App) -> str:
    public = app.settings.server.public_url
    if not public:
        raise ConfigError(["--callback-url: give the public URL of syncd's callback, or set "
                           "[server] public_url"])
    return public.rstrip("/") + CALLBACK_PATH


def _remember(connector: StravaConnector, subscription: dict[str, Any]) -> None:
    """Keep the subscription's id: the callback ignores events for any other."""
    if connector.context.credentials is not None:
        connector.context.credentials.save(SUBSCRIPTION, subscription)
