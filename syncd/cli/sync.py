"""The commands that bring activities in: ``sync`` and ``import``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from connectors.base import FetchResult
from syncd.alerts import deliver_pending
from syncd.config.sections import order_names
from syncd.errors import ConfigError
from syncd.pipeline.daily import evaluate_new_day
from syncd.pipeline.sync import SourceResult, make_connector, store_fetched, sync_source
from syncd.runtime.checkins import send_due_checkins
from syncd.sources.registry import enabled_sources

if TYPE_CHECKING:
    from syncd.app import App

Add = Callable[..., argparse.ArgumentParser]
MAX_PASSES = 1000  # per source and `syncd sync`: a bound, not a budget (rate limits stop sooner)


def register(add: Add) -> None:
    """Add ``sync`` and ``import`` to the command line."""
    sync = add("sync", cmd_sync, "one pass: fetch every source, evaluate, deliver, exit")
    sync.add_argument("--source", default=None, help="only this source (strava, garmin, files)")
    sync.add_argument("--since", type=date.fromisoformat, default=None,
                      help="backfill from this date (YYYY-MM-DD); resumable")
    sync.set_defaults(scope="clinic")
    imp = add("import", cmd_import, "import FIT/GPX/TCX files, folders or a Strava export zip")
    imp.add_argument("paths", nargs="+", type=Path, metavar="PATH")


def cmd_sync(app: App, args: argparse.Namespace) -> int:
    """Sync every enabled source once (or one) of one athlete, or of every athlete when none
    is named; exit 1 when any source failed."""
    if args.athlete is None:
        apps = app.clinic.apps()
        if args.source and not any(args.source in enabled_sources(a) for a in apps):
            _unknown_source(args.source, app.settings.enabled_sources())
        failed = False
        for athlete_app in apps:
            if len(apps) > 1:
                print(f"athlete {athlete_app.athlete.name}:")
            failed |= _sync_athlete(athlete_app, args, deliver=False) != 0
        _days_chores(app, apps)
        _deliver(app)
        return 1 if failed else 0
    return _sync_athlete(app, args, deliver=True)


def _unknown_source(name: str, enabled: Sequence[str]) -> None:
    raise ConfigError([f"--source {name}: not enabled in the configuration "
                       f"(enabled: {', '.join(enabled) or 'none'}); add its [{name}] section"])


def _sync_athlete(app: App, args: argparse.Namespace, *, deliver: bool) -> int:
    # Imported here: APScheduler loads only for a sync, not for every command.
    from syncd.runtime.passes import claimed, pass_key

    names = canonical_first(enabled_sources(app), app.settings.sources.canonical_order)
    if args.source:
        if args.source not in names and len(app.clinic.apps()) > 1:
            return 0  # this athlete does not use the source
        if args.source not in names:
            enabled = ", ".join(names) or "none"
            raise ConfigError([f"--source {args.source}: not enabled in the configuration "
                               f"(enabled: {enabled}); add its [{args.source}] section"])
        names = [args.source]
    results: list[SourceResult] = []
    for name in names:
        # A backfill reads a bounded batch per pass; keep going while the source says there
        # is more (each pass stores its batch and moves the cursor, so an interruption loses
        # nothing).
        for _ in range(MAX_PASSES):
            with claimed(app, name) as mine:
                if not mine:  # the daemon (or another replica) is reading it right now
                    print(f"{pass_key(app, name)}: a pass is running in another syncd; "
                          "skipped (its results are stored as usual)")
                    result = SourceResult(name)
                    break
                result = sync_source(app, name, since=args.since, force=True)
            print(result.summary())
            for source_id, reason in result.failures:
                print(f"  skipped {source_id}: {reason}")
            if not result.ok or not result.more:
                break
        results.append(result)
    if deliver:
        _days_chores(app, [app])
        _deliver(app)
    return 1 if any(not r.ok for r in results) else 0


def _days_chores(app: App, apps: Sequence[App]) -> None:
    """What the daemon's chores do as days pass, for installs that run ``syncd sync`` from a
    timer: once the sources have landed, the findings about what did not happen
    (``missed_session``, ``no_data``) and the morning's check-ins that are due."""
    for athlete_app in apps:
        evaluate_new_day(athlete_app, None, athlete_app.clock())
    sent = send_due_checkins(app, only=[a.athlete.name for a in apps])
    if sent.sent or sent.failed:
        print(f"check-ins: sent to {', '.join(sent.sent) or 'nobody'}"
              + (f", failed for {', '.join(sent.failed)}" if sent.failed else ""))


def canonical_first(names: Sequence[str], order: Sequence[str]) -> list[str]:
    """Source names in ``[sources] canonical_order`` (kinds ``garmin``, ``file``, ``strava``).

    A run that two sources report then arrives first from the source whose copy counts, and
    the other copy links to it. The other way round, the lesser copy (Strava's, without
    Garmin's run/walk split) would be evaluated alone and raise alerts that the canonical copy
    resolves a moment later in the same pass: a raised and a resolved notice for nothing.
    """
    rank = {name: i for i, name in enumerate(order_names(order))}
    return sorted(names, key=lambda name: rank.get(name, len(rank)))


def _deliver(app: App) -> None:
    """Send what the pass raised or resolved (and anything else due) to every channel.

    A channel that fails is reported and retried on its schedule by the next pass, ``syncd
    deliver`` or the daemon; it does not make the sync fail, whose exit code is about the
    sources.
    """
    if not app.settings.shared_channels() and not any(
            a.email for a in app.clinic.roster()):
        return
    report = deliver_pending(app)
    print(f"delivery: {report.summary()}")
    for error in report.errors:
        print(f"  delivery error: {error}")


def cmd_import(app: App, args: argparse.Namespace) -> int:
    """Import files once and print a summary, then one line per refused file (and a note per
    activity imported from less than its file); exit 1 when any file was refused."""
    # Imported here: the file parsers (fitdecode, gpxpy) load only for an import.
    from connectors.files import FilesConnector

    connector = make_connector(app, "files")
    assert isinstance(connector, FilesConnector)
    batch = connector.read_paths(args.paths)
    result = SourceResult("files")
    fetched = FetchResult(records=batch.records, failures=batch.failures, gear=batch.gear)
    store_fetched(app, connector, fetched, result)
    duplicates = result.unchanged + len(batch.duplicates)
    print(f"imported {result.inserted + result.updated}, skipped as duplicate {duplicates}, "
          f"failed {len(result.failures)}; alerts {result.raised} raised, "
          f"{result.resolved} resolved")
    for where, reason in result.failures:
        print(f"  failed {where}: {reason}")
    for where, note in batch.notes:
        print(f"  note {where}: {note}")
    return 1 if result.failures else 0
