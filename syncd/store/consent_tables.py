"""The table of the patients' consent decisions (beside :mod:`syncd.store.tables`, whose
``Base`` it shares).

Rows are only ever added: a consent given at onboarding and its later withdrawal are two
rows, each with the exact text the patient was shown, so the record says what was agreed,
through which page and when, and survives the decision being changed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.tables import Base, UTCDateTime


class ConsentRow(Base):
    """One consent decision of one patient for one source."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), index=True)
    # ``strava``, ``garmin`` or ``file``: the source whose sessions the decision covers.
    source: Mapped[str] = mapped_column(String(32))
    # ``given`` or ``withdrawn``.
    action: Mapped[str] = mapped_column(String(16))
    # The exact words on the page when the patient decided.
    text: Mapped[str] = mapped_column(Text)
    # The page it was made on: ``invite`` (onboarding) or ``page`` (the patient's own page).
    via: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PageKeyRow(Base):
    """The key of one patient's own page; only its SHA-256 is kept (a new key replaces it)."""

    __tablename__ = "page_keys"

    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id", ondelete="CASCADE"),
                                            primary_key=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
