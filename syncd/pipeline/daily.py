"""The evaluation a new local day calls for, with no new data: findings about what did not
happen (a plan week that ended with sessions missing, a silence that grew one day longer)
change as days pass, so each athlete is re-evaluated once per local day.

The alerts it raises or resolves go through the outbox like any others, in the evaluation's
transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from syncd.pipeline.evaluation import reevaluate
from syncd.rules import Athlete
from syncd.store.alerts import ApplyResult

if TYPE_CHECKING:
    from syncd.app import App

# On the first check (a start, a new leader) the weeks that ended this long ago are looked
# at again, in case the daemon was down when they ended: as far back as any incremental
# evaluation reaches (LOOKBACK), so the cost stays that of one ordinary evaluation.
CATCH_UP = timedelta(days=35)


def days_to_check(athlete: Athlete, today: date, last: date | None) -> list[date] | None:
    """The local days whose findings may have changed since the day last checked (``last``;
    ``None`` for the first check): from ``last`` (the week that ended then) to today, at most
    :data:`CATCH_UP` back. ``None`` when nothing can change with the days: no plan with a
    start, or a plan not started yet."""
    start = athlete.plan_start
    if athlete.plan is None or start is None or today < start:
        return None
    first = today - CATCH_UP if last is None else max(min(last, today), today - CATCH_UP)
    return [max(first, start), today]


def evaluate_new_day(app: App, last: date | None, now: datetime) -> ApplyResult | None:
    """Re-evaluate ``app``'s athlete for the local day of ``now`` (see
    :func:`days_to_check`); ``None`` when there was nothing to evaluate."""
    days = days_to_check(app.athlete, app.athlete.local_date(now), last)
    if days is None:
        return None
    with app.store.write() as tx:
        return reevaluate(tx, app.athlete_id, app.athlete, days, now, app.channels())
