"""Many athletes in one syncd: the roster and one :class:`~syncd.app.App` per athlete, all
sharing one database.

The roster is the configuration's athletes (``[[athletes]]``, or the single ``[athlete]``)
followed by the athletes added with ``syncd athletes add``, whose settings are kept in the
database (``athletes.profile``) so that every replica of a clinic sees them without editing a
file. A name in the configuration wins over a stored athlete of the same name.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import structlog
from pydantic import ValidationError

from syncd.app import App, utcnow
from syncd.config import Settings
from syncd.config.sections import AthleteSection
from syncd.errors import ConfigError
from syncd.plan import Plan, load_plan
from syncd.store import Store
from syncd.store.roster import added_profiles

log = structlog.get_logger("syncd.clinic")


class UnknownAthlete(ConfigError):
    """A command or request named an athlete syncd does not watch."""


class Clinic:
    """Every athlete syncd watches, with their Apps. ``clinic.app(name)`` picks one."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utcnow, *,
                 store: Store | None = None) -> None:
        self.settings = settings
        self._owns_store = store is None
        if store is not None:  # several clinics over one store (a test's threads, a benchmark)
            self.__dict__["store"] = store
        self.clock = clock
        self._added: list[AthleteSection] | None = None
        self._apps: dict[str, App] = {}
        self._plans: dict[tuple[Path, int], Plan] = {}

    def plan_at(self, path: Path) -> Plan:
        """The plan in ``path``, read once while the file stays the same (a clinic's athletes
        mostly share a few plans)."""
        key = (path, path.stat().st_mtime_ns)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = load_plan(path)
        return plan

    @cached_property
    def store(self) -> Store:
        """The database every athlete's App shares, migrated to this version of syncd."""
        return Store.open(self.settings.database_url)

    # -- the roster -----------------------------------------------------------------------------

    def roster(self) -> list[AthleteSection]:
        """The athletes watched: the configuration's, then those added from the command line."""
        configured = self.settings.roster()
        names = {a.name for a in configured}
        if self._added is None:
            self._added = self._load_added()
        return configured + [a for a in self._added if a.name not in names]

    def refresh(self) -> bool:
        """Read the athletes added from the command line again; True when the roster changed
        (a replica picks up another's ``syncd athletes add`` this way)."""
        before = self.roster()
        self._added = self._load_added()
        return self.roster() != before

    def _load_added(self) -> list[AthleteSection]:
        with self.store.read() as tx:
            rows = added_profiles(tx)
        added = []
        for name, profile in rows:
            section = stored_profile(self.settings, name, profile)
            if section is not None:
                added.append(section)
        return added

    def names(self) -> list[str]:
        """The athletes' names, in roster order."""
        return [a.name for a in self.roster()]

    # -- Apps -------------------------------------------------------------------------------------

    def apps(self) -> list[App]:
        """One App per athlete of the roster (kept while the athlete's settings stay the same)."""
        apps = []
        for profile in self.roster():
            app = self._apps.get(profile.name)
            if app is None or app.profile != profile:
                app = App(self.settings, self.clock, profile=profile, clinic=self)
                self._apps[profile.name] = app
            apps.append(app)
        return apps

    def app(self, name: str | None = None) -> App:
        """The App of athlete ``name``; without a name, the only athlete's. Raises
        :class:`UnknownAthlete` naming the athletes there are."""
        apps = self.apps()
        if name is None:
            if len(apps) == 1:
                return apps[0]
            raise UnknownAthlete([f"this syncd watches {len(apps)} athletes; name one with "
                                  f"--athlete ({_listing(apps)})"])
        for app in apps:
            if app.athlete.name == name:
                return app
        raise UnknownAthlete([f"athlete {name!r} is not watched by this syncd; athletes: "
                              f"{_listing(apps) or 'none'} (add one with `syncd athletes add`)"])

    def app_for_id(self, athlete_id: int) -> App | None:
        """The App of the athlete stored under ``athlete_id``, if watched."""
        for app in self.apps():
            if app.athlete_id == athlete_id:
                return app
        return None

    def watched(self, athlete_id: int) -> App | None:
        """The App of the athlete stored under ``athlete_id``, re-reading the roster once when
        they are not found (an athlete added since, by another replica or the command line);
        ``None`` when they are not watched."""
        app = self.app_for_id(athlete_id)
        if app is None and self.refresh():
            app = self.app_for_id(athlete_id)
        return app

    def close(self) -> None:
        """Release the database connections (those of a store it opened)."""
        if self._owns_store and "store" in self.__dict__:
            self.store.close()


def open_app(settings: Settings, clock: Callable[[], datetime] = utcnow,
             athlete: str | None = None, *, store: Store | None = None) -> App:
    """The App of one athlete (without a name, the only one) in a clinic of its own: what a
    command, a test or a benchmark serving one athlete opens. Closing the App closes the
    clinic."""
    app = Clinic(settings, clock, store=store).app(athlete)
    app.closes_clinic = True
    return app


def stored_profile(settings: Settings, name: str, profile: Any) -> AthleteSection | None:
    """An added athlete's stored settings, validated (``None``, logged, when they no longer
    fit the configuration, e.g. a channel that was removed)."""
    try:
        section = AthleteSection.model_validate({**(profile or {}), "name": name})
        known = settings.shared_channels()
        unknown = [c for c in section.channels or [] if c not in known]
        if unknown:
            raise ValueError(f"channels {unknown} are not configured")
    except (ValidationError, ValueError) as err:
        log.error("stored athlete ignored: their settings no longer fit the configuration; "
                  "fix them with `syncd athletes add --replace`", athlete=name,
                  problem=str(err).splitlines()[0])
        return None
    return section


def _listing(apps: list[App]) -> str:
    names = [a.athlete.name for a in apps]
    shown = ", ".join(names[:20])
    return shown + (f" and {len(names) - 20} more" if len(names) > 20 else "")
