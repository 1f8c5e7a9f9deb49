"""``syncd athletes``: the athletes a clinic watches, and everything stored about each.

- ``list [--json] [--all]``: every athlete with their settings, connected accounts, activity
  and alert counts and last sync (``--all``: also those removed or no longer configured).
- ``add NAME --timezone TZ ...``: watch an athlete without editing the configuration file;
  their settings are kept in the database, checked as an ``[[athletes]]`` entry is.
- ``remove NAME``: stop watching an athlete added that way; their data stays.
- ``export NAME`` / ``import FILE``: everything stored about one athlete as a zip of JSON,
  and ``delete NAME --yes``: erase it all (:mod:`syncd.cli.athlete_records`).
- ``invite NAME``: a one-time link to connect Strava or Garmin (:mod:`syncd.cli.invites`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from syncd.app import App
from syncd.cli.athlete_checks import (
    NAME_RULE,
    athlete_problems,
    clinic_of,
    quoted,
    refuse_configured,
    refuse_single_athlete_install,
)
from syncd.cli.athlete_records import add_commands
from syncd.cli.commands import Command
from syncd.cli.invites import add_invite_command
from syncd.clinic import Clinic, UnknownAthlete, stored_profile
from syncd.config import Settings
from syncd.config.sections import AthleteSection
from syncd.errors import ConfigError
from syncd.invites import CONNECTABLE
from syncd.sources.registry import enabled_sources, hooks_for
from syncd.store.roster import (
    ADDED,
    StoredAthlete,
    athlete_counts,
    find_athlete,
    mark_removed,
    store_added,
    stored_athletes,
)

Add = Callable[..., argparse.ArgumentParser]


def register(add: Add) -> None:
    """Add ``athletes`` and its subcommands to the command line."""
    athletes = add("athletes", cmd_athletes_help,
                   "the athletes watched: list, add, remove, export, import, delete, invite")
    athletes.set_defaults(athletes_parser=athletes, scope="clinic")
    sub = athletes.add_subparsers(dest="athletes_command", metavar="SUBCOMMAND")

    def command(name: str, handler: Command, text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=text, description=text)
        parser.set_defaults(handler=handler, scope="clinic")
        return parser

    listing = command("list", cmd_list, "every athlete: settings, accounts, activities, alerts")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--all", action="store_true",
                         help="also athletes removed or no longer in the configuration")
    _add_arguments(command("add", cmd_add, "watch an athlete (settings kept in the database)"))
    remove = command("remove", cmd_remove, "stop watching an added athlete; the data stays")
    remove.add_argument("name", metavar="NAME")
    add_commands(command)
    add_invite_command(sub)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--timezone", required=True, metavar="TZ",
                        help="the athlete's IANA time zone, e.g. Europe/Berlin")
    parser.add_argument("--plan", default=None,
                        help="a shipped plan's name or a plan file (default: the hip plan)")
    parser.add_argument("--plan-start", type=_date, default=None, metavar="DATE",
                        help="the plan's first day (YYYY-MM-DD)")
    parser.add_argument("--source", action="append", choices=("strava", "garmin", "files"),
                        default=None, help="a source of theirs (repeat; default: every one)")
    parser.add_argument("--channel", action="append", default=None,
                        help="a shared channel for their alerts: webhook, webhook:NAME, email "
                             "(repeat; default: every one)")
    parser.add_argument("--email", action="append", default=None, metavar="ADDRESS",
                        help="their own mail recipient (repeat)")
    parser.add_argument("--email-min-severity", choices=("info", "warning", "critical"),
                        default=None, help="the least severe alert their own mail gets")
    parser.add_argument("--watch", action="append", type=Path, default=None, metavar="DIR",
                        help="a folder of their activity files (repeat)")
    parser.add_argument("--replace", action="store_true",
                        help="replace the settings of an athlete added before")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def cmd_athletes_help(app: App, args: argparse.Namespace) -> int:
    """``syncd athletes`` without a subcommand: show its help."""
    args.athletes_parser.print_help()
    return 2


# -- list ---------------------------------------------------------------------------------------


def cmd_list(app: App, args: argparse.Namespace) -> int:
    """Print every athlete (one block each, or JSON)."""
    entries = athlete_overview(clinic_of(app), include_unwatched=args.all)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    if not entries:
        print("no athletes")
    for entry in entries:
        _print_entry(entry)
    return 0


def athlete_overview(clinic: Clinic, *, include_unwatched: bool = False) -> list[dict[str, Any]]:
    """What ``syncd athletes list`` shows, one dict per athlete: the roster in order, then
    (with ``include_unwatched``) stored athletes no longer watched. Tokens are never shown,
    only whether they are present."""
    settings = clinic.settings
    with clinic.store.read() as tx:
        rows = {row.name: row for row in stored_athletes(tx)}
        counts = athlete_counts(tx, {name: credential for name in CONNECTABLE
                                     if (credential := hooks_for(name).credential)})
    configured = {a.name for a in settings.roster()}
    entries = []
    for athlete_app in clinic.apps():
        name = athlete_app.profile.name
        row = rows.pop(name, None)
        origin = "config" if name in configured else ADDED
        entries.append(_entry(athlete_app, row, counts, origin, "watched"))
    if include_unwatched:
        for row in rows.values():
            section = _section_of(settings, row)
            state = ("removed" if row.removed_at is not None else
                     "not in the configuration" if row.origin != ADDED else "settings invalid")
            entries.append(_entry(App(settings, profile=section, clinic=clinic), row,
                                  counts, row.origin, state))
    return entries


def _entry(app: App, row: StoredAthlete | None, counts: dict[str, dict[int, Any]], origin: str,
           state: str) -> dict[str, Any]:
    profile = app.profile
    athlete_id = row.id if row is not None else -1
    last_sync = counts["last_sync"].get(athlete_id)
    connected = {name: hooks_for(name).connected(app, athlete_id in counts.get(name, {}))
                 for name in CONNECTABLE}
    return {
        "name": profile.name, "origin": origin, "state": state,
        "timezone": row.timezone if row is not None and state != "watched" else profile.timezone,
        "plan": profile.plan, "plan_start": _iso(profile.plan_start),
        "sources": enabled_sources(app), "channels": app.channels(),
        "connected": connected,
        "activities": counts["activities"].get(athlete_id, 0),
        "open_alerts": counts["open_alerts"].get(athlete_id, 0),
        "last_sync": last_sync.strftime("%Y-%m-%dT%H:%M:%SZ") if last_sync else None,
        "removed_at": (row.removed_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                       if row is not None and row.removed_at else None),
    }


def _section_of(settings: Settings, row: StoredAthlete) -> AthleteSection:
    """A stored athlete's settings, or their name and time zone when there are none that
    fit (an athlete no longer in the configuration file)."""
    section = stored_profile(settings, row.name, row.profile) if row.profile else None
    return section or AthleteSection(name=row.name, timezone=row.timezone, plan=None)


def _print_entry(entry: dict[str, Any]) -> None:
    state = "" if entry["state"] == "watched" else f", {entry['state']}"
    print(f"{entry['name']} ({entry['origin']}{state}, {entry['timezone']})")
    plan = entry["plan"] or "none"
    start = f" from {entry['plan_start']}" if entry["plan_start"] else ", no start date"
    print(f"  plan: {plan}{start if entry['plan'] else ''}")
    connected = ", ".join(f"{source.capitalize()} {'yes' if entry['connected'][source] else 'no'}"
                          for source in CONNECTABLE if source in entry["sources"])
    print(f"  sources: {', '.join(entry['sources']) or 'none'}"
          + (f" (connected: {connected})" if connected else ""))
    print(f"  alert channels: {', '.join(entry['channels']) or 'none'}")
    print(f"  activities: {entry['activities']}, open alerts: {entry['open_alerts']}, "
          f"last sync: {entry['last_sync'] or 'never'}")


# -- add and remove -----------------------------------------------------------------------------


def cmd_add(app: App, args: argparse.Namespace) -> int:
    """Store an athlete's settings and watch them; print the next step."""
    clinic = clinic_of(app)
    settings = clinic.settings
    refuse_single_athlete_install(settings, "add athletes")
    section = _section_from_args(args, settings)
    refuse_configured(settings, section.name, "change their settings there")
    profile = section.model_dump(mode="json", exclude={"name"}, exclude_unset=True)
    with clinic.store.write() as tx:
        row = find_athlete(tx, section.name)
        if row is None:
            again = False
        elif row.origin == ADDED and row.removed_at is None and not args.replace:
            raise ConfigError([f"athlete {section.name!r} was added already; give --replace "
                               "to replace their settings"])
        else:
            again = row.origin != ADDED or row.removed_at is not None
        store_added(tx, section.name, section.timezone, profile, clinic.clock())
    clinic.refresh()
    added = clinic.app(section.name)
    _print_added(added, replaced=args.replace and not again, again=again,
                 watched=len(clinic.roster()))
    return 0


