"""Alerts and their transactional outbox.

:func:`apply_findings` turns one evaluation's findings into alert rows, and writes an outbox
event (plus one pending delivery per channel) for every alert raised or resolved, all in the
caller's transaction: either the alert and its notification are both stored, or neither is.
The dispatcher sends the events later, at least once, under the event id (the webhook-id).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from syncd.models import SEVERITY_ORDER, Alert, AlertStatus, Finding, Subject, SubjectKind, utc_iso
from syncd.store.engine import lock_athlete
from syncd.store.queries import athlete_name as _athlete_name
from syncd.store.tables import AlertDeliveryRow, AlertEventRow, AlertRow, AthleteRow
from syncd.text import MESSAGE_MAX, clean_line

EVENT_RAISED = "alert.raised"
EVENT_RESOLVED = "alert.resolved"
# An open alert whose severity rose (a late upload turned a warning into a critical one).
EVENT_ESCALATED = "alert.escalated"
EVENT_NOTICE = "operator.notice"
DELIVERY_PENDING = "pending"
DEFAULT_NOTICE_WINDOW = timedelta(hours=24)
_IN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class AlertScope:
    """Which stored alerts an evaluation covered: subjects anchored in ``[from_date,
    to_date]`` (inclusive), and the athlete-wide ones every evaluation checks whatever its
    window (gear, today's silence) when ``include_gear``."""

    from_date: date | None
    to_date: date | None
    include_gear: bool = False

    def __call__(self, subject: Subject) -> bool:
        """True when the evaluation re-checked ``subject``."""
        if subject.kind in (SubjectKind.GEAR, SubjectKind.SILENCE):
            return self.include_gear
        if subject.anchor is None or self.from_date is None or self.to_date is None:
            return False
        return self.from_date <= subject.anchor <= self.to_date


@dataclass(slots=True)
class ApplyResult:
    """Alerts raised (new or reopened), resolved and escalated (open ones whose severity
    rose), and how many open ones changed without a notification."""

    raised: list[Alert] = field(default_factory=list)
    resolved: list[Alert] = field(default_factory=list)
    updated: int = 0
    escalated: list[Alert] = field(default_factory=list)


def apply_findings(
    session: Session,
    athlete_id: int,
    athlete_name: str,
    findings: Iterable[Finding],
    scope: Callable[[Subject], bool] | tuple[date | None, date | None, bool],
    now: datetime,
    channels: Sequence[str],
) -> ApplyResult:
    """Reconcile stored alerts with one evaluation's findings.

    A finding with no open alert raises one (reopening a resolved alert with the same rule
    and subject, under its old id); a finding whose alert is open updates its numbers in
    place, without a notification unless its severity rose (then an ``alert.escalated``);
    an open alert inside ``scope`` that no finding confirms is resolved. ``scope`` is a
    predicate on subjects, or ``(from_date, to_date, include_gear)`` for an
    :class:`AlertScope`. Each raise, escalation and resolve writes an outbox event with one
    pending delivery per channel name, in the caller's transaction.
    """
    in_scope = AlertScope(*scope) if isinstance(scope, tuple) else scope
    lock_athlete(session, athlete_id)
    wanted = _strongest(findings)
    stored = _stored_alerts(session, athlete_id, {key for _, key in wanted})
    result = ApplyResult()
    for dedupe_key, finding in wanted.items():
        row = stored.get(dedupe_key)
        if row is not None and row.status == AlertStatus.OPEN:
            before = row.severity
            result.updated += _refresh(row, finding, now)
            if SEVERITY_ORDER[finding.severity] > SEVERITY_ORDER.get(before, 0):
                _escalate(session, row, before, athlete_name, now, channels, result)
            continue
        row = _raise(session, row, athlete_id, finding, now)
        alert = alert_from_row(row, athlete_name)
        result.raised.append(alert)
        _write_event(session, EVENT_RAISED, alert, athlete_id, now, channels)
    for dedupe_key, row in stored.items():
        if row.status != AlertStatus.OPEN or dedupe_key in wanted:
            continue
        alert = alert_from_row(row, athlete_name)
        if in_scope(alert.finding.subject):
            resolved = _resolve(row, athlete_name, now)
            result.resolved.append(resolved)
            _write_event(session, EVENT_RESOLVED, resolved, athlete_id, now, channels)
    session.flush()
    return result


def _strongest(findings: Iterable[Finding]) -> dict[tuple[str, str], Finding]:
    """One finding per (rule, subject): the most severe when a rule reported twice."""
    wanted: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        known = wanted.get(finding.dedupe_key)
        if known is None or SEVERITY_ORDER[finding.severity] > SEVERITY_ORDER[known.severity]:
            wanted[finding.dedupe_key] = finding
    return wanted


def _stored_alerts(
    session: Session, athlete_id: int, subject_keys: set[str]
) -> dict[tuple[str, str], AlertRow]:
    """The athlete's open alerts and every alert about one of ``subject_keys``."""
    base = select(AlertRow).where(AlertRow.athlete_id == athlete_id)
    rows = list(session.scalars(base.where(AlertRow.status == AlertStatus.OPEN.value)))
    keys = sorted(subject_keys)
    for start in range(0, len(keys), _IN_CHUNK):
        rows.extend(session.scalars(base.where(
            AlertRow.subject_key.in_(keys[start:start + _IN_CHUNK]))))
    return {(row.rule, row.subject_key): row for row in rows}


def _finding_columns(finding: Finding) -> dict[str, Any]:
    """The alert columns that come from a finding."""
    subject = finding.subject
    return {
        "subject": {"kind": subject.kind.value, "details": [list(d) for d in subject.details]},
        "anchor": subject.anchor,
        "severity": finding.severity,
        "observed": float(finding.observed),
        "limit": float(finding.limit),
        "unit": finding.unit,
        "message": finding.message,
        "advice": finding.advice,
        "activity_ids": list(finding.activity_ids),
    }


def _refresh(row: AlertRow, finding: Finding, now: datetime) -> int:
    """Update an open alert's numbers and wording; 1 when something changed, else 0."""
    changed = {k: v for k, v in _finding_columns(finding).items() if getattr(row, k) != v}
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        row.updated_at = now
    return 1 if changed else 0


def _escalate(
    session: Session, row: AlertRow, before: str, athlete_name: str, now: datetime,
    channels: Sequence[str], result: ApplyResult,
) -> None:
    """Tell that an open alert got worse: an ``alert.escalated`` event (the alert's id, its
    new severity, numbers and message, and the severity it had), once per rise."""
    alert = alert_from_row(row, athlete_name)
    result.escalated.append(alert)
    _write_event(session, EVENT_ESCALATED, alert, row.athlete_id, now, channels,
                 previous_severity=before)


def _raise(
    session: Session, row: AlertRow | None, athlete_id: int, finding: Finding, now: datetime
) -> AlertRow:
    """Insert a new open alert, or reopen ``row`` (a resolved one) with the new numbers."""
    if row is None:
        row = AlertRow(id=str(uuid.uuid4()), athlete_id=athlete_id, rule=finding.rule,
                       subject_key=finding.subject.key, created_at=now)
        session.add(row)
    for name, value in _finding_columns(finding).items():
        setattr(row, name, value)
    row.status = AlertStatus.OPEN.value
    row.resolved_at = None
    row.updated_at = now
    # The event rows below reference the alert: make sure it exists first.
    session.flush()
    return row


def _resolve(row: AlertRow, athlete_name: str, now: datetime) -> Alert:
    """Mark an open alert resolved."""
    row.status = AlertStatus.RESOLVED.value
    row.resolved_at = now
    row.updated_at = now
    return alert_from_row(row, athlete_name)


def _write_event(
    session: Session, event_type: str, alert: Alert, athlete_id: int, now: datetime,
    channels: Sequence[str], **extra: Any,
) -> AlertEventRow:
    """Add an outbox event for ``alert`` with a pending delivery per channel; ``extra``
    joins the payload's ``data`` (a superset of the alert's webhook object)."""
    payload = {"type": event_type, "timestamp": utc_iso(now),
               "data": {**alert.payload_data(), **extra}}
    event = AlertEventRow(id=new_event_id(), alert_id=alert.id, athlete_id=athlete_id,
                          type=event_type, payload=payload, created_at=now)
    _add_event(session, event, now, channels)
    return event


def new_event_id() -> str:
    """A fresh outbox event id, used as the webhook-id (``msg_`` and 32 hex digits)."""
    return f"msg_{uuid.uuid4().hex}"


def _add_event(
    session: Session, event: AlertEventRow, now: datetime, channels: Sequence[str]
) -> None:
    """Store ``event`` and one pending delivery per channel, due now."""
    session.add(event)
    session.flush()
    for channel in dict.fromkeys(channels):
        session.add(AlertDeliveryRow(event_id=event.id, channel=channel,
                                     status=DELIVERY_PENDING, attempts=0, next_attempt_at=now,
                                     created_at=now))


def alert_from_row(row: AlertRow, athlete_name: str) -> Alert:
    """A stored alert as the domain :class:`Alert`."""
    subject = Subject(
        kind=SubjectKind(row.subject["kind"]),
        key=row.subject_key,
        anchor=row.anchor,
        details=tuple((str(k), v) for k, v in row.subject.get("details", [])),
    )
    finding = Finding(
        rule=row.rule, severity=row.severity,  # type: ignore[arg-type]
        subject=subject, observed=row.observed, limit=row.limit, unit=row.unit,
        message=row.message, advice=row.advice, activity_ids=tuple(row.activity_ids),
    )
    return Alert(id=row.id, athlete=athlete_name, finding=finding,
                 status=AlertStatus(row.status), created_at=row.created_at,
                 resolved_at=row.resolved_at)


def list_alerts(
    session: Session, athlete_id: int | None = None, include_resolved: bool = False
) -> list[Alert]:
    """Alerts, newest first: open ones only unless ``include_resolved``; every athlete's
    unless ``athlete_id`` is given."""
    query = (select(AlertRow, AthleteRow.name)
             .join(AthleteRow, AthleteRow.id == AlertRow.athlete_id)
             .order_by(AlertRow.created_at.desc(), AlertRow.id))
    if athlete_id is not None:
        query = query.where(AlertRow.athlete_id == athlete_id)
    if not include_resolved:
        query = query.where(AlertRow.status == AlertStatus.OPEN.value)
    return [alert_from_row(row, name) for row, name in session.execute(query)]


def open_alert_count(session: Session, athlete_id: int | None = None) -> int:
    """How many alerts are open (for one athlete, or for all)."""
    query = select(func.count()).select_from(AlertRow).where(
        AlertRow.status == AlertStatus.OPEN.value)
    if athlete_id is not None:
        query = query.where(AlertRow.athlete_id == athlete_id)
    return session.execute(query).scalar_one()


def add_operator_notice(
    session: Session,
    athlete_id: int | None,
    kind: str,
    message: str,
    now: datetime,
    channels: Sequence[str],
    *,
    window: timedelta = DEFAULT_NOTICE_WINDOW,
) -> bool:
    """Queue an ``operator.notice`` (a source failing, a token revoked...) unless a notice of
    the same ``kind`` for the athlete is still being delivered or was written within
    ``window``: a source that fails on every poll sends one notice, not one per poll.
    Returns whether a notice was written."""
    if _recent_notice(session, athlete_id, kind, now - window):
        return False
    event_id = new_event_id()
    message = clean_line(message, MESSAGE_MAX)  # may quote a source's or a server's reply
    data: dict[str, Any] = {"id": event_id, "kind": kind, "message": message,
                            "created_at": utc_iso(now)}
    if athlete_id is not None:
        data["athlete"] = _athlete_name(session, athlete_id)
    payload = {"type": EVENT_NOTICE, "timestamp": utc_iso(now), "data": data}
    event = AlertEventRow(id=event_id, alert_id=None, athlete_id=athlete_id, type=EVENT_NOTICE,
                          notice_kind=kind, payload=payload, created_at=now)
    _add_event(session, event, now, channels)
    session.flush()
    return True


def _recent_notice(session: Session, athlete_id: int | None, kind: str, since: datetime) -> bool:
    """True when a notice of ``kind`` was written after ``since`` or still awaits delivery."""
    pending = exists().where(AlertDeliveryRow.event_id == AlertEventRow.id,
                             AlertDeliveryRow.status == DELIVERY_PENDING)
    who = (AlertEventRow.athlete_id.is_(None) if athlete_id is None
           else AlertEventRow.athlete_id == athlete_id)
    query = select(AlertEventRow.id).where(
        AlertEventRow.type == EVENT_NOTICE, AlertEventRow.notice_kind == kind, who,
        or_(AlertEventRow.created_at >= since, pending),
    ).limit(1)
    return session.execute(query).first() is not None
