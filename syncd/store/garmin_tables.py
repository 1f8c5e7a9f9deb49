"""The table of the workouts syncd made in an athlete's Garmin workout library (beside
:mod:`syncd.store.tables`, whose ``Base`` it shares).

A row is written before the upload with no ``workout_id`` (the intent) and completed when
Garmin answers, so a crash in between leaves a row that tells the next pass to look for the
workout by name before uploading again. ``digest`` fingerprints the content last sent.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.tables import Base


class GarminWorkoutRow(Base):
    """One workout syncd made (or is about to make) in an athlete's Garmin library."""

    __tablename__ = "garmin_workouts"

    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"),
                                            primary_key=True)
    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    workout_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
