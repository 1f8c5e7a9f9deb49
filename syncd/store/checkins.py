"""Morning check-ins as stored: the check-in of each athlete's morning, what became of its
sending, its answer, and the hashed tokens its links carry.

A token is random (``secrets.token_urlsafe``), only its SHA-256 is stored, and it answers for
its check-in until it expires. Answering is a single ``UPDATE ... WHERE answered_at IS NULL``
(the symptoms likewise): when two requests race with links of one morning, the database lets
exactly one of them record.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from syncd.store.checkin_tables import CheckinRow, CheckinTokenRow
from syncd.store.queries import symptoms_text
from syncd.store.tables import PainReportRow

TOKEN_VALIDITY = timedelta(hours=36)
TOKEN_BYTES = 32
# A token is 43 URL-safe characters; anything much longer is not one (and is not hashed).
_MAX_TOKEN_CHARS = 100
_ERROR_MAX = 300


@dataclass(frozen=True, slots=True)
class Checkin:
    """One athlete's check-in of one local morning, as stored (never a token)."""

    id: int
    athlete_id: int
    morning: date
    reason: str
    created_at: datetime
    sent_to: tuple[str, ...] = ()
    sent_at: datetime | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    answered_at: datetime | None = None
    pain_report_id: int | None = None
    symptoms_at: datetime | None = None

    @classmethod
    def from_row(cls, row: CheckinRow) -> Checkin:
        """The check-in stored in ``row``."""
        return cls(id=row.id, athlete_id=row.athlete_id, morning=row.morning,
                   reason=row.reason, created_at=row.created_at,
                   sent_to=tuple(n for n in row.sent_to.split(",") if n),
                   sent_at=row.sent_at, attempts=row.attempts,
                   next_attempt_at=row.next_attempt_at, answered_at=row.answered_at,
                   pain_report_id=row.pain_report_id, symptoms_at=row.symptoms_at)


def token_digest(token: str) -> str:
    """The SHA-256 (hex) stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- the morning's check-in ------------------------------------------------------------------


def checkin_of(tx: Session, athlete_id: int, morning: date) -> Checkin | None:
    """The athlete's check-in of ``morning``, if one was made."""
    row = tx.scalars(select(CheckinRow).where(CheckinRow.athlete_id == athlete_id,
                                              CheckinRow.morning == morning)).one_or_none()
    return Checkin.from_row(row) if row is not None else None


def ensure_checkin(tx: Session, athlete_id: int, morning: date, reason: str,
                   now: datetime) -> Checkin:
    """The athlete's check-in of ``morning``, created (once) when missing."""
    found = checkin_of(tx, athlete_id, morning)
    if found is not None:
        return found
    row = CheckinRow(athlete_id=athlete_id, morning=morning, reason=reason, created_at=now,
                     sent_to="", attempts=0)
    tx.add(row)
    tx.flush()
    return Checkin.from_row(row)


def record_sending(tx: Session, checkin_id: int, now: datetime, delivered: Iterable[str],
                   error: str | None = None, retry_at: datetime | None = None) -> None:
    """Record one sending pass: the channels it reached (added to those reached before), and
    for the ones that failed the error and when to try again."""
    row = tx.get_one(CheckinRow, checkin_id)
    reached = [n for n in row.sent_to.split(",") if n]
    reached += [n for n in delivered if n not in reached]
    row.sent_to = ",".join(reached)
    if reached and row.sent_at is None:
        row.sent_at = now
    row.attempts += 1
    row.last_error = error[:_ERROR_MAX] if error else None
    row.next_attempt_at = retry_at


# -- tokens ------------------------------------------------------------------------------------


def issue_token(tx: Session, checkin_id: int, now: datetime,
                valid: timedelta = TOKEN_VALIDITY) -> str:
    """A new random token for check-in ``checkin_id``, valid until ``now + valid``; only its
    hash is stored, the token itself exists only in what is returned (for the links)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    tx.add(CheckinTokenRow(checkin_id=checkin_id, token_sha256=token_digest(token),
                           created_at=now, expires_at=now + valid))
    tx.flush()
    return token


def checkin_by_token(tx: Session, token: str, now: datetime) -> Checkin | None:
    """The check-in a live (not expired) ``token`` serves; ``None`` alike for a token that is
    unknown, expired or not a token at all."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    row = tx.scalars(select(CheckinRow).join(
        CheckinTokenRow, CheckinTokenRow.checkin_id == CheckinRow.id).where(
        CheckinTokenRow.token_sha256 == token_digest(token),
        CheckinTokenRow.expires_at > now)).one_or_none()
    return Checkin.from_row(row) if row is not None else None


