"""The ``run`` command: the daemon in the foreground (under systemd, or in a terminal)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from syncd.daemon import STOP_TIMEOUT_S, Daemon

if TYPE_CHECKING:
    from syncd.app import App

Add = Callable[..., argparse.ArgumentParser]


def register(add: Add) -> None:
    """Add ``run`` to the command line."""
    run = add("run", cmd_run, "the daemon: sync every source on its schedule, deliver alerts, "
              "serve the status endpoint and dashboard (foreground; Ctrl-C stops it)")
    run.add_argument("--stop-timeout", type=float, default=STOP_TIMEOUT_S, metavar="SECONDS",
                     help="on SIGTERM, how long running syncs may take to finish "
                     f"(default {STOP_TIMEOUT_S:g})")


def cmd_run(app: App, args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM or Ctrl-C."""
    return Daemon(app, stop_timeout=args.stop_timeout).run()
