"""Which hooks serve which source: a configuration name -> a lazily imported
:class:`~syncd.sources.hooks.SourceHooks` class.

Adding a source: its connector (fetch and normalize), its package here with its hooks, and
one entry below (or one :func:`register_source` call, for a source that ships outside syncd).
A source's hooks module is imported only when that source is asked about, so that a command
never pays for a library (stravalib, garminconnect) it does not use.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from syncd.config import forget_source_section, register_source_section
from syncd.errors import ConfigError
from syncd.sources.hooks import SourceHooks

if TYPE_CHECKING:
    from pydantic import BaseModel

    from connectors.base import Connector
    from syncd.app import App

# Config name -> "module:Class" of its hooks; the order is the order of their commands.
SOURCES: dict[str, str] = {
    "garmin": "syncd.sources.garmin.hooks:GarminHooks",
    "strava": "syncd.sources.strava.hooks:StravaHooks",
    "files": "syncd.sources.files.hooks:FilesHooks",
}

BUILT_IN = frozenset(SOURCES)
_loaded: dict[tuple[str, str], SourceHooks] = {}
_lock = threading.Lock()


def register_source(name: str, hooks: str, *, section: type[BaseModel] | None = None) -> None:
    """Serve source ``name`` with the hooks class at ``hooks`` (``"module:Class"``).

    ``section`` is the pydantic model of the source's ``[name]`` configuration section, for a
    source the configuration does not know already; the source is enabled when that section
    is present. Raises :class:`ValueError` for a name without letters or a malformed target.
    """
    module, _, attribute = hooks.partition(":")
    if not name.isidentifier() or not module or not attribute or name in BUILT_IN:
        raise ValueError(f"source {name!r} -> {hooks!r}: use a plain name (not a built-in "
                         "source's) and 'module:Class'")
    if section is not None:
        register_source_section(name, section)
    SOURCES[name] = hooks


def forget_source(name: str) -> None:
    """Undo :func:`register_source` (the built-in sources stay)."""
    if name not in BUILT_IN:
        SOURCES.pop(name, None)
        forget_source_section(name)


def source_names() -> list[str]:
    """Every source with hooks, in registration order."""
    return list(SOURCES)


def hooks_for(name: str) -> SourceHooks:
    """The hooks of source ``name`` (the defaults for a source registered with a connector
    alone, such as ``memory``). Raises :class:`ConfigError` when its module cannot be
    imported."""
    target = SOURCES.get(name)
    if target is None:
        return SourceHooks(name)
    with _lock:
        hooks = _loaded.get((name, target))
        if hooks is None:
            hooks = _loaded[(name, target)] = _import(target)(name)
    return hooks


def all_hooks() -> list[SourceHooks]:
    """The hooks of every registered source, in registration order."""
    return [hooks_for(name) for name in source_names()]


def connector_class(name: str) -> type[Connector]:
    """The connector class reading source ``name``. Raises :class:`ConfigError` for an
    unknown name."""
    return hooks_for(name).connector_class()


def _import(target: str) -> type[SourceHooks]:
    module_name, _, class_name = target.partition(":")
    try:
        cls: type[SourceHooks] = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise ConfigError([f"source hooks {target!r} cannot be loaded: {err}"]) from None
    return cls


def enabled_sources(app: App) -> list[str]:
    """The configured sources the athlete of ``app`` uses (and can: in a clinic the file
    source needs the athlete's own ``watch`` folders, see the source's hooks)."""
    wanted = app.profile.sources
    return [name for name in app.settings.enabled_sources()
            if (wanted is None or name in wanted) and hooks_for(name).used_by(app)]


def source_settings(app: App, name: str) -> Any:
    """The section configuring source ``name`` for the athlete of ``app`` (the file source
    gets the athlete's own folders when they have some)."""
    return hooks_for(name).athlete_settings(app, app.settings.source_section(name))