def _section_from_args(args: argparse.Namespace, settings: Settings) -> AthleteSection:
    """The athlete's section as the command line gives it (only what was given is set, so
    that the defaults of a later syncd apply to the rest). Raises :class:`ConfigError`
    listing every problem of the options, those :func:`athlete_problems` finds included."""
    given: dict[str, Any] = {"name": args.name, "timezone": args.timezone}
    if args.plan is not None:
        given["plan"] = _plan_reference(args.plan)
    options = {"plan_start": args.plan_start, "sources": args.source, "channels": args.channel,
               "email": args.email, "email_min_severity": args.email_min_severity}
    given.update({key: value for key, value in options.items() if value is not None})
    if args.watch is not None:
        given["watch"] = [str(folder.expanduser().resolve()) for folder in args.watch]
    problems: list[str] = []
    try:
        section = AthleteSection.model_validate(given)
    except ValidationError as err:
        wrong = {str(error["loc"][0]) if error["loc"] else "name" for error in err.errors()}
        for error in err.errors():
            key = str(error["loc"][0]) if error["loc"] else "name"
            option = "NAME" if key == "name" else "--" + key.replace("_", "-")
            message = (NAME_RULE if key == "name" else
                       str(error["msg"]).removeprefix("Value error, "))
            problems.append(f"{option} {given.get(key)!r}: {message}")
        # The other options are checked too, so that every problem is reported at once.
        section = AthleteSection.model_validate(
            {key: value for key, value in given.items() if key not in wrong - {"name"}}
            | ({"name": "athlete"} if "name" in wrong else {}))
    problems += athlete_problems(settings, section)
    if problems:
        raise ConfigError(problems, source=f"syncd athletes add {args.name}")
    return section


