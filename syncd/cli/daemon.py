"""The ``run`` command: the daemon in the foreground (under systemd, or in a terminal)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncd.app import App

Add = Callable[..., argparse.ArgumentParser]


def register(add: Add) -> None:
    """Add ``run`` to the command line."""
    run = add("run", cmd_run, "the daemon: sync every source on its schedule, deliver alerts, "
              "serve the status endpoint and dashboard (foreground; Ctrl-C stops it)")
    run.add_argument("--stop-timeout", type=float, default=None, metavar="SECONDS",
                     help="on SIGTERM, how long running syncs may take to finish "
                     "(default: 20)")
    run.set_defaults(scope="clinic")


def cmd_run(app: App, args: argparse.Namespace) -> int:
    """Run the daemon until SIGTERM or Ctrl-C."""
    # Imported here: FastAPI and uvicorn would slow every other command's start.
    from syncd.runtime.daemon import STOP_TIMEOUT_S, Daemon
    from syncd.web import create_app

    timeout = STOP_TIMEOUT_S if args.stop_timeout is None else args.stop_timeout
    return Daemon(app, create_app, stop_timeout=timeout).run()
