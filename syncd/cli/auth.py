"""The ``auth`` command: one sub-command per source that needs a login (``syncd auth garmin``,
``syncd auth strava``), each registered by its source's CLI module through
:func:`auth_subcommand`, so that the modules need not know about each other."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from syncd.app import App

Add = Callable[..., argparse.ArgumentParser]
Handler = Callable[["App", argparse.Namespace], int]

# One ``auth`` parser per command line being built (keyed by that build's ``add``).
_SOURCES: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()


def auth_subcommand(add: Add, source: str, handler: Handler, help_text: str
                    ) -> argparse.ArgumentParser:
    """Add ``syncd auth SOURCE`` (creating ``auth`` itself on first use) and return its
    parser. Logging in needs no plan, so a broken plan does not stop it."""
    sources = _SOURCES.get(add)
    if sources is None:
        parent = add("auth", _cmd_auth, "log in to a source once (auth garmin, auth strava)")
        parent.set_defaults(needs_plan=False)
        sources = parent.add_subparsers(dest="auth_source", metavar="SOURCE")
        _SOURCES[add] = sources
    parser: argparse.ArgumentParser = sources.add_parser(source, help=help_text,
                                                         description=help_text)
    parser.set_defaults(handler=handler, needs_plan=False)
    return parser


def _cmd_auth(app: App, args: argparse.Namespace) -> int:
    """``syncd auth`` without a source: say which ones there are."""
    known = sorted({name for sources in _SOURCES.values() for name in sources.choices})
    print(f"syncd: auth: name the source to log in to ({', '.join(known) or 'none'}), "
          "e.g. `syncd auth garmin`", file=sys.stderr)
    return 2