def _plan_reference(plan: str) -> str:
    """A plan file given relative to the current folder as an absolute path (the daemon
    resolves relative paths against the configuration's folder); a shipped name as is."""
    candidate = Path(plan).expanduser()
    if not candidate.is_absolute() and candidate.is_file():
        return str(candidate.resolve())
    return plan


def _print_added(app: App, *, replaced: bool, again: bool, watched: int) -> None:
    name = app.profile.name
    verb = ("replaced the settings of" if replaced else "added back" if again else "added")
    start = app.profile.plan_start
    plan = (f", plan {app.profile.plan}" + (f" from {start}" if start else "")
            if app.profile.plan else ", no plan")
    print(f"{verb} athlete {name} ({app.profile.timezone}{plan})")
    if again:
        print("  what was stored about them before is kept")
    print(f"  sources: {', '.join(enabled_sources(app)) or 'none'}")
    print(f"  alert channels: {', '.join(app.channels()) or 'none'}")
    if any(source in CONNECTABLE for source in enabled_sources(app)):
        print(f"next: syncd athletes invite {quoted(name)} (a link for {name} to connect "
              "their account)")
    elif app.profile.watch:
        print(f"next: put {name}'s activity files into "
              f"{', '.join(str(p) for p in app.profile.watch)}")
    print(f"syncd watches {watched} athletes; a running syncd picks {name} up within a minute")


def cmd_remove(app: App, args: argparse.Namespace) -> int:
    """Stop watching an athlete added from the command line; keep their data."""
    clinic = clinic_of(app)
    name = args.name
    refuse_configured(clinic.settings, name,
                       "remove their entry there (their data stays until `syncd athletes "
                       "delete`)")
    with clinic.store.write() as tx:
        row = find_athlete(tx, name)
        if row is None or row.origin != ADDED:
            raise UnknownAthlete([f"athlete {name!r} was not added with `syncd athletes add`; "
                                  "`syncd athletes list` shows who was"])
        if row.removed_at is not None:
            print(f"{name} was removed already ({_utc(row.removed_at)})")
            return 0
        mark_removed(tx, row.id, clinic.clock())
    print(f"removed {name}: syncd no longer watches them; their data stays "
          f"(`syncd athletes export {quoted(name)}` writes it out, `syncd athletes delete "
          f"{quoted(name)} --yes` erases it, `syncd athletes add` watches them again)")
    return 0


# -- helpers ------------------------------------------------------------------------------------


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
