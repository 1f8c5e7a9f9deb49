"""The leader's daily re-evaluation: shortly after each athlete's local midnight (and at the
start), every athlete is evaluated again, so that a plan week that ended short
(``missed_session``) and a silence (``no_data``) are found without new data.

The chore runs every :data:`DAILY_INTERVAL` but only reads the clock for each athlete; an
athlete is evaluated once per local day, in their own time zone, with ``app.clock``.
"""

from __future__ import annotations

import weakref
from datetime import date, timedelta
from typing import TYPE_CHECKING

import structlog

from syncd.pipeline.daily import evaluate_new_day

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.runtime.daily")

# How often the chore looks whether an athlete's local day changed: cheap (no query until it
# did), and short so that an alert due at midnight is raised within seconds of it.
DAILY_INTERVAL = timedelta(seconds=5)

# The local day each athlete was last evaluated for, per clinic (in memory: a restart or a
# new leader checks everyone once more, which costs one ordinary evaluation each).
_checked: weakref.WeakKeyDictionary[object, dict[str, date]] = weakref.WeakKeyDictionary()


def evaluate_new_days(app: App) -> int:
    """Evaluate every athlete of ``app``'s clinic whose local day changed since the last check
    (all of them at the first); returns how many alerts were raised or resolved. One
    athlete's failure is logged and retried at the next run; it never stops the others."""
    checked = _checked.setdefault(app.clinic, {})
    changed = 0
    for athlete_app in app.clinic.apps():
        try:
            changed += _check(athlete_app, checked)
        except Exception:
            log.exception("daily evaluation failed", athlete=athlete_app.athlete.name)
    return changed


def _check(app: App, checked: dict[str, date]) -> int:
    """Evaluate ``app``'s athlete when their local day is not the one last checked."""
    now = app.clock()
    today, name = app.athlete.local_date(now), app.athlete.name
    last = checked.get(name)
    if last == today:
        return 0
    result = evaluate_new_day(app, last, now)
    checked[name] = today
    if result is None:
        return 0
    if result.raised or result.resolved:
        log.info("daily evaluation", athlete=name, day=today.isoformat(),
                 raised=[a.finding.rule for a in result.raised],
                 resolved=[a.finding.rule for a in result.resolved])
    return len(result.raised) + len(result.resolved)
