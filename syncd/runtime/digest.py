"""The leader's chore for the therapist's daily mail (:mod:`syncd.alerts.daily_digest`): it
looks every :data:`DIGEST_INTERVAL` whether the day's mail is due and writes it to the
outbox once; the dispatcher delivers it.
"""

from __future__ import annotations

import weakref
from datetime import date, timedelta
from typing import TYPE_CHECKING

import structlog

from syncd.alerts.daily_digest import due_day, queue_daily_digest

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.runtime.digest")

# Short, so that the mail leaves within a minute of digest_time; cheap, since nothing is read
# from the database once the day is done.
DIGEST_INTERVAL = timedelta(seconds=30)

# The local day whose mail was handled, per clinic (in memory: a restart or a new leader looks
# once more, and the mail's fixed outbox id keeps it from going out twice).
_handled: weakref.WeakKeyDictionary[object, date] = weakref.WeakKeyDictionary()


def queue_due_digest(app: App) -> str | None:
    """Write the day's mail when it is due and not yet handled; returns its event id."""
    now = app.clock()
    day = due_day(app.settings, now)
    if day is None or _handled.get(app.clinic) == day:
        return None
    event_id = queue_daily_digest(app, now)
    _handled[app.clinic] = day
    if event_id is not None:
        log.info("daily mail of open alerts queued", event_id=event_id)
    return event_id
