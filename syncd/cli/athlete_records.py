"""``syncd athletes export|import|delete``: everything stored about one athlete, as a zip of
JSON to hand over or move to another syncd, and its complete erasure.

The records themselves are :mod:`syncd.store.athletes`'s; these commands find the athlete by
name, say what they did in counts, and take care of what lives outside the database (the
Garmin token folder).
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from syncd.app import App, own_email_channel
from syncd.cli.athlete_checks import (
    NAME_RULE,
    athlete_problems,
    clinic_of,
    quoted,
    refuse_single_athlete_install,
    stored_athlete,
)
from syncd.cli.commands import Command
from syncd.clinic import Clinic
from syncd.config import Settings
from syncd.config.sections import AthleteSection
from syncd.errors import ConfigError, SyncdError
from syncd.sources.registry import all_hooks
from syncd.store.athlete_import import import_athlete
from syncd.store.athletes import erase_athlete, export_athlete
from syncd.store.export_file import KINDS, read_export, write_export
from syncd.store.invites import invite_ids
from syncd.store.outbox import move_channel
from syncd.store.roster import ADDED, CONFIGURED, StoredAthlete, row_counts, set_origin


def add_commands(command: Callable[[str, Command, str], argparse.ArgumentParser]) -> None:
    """Add ``export``, ``import`` and ``delete``; ``command(name, handler, help)`` makes a
    subcommand's parser."""
    export = command("export", cmd_export, "write everything stored about an athlete to a zip")
    export.add_argument("name", metavar="NAME")
    export.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="the zip file or a folder (default: NAME-DATE.zip here)")
    imp = command("import", cmd_import, "store an athlete from an export zip")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--name", default=None, help="store the athlete under this name")
    delete = command("delete", cmd_delete,
                     "erase everything stored about an athlete, tokens included")
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--yes", action="store_true",
                        help="really erase (without it: show what would be removed)")
    delete.add_argument("--force", action="store_true",
                        help="erase an athlete who is still in the configuration file")


# -- export and import --------------------------------------------------------------------------


def cmd_export(app: App, args: argparse.Namespace) -> int:
    """Write everything stored about an athlete to a zip of JSON; print where and how much."""
    clinic = clinic_of(app)
    row = stored_athlete(clinic, args.name)
    with clinic.store.read() as tx:
        data = export_athlete(tx, row.id)
    section = next((a for a in clinic.settings.roster() if a.name == row.name), None)
    if data["athlete"].get("profile") is None and section is not None:
        # A configured athlete's settings live in the file: the export carries them too.
        data["athlete"]["profile"] = section.model_dump(mode="json", exclude={"name"},
                                                        exclude_unset=True)
    now = clinic.clock()
    path = args.output or Path.cwd()
    if path.is_dir():
        day = now.astimezone(ZoneInfo(row.timezone)).date()
        path = path / f"{row.name}-{day.isoformat()}.zip"
    written = write_export(data, path, now=now)
    print(f"exported {row.name} to {written}")
    print(f"  {_describe_counts(_export_counts(data))}")
    print("  credential values (tokens) are never exported; the file holds health data: "
          "keep it private")
    return 0


def _export_counts(data: dict[str, Any]) -> dict[str, int]:
    counts = {kind: len(data[kind]) for kind in KINDS if kind != "athlete"}
    counts["segments"] = sum(len(a.get("segments", ())) for a in data["activities"])
    counts["delivery_attempts"] = sum(len(d.get("attempt_log", ())) for d in data["deliveries"])
    return counts


def cmd_import(app: App, args: argparse.Namespace) -> int:
    """Store the athlete of an export zip, as an athlete added from the command line (or as
    the configured athlete of that name)."""
    clinic = clinic_of(app)
    settings = clinic.settings
    data = read_export(args.file)
    exported = data["athlete"]
    name = args.name or exported["name"]
    try:
        AthleteSection(name=name)
    except ValidationError:
        raise ConfigError([f"--name {name!r}: {NAME_RULE}"]) from None
    configured = any(a.name == name for a in settings.roster())
    if not configured:
        refuse_single_athlete_install(settings, "import another athlete",
                                       f"import as --name {settings.athlete.name!r}")
    profile, note = _imported_profile(settings, name, exported)
    with clinic.store.write() as tx:
        athlete_id = import_athlete(tx, data, name=name, now=clinic.clock())
        if configured:
            set_origin(tx, athlete_id, CONFIGURED, None)
        else:
            set_origin(tx, athlete_id, ADDED, profile, str(profile["timezone"]))
        _rename_own_mail(tx, athlete_id, exported["name"], name)
    print(f"imported {name} from {args.file} "
          f"({'in the configuration' if configured else 'added'})")
    counts = _export_counts(data)
    print(f"  {_describe_counts(counts)}")
    if note:
        print(f"  {note}")
    print(f"  connect their accounts again: exports hold no tokens (syncd athletes invite "
          f"{quoted(name)})")
    return 0


