"""Re-evaluates the weeks a change touched and records the outcome, in one transaction.

After new, edited, deleted or merged activities, a pain report or a gear change, the caller
passes the local dates that changed. The affected window is derived from them, the history the
window needs is loaded, the pure evaluator runs, and the store raises new alerts and resolves
the ones no longer found inside the window: all inside the same write transaction, so that an
alert and its outbox event exist together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session as DbSession

from syncd.plan import week_start
from syncd.rules import LOOKBACK, Athlete, History, Window, history_start
from syncd.rules.evaluator import evaluate_window
from syncd.rules.progression import Position, gated, plan_key
from syncd.store import queries
from syncd.store.alerts import ApplyResult, apply_findings
from syncd.store.engine import lock_athlete
from syncd.store.other_activities import first_data_day, last_data_day, load_others
from syncd.store.plan_positions import position_at, save_positions


def local_midnight(day: date) -> datetime:
    """Naive local datetime at the start of ``day`` (local_start columns are naive)."""
    return datetime(day.year, day.month, day.day)


def affected_window(tx: DbSession, athlete_id: int, athlete: Athlete, dates: Iterable[date],
                    today: date) -> Window | None:
    """The window of local days whose findings a change on ``dates`` can alter.

    From the earlier of the first date and the run day before it (a previous session's pain
    and rest-day findings depend on what follows it) to :data:`LOOKBACK` after the last date
    (30-day spikes, 28-day load, next week's growth); in gated progression to today, since a
    repeated week shifts every week after it.
    """
    days = sorted(set(dates))
    if not days:
        return None
    first, last = days[0], days[-1]
    previous = queries.last_session_before(tx, athlete_id, local_midnight(first))
    if previous is not None:
        first = min(first, previous.local_date)
    horizon = last + LOOKBACK
    if athlete.plan is not None and athlete.limits.progression == "gated":
        horizon = max(horizon, today)
    return Window(first, max(last, min(horizon, today)))


def full_window(tx: DbSession, athlete_id: int, athlete: Athlete, today: date) -> Window:
    """Everything from the first session (or the plan start, or today) to today."""
    starts = [d for d in (queries.first_session_date(tx, athlete_id), athlete.plan_start) if d]
    first = min([*starts, today])
    return Window(first, today)


def load_history(tx: DbSession, athlete_id: int, athlete: Athlete, window: Window,
                 now: datetime, first_session: date | None = None,
                 first_known: bool = False, *, anchor: Position | None = None) -> History:
    """The sessions, pain reports, other activities and gear the evaluation of ``window``
    needs (the athlete's first session date is read unless the caller knows it:
    ``first_known``), and the last day with data up to today, however long ago (``no_data``);
    a gated plan walked from ``anchor`` needs them from there."""
    first = history_start(athlete, window, anchor)
    end = local_midnight(week_start(window.last, athlete.plan_start) + timedelta(days=7))
    sessions = list(queries.load_sessions(tx, athlete_id, local_midnight(first), end))
    following = queries.first_session_after(tx, athlete_id, end)
    if following is not None:
        sessions.append(following)
    zone = ZoneInfo(athlete.timezone)
    pain_from = local_midnight(first - timedelta(days=1)).replace(tzinfo=zone)
    pain_to = following.start_utc if following is not None else now + timedelta(days=1)
    return History(
        sessions=sessions,
        pain=queries.load_pain(tx, athlete_id, pain_from, pain_to),
        gear=queries.load_gear(tx, athlete_id),
        first_session_date=(first_session if first_known
                            else queries.first_session_date(tx, athlete_id)),
        others=load_others(tx, athlete_id, local_midnight(first), end),
        last_data_day=last_data_day(
            tx, athlete_id, zone, local_midnight(athlete.local_date(now) + timedelta(days=1))),
        first_data_day=first_data_day(tx, athlete_id, zone),
    )


def stored_anchor(tx: DbSession, athlete_id: int, athlete: Athlete,
                  window: Window) -> Position | None:
    """Where a gated plan stood in the window's first week (or the latest week before it),
    as the evaluations so far stored it; ``None`` outside gated progression."""
    if not gated(athlete):
        return None
    first = week_start(window.first, athlete.plan_start)
    return position_at(tx, athlete_id, plan_key(athlete), first)


def remember_positions(tx: DbSession, athlete_id: int, athlete: Athlete,
                       positions: Sequence[Position], today: date) -> None:
    """Store where a gated plan stood in the weeks an evaluation walked (up to this week)."""
    if gated(athlete):
        save_positions(tx, athlete_id, plan_key(athlete), positions,
                       week_start(today, athlete.plan_start))


def reevaluate(tx: DbSession, athlete_id: int, athlete: Athlete, dates: Iterable[date] | None,
               now: datetime, channels: Sequence[str], *, first_session: date | None = None,
               first_known: bool = False) -> ApplyResult:
    """Evaluate the window ``dates`` touch (all history when ``dates`` is None) and apply the
    findings inside ``tx``: new alerts raised, vanished ones resolved, none duplicated.
    ``first_session`` is the athlete's first session date when the caller has just read it
    (``first_known``), saving the query."""
    # One evaluation of an athlete at a time, from here: each reads the plan positions the
    # last one stored and rewrites them, so two at once would build on stale positions.
    lock_athlete(tx, athlete_id)
    today = athlete.local_date(now)
    window = (full_window(tx, athlete_id, athlete, today) if dates is None
              else affected_window(tx, athlete_id, athlete, dates, today))
    if window is None:
        window = Window(today, today)
    # Incremental: a gated plan walks on from where the last evaluation left it.
    anchor = None if dates is None else stored_anchor(tx, athlete_id, athlete, window)
    history = load_history(tx, athlete_id, athlete, window, now, first_session, first_known,
                           anchor=anchor)
    evaluation = evaluate_window(athlete, history, window, today, anchor)
    remember_positions(tx, athlete_id, athlete, evaluation.positions, today)
    findings = evaluation.findings
    first = week_start(window.first, athlete.plan_start)
    last = week_start(window.last, athlete.plan_start) + timedelta(days=6)
    return apply_findings(tx, athlete_id, athlete.name, findings, (first, last, True), now,
                          channels)


def with_watched_span(tx: DbSession, athlete_id: int, athlete: Athlete, dates: Iterable[date],
                      watched_before: date | None, today: date) -> set[date]:
    """``dates``, and when the athlete's first day of data moved (``watched_before`` was it
    before the change), both first days (``today`` for the very first data): the weeks
    between them change whether they are judged (``missed_session``), however far from the
    change they lie."""
    days = set(dates)
    watched_after = first_data_day(tx, athlete_id, ZoneInfo(athlete.timezone))
    if watched_after != watched_before:
        days.update(d for d in (watched_before or today, watched_after) if d is not None)
    return days
