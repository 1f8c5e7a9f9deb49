"""Alerts: raised once, updated silently, resolved and reopened, with their outbox rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from syncd.models import Finding, PainReport, Subject
from syncd.store import (
    AlertScope,
    ApplyResult,
    Store,
    add_operator_notice,
    apply_findings,
    list_alerts,
    open_alert_count,
)
from syncd.store.tables import AlertDeliveryRow, AlertEventRow, AlertRow

from .conftest import NOW

WEEK = date(2026, 3, 2)
CHANNELS = ("webhook", "email")
WEEK_SCOPE = AlertScope(WEEK, WEEK + timedelta(days=6), include_gear=False)


def weekly(observed: float = 14.5, severity: str = "warning") -> Finding:
    return Finding(
        rule="weekly_increase", severity=severity,  # type: ignore[arg-type]
        subject=Subject.week(WEEK, 1), observed=observed, limit=13.2, unit="min",
        message=f"Week 1: {observed} min of running, above the 13.2 min limit (+10 %).",
        advice="Hold this week's volume; repeat the week before progressing.",
        activity_ids=("strava:1234",),
    )


def shoes(band: str = "warn") -> Finding:
    return Finding("shoe_mileage", "info", Subject.gear("g1", band), 490.0, 483.0, "km",
                   "Pegasus: 490 km.", "Plan new shoes.")


def apply(store: Store, athlete: int, *findings: Finding, scope: Any = WEEK_SCOPE,
          now: datetime = NOW) -> ApplyResult:
    with store.write() as tx:
        return apply_findings(tx, athlete, "ana", findings, scope, now, CHANNELS)


def outbox(store: Store) -> list[tuple[str, dict[str, Any], list[tuple[str, str, int]]]]:
    """Every event (type, payload) with its deliveries (channel, status, attempts)."""
    with store.read() as tx:
        events = tx.scalars(select(AlertEventRow).order_by(AlertEventRow.created_at)).all()
        deliveries = tx.scalars(select(AlertDeliveryRow).order_by(AlertDeliveryRow.channel))
        by_event: dict[str, list[tuple[str, str, int]]] = {}
        for row in deliveries:
            by_event.setdefault(row.event_id, []).append((row.channel, row.status, row.attempts))
        return [(e.type, e.payload, by_event.get(e.id, [])) for e in events]


PENDING = [("email", "pending", 0), ("webhook", "pending", 0)]


def test_a_new_finding_raises_an_alert_with_its_event_and_deliveries(
    store: Store, athlete_id: int
) -> None:
    result = apply(store, athlete_id, weekly())
    [alert] = result.raised
    assert (result.resolved, result.updated) == ([], 0)
    assert outbox(store) == [("alert.raised", {
        "type": "alert.raised", "timestamp": "2026-03-10T12:00:00Z",
        "data": {"id": alert.id, "athlete": "ana", "rule": "weekly_increase",
                 "severity": "warning", "status": "open",
                 "subject": {"kind": "week", "plan_week": 1, "week_start": "2026-03-02"},
                 "observed": 14.5, "limit": 13.2, "unit": "min",
                 "message": "Week 1: 14.5 min of running, above the 13.2 min limit (+10 %).",
                 "advice": "Hold this week's volume; repeat the week before progressing.",
                 "activity_ids": ["strava:1234"], "created_at": "2026-03-10T12:00:00Z"}},
        PENDING)]
    with store.read() as tx:
        assert list_alerts(tx, athlete_id) == [alert]
        assert open_alert_count(tx, athlete_id) == 1


def test_the_same_finding_again_sends_nothing(store: Store, athlete_id: int) -> None:
    apply(store, athlete_id, weekly())
    again = apply(store, athlete_id, weekly(), now=NOW + timedelta(hours=1))
    assert (again.raised, again.resolved, again.updated) == ([], [], 0)
    assert len(outbox(store)) == 1


def test_changed_numbers_update_the_open_alert_silently(store: Store, athlete_id: int) -> None:
    [alert] = apply(store, athlete_id, weekly(14.5)).raised
    result = apply(store, athlete_id, weekly(16.0))
    assert (result.raised, result.updated) == ([], 1)
    assert len(outbox(store)) == 1
    with store.read() as tx:
        [stored] = list_alerts(tx, athlete_id)
    assert (stored.id, stored.finding.observed) == (alert.id, 16.0)
    assert stored.finding.message.startswith("Week 1: 16.0 min")


def test_an_alert_whose_condition_vanished_in_scope_is_resolved(
    store: Store, athlete_id: int
) -> None:
    [alert] = apply(store, athlete_id, weekly()).raised
    later = NOW + timedelta(days=1)
    result = apply(store, athlete_id, now=later)
    [resolved] = result.resolved
    assert (resolved.id, resolved.status.value, resolved.resolved_at) == (
        alert.id, "resolved", later)
    kind, payload, deliveries = outbox(store)[1]
    assert (kind, payload["data"]["status"], payload["data"]["resolved_at"]) == (
        "alert.resolved", "resolved", "2026-03-11T12:00:00Z")
    assert deliveries == PENDING
    with store.read() as tx:
        assert list_alerts(tx, athlete_id) == []
        assert list_alerts(tx, athlete_id, include_resolved=True) == [resolved]


def test_alerts_outside_the_evaluated_scope_stay_open(store: Store, athlete_id: int) -> None:
    apply(store, athlete_id, weekly(), shoes())
    next_week = AlertScope(WEEK + timedelta(days=7), WEEK + timedelta(days=13), False)
    assert apply(store, athlete_id, scope=next_week).resolved == []
    assert [a.finding.rule for a in apply(store, athlete_id, weekly(),
                                          scope=(None, None, True)).resolved] == ["shoe_mileage"]


def test_scope_can_be_any_predicate_on_subjects(store: Store, athlete_id: int) -> None:
    apply(store, athlete_id, weekly(), shoes())
    result = apply(store, athlete_id, scope=lambda subject: subject.kind.value == "week")
    assert [a.finding.rule for a in result.resolved] == ["weekly_increase"]


def test_a_returning_condition_reopens_the_same_alert(store: Store, athlete_id: int) -> None:
    [alert] = apply(store, athlete_id, weekly()).raised
    apply(store, athlete_id, now=NOW + timedelta(days=1))
    [reopened] = apply(store, athlete_id, weekly(15.0), now=NOW + timedelta(days=2)).raised
    assert (reopened.id, reopened.status.value, reopened.resolved_at) == (alert.id, "open", None)
    assert [kind for kind, _, _ in outbox(store)] == [
        "alert.raised", "alert.resolved", "alert.raised"]
    with store.read() as tx:
        assert len(tx.scalars(select(AlertRow)).all()) == 1


def test_one_alert_per_rule_and_subject_even_when_reported_twice(
    store: Store, athlete_id: int
) -> None:
    result = apply(store, athlete_id, weekly(14.0), weekly(30.0, "critical"))
    assert [a.finding.severity for a in result.raised] == ["critical"]
    with pytest.raises(IntegrityError), store.write() as tx:
        [row] = tx.scalars(select(AlertRow)).all()
        tx.add(AlertRow(id="copy", athlete_id=athlete_id, rule=row.rule,
                        subject_key=row.subject_key, subject=row.subject, severity="info",
                        observed=1, limit=1, unit="min", message="", advice="",
                        activity_ids=[], status="open", created_at=NOW, updated_at=NOW))


def test_alert_and_outbox_rows_commit_or_vanish_together(store: Store, athlete_id: int) -> None:
    with pytest.raises(RuntimeError), store.write() as tx:
        apply_findings(tx, athlete_id, "ana", [weekly()], WEEK_SCOPE, NOW, CHANNELS)
        raise RuntimeError("evaluation crashed after the findings were applied")
    assert outbox(store) == []
    with store.read() as tx:
        assert open_alert_count(tx) == 0


def test_pain_subject_round_trips(store: Store, athlete_id: int) -> None:
    report = PainReport("7", NOW, 5)
    finding = Finding("pain_stop", "critical", Subject.pain(report, NOW.date()), 5, 4, "score",
                      "Pain 5/10.", "Stop and reassess.")
    [alert] = apply(store, athlete_id, finding).raised
    with store.read() as tx:
        assert list_alerts(tx) == [alert]
    assert alert.finding == finding


def test_a_failing_source_sends_one_notice_not_one_per_poll(
    store: Store, athlete_id: int
) -> None:
    def notice(now: datetime) -> bool:
        with store.write() as tx:
            return add_operator_notice(tx, athlete_id, "source_failing:strava",
                                       "Strava has failed since 12:00: token revoked.", now,
                                       ["webhook"], window=timedelta(hours=6))

    assert notice(NOW) is True
    assert notice(NOW + timedelta(minutes=15)) is False  # within the window
    assert notice(NOW + timedelta(hours=7)) is False     # the first is still undelivered
    with store.write() as tx:
        tx.execute(update(AlertDeliveryRow).values(status="delivered"))
    assert notice(NOW + timedelta(hours=7)) is True
    [_, (kind, payload, deliveries)] = outbox(store)
    assert (kind, payload["data"]["kind"], payload["data"]["athlete"], deliveries) == (
        "operator.notice", "source_failing:strava", "ana", [("webhook", "pending", 0)])
