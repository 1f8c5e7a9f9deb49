"""Retries on the Standard Webhooks schedule, Retry-After, 410 Gone, and giving up."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select

from syncd.alerts import DeliveryMetrics, Dispatcher
from syncd.alerts.schedule import MAX_ATTEMPTS, RETRY_DELAYS, parse_retry_after, retry_delay
from syncd.app import App
from syncd.cli.main import main
from syncd.clinic import open_app
from syncd.store.outbox import DISABLED, FAILED, PENDING, attempts_of, list_deliveries, next_due
from syncd.store.tables import AlertDeliveryRow, AlertEventRow
from tests.support.clock import Clock
from tests.support.net import free_port

from .support import (
    Receiver,
    SmtpServer,
    client_tls,
    email_section,
    event_ids,
    finding,
    raise_alerts,
    settings,
    webhook,
)

S, M, H = 1, 60, 3600


def _drive(dispatcher: Dispatcher, app: App, clock: Clock, until: datetime) -> int:
    """Run a pass at every moment a delivery falls due, up to ``until``; returns the passes."""
    passes = 0
    while True:
        with app.store.read() as tx:
            due = next_due(tx)
        if due is None or due > until:
            return passes
        clock.now = max(clock.now, due)
        dispatcher.run_once()
        passes += 1


def test_the_schedule_steps_and_its_end() -> None:
    steps = [retry_delay(n) for n in range(1, MAX_ATTEMPTS)]
    assert [s.total_seconds() for s in steps if s] == [
        5, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 24 * H, 24 * H, 24 * H]
    assert retry_delay(MAX_ATTEMPTS) is None
    assert MAX_ATTEMPTS == 10


def test_jitter_only_lengthens_a_step_and_retry_after_replaces_a_shorter_one() -> None:
    rng = random.Random(7)
    delays = [retry_delay(2, jitter=0.1, rng=rng) for _ in range(200)]
    assert all(timedelta(minutes=5) <= d <= timedelta(minutes=5.5) for d in delays if d)
    assert len(set(delays)) > 100
    assert retry_delay(1, retry_after=timedelta(seconds=120)) == timedelta(seconds=120)
    assert retry_delay(4, retry_after=timedelta(seconds=120)) == timedelta(hours=2)
    assert retry_delay(1, retry_after=timedelta(days=9)) == timedelta(hours=24)
    assert parse_retry_after("120") == timedelta(seconds=120)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
                             datetime.fromisoformat("2015-10-21T07:27:00+00:00")) == timedelta(
        minutes=1)
    assert parse_retry_after("soon") is None


def test_a_receiver_down_for_three_hours_gets_every_alert_on_the_schedule(
        tmp_path: Path, db_url: str, receiver: Receiver, clock: Clock) -> None:
    start = clock.now
    up_at = start + timedelta(hours=3)
    receiver.responder = lambda got: (500, {}) if clock.now < up_at else (200, {})
    app = open_app(settings(tmp_path, db_url, webhook=webhook(receiver.url)), clock)
    created = {}
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        for offset in (0, 1 * H, 2.5 * H):
            _drive(dispatcher, app, clock, start + timedelta(seconds=offset))
            clock.now = start + timedelta(seconds=offset)
            result = raise_alerts(app, [finding(int(offset))], clock.now)
            created.update({event: clock.now for event in event_ids(result, app).values()})
            dispatcher.run_once()
        _drive(dispatcher, app, clock, start + timedelta(days=5))

    expected_offsets = {  # seconds after each alert was raised
        0: [0, 5, 305, 2105, 9305, 27305],
        1 * H: [0, 5, 305, 2105, 9305],
        2.5 * H: [0, 5, 305, 2105],
    }
    with app.store.read() as tx:
        for event_id, raised_at in created.items():
            offset = (raised_at - start).total_seconds()
            attempts = attempts_of(tx, event_id, "webhook")
            assert [(a.at - raised_at).total_seconds() for a in attempts] == expected_offsets[
                offset]
            assert [a.status_code for a in attempts] == [500] * (len(attempts) - 1) + [200]
        assert set(tx.scalars(select(AlertDeliveryRow.status))) == {"delivered"}
    # Every alert arrived, with one webhook-id each, once per attempt.
    counts = {event_id: receiver.ids().count(event_id) for event_id in created}
    assert counts == {event_id: len(expected_offsets[(at - start).total_seconds()])
                      for event_id, at in created.items()}


def test_retry_after_is_honoured(tmp_path: Path, receiver: Receiver, clock: Clock) -> None:
    answers = iter([(503, {"retry-after": "120"}), (429, {"retry-after": "1"}), (200, {})])
    receiver.responder = lambda got: next(answers)
    app = open_app(settings(tmp_path, webhook=webhook(receiver.url)), clock)
    result = raise_alerts(app, [finding(1)], clock.now)
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        _drive(dispatcher, app, clock, clock.now + timedelta(hours=1))
    [event_id] = event_ids(result, app).values()
    with app.store.read() as tx:
        times = [(a.at - result.raised[0].created_at).total_seconds()
                 for a in attempts_of(tx, event_id, "webhook")]
    # 120 s asked for instead of 5 s; then the schedule's 5 min, longer than the 1 s asked.
    assert times == [0, 120, 420]


def test_the_last_failed_attempt_leaves_a_visible_failed_delivery(
        tmp_path: Path, receiver: Receiver, clock: Clock,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The alert never gets through; the operator notice saying so does.
    receiver.responder = lambda got: (
        (200, {}) if got.payload["type"] == "operator.notice" else (500, {}))
    app = open_app(settings(tmp_path, webhook=webhook(receiver.url)), clock)
    alert = raise_alerts(app, [finding(1)], clock.now).raised[0]
    metrics = DeliveryMetrics()
    with Dispatcher(app, clock=clock, jitter=0, metrics=metrics) as dispatcher:
        _drive(dispatcher, app, clock, clock.now + timedelta(days=10))

    *alert_requests, notice = receiver.verified()
    assert len(alert_requests) == 10
    assert notice.payload["data"]["message"] == (
        f"Delivery on channel webhook failed for good after 10 attempts (alert {alert.id}: "
        "the receiver answered 500 Internal Server Error). `syncd deliveries` lists what did "
        "not arrive; `syncd alerts` still shows every alert.")
    assert clock.now - alert.created_at == timedelta(seconds=sum(
        d.total_seconds() for d in RETRY_DELAYS))
    with app.store.read() as tx:
        [failed] = list_deliveries(tx, statuses=[FAILED])
        assert next_due(tx) is None
    assert (failed.alert_id, failed.attempts, failed.last_status_code) == (alert.id, 10, 500)
    assert failed.last_error == "the receiver answered 500 Internal Server Error"
    sample = metrics.registry.get_sample_value
    assert sample("syncd_alert_deliveries_total", {"channel": "webhook", "outcome": "retry"}) == 9
    assert sample("syncd_alert_deliveries_total", {"channel": "webhook", "outcome": "failed"}) == 1
    assert sample("syncd_alert_deliveries_failed", {"channel": "webhook"}) == 1
    assert sample("syncd_alert_deliveries_pending", {"channel": "webhook"}) == 0
    assert app.alerts()[0].id == alert.id  # the alert itself stays open and listed

    config = tmp_path / "syncd.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "syncd.db"}"\n'
                      f'[webhook]\nurl = "{receiver.url}"\n')
    capsys.readouterr()
    assert main(["--config", str(config), "deliveries"]) == 0
    out = capsys.readouterr().out
    assert out == (f"failed    webhook    alert.raised    {alert.id}: 10 attempts; last error: "
                   "the receiver answered 500 Internal Server Error\n")


@pytest.mark.parametrize("with_email", [True, False])
def test_410_gone_disables_the_endpoint_and_tells_the_operator(
        tmp_path: Path, receiver: Receiver, clock: Clock, smtp: SmtpServer, ca: trustme.CA,
        with_email: bool) -> None:
    receiver.responder = lambda got: (410, {})
    other = Receiver()
    try:
        sections = {"webhook": webhook(receiver.url), "webhooks": [webhook(other.url)]}
        if with_email:
            sections["email"] = email_section(smtp)
        app = open_app(settings(tmp_path, **sections), clock)
        raise_alerts(app, [finding(1), finding(2)], clock.now)
        with Dispatcher(app, clock=clock, jitter=0, tls_context=client_tls(ca),
                        concurrency=1) as dispatcher:
            first = dispatcher.run_once()
            raise_alerts(app, [finding(3)], clock.advance(minutes=1))
            second = dispatcher.run_once()

        assert len(receiver.requests) == 1  # nothing after the 410
        # The second alert of the batch was never sent; the third (and the notice, which
        # got a row on every channel) meet a disabled endpoint.
        assert (first.channels["webhook"].gone, first.channels["webhook"].disabled) == (1, 1)
        assert second.channels["webhook"].disabled == 2
        assert len(other.verified()) == 3  # the other endpoint is unaffected
        with app.store.read() as tx:
            statuses = list(tx.scalars(select(AlertDeliveryRow.status)
                                       .where(AlertDeliveryRow.channel == "webhook")))
            notices = list(tx.scalars(select(AlertEventRow)
                                      .where(AlertEventRow.type == "operator.notice")))
        assert statuses == [DISABLED] * 4
        assert len(notices) == 1
        mails = [m for m in smtp.mailbox.messages if m["Subject"].startswith("[syncd] notice")]
        if with_email:
            assert len(mails) == 1
            assert "answered 410 Gone" in mails[0].get_body(("plain",)).get_content()
            assert receiver.url not in mails[0].as_string()
        else:
            assert mails == []
    finally:
        other.close()


def test_a_dead_receiver_loses_nothing_and_the_pass_goes_on(
        tmp_path: Path, clock: Clock) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    app = open_app(settings(tmp_path, webhook=webhook(url)), clock)
    alerts = raise_alerts(app, [finding(n) for n in range(5)], clock.now).raised
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        report = dispatcher.run_once()
        assert (report.channels["webhook"].retry, report.errors) == (5, [])
        with app.store.read() as tx:
            rows = list(tx.scalars(select(AlertDeliveryRow)))
        assert {(r.status, r.attempts) for r in rows} == {(PENDING, 1)}
        assert all(r.last_error and r.last_error.startswith("ConnectError") for r in rows)

        revived = Receiver(port=port)
        try:
            clock.advance(seconds=5)
            assert dispatcher.run_once().channels["webhook"].delivered == 5
            assert sorted(r.payload["data"]["id"] for r in revived.verified()) == sorted(
                a.id for a in alerts)
        finally:
            revived.close()
