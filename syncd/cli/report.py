"""``syncd report monitoring --month YYYY-MM [--athlete NAME] [--format csv|json]``: the
monthly monitoring report (:mod:`syncd.pipeline.monitoring`) of every athlete, or one."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from syncd.errors import ConfigError
from syncd.pipeline.monitoring import monitoring_report
from syncd.pipeline.monitoring_table import report_csv
from syncd.text import terminal_safe

if TYPE_CHECKING:
    from syncd.app import App

Add = Callable[..., argparse.ArgumentParser]


def register(add: Add) -> None:
    """Add ``report`` (with its one report, ``monitoring``) to the command line."""
    report = add("report", cmd_report_help, "reports: the monthly monitoring report")
    report.set_defaults(report_parser=report, scope="clinic")
    sub = report.add_subparsers(dest="report_command", metavar="REPORT")
    monitoring = sub.add_parser(
        "monitoring", help="days with data per 30-day period, sessions, pain, alerts and "
        "their acknowledgements, per athlete, for one month")
    monitoring.add_argument("--month", required=True, metavar="YYYY-MM")
    monitoring.add_argument("--athlete", dest="report_athlete", default=None, metavar="NAME",
                            help="only this athlete (default: every athlete)")
    monitoring.add_argument("--format", choices=("csv", "json"), default="csv",
                            help="csv (default: one row per athlete and period) or json")
    monitoring.set_defaults(handler=cmd_monitoring)


def cmd_report_help(app: App, args: argparse.Namespace) -> int:
    """``syncd report`` without a report: show its help."""
    args.report_parser.print_help()
    return 2


def cmd_monitoring(app: App, args: argparse.Namespace) -> int:
    """Print the report of ``--month``."""
    name = args.report_athlete or args.athlete
    apps = [app.clinic.app(name)] if name else app.clinic.apps()
    try:
        report = monitoring_report(apps, args.month, app.clock())
    except ValueError as err:
        raise ConfigError([f"--month: {err}"]) from None
    text = report_csv(report) if args.format == "csv" else json.dumps(report, indent=2)
    print(terminal_safe(text), end="" if text.endswith("\n") else "\n")
    return 0
