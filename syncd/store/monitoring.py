"""What the monthly monitoring report reads (:mod:`syncd.pipeline.monitoring`): the moments
an athlete has data (activities of any sport and source, pain reports, check-in answers
included, which are stored as pain reports), with their local wall-clock time, and when the
athlete was first stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syncd.store.tables import ActivityRow, AthleteRow, PainReportRow


@dataclass(frozen=True, slots=True)
class Moment:
    """One piece of data: when (UTC) and the local wall-clock time stored with it (``None``:
    none was; the athlete's time zone then says)."""

    at_utc: datetime
    local: datetime | None


@dataclass(frozen=True, slots=True)
class PainMoment:
    """One pain report: its moment and score."""

    moment: Moment
    score: int


def activity_moments(tx: Session, athlete_id: int, start: datetime, end: datetime
                     ) -> list[Moment]:
    """The athlete's activities (every sport and source) starting in ``[start, end)`` UTC."""
    rows = tx.execute(select(ActivityRow.start_utc, ActivityRow.local_start).where(
        ActivityRow.athlete_id == athlete_id, ActivityRow.start_utc >= start,
        ActivityRow.start_utc < end).order_by(ActivityRow.start_utc))
    return [Moment(at, local) for at, local in rows]


def pain_moments(tx: Session, athlete_id: int, start: datetime, end: datetime
                 ) -> list[PainMoment]:
    """The athlete's pain reports made in ``[start, end)`` UTC, oldest first."""
    rows = tx.execute(select(PainReportRow.at_utc, PainReportRow.local_at, PainReportRow.score)
                      .where(PainReportRow.athlete_id == athlete_id,
                             PainReportRow.at_utc >= start, PainReportRow.at_utc < end)
                      .order_by(PainReportRow.at_utc, PainReportRow.id))
    return [PainMoment(Moment(at, local), score) for at, local, score in rows]


def athlete_created_at(tx: Session, athlete_id: int) -> datetime | None:
    """When the athlete was first stored (``None``: unknown id)."""
    return tx.execute(select(AthleteRow.created_at).where(
        AthleteRow.id == athlete_id)).scalar_one_or_none()
