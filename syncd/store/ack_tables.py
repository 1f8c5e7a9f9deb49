"""The table of alert acknowledgements (beside :mod:`syncd.store.tables`, whose ``Base`` it
shares).

Rows are only ever added: the first row of an alert is its acknowledgement (who, when, the
note); a later one is a further note on it, kept with its own author and time.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from syncd.store.tables import Base, UTCDateTime


class AlertAckRow(Base):
    """One acknowledgement (or later note) of one alert."""

    __tablename__ = "alert_acks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[str] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    # The name of the server token used (a therapist), or the user at the command line.
    by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    acked_at: Mapped[datetime] = mapped_column(UTCDateTime)
