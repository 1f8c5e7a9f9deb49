"""The ``syncd`` command. Each command is a small function; errors become one clear line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from syncd.app import App, plan_json
from syncd.cli import acks as cli_acks
from syncd.cli import alerts as cli_alerts
from syncd.cli import athletes as cli_athletes
from syncd.cli import daemon as cli_daemon
from syncd.cli import notify as cli_notify
from syncd.cli import plan_files as cli_plan_files
from syncd.cli import report as cli_report
from syncd.cli import sync as cli_sync
from syncd.cli.commands import Command
from syncd.cli.terminal import safe_output
from syncd.clinic import Clinic
from syncd.config import Settings, load_settings
from syncd.errors import ConfigError, SyncdError
from syncd.logs import configure_logging
from syncd.models import PAIN_WHENS, SYMPTOM_LABELS, SYMPTOMS, WHEN_LABELS
from syncd.pipeline.acks import with_acks
from syncd.progress import step_text
from syncd.sources.registry import all_hooks, enabled_sources
from syncd.store.alerts import list_alerts


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code. No escape sequence or
    control character from the data reaches the terminal (:mod:`syncd.cli.terminal`)."""
    with safe_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return run_command(args)
    except SyncdError as err:
        if args.debug:
            raise
        print(f"syncd: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # one line, not a traceback, unless --debug
        if args.debug:
            raise
        print(f"syncd: unexpected error: {type(err).__name__}: {err} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return 70


def run_command(args: argparse.Namespace) -> int:
    """Load and validate the configuration, then run the chosen command."""
    settings = load_settings(args.config)
    configure_logging(settings.log.level, settings.log.format, stream=sys.stderr)
    command: Command = args.handler
    clinic = Clinic(settings)  # opens nothing yet
    if getattr(args, "needs_plan", True):
        # A broken plan stops every command before anything is written (the database too);
        # through the clinic, a plan many athletes share is read once.
        for profile in settings.roster():
            _ = App(settings, profile=profile, clinic=clinic).athlete
    try:
        athlete = args.athlete or os.environ.get("SYNCD_ATHLETE") or None
        if getattr(args, "scope", "athlete") == "clinic" and athlete is None:
            # A command about every athlete: it reads ``app.clinic``; the first athlete's App
            # carries the settings and the database.
            app = clinic.apps()[0]
            args.athlete = None
        else:
            app = clinic.app(athlete)
            args.athlete = app.athlete.name
        return command(app, args)
    finally:
        clinic.close()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(prog="syncd", description=__doc__)
    parser.add_argument("--config", type=Path, default=None,
                        help="configuration file (default: $SYNCD_CONFIG)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--athlete", default=None, metavar="NAME",
                        help="the athlete a command is about (needed when syncd watches "
                             "several; default: $SYNCD_ATHLETE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    add("check-config", cmd_check_config, "validate the configuration and the plan"
        ).set_defaults(scope="clinic")
    plan = add("plan", cmd_plan, "print the plan week by week, write it as FIT workout files "
               "or give its calendar feed")
    plan.add_argument("--json", action="store_true")
    cli_plan_files.add_options(plan)
    pain = add("pain", cmd_pain, "record a pain score (0-10) and evaluate")
    pain.add_argument("score", type=int, choices=range(11), metavar="SCORE")
    pain.add_argument("--at", type=str, default=None,
                      help="when (ISO 8601; local time when no offset; default now)")
    pain.add_argument("--note", type=str, default=None)
    pain.add_argument("--when", choices=PAIN_WHENS, default="other",
                      help="when it hurt (default: other)")
    pain.add_argument("--symptom", choices=SYMPTOMS, action="append", default=[],
                      dest="symptoms", help="a warning symptom that came with it (repeat "
                      "for several; any one raises red_flag)")
    alerts = add("alerts", cmd_alerts, "list open alerts")
    alerts.add_argument("--json", action="store_true")
    alerts.add_argument("--all", action="store_true", help="include resolved alerts")
    alerts.set_defaults(scope="clinic")
    cli_acks.add_ack_command(alerts)
    status = add("status", cmd_status, "plan week, prescribed vs actual, open alerts, sources "
                 "(with several athletes and no --athlete: one line per athlete)")
    status.add_argument("--json", action="store_true")
    status.set_defaults(scope="clinic")
    add("evaluate", cmd_evaluate, "re-evaluate the whole history (after a plan change)")
    _add_later_commands(add)
    return parser


def _add_later_commands(add: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    """Commands whose implementation lives in other modules."""
    cli_sync.register(add)
    cli_athletes.register(add)
    cli_daemon.register(add)
    cli_alerts.register(add)
    cli_notify.register(add)
    cli_report.register(add)
    for hooks in all_hooks():  # each source's own commands (auth garmin, strava ...)
        hooks.register_commands(add)


# -- commands -------------------------------------------------------------------------------


def cmd_check_config(app: App, args: argparse.Namespace) -> int:
    """Print where the settings came from and what is enabled; problems exit 2 earlier."""
    settings: Settings = app.settings
    print(f"configuration: {settings.config_path or 'built-in defaults'}: OK")
    print(f"database: {settings.database_url_redacted()}")
    apps = app.clinic.apps() if args.athlete is None else [app]
    for athlete_app in apps:
        _describe_athlete(athlete_app, settings)
    if len(apps) > 1:
        print(f"athletes: {len(apps)}")
    return 0


def _describe_athlete(app: App, settings: Settings) -> None:
    plan = app.plan
    print(f"athlete: {app.athlete.name} ({app.athlete.timezone})")
    indent = "  " if settings.clinic else ""
    if plan is not None:
        start = app.athlete.plan_start
        print(f"{indent}plan: {plan.name}, {len(plan.weeks)} weeks, {plan.limits.progression}"
              + (f", starting {start}" if start else ", no start date"))
    print(f"{indent}sources: {', '.join(enabled_sources(app)) or 'none'}")
    print(f"{indent}alert channels: {', '.join(app.channels()) or 'none'}")


def cmd_plan(app: App, args: argparse.Namespace) -> int:
    """Print the plan, week by week (or write its FIT files, or give its calendar feed)."""
    if cli_plan_files.wanted(args):
        return cli_plan_files.run(app, args)
    plan = app.plan
    if plan is None:
        raise ConfigError(["athlete.plan: no plan configured; name a shipped plan or a file"])
    weeks = plan_json(plan, app.athlete.plan_start)
    current = next(iter(app.weeks(app.today(), app.today())), None)
    if args.json:
        _print_json({"name": plan.name, "limits": _limits(app), "weeks": weeks,
                     "current": current.as_dict() if current else None})
        return 0
    print(plan.name)
    if current is not None and current.plan_week:
        how = step_text(current.plan_week, current.step)
        print(f"  now: plan week {current.plan_week} ({current.start} to {current.end})"
              + (f", {how}" if how else ""))
    for week in weeks:
        dates = f"{week['start']} to {week['end']}  " if "start" in week else ""
        bout = f", jogs up to {week['run_interval_s']:g} s" if week["run_interval_s"] else ""
        what = ("walk only" if week["run_min"] == 0 else
                f"run {week['run_min']:g} min + walk {week['walk_min']:g} min")
        print(f"  week {week['week']:>2}  {dates}{week['sessions']} x {what} "
              f"({week['session_min']:g} min){bout}")
    return 0


def cmd_pain(app: App, args: argparse.Namespace) -> int:
    """Record a pain report."""
    at = _parse_time(args.at, app.athlete.timezone) if args.at else None
    report, result = app.record_pain(args.score, at, args.note, when=args.when,
                                     symptoms=args.symptoms)
    local = report.local_at.strftime("%Y-%m-%d %H:%M") if report.local_at else report.at_utc
    details = [WHEN_LABELS[report.when]] if report.when != "other" else []
    details += [SYMPTOM_LABELS[s] for s in report.symptoms]
    told = f" ({', '.join(details)})" if details else ""
    print(f"pain {report.score}/10{told} recorded at {local}")
    for alert in result.raised:
        print(f"  {alert.finding.severity.upper()} {alert.finding.rule}: {alert.finding.message}")
        print(f"    {alert.finding.advice}")
    return 0


def cmd_alerts(app: App, args: argparse.Namespace) -> int:
    """List alerts: one athlete's, or every athlete's when several and none is named."""
    every = _every_athlete(app, args)
    if every:
        names = set(app.clinic.names())
        with app.store.read() as tx:
            alerts = [a for a in list_alerts(tx, include_resolved=args.all)
                      if a.athlete in names]
    else:
        alerts = app.alerts(include_resolved=args.all)
    shown = with_acks(app.store, [a.payload_data() for a in alerts])
    if args.json:
        _print_json(shown)
        return 0
    if not alerts:
        print("no open alerts" if not args.all else "no alerts")
    for alert, data in zip(alerts, shown, strict=True):
        f = alert.finding
        state = "" if alert.status.value == "open" else " (resolved)"
        if data["acknowledged"]:
            state += f" (acknowledged by {data['acknowledged']['by']})"
        who = f"{alert.athlete}: " if every else ""
        print(f"{f.severity.upper():8} {who}{f.rule}{state}: {f.message}")
        print(f"         {f.advice}")
    return 0


def _every_athlete(app: App, args: argparse.Namespace) -> bool:
    """True when a command about athletes must cover all of them (several, none named)."""
    return args.athlete is None and len(app.clinic.apps()) > 1


def cmd_status(app: App, args: argparse.Namespace) -> int:
    """Show the current plan week, prescribed against actual, open alerts and sources; with
    several athletes and none named, one line per athlete (as the therapist's dashboard)."""
    if _every_athlete(app, args):
        return _clinic_status(app, args)
    status = app.status()
    if args.json:
        _print_json(status)
        return 0
    print(f"athlete {status['athlete']}, today {status['today']}")
    week = status["week"]
    if week and week["plan_week"]:
        p, a = week["prescribed"], week["actual"]
        how = step_text(week["plan_week"], week.get("step"))
        print(f"plan week {week['plan_week']} ({week['week_start']} to {week['week_end']}"
              f"{', ' + how if how else ''}): {a['sessions']}/{p['sessions']} sessions, "
              f"{a['run_min']:g}/{p['volume_min']:g} min running")
    elif week:
        print(f"outside the plan this week: {week['actual']['sessions']} sessions, "
              f"{week['actual']['run_min']:g} min running")
    print(f"open alerts: {status['open_alerts']}")
    for name, state in status["sources"].items():
        print(f"source {name}: last success {state.get('last_success_at') or 'never'}"
              + (f", last error: {state['last_error']}" if state.get("last_error") else ""))
    return 0


def _clinic_status(app: App, args: argparse.Namespace) -> int:
    # Imported here: the web package loads FastAPI, which every other command can do without.
    from syncd.web.overview import clinic_summary

    summary = clinic_summary(app.clinic.apps(), app.store, app.clock())
    if args.json:
        _print_json(summary)
        return 0
    for row in summary["athletes"]:
        week, alerts = row["week"], row["open_alerts"]
        if row.get("problem"):
            progress = f"problem: {row['problem']}"
        elif week and week["plan_week"]:
            p, a = week["prescribed"], week["actual"]
            progress = (f"week {week['plan_week']}/{row['plan']['weeks']}: {a['sessions']}/"
                        f"{p['sessions']} sessions, {a['run_min']:g}/{p['volume_min']:g} min")
        else:
            progress = "outside the plan"
        counts = ", ".join(f"{alerts[s]} {s}" for s in ("critical", "warning", "info")
                           if alerts[s]) or "no open alerts"
        last = row["last_sync"]["last_success_at"] or "never synced"
        failing = row["last_sync"]["failing"]
        print(f"{row['athlete']}: {progress}; {counts}; last sync {last}"
              + (f"; failing: {', '.join(failing)}" if failing else ""))
    totals = summary["totals"]["open_alerts"]
    print(f"{summary['totals']['athletes']} athletes; open alerts: {totals['critical']} "
          f"critical, {totals['warning']} warning, {totals['info']} info")
    return 0


def cmd_evaluate(app: App, args: argparse.Namespace) -> int:
    """Re-evaluate everything."""
    result = app.evaluate_all()
    print(f"evaluated: {len(result.raised)} raised, {len(result.resolved)} resolved")
    return 0


# -- helpers --------------------------------------------------------------------------------


def _parse_time(text: str, timezone: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError([f"--at: {text!r} is not a time; use e.g. 2026-11-21T07:30 "
                           "(local time) or 2026-11-21T06:30Z"]) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


def _limits(app: App) -> dict[str, Any]:
    return asdict(app.athlete.limits)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
