"""The table of the calendar feed keys (beside :mod:`syncd.store.tables`, whose ``Base`` it
shares): one key per athlete, of which only the SHA-256 is kept, so the database alone opens
no feed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.tables import Base, UTCDateTime


class CalendarKeyRow(Base):
    """The key of one athlete's calendar feed (``GET /calendar/{key}.ics``)."""

    __tablename__ = "calendar_keys"

    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"),
                                            primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
