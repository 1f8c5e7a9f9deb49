"""The morning check-in pass, run by the scheduler of the leading replica every minute: for
each athlete of the clinic whose check-in is due (:func:`syncd.pipeline.checkins.due_now`),
the morning's check-in row (made once), then a send on each of the athlete's own channels that
carries check-ins and has not had it yet.

Sending is at least once and loses nothing: the row exists before anything is sent; every
send makes a new random token (stored hashed, committed before the send, so a link that went
out always works); what was sent is recorded after the send; a channel that failed is tried
again on a later pass (5, 10, 20, 40 minutes, then hourly) for as long as the morning's
check-in is due. Nothing here logs a token or a link.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from syncd.alerts.channel import Channel, Result
from syncd.alerts.checkin_mail import CheckinCarrier, CheckinMessage
from syncd.alerts.dispatcher import build_channels
from syncd.pipeline.checkins import checkins_enabled, due_now, link_base, own_channels, score_links
from syncd.rules.checkin import checkin_question
from syncd.store.checkins import (
    TOKEN_VALIDITY,
    Checkin,
    checkin_of,
    ensure_checkin,
    expired_tokens,
    forget_expired_tokens,
    issue_token,
    record_sending,
)

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.checkins")

CHECKIN_INTERVAL = timedelta(minutes=1)
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(slots=True)
class CheckinPass:
    """What one pass did: the athletes whose check-in went out, and those it failed for."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Carriers:
    """The configured channels that carry check-ins, built on first need and closed after the
    pass (``channels`` given: used as they are, left open)."""

    def __init__(self, app: App, channels: Sequence[Channel] | None = None) -> None:
        self._app = app
        self._given = channels
        self._built: list[Channel] | None = None

    def of(self, app: App) -> list[CheckinCarrier]:
        """The carriers of ``app``'s athlete: their own channels that can carry check-ins."""
        own = set(own_channels(app))
        return [c for c in self._channels() if c.name in own and isinstance(c, CheckinCarrier)]

    def _channels(self) -> Sequence[Channel]:
        if self._given is not None:
            return self._given
        if self._built is None:
            self._built = build_channels(self._app.settings, roster=self._app.clinic.roster())
        return self._built

    def close(self) -> None:
        """Close the channels built here."""
        for channel in self._built or []:
            channel.close()


def send_due_checkins(app: App, channels: Sequence[Channel] | None = None, *,
                      only: Sequence[str] | None = None) -> CheckinPass:
    """One pass over every athlete of ``app``'s clinic (or those named in ``only``) at
    ``app.clock()``; failures are recorded and logged, never raised."""
    done = CheckinPass()
    carriers = Carriers(app, channels)
    try:
        for athlete in app.clinic.apps():
            if only is None or athlete.athlete.name in only:
                _guarded(athlete, carriers, done)
        _forget_expired(app)
    except Exception:  # the database is away: the next pass tries again
        log.exception("check-in pass failed")
    finally:
        carriers.close()
    return done


def _forget_expired(app: App) -> None:
    """Delete expired tokens, when there are any (a pass with nothing to do writes nothing:
    it must not wait on the write lock a source's pass holds)."""
    now = app.clock()
    with app.store.read() as tx:
        if not expired_tokens(tx, now):
            return
    with app.store.write() as tx:
        forget_expired_tokens(tx, now)


def _guarded(app: App, carriers: Carriers, done: CheckinPass) -> None:
    """The athlete's check-in, if due; one athlete's failure does not stop the others."""
    try:
        if checkins_enabled(app):
            _checkin(app, carriers, done)
    except Exception:
        done.failed.append(app.athlete.name)
        log.exception("check-in failed", athlete=app.athlete.name)


def _checkin(app: App, carriers: Carriers, done: CheckinPass) -> None:
    """Make the due check-in's row, and send it where it has not gone yet."""
    now = app.clock()
    due = due_now(app, now)
    if due is None:
        return
    with app.store.read() as tx:  # most passes find the row made: no write lock for them
        checkin = checkin_of(tx, app.athlete_id, due.morning)
    if checkin is None:
        with app.store.write() as tx:
            checkin = ensure_checkin(tx, app.athlete_id, due.morning, due.reason, now)
    if checkin.answered_at is not None or (checkin.next_attempt_at or now) > now:
        return
    pending = [c for c in carriers.of(app) if c.name not in checkin.sent_to]
    if pending:
        _send(app, checkin, pending, now, done)


def _send(app: App, checkin: Checkin, pending: list[CheckinCarrier], now: datetime,
          done: CheckinPass) -> None:
    """Send ``checkin`` on ``pending`` with a new token, and record what came of it."""
    with app.store.write() as tx:
        token = issue_token(tx, checkin.id, now)
    message = checkin_message(app, checkin, token, now)
    outcomes = {carrier.name: carrier.send_checkin(message) for carrier in pending}
    reached = [name for name, o in outcomes.items() if o.result is Result.DELIVERED]
    errors = [f"{name}: {o.error or o.result.value}" for name, o in outcomes.items()
              if o.result is not Result.DELIVERED]
    retry_at = now + retry_delay(checkin.attempts) if errors else None
    with app.store.write() as tx:
        record_sending(tx, checkin.id, now, reached, "; ".join(errors) or None, retry_at)
    if reached:
        done.sent.append(app.athlete.name)
        log.info("check-in sent", athlete=app.athlete.name, morning=checkin.morning.isoformat(),
                 reason=checkin.reason, channels=reached)
    if errors:
        done.failed.append(app.athlete.name)
        log.warning("check-in not sent; trying again later", athlete=app.athlete.name,
                    errors=errors, next_attempt_at=retry_at.isoformat() if retry_at else None)


def checkin_message(app: App, checkin: Checkin, token: str, now: datetime) -> CheckinMessage:
    """The message of ``checkin`` with the links of ``token``."""
    name = app.athlete.name
    until = (now + TOKEN_VALIDITY).astimezone(app.zone)
    return CheckinMessage(
        checkin_id=checkin.id, first_name=(name.split() or [name])[0],
        question=checkin_question(app.plan.name if app.plan else None),
        morning=checkin.morning, links=score_links(link_base(app.settings), token),
        valid_until=until.strftime("%A %d %B, %H:%M").replace(" 0", " "),
        pain_stop=app.athlete.limits.pain_stop)


def retry_delay(attempts_before: int) -> timedelta:
    """How long after a failed send the next try waits: 5 minutes, doubling, at most an
    hour."""
    return min(FIRST_RETRY * 2 ** min(attempts_before, 10), LONGEST_RETRY)
