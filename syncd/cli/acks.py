"""``syncd alerts ack ID [--note TEXT]``: acknowledge an alert from the command line.

The acknowledgement is recorded under the name of the user running the command (the
operating system's login name; ``cli`` when it cannot be told), beside those made with the
server's named tokens.
"""

from __future__ import annotations

import argparse
import getpass
from typing import TYPE_CHECKING

from syncd.pipeline.acks import acknowledge
from syncd.text import terminal_safe

if TYPE_CHECKING:
    from syncd.app import App

# Who acknowledged when the user's name cannot be told (no login name in the environment).
CLI = "cli"


def add_ack_command(alerts: argparse.ArgumentParser) -> None:
    """Add ``ack`` under ``syncd alerts`` (which still lists alerts without a subcommand)."""
    sub = alerts.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND")
    ack = sub.add_parser("ack", help="acknowledge an alert (who and when are recorded)",
                         description="acknowledge an alert: who (your login name) and when "
                                     "are recorded, with the note")
    ack.add_argument("alert_id", metavar="ID", help="the alert's id (syncd alerts --json)")
    ack.add_argument("--note", default=None, help="what was done about it")
    ack.set_defaults(handler=cmd_ack, scope="clinic")


def cli_user() -> str:
    """The name acknowledgements from the command line are recorded under."""
    try:
        return getpass.getuser() or CLI
    except (OSError, KeyError):  # no login name and no passwd entry (a bare container)
        return CLI


def cmd_ack(app: App, args: argparse.Namespace) -> int:
    """Acknowledge the alert and say whether it was the first acknowledgement."""
    done = acknowledge(app, args.alert_id, cli_user(), args.note)
    first = done.acks[0]
    if done.first:
        print(terminal_safe(f"acknowledged {done.alert.id} ({done.alert.athlete}: "
                            f"{done.alert.finding.rule}) as {first.by}"))
    else:
        print(terminal_safe(f"note added to {done.alert.id}; first acknowledged by {first.by} "
                            f"at {first.at:%Y-%m-%d %H:%M} UTC"))
    return 0
