"""What a source adds to syncd beyond fetch-and-normalize, and the defaults of a source that
adds nothing.

The generic code (a pass in :mod:`syncd.pipeline.sync`, the daemon and its scheduler, the
command line, the HTTP application) never names a source: it asks the source's hooks, found
through :mod:`syncd.sources.registry`. A source overrides only what it needs; every default
below keeps the generic behaviour (one pass per athlete on the source's poll interval, no
commands, no routes, no events).

This module and the registry import nothing of syncd beyond the contract at run time, so that
every layer may ask them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from connectors.base import Connector, connector_class

if TYPE_CHECKING:
    from fastapi import APIRouter

    from syncd.app import App
    from syncd.clinic import Clinic

# ``add(name, handler, help)`` of :func:`syncd.cli.main.build_parser`: returns the new
# command's parser.
AddCommand = Callable[..., argparse.ArgumentParser]


class Coordinator(Protocol):
    """Runs one source for every athlete from one job (e.g. a clinic's shared Strava quota)."""

    source: str

    def tick(self, now: datetime) -> Any:
        """Do what is due and fits the budget now."""
        ...

    def refresh(self) -> None:
        """Read the athletes (and their states) again at the next tick."""
        ...


class EventInbox(Protocol):
    """Events a source's webhook stored for an athlete, waiting to be served by the daemon
    that leads (one object per daemon: it may keep what the events may still read)."""

    def waiting(self, app: App) -> bool:
        """True when ``app``'s athlete has events waiting."""
        ...

    def drain(self, app: App) -> None:
        """Serve ``app``'s athlete's waiting events; failures stay recorded with the events
        (nothing is raised for one bad event)."""
        ...


class SourceHooks:
    """One source's glue. ``name`` is its configuration name, given by the registry."""

    # The top-level ``/status`` key under which a running coordinator of this source reports
    # (see :meth:`coordinator_status`); ``None``: it reports nothing.
    status_key: str | None = None
    # The stored credential that shows an athlete connected their account of this source
    # (``syncd athletes list``); ``None``: the source has no account.
    credential: str | None = None

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def title(self) -> str:
        """The source's name as people read it (in an operator's notice). Default: the
        configuration name."""
        return self.name

    # -- a pass ---------------------------------------------------------------------------------

    def connector_class(self) -> type[Connector]:
        """The connector class reading this source. Default: the one registered under the
        same name in :data:`connectors.base.REGISTRY`. Raises
        :class:`~syncd.errors.ConfigError` when there is none."""
        return connector_class(self.name)

    def connector_state(self, app: App) -> dict[str, Any]:
        """What the connector finds in its context's ``state`` besides ``state_dir`` (e.g.
        Garmin's token folder). Default: nothing."""
        return {}

    def around_fetch(self, app: App) -> AbstractContextManager[None]:
        """A context held while the connector fetches for ``app``'s athlete (inside the
        athlete's fetch claim); it may raise :class:`~syncd.errors.SyncdError`, which fails
        the pass like a fetch error. Default: nothing around the fetch."""
        return nullcontext()

    def after_pass(self, app: App, connector: Connector) -> None:
        """Work for ``app``'s athlete after a successful pass, with the pass's ``connector``
        (in the pass's fetch claim; the source enters its own :meth:`around_fetch` when the
        work needs it), e.g. Garmin's planned workouts on the calendar. An
        :class:`~syncd.errors.AuthError` or :class:`~syncd.errors.RateLimited` it raises
        fails the pass like a fetch error (the back-off and one operator notice); any other
        :class:`~syncd.errors.SyncdError` is logged and counted among the pass's failures.
        Default: nothing."""

    def used_by(self, app: App) -> bool:
        """False when ``app``'s athlete cannot use this configured source (e.g. a clinic's
        athlete without a folder of their own). Default: True."""
        return True

    def athlete_settings(self, app: App, section: Any) -> Any:
        """The source's settings for ``app``'s athlete, from the configured ``section``.
        Default: the section as configured."""
        return section

    # -- an athlete's account and files -------------------------------------------------------

    def connected(self, app: App, stored: bool) -> bool:
        """Whether ``app``'s athlete connected their account, ``stored`` telling whether the
        database holds their :attr:`credential`. Default: ``stored``."""
        return stored

    def athlete_files(self, app: App) -> list[Path]:
        """The files and folders this source keeps for ``app``'s athlete outside the
        database that exist now (erased with the athlete). Default: none."""
        return []

    def adopt_sign_in(self, app: App, staging: Path) -> None:
        """Move a sign-in made on an invite's page, written to the folder ``staging``, into
        ``app``'s athlete's token store. Default: nothing to move (a source whose tokens
        arrive through OAuth stores them as it receives them)."""

    # -- the daemon -----------------------------------------------------------------------------

    def coordinator(self, clinic: Clinic) -> Coordinator | None:
        """A coordinator running this source for every athlete of ``clinic`` from one job, or
        ``None`` (the default): the scheduler runs a pass per athlete on the poll interval."""
        return None

    def coordinator_status(self, coordinator: Coordinator, now: datetime) -> dict[str, object]:
        """What ``/status`` shows under :attr:`status_key` about ``coordinator`` at ``now``
        (asked only when ``status_key`` is set). Default: nothing."""
        return {}

    def upkeep(self, app: App) -> None:
        """The leader's hourly work on what this source stored for every athlete of
        ``app``'s clinic (e.g. Strava's raw records dropped after their retention); asked
        even when the source is no longer enabled. Default: nothing."""

    def inbox(self) -> EventInbox | None:
        """A new inbox of the webhook events this source stores, or ``None`` (the default):
        the source has no events. The daemon keeps one for its lifetime and, as the HTTP
        application's ``state.on_<name>_event(app, event)``, learns of each event stored."""
        return None

    # -- the command line and the HTTP application -----------------------------------------------

    def register_commands(self, add: AddCommand) -> None:
        """Add the source's commands with ``add`` (see :data:`AddCommand`). Default: none."""

    def routes(self) -> list[APIRouter]:
        """The FastAPI routers the HTTP application mounts for this source. Default: none."""
        return []

    def public_paths(self) -> list[str]:
        """Path prefixes of :meth:`routes` reachable without the server token (a callback the
        source's service calls from the internet). Default: none."""
        return []
