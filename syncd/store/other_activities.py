"""Activities that are not runs (walks, hikes, cross-training), and the last day with any data.

They are stored like runs (upsert, cross-source identity) and read here for what they are
worth to syncd: the walks of a walk-only week, proof that the runner is active (``no_data``),
and cross-training to show (:func:`syncd.progress.cross_training`). None of them is ever
running load. The queries filter on (athlete_id, local_start), which the activities' index
serves.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session as DbSession

from syncd.models import OtherActivity
from syncd.store.tables import ActivityRow, PainReportRow


def _counted(athlete_id: int) -> list[ColumnElement[bool]]:
    """Canonical, not deleted activities of the athlete (any sport)."""
    return [ActivityRow.athlete_id == athlete_id, ActivityRow.canonical_id.is_(None),
            ActivityRow.deleted.is_(False)]


def load_others(tx: DbSession, athlete_id: int, from_local: datetime,
                to_local: datetime) -> list[OtherActivity]:
    """Activities that are not runs with a local start in ``[from_local, to_local)``."""
    query = (select(ActivityRow.source, ActivityRow.source_id, ActivityRow.sport,
                    ActivityRow.sport_type, ActivityRow.start_utc, ActivityRow.local_start,
                    ActivityRow.moving_s, ActivityRow.elapsed_s)
             .where(*_counted(athlete_id), ActivityRow.sport != "run",
                    ActivityRow.local_start >= from_local, ActivityRow.local_start < to_local)
             .order_by(ActivityRow.start_utc, ActivityRow.source, ActivityRow.source_id))
    return [OtherActivity(key=f"{row.source}:{row.source_id}", sport=row.sport,
                          sport_type=row.sport_type, start_utc=row.start_utc,
                          local_start=row.local_start,
                          duration_s=row.moving_s if row.moving_s is not None else row.elapsed_s)
            for row in tx.execute(query)]


def first_data_day(tx: DbSession, athlete_id: int, zone: ZoneInfo) -> date | None:
    """The first local day with an activity of any sport or a pain report, or ``None``
    before any: syncd watches the athlete from then on (``missed_session``)."""
    activity = tx.execute(select(func.min(ActivityRow.local_start)).where(
        *_counted(athlete_id))).scalar()
    report = tx.execute(
        select(PainReportRow.at_utc, PainReportRow.local_at)
        .where(PainReportRow.athlete_id == athlete_id)
        .order_by(PainReportRow.at_utc).limit(1)).first()
    days = [activity.date()] if activity is not None else []
    if report is not None:
        local = report.local_at or report.at_utc.astimezone(zone).replace(tzinfo=None)
        days.append(local.date())
    return min(days, default=None)


def last_data_day(tx: DbSession, athlete_id: int, zone: ZoneInfo,
                  until_local: datetime) -> date | None:
    """The last local day before ``until_local`` (naive, local) with an activity of any
    sport or a pain report, or ``None`` before any."""
    activity = tx.execute(select(func.max(ActivityRow.local_start)).where(
        *_counted(athlete_id), ActivityRow.local_start < until_local)).scalar()
    until_utc = until_local.replace(tzinfo=zone).astimezone(UTC)
    report = tx.execute(
        select(PainReportRow.at_utc, PainReportRow.local_at)
        .where(PainReportRow.athlete_id == athlete_id, PainReportRow.at_utc < until_utc)
        .order_by(PainReportRow.at_utc.desc()).limit(1)).first()
    days = [activity.date()] if activity is not None else []
    if report is not None:
        local = report.local_at or report.at_utc.astimezone(zone).replace(tzinfo=None)
        days.append(local.date())
    return max(days, default=None)
