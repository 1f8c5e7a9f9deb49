"""Strava's terms on stored data: raw Strava records older than ``[strava] raw_retention``
(default 7 days in a clinic, kept for a single athlete) are dropped, keeping the derived
session summary and segments the rules read (see :mod:`syncd.store.retention`).

Run from the leader's hourly upkeep chore (:mod:`syncd.runtime.retention`) through
:meth:`StravaHooks.upkeep`: one statement for the whole clinic, cheap, and a record never
outlives its retention by more than an hour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from syncd.store.retention import purge_raw

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.sources.strava.retention")


def purge_strava_raw(app: App) -> int:
    """Drop the raw Strava records read more than the retention ago (every athlete of
    ``app``'s clinic: they share one database); returns how many were dropped."""
    section = app.settings.strava
    keep = section.retention(app.settings.clinic) if section is not None else None
    if keep is None:
        return 0
    with app.store.write() as tx:
        purged = purge_raw(tx, "strava", app.clock() - keep)
    if purged:
        log.info("raw strava records dropped", count=purged, older_than=str(keep))
    return purged