def expired_tokens(tx: Session, now: datetime) -> bool:
    """True when some tokens have expired (a read: the pass writes only when there are)."""
    return tx.execute(select(CheckinTokenRow.id).where(
        CheckinTokenRow.expires_at <= now).limit(1)).first() is not None


def forget_expired_tokens(tx: Session, now: datetime) -> int:
    """Delete the tokens that expired (they answer as unknown ones do); how many."""
    return _changed(tx.execute(delete(CheckinTokenRow).where(CheckinTokenRow.expires_at <= now)))


# -- answers -----------------------------------------------------------------------------------


def claim_answer(tx: Session, checkin_id: int, now: datetime) -> bool:
    """Mark check-in ``checkin_id`` answered; True for the one caller that did, False when it
    was answered already."""
    return _changed(tx.execute(update(CheckinRow).where(
        CheckinRow.id == checkin_id, CheckinRow.answered_at.is_(None)).values(
        answered_at=now))) == 1


def answer_morning(tx: Session, athlete_id: int, morning: date, report_id: int,
                   now: datetime) -> bool:
    """Mark the athlete's open check-in of ``morning`` answered by pain report ``report_id``
    (a next-morning report made elsewhere: the command line, ``POST /pain``, the dashboard);
    True when there was one to answer."""
    return _changed(tx.execute(update(CheckinRow).where(
        CheckinRow.athlete_id == athlete_id, CheckinRow.morning == morning,
        CheckinRow.answered_at.is_(None)).values(
        answered_at=now, pain_report_id=report_id))) == 1


def release_answer(tx: Session, checkin_id: int) -> None:
    """Undo :func:`claim_answer` (recording the report failed): the check-in is open again."""
    tx.execute(update(CheckinRow).where(CheckinRow.id == checkin_id).values(
        answered_at=None, pain_report_id=None))


def link_report(tx: Session, checkin_id: int, report_id: int) -> None:
    """Note the pain report that answered check-in ``checkin_id``."""
    tx.execute(update(CheckinRow).where(CheckinRow.id == checkin_id).values(
        pain_report_id=report_id))


def claim_symptoms(tx: Session, checkin_id: int, now: datetime) -> bool:
    """Mark the symptoms of answered check-in ``checkin_id`` given; True for the one caller
    that did, False when they were given already (or the check-in has no report)."""
    return _changed(tx.execute(update(CheckinRow).where(
        CheckinRow.id == checkin_id, CheckinRow.symptoms_at.is_(None),
        CheckinRow.pain_report_id.is_not(None)).values(symptoms_at=now))) == 1


def add_report_symptoms(tx: Session, report_id: int, symptoms: Sequence[str]) -> date:
    """Add ``symptoms`` (known names) to the symptoms pain report ``report_id`` has; returns
    the local date the report was made on."""
    row = tx.get_one(PainReportRow, report_id)
    had = [n for n in (row.symptoms or "").split(",") if n]
    row.symptoms = symptoms_text([*had, *symptoms])
    return (row.local_at or row.at_utc).date()


def report_score(tx: Session, report_id: int) -> int | None:
    """The score of pain report ``report_id`` (``None``: deleted)."""
    return tx.execute(select(PainReportRow.score).where(PainReportRow.id == report_id)).scalar()


def latest_pain_score(tx: Session, athlete_id: int, before: datetime) -> int | None:
    """The score of the athlete's last pain report made before ``before``, if any."""
    return tx.execute(select(PainReportRow.score).where(
        PainReportRow.athlete_id == athlete_id, PainReportRow.at_utc < before).order_by(
        PainReportRow.at_utc.desc(), PainReportRow.id.desc()).limit(1)).scalar()


def _changed(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
