"""The tables of the morning check-in (beside :mod:`syncd.store.tables`, whose ``Base`` they
share): one row per athlete and local morning, and the hashed tokens of its links.

A check-in row is created once per (athlete, morning) and records what became of it: which
of the athlete's channels it went out on, the failed tries, the answer. Every send makes a new
random token, of which only the SHA-256 is stored, so the database alone opens no link.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.tables import Base, UTCDateTime


class CheckinRow(Base):
    """The check-in of one athlete's local morning."""

    __tablename__ = "checkins"
    __table_args__ = (UniqueConstraint("athlete_id", "morning"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"))
    morning: Mapped[date] = mapped_column(Date)
    # Why it is asked: ``run`` (a run the day before) or ``pain`` (pain that means stop is
    # unresolved).
    reason: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The channels it went out on, comma-separated (a failed one is tried again).
    sent_to: Mapped[str] = mapped_column(String(300))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pain_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("pain_reports.id", ondelete="SET NULL"), nullable=True)
    symptoms_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CheckinTokenRow(Base):
    """One link token of a check-in (a new one per send); only its SHA-256 is kept."""

    __tablename__ = "checkin_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkin_id: Mapped[int] = mapped_column(
        ForeignKey("checkins.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
