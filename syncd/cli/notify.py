"""``syncd notify test``: a test push on every ``[[notify]]`` channel (or one), with its
answer, as ``syncd webhook test`` does for the webhooks."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from syncd.alerts.notify import NotifyChannel, Push, notify_channels
from syncd.errors import ConfigError

if TYPE_CHECKING:
    from syncd.app import App

Add = Callable[..., argparse.ArgumentParser]

TEST_PUSH = Push("syncd test", "A test message from syncd: this channel works, nothing else to "
                 "do.", "info")


def register(add: Add) -> None:
    """Add ``notify test`` to the command line."""
    notify = add("notify", cmd_notify_help, "notify channels (Apprise): send a test message")
    notify.set_defaults(notify_parser=notify, scope="clinic")
    sub = notify.add_subparsers(dest="notify_command", metavar="SUBCOMMAND")
    test = sub.add_parser("test", help="send a test message on each notify channel and print "
                          "how it went")
    test.add_argument("--channel", default=None,
                      help="only this one (its name, or notify:NAME)")
    test.set_defaults(handler=cmd_notify_test)


def cmd_notify_help(app: App, args: argparse.Namespace) -> int:
    """``syncd notify`` without a subcommand: show its help."""
    args.notify_parser.print_help()
    return 2


def cmd_notify_test(app: App, args: argparse.Namespace) -> int:
    """Send a test push on every notify channel (or one) and print the outcome; exit 1
    unless every channel took it. The channel's URL is never printed."""
    channels = _chosen(notify_channels(app.settings, concurrency=1), args.channel)
    ok = True
    for channel in channels:
        outcome = channel.send(TEST_PUSH)
        answer = "delivered" if outcome.result.value == "delivered" else "failed"
        print(f"{channel.name}: {answer} in {outcome.duration_s * 1000:.0f} ms"
              + (f" ({outcome.error})" if outcome.error else ""))
        ok = ok and answer == "delivered"
    return 0 if ok else 1


def _chosen(channels: list[NotifyChannel], wanted: str | None) -> list[NotifyChannel]:
    """The channels to test: all, or the one named ``wanted`` (``phone`` or
    ``notify:phone``)."""
    chosen = [c for c in channels if not wanted or wanted in (c.name, c.section.name)]
    if not chosen:
        configured = ", ".join(c.name for c in channels) or "none"
        raise ConfigError([f"no notify channel {wanted or ''} configured (notify channels: "
                           f"{configured}); add a [[notify]] entry with a name and a url"])
    return chosen
