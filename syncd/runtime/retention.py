"""The leader's hourly upkeep chore: each source's work on the data it stored for the whole
clinic (e.g. Strava's raw records dropped after their retention), asked through the source's
hooks (:meth:`~syncd.sources.hooks.SourceHooks.upkeep`).

Every registered source is asked, not only the enabled ones: records a source stored while it
was enabled stay under its terms after it is switched off (the source's hook decides from its
own settings whether there is anything to do). One failing source does not stop the others.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from syncd.sources.registry import hooks_for, source_names

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.runtime.retention")

RETENTION_INTERVAL = timedelta(hours=1)


def sources_upkeep(app: App) -> None:
    """Run every registered source's upkeep for ``app``'s clinic; a source that fails is
    logged and the next one still runs (the chore comes again in an hour)."""
    for name in source_names():
        try:
            hooks_for(name).upkeep(app)
        except Exception:
            log.exception("source upkeep failed", source=name)
