"""``GET /calendar/{key}.ics``: the athlete's plan as an iCalendar feed (DESIGN section 12),
for a phone or desktop calendar to subscribe to without the server token.

The key comes from ``syncd plan --calendar-url`` (random, stored hashed, one per athlete); a
new key replaces the old one and ``--revoke`` ends it. A key that is unknown, revoked,
replaced or not shaped like a key gets the same 404 as a path that does not exist, and the
key is in no log line. The feed covers the four weeks before today and the twelve after, each
week's sessions as the plan week the evaluator gives that week (a gated repeat or step-back
included), on the athlete's ``run_days`` or spread by the plan's rest-day rule.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from syncd.pipeline.positions import week_positions
from syncd.plan_calendar import calendar_feed, planned_sessions
from syncd.store.calendar_keys import calendar_athlete
from syncd.web.context import context_of

if TYPE_CHECKING:
    from syncd.app import App

LINK_PATH = "/calendar"
WEEKS_BEFORE, WEEKS_AFTER = 4, 12
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow",
           "Cache-Control": "no-store"}
router = APIRouter(include_in_schema=False)


@router.get(LINK_PATH + "/{key}.ics")
def calendar(request: Request, key: str) -> Response:
    """The feed of the athlete whose key this is; 404 for any other key."""
    app = _athlete_of(request, key)
    if app is None or app.plan is None:
        # The very answer of a path that does not exist: a guess learns nothing.
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    return Response(feed_of(app), media_type="text/calendar; charset=utf-8", headers=HEADERS)


def _athlete_of(request: Request, key: str) -> App | None:
    """The App of the athlete whose live key ``key`` is, else ``None``."""
    home = context_of(request).app
    with home.store.read() as tx:
        athlete_id = calendar_athlete(tx, key)
    if athlete_id is None:
        return None
    return home.clinic.watched(athlete_id)


def feed_of(app: App) -> bytes:
    """The athlete's calendar feed as of now."""
    plan = app.plan
    if plan is None:
        return b""
    now, today = app.clock(), app.today()
    first, last = today - timedelta(weeks=WEEKS_BEFORE), today + timedelta(weeks=WEEKS_AFTER)
    with app.store.read() as tx:
        positions = week_positions(tx, app.athlete_id, app.athlete, first, last, now)
    sessions = planned_sessions(plan, [(p.start, p.number) for p in positions],
                                app.profile.run_days)
    return calendar_feed(sessions, name=f"syncd: {plan.name}", timezone=app.athlete.timezone,
                         uid_tag=f"a{app.athlete_id}", stamp=now)
