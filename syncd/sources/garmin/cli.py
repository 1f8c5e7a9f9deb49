"""``syncd auth garmin``: log in to Garmin Connect once, then the daemon runs from tokens.

- ``syncd auth garmin`` asks for the email and the password (on a terminal; from the first two
  lines of standard input otherwise) and signs in. When Garmin asks for an MFA code, a terminal
  is asked for it; without a terminal the sign-in waits in the token store and
  ``syncd auth garmin --mfa-code CODE`` finishes it.
- ``syncd auth garmin --token-store DIR`` adopts an existing garminconnect token store.

The token store is ``[garmin] token_store``, else ``garmin/`` in the state directory: a 0700
folder of 0600 files. In a clinic the tokens are also saved to the database at once, where the
other replica finds them (:mod:`syncd.sources.garmin.tokens`). The password is never stored.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.cli.auth import Add, auth_subcommand
from syncd.errors import AuthError
from syncd.sources.garmin.folders import token_dir

if TYPE_CHECKING:
    from syncd.app import App


def register(add: Add) -> None:
    """Add ``auth garmin`` to the command line."""
    garmin = auth_subcommand(add, "garmin", cmd_auth_garmin,
                             "log in to Garmin Connect once (email, password, MFA) and keep "
                             "only the tokens")
    which = garmin.add_mutually_exclusive_group()
    which.add_argument("--mfa-code", metavar="CODE", default=None,
                       help="finish a sign-in that waits for the code Garmin sent")
    which.add_argument("--token-store", metavar="DIR", type=Path, default=None,
                       help="adopt an existing garminconnect token store instead")


def cmd_auth_garmin(app: App, args: argparse.Namespace) -> int:
    """Sign in, finish a sign-in, or adopt a token store; print where the tokens went."""
    # Imported here: garminconnect would slow every other command's start.
    from connectors.garmin import auth
    from syncd.sources.garmin.tokens import keep_sign_in

    settings = app.settings
    folder = token_dir(app)
    api_url = settings.garmin.api_url if settings.garmin else None
    if args.token_store is not None:
        result = auth.adopt(folder, api_url, args.token_store.expanduser())
    elif args.mfa_code is not None:
        result = auth.finish_mfa(folder, api_url, args.mfa_code)
    else:
        email, password = _ask_credentials()
        ask_code = _ask_code if sys.stdin.isatty() else None
        result = auth.login(folder, api_url, email, password, ask_code)
    if not result.done:
        sent = f" by {result.mfa_method}" if result.mfa_method else ""
        print(f"Garmin sent a verification code{sent}. Finish the sign-in with:\n"
              "  syncd auth garmin --mfa-code CODE")
        return 0
    # In a clinic, at once into the database: the other replica syncs from there.
    keep_sign_in(app, folder)
    print(f"Garmin login saved in {folder} (as {result.display_name or 'unknown'}); "
          "the password was not stored.")
    if settings.garmin is None:
        print("Add a [garmin] section to the configuration to sync Garmin.")
    return 0


def _ask_credentials() -> tuple[str, str]:
    """Email and password: prompted on a terminal, else the first two lines of stdin."""
    if sys.stdin.isatty():
        email = input("Garmin email: ").strip()
        password = getpass.getpass("Garmin password: ")
    else:
        email = sys.stdin.readline().strip()
        password = sys.stdin.readline().rstrip("\r\n")
    if not email or not password:
        raise AuthError("syncd auth garmin needs the Garmin email and password: type them "
                        "when asked, or give them as two lines on standard input")
    return email, password


def _ask_code() -> str:
    """The MFA code, asked on the terminal."""
    return input("Garmin verification code: ")