def _rename_own_mail(tx: Session, athlete_id: int, old: str, new: str) -> None:
    """Deliveries on the athlete's own mail channel follow the new name (``email:<name>``):
    those still waiting go to the renamed athlete's mail."""
    if old == new:
        return
    move_channel(tx, athlete_id, own_email_channel(old), own_email_channel(new))


def _imported_profile(settings: Settings, name: str, exported: dict[str, Any]
                      ) -> tuple[dict[str, Any], str | None]:
    """The settings an imported athlete gets: the export's when they fit this configuration,
    else the time zone alone (and a note saying why)."""
    timezone = {"timezone": exported.get("timezone") or "UTC"}
    stored = exported.get("profile")
    if not isinstance(stored, dict):
        return timezone, None
    try:
        section = AthleteSection.model_validate({**stored, "name": name})
    except ValidationError as err:
        problems = [str(e["msg"]) for e in err.errors()]
    else:
        problems = athlete_problems(settings, section)
        if not problems:
            return section.model_dump(mode="json", exclude={"name"}, exclude_unset=True), None
    return timezone, (f"the export's settings do not fit this configuration "
                      f"({'; '.join(problems)}): {name} has their time zone only; set the rest "
                      f"with `syncd athletes add {quoted(name)} --replace ...`")


# -- delete -------------------------------------------------------------------------------------


def cmd_delete(app: App, args: argparse.Namespace) -> int:
    """Erase every row of an athlete and their Garmin token folder (with ``--yes``), or show
    what that would remove and exit 1."""
    clinic = clinic_of(app)
    row = stored_athlete(clinic, args.name)
    name = row.name
    if any(a.name == name for a in clinic.settings.roster()) and not args.force:
        raise ConfigError([f"athlete {name!r} is in the configuration file: deleted, they would "
                           "come back empty on the next run; remove their entry from the file "
                           "first, or add --force to erase their data anyway"])
    with clinic.store.read() as tx:
        folders = _folders_of(clinic, row, tx)
        if not args.yes:
            counts = row_counts(tx, row.id)
    if not args.yes:
        print(f"would erase {name}: rows per table:")
        _print_counts(counts)
        _print_folders(folders, "would remove")
        print("nothing was removed; run again with --yes to erase it all")
        return 1
    with clinic.store.write() as tx:
        removed = erase_athlete(tx, row.id)
    for folder in folders:
        _remove_folder(folder)
    print(f"deleted {name}: rows removed per table:")
    _print_counts(removed)
    _print_folders(folders, "removed")
    return 0


def _folders_of(clinic: Clinic, row: StoredAthlete, tx: Session) -> list[Path]:
    """The athlete's folders that exist: what each source keeps for them (their Garmin token
    folder), and Garmin sign-ins of their invites still waiting in the onboarding folder."""
    settings = clinic.settings
    app = App(settings, profile=AthleteSection(name=row.name, plan=None), clinic=clinic)
    folders = [path for hooks in all_hooks() for path in hooks.athlete_files(app)]
    invites = invite_ids(tx, row.id)
    staging = settings.state_dir / "onboarding"
    folders += [staging / f"garmin-{invite}" for invite in invites
                if (staging / f"garmin-{invite}").is_dir()]
    return folders


def _remove_folder(path: Path) -> None:
    try:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as err:
        raise SyncdError(f"the database rows are erased, but {path} could not be removed: "
                         f"{err.strerror or err}", hint="remove it by hand") from err


def _print_counts(counts: dict[str, int]) -> None:
    for table, count in counts.items():
        print(f"  {table}: {count}")


def _print_folders(folders: Sequence[Path], verb: str) -> None:
    if not folders:
        print("  no Garmin token folder")
    for folder in folders:
        print(f"  {verb} {folder}")


def _describe_counts(counts: dict[str, int]) -> str:
    """``activities 12 (segments 40), pain reports 2, ...`` from an export's counts."""
    labels = {"activities": "activities", "pain_reports": "pain reports", "gear": "shoes",
              "alerts": "alerts", "alert_events": "alert events", "deliveries": "deliveries",
              "sync_state": "source states", "invites": "invites",
              "credentials": "credential names", "consents": "consent records"}
    inner = {"activities": "segments", "deliveries": "delivery_attempts"}
    parts = []
    for kind, label in labels.items():
        part = f"{label} {counts.get(kind, 0)}"
        if kind in inner:
            part += f" ({inner[kind].replace('_', ' ')} {counts.get(inner[kind], 0)})"
        parts.append(part)
    return ", ".join(parts)


