"""The set-based queries behind the clinic overview (``GET /status`` with several athletes,
the therapist's dashboard): a fixed number of queries whatever the number of athletes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, case, func, null, select
from sqlalchemy.orm import Session as DbSession

from syncd.models import AlertStatus, Session
from syncd.store.tables import ActivityRow, AlertRow, AthleteRow, SegmentRow, SyncStateRow

# The longest run bout of an activity, read with the activity (the rules' session needs it).
_LONGEST_RUN = (select(func.max(SegmentRow.duration_s))
                .where(SegmentRow.activity_id == ActivityRow.id, SegmentRow.kind == "run")
                .correlate(ActivityRow).scalar_subquery().label("longest_run_s"))


def athlete_ids(tx: DbSession, names: list[str]) -> dict[str, int]:
    """Stored athletes by name, of those in ``names`` (one who never synced has no row)."""
    if not names:
        return {}
    wanted = set(names)
    return {name: athlete_id for athlete_id, name in tx.execute(
        select(AthleteRow.id, AthleteRow.name)) if name in wanted}


def sessions_in_windows(tx: DbSession, windows: Mapping[int, tuple[datetime, datetime]], *,
                        replay: bool = False) -> dict[int, list[Session]]:
    """Per athlete id, the sessions whose local start lies in the athlete's window
    ``[lo, hi)`` (read over the widest window, each athlete's cut to their own). ``replay``:
    for a replay of gated progression, whose rules also read each session's longest run
    bout."""
    if not windows:
        return {}
    first = min(lo for lo, _ in windows.values())
    last = max(hi for _, hi in windows.values())
    columns: list[Any] = [
        ActivityRow.athlete_id, ActivityRow.source, ActivityRow.source_id, ActivityRow.start_utc,
        ActivityRow.local_start, ActivityRow.moving_s, ActivityRow.elapsed_s, ActivityRow.run_s,
        ActivityRow.distance_m, ActivityRow.gear_id]
    conditions = [ActivityRow.athlete_id.in_(_ids(windows)), ActivityRow.canonical_id.is_(None),
                  ActivityRow.deleted.is_(False), ActivityRow.sport == "run",
                  ActivityRow.local_start >= first, ActivityRow.local_start < last]
    if replay:
        # Plan starts lie months apart: each athlete's own first day, in the database.
        conditions.append(ActivityRow.local_start >= case(
            {athlete_id: lo for athlete_id, (lo, _) in windows.items()},
            value=ActivityRow.athlete_id))
    # A week's figures read no bout: the longest is looked up for a replay only.
    query = select(*columns, _LONGEST_RUN if replay else null().label("longest_run_s")
                   ).where(*conditions)
    out: dict[int, list[Session]] = defaultdict(list)
    for (athlete_id, source, source_id, start_utc, local_start, moving_s, elapsed_s, run_s,
         distance_m, gear_id, longest_run_s) in tx.execute(query):
        lo, hi = windows[athlete_id]
        if lo <= local_start < hi:
            out[athlete_id].append(Session.conservative(
                f"{source}:{source_id}", start_utc, local_start, elapsed_s, moving_s, run_s,
                longest_run_s, distance_m, gear_id))
    return out


def _ids(athlete_ids: Iterable[int]) -> BindParameter[int]:
    """Athlete ids for ``IN``, written into the statement: ints from our own rows, and a
    thousand placeholders cost more to send than the numbers."""
    return bindparam("athlete_ids", list(athlete_ids), expanding=True, literal_execute=True)


def open_alerts_by_severity(tx: DbSession, athlete_ids: list[int]) -> dict[int, dict[str, int]]:
    """Open alerts counted by athlete id and severity."""
    if not athlete_ids:
        return {}
    query = (select(AlertRow.athlete_id, AlertRow.severity, func.count())
             .where(AlertRow.athlete_id.in_(_ids(athlete_ids)),
                    AlertRow.status == AlertStatus.OPEN.value)
             .group_by(AlertRow.athlete_id, AlertRow.severity))
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for athlete_id, severity, count in tx.execute(query):
        out[athlete_id][severity] = count
    return out


def sync_times(tx: DbSession, athlete_ids: list[int]) -> dict[int, dict[str, dict[str, Any]]]:
    """Per athlete id and source: ``last_success_at``, ``last_error_at`` and
    ``error_count`` (consecutive errors)."""
    if not athlete_ids:
        return {}
    query = select(SyncStateRow.athlete_id, SyncStateRow.source, SyncStateRow.last_success_at,
                   SyncStateRow.last_error_at, SyncStateRow.error_count
                   ).where(SyncStateRow.athlete_id.in_(_ids(athlete_ids)))
    out: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for athlete_id, source, success, error, errors in tx.execute(query):
        out[athlete_id][source] = {"last_success_at": success, "last_error_at": error,
                                   "error_count": errors}
    return out
