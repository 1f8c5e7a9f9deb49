"""Consent records and the keys of the patients' own pages, as stored.

A consent decision is a new row, never an update: given at onboarding (per source, with the
words shown), withdrawn or given again on the patient's page. An athlete's sharing is
withdrawn from the moment of their latest withdrawal when no consent was given after it; an
athlete with no record at all shares as before consent was recorded (added by the clinic,
or onboarded by an earlier version).

A page key is random, shown once, and kept as its SHA-256 only (a new key replaces the old).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from syncd.models import utc_iso
from syncd.store.consent_tables import ConsentRow, PageKeyRow

GIVEN, WITHDRAWN = "given", "withdrawn"
KEY_BYTES = 32
_KEY = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Consent:
    """One recorded decision."""

    source: str
    action: str
    text: str
    via: str
    recorded_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON form (exports, the patient's page)."""
        return {"source": self.source, "action": self.action, "text": self.text,
                "via": self.via, "recorded_at": utc_iso(self.recorded_at)}


def record_consent(tx: Session, athlete_id: int, source: str, action: str, text: str,
                   via: str, now: datetime) -> None:
    """Add one decision of ``athlete_id`` (``action``: ``given`` or ``withdrawn``)."""
    tx.add(ConsentRow(athlete_id=athlete_id, source=source, action=action, text=text,
                      via=via, recorded_at=now))
    tx.flush()


def consents_of(tx: Session, athlete_id: int) -> list[Consent]:
    """Every decision of ``athlete_id``, oldest first."""
    rows = tx.scalars(select(ConsentRow).where(ConsentRow.athlete_id == athlete_id)
                      .order_by(ConsentRow.recorded_at, ConsentRow.id)).all()
    return [Consent(r.source, r.action, r.text, r.via, r.recorded_at) for r in rows]


def withdrawn_since(tx: Session, athlete_ids: Sequence[int] | None = None
                    ) -> dict[int, datetime]:
    """The athletes whose sharing is withdrawn now, with the moment of the withdrawal (all
    athletes when ``athlete_ids`` is ``None``)."""
    query = select(ConsentRow.athlete_id, ConsentRow.action, ConsentRow.recorded_at
                   ).order_by(ConsentRow.recorded_at, ConsentRow.id)
    if athlete_ids is not None:
        query = query.where(ConsentRow.athlete_id.in_(list(athlete_ids)))
    latest: dict[int, tuple[str, datetime]] = {}
    for athlete_id, action, at in tx.execute(query).all():
        latest[athlete_id] = (action, at)
    return {a: at for a, (action, at) in latest.items() if action == WITHDRAWN}


def given_sources(tx: Session, athlete_id: int) -> list[str]:
    """The sources ``athlete_id`` ever gave consent for, in the order first given."""
    out: list[str] = []
    for consent in consents_of(tx, athlete_id):
        if consent.action == GIVEN and consent.source not in out:
            out.append(consent.source)
    return out


# -- the patient's page key -------------------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def new_page_key(tx: Session, athlete_id: int, now: datetime) -> str:
    """A new random key for the athlete's own page, replacing any earlier one."""
    key = secrets.token_urlsafe(KEY_BYTES)
    tx.execute(delete(PageKeyRow).where(PageKeyRow.athlete_id == athlete_id))
    tx.add(PageKeyRow(athlete_id=athlete_id, key_sha256=_digest(key), created_at=now))
    tx.flush()
    return key


def page_athlete(tx: Session, key: str) -> int | None:
    """The athlete whose live page key ``key`` is, else ``None`` (unknown, replaced or not
    shaped like a key, all alike)."""
    if not _KEY.match(key):
        return None
    return tx.execute(select(PageKeyRow.athlete_id)
                      .where(PageKeyRow.key_sha256 == _digest(key))).scalar_one_or_none()
