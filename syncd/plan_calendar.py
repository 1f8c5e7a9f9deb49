"""The plan as an iCalendar feed: each planned session an all-day event on its day, with the
run/walk steps in its description. Pure: the plan weeks in, the feed's bytes out.

Every event's UID is the athlete's tag and the day (``syncd-a3-20260105@syncd``), so a
calendar that refreshes the feed updates an event whose session changed (a gated repeat, a
step-back, a moved start) instead of adding a second one, and drops the days no longer planned.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event

from syncd.plan import Plan, PlanWeek
from syncd.workouts import clock, session_days, step_lines, summary, workout_for

PRODID = "-//syncd//plan calendar//EN"


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """One prescribed session on its local day."""

    day: date
    week: PlanWeek


def planned_sessions(plan: Plan, weeks: Iterable[tuple[date, int | None]],
                     run_days: Sequence[str] | None) -> list[PlannedSession]:
    """The sessions of the weeks given as (week start, plan week number or ``None``), each on
    the day :func:`syncd.workouts.session_days` gives it; weeks outside the plan have none."""
    planned = []
    for start, number in weeks:
        week = plan.week(number) if number is not None else None
        if week is not None:
            days = session_days(start, week.sessions, plan.limits.rest_days_between_runs,
                                run_days)
            planned += [PlannedSession(day, week) for day in days]
    return planned


def calendar_feed(sessions: Iterable[PlannedSession], *, name: str, timezone: str,
                  uid_tag: str, stamp: datetime) -> bytes:
    """The iCalendar feed (RFC 5545) of ``sessions``: all-day events in the athlete's
    ``timezone`` (named for the calendar app: an all-day event is the same local day
    everywhere), stamped ``stamp`` (UTC)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", timezone)
    # How often a subscribing app should look again (a gated week can move any day).
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    for session in sessions:
        calendar.add_component(_event(session, uid_tag, stamp))
    return bytes(calendar.to_ical())


def _event(session: PlannedSession, uid_tag: str, stamp: datetime) -> Event:
    workout = workout_for(session.week)
    event = Event()
    event.add("uid", f"syncd-{uid_tag}-{session.day:%Y%m%d}@syncd")
    event.add("dtstamp", stamp)
    event.add("dtstart", session.day)
    event.add("dtend", session.day + timedelta(days=1))
    what = (f"Walk {clock(workout.walk_s)}" if workout.run_s == 0
            else f"Run/walk: {summary(workout)}")
    event.add("summary", f"{what} (plan week {session.week.number})")
    event.add("description", "\n".join(_description(session.week)))
    event.add("transp", "TRANSPARENT")  # a session does not make the day busy
    return event


def _description(week: PlanWeek) -> list[str]:
    lines = step_lines(workout_for(week))
    if week.note:
        lines += ["", week.note]
    return lines
