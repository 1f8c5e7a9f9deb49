"""The webhook channel against a real receiver that verifies with ``standardwebhooks``."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from syncd.alerts import Dispatcher
from syncd.alerts.webhook import render_body, signed_headers, signer
from syncd.clinic import open_app
from syncd.store.outbox import DELIVERED, PENDING, SKIPPED, attempts_of
from syncd.store.tables import AlertDeliveryRow
from tests.support.clock import Clock

from .support import (
    OTHER_SECRET,
    SECRET,
    Receiver,
    event_ids,
    finding,
    raise_alerts,
    settings,
    webhook,
)


def _post(receiver: Receiver, body: bytes, headers: dict[str, str]) -> int:
    return httpx.post(receiver.url, content=body, headers=headers).status_code


def test_receiver_accepts_a_signed_body_and_rejects_tampering_and_old_timestamps(
        receiver: Receiver) -> None:
    hook = signer(SECRET, "webhook.secret")
    body = render_body({"type": "alert.raised", "data": {"id": "a1", "observed": 14.5}})
    assert _post(receiver, body, signed_headers(hook, "msg_1", body)) == 200

    tampered = body.replace(b"14.5", b"10.5")
    assert _post(receiver, tampered, signed_headers(hook, "msg_2", body)) == 400

    old = datetime.now(UTC) - timedelta(minutes=6)
    assert _post(receiver, body, signed_headers(hook, "msg_3", body, sent_at=old)) == 400

    other = signer(OTHER_SECRET, "webhook.secret")
    assert _post(receiver, body, signed_headers(other, "msg_4", body)) == 400

    assert [(r.webhook_id, r.verified) for r in receiver.requests] == [
        ("msg_1", True), ("msg_2", False), ("msg_3", False), ("msg_4", False)]
    assert receiver.requests[1].error == "No matching signature found"
    assert receiver.requests[2].error == "Message timestamp too old"


def test_an_alert_arrives_signed_with_the_design_payload(
        tmp_path: Path, db_url: str, receiver: Receiver, clock: Clock) -> None:
    app = open_app(settings(tmp_path, db_url, webhook=webhook(receiver.url)), clock)
    result = raise_alerts(app, [finding(1)], clock.now)
    alert = result.raised[0]
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        report = dispatcher.run_once()

    assert report.channels["webhook"].delivered == 1
    [got] = receiver.verified()
    assert got.webhook_id == event_ids(result, app)[alert.id]
    assert got.payload == {
        "type": "alert.raised",
        "timestamp": "2026-11-16T08:00:00Z",
        "data": {
            "id": alert.id, "athlete": "default", "rule": "session_length",
            "severity": "warning", "status": "open",
            "subject": {"kind": "activity", "activity_id": "file:1", "date": "2026-11-17"},
            "observed": 19.7, "limit": 18.7, "unit": "min",
            "message": "Session 1: 19.7 min, above the 18.7 min limit.",
            "advice": "Keep the next session to the prescribed 17 minutes.",
            "activity_ids": ["file:1"], "created_at": "2026-11-16T08:00:00Z",
        },
    }
    # The signature's timestamp is the moment of sending (the receiver's clock), not the
    # time the alert was raised.
    assert abs(int(got.timestamp) - time.time()) < 60


def test_each_endpoint_has_its_own_secret_and_filter(tmp_path: Path, clock: Clock) -> None:
    runner, therapist = Receiver(SECRET), Receiver(OTHER_SECRET)
    try:
        config = settings(tmp_path, webhooks=[
            webhook(runner.url),
            webhook(therapist.url, OTHER_SECRET, min_severity="critical"),
            webhook(therapist.url, OTHER_SECRET, rules=["weekly_increase"]),
        ])
        app = open_app(config, clock)
        warning = raise_alerts(app, [finding(1)], clock.now).raised[0]
        critical = raise_alerts(app, [finding(2, "pain_stop", "critical")], clock.now).raised[0]
        with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
            report = dispatcher.run_once()

        assert sorted(r.payload["data"]["id"] for r in runner.verified()) == sorted(
            [warning.id, critical.id])
        assert [r.payload["data"]["id"] for r in therapist.verified()] == [critical.id]
        assert (report.channels["webhook:2"].skipped, report.channels["webhook:3"].skipped) == (
            1, 2)
        with app.store.read() as tx:
            states = sorted(tx.execute(select(AlertDeliveryRow.channel, AlertDeliveryRow.status)))
        assert states == [("webhook:1", DELIVERED), ("webhook:1", DELIVERED),
                          ("webhook:2", DELIVERED), ("webhook:2", SKIPPED),
                          ("webhook:3", SKIPPED), ("webhook:3", SKIPPED)]
    finally:
        runner.close()
        therapist.close()


def test_redirects_are_not_followed(tmp_path: Path, receiver: Receiver, clock: Clock) -> None:
    receiver.responder = lambda got: (302, {"location": "/elsewhere"})
    app = open_app(settings(tmp_path, webhook=webhook(receiver.url)), clock)
    result = raise_alerts(app, [finding(1)], clock.now)
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        report = dispatcher.run_once()

    assert report.channels["webhook"].retry == 1
    assert [r.path for r in receiver.requests] == ["/hook"]
    event_id = next(iter(event_ids(result, app).values()))
    with app.store.read() as tx:
        [attempt] = attempts_of(tx, event_id, "webhook")
        row = tx.scalars(select(AlertDeliveryRow)).one()
    assert attempt.status_code == 302
    assert attempt.error is not None and "redirects are not followed" in attempt.error
    assert (row.status, row.next_attempt_at) == (PENDING, clock.now + timedelta(seconds=5))


def test_a_slow_receiver_times_out_and_is_retried(
        tmp_path: Path, receiver: Receiver, clock: Clock) -> None:
    def slow(got: object) -> tuple[int, dict[str, str]]:
        time.sleep(0.6)
        return 200, {}

    receiver.responder = slow
    app = open_app(settings(tmp_path, webhook=webhook(receiver.url, timeout="0.2s")), clock)
    raise_alerts(app, [finding(1)], clock.now)
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        started = time.monotonic()
        report = dispatcher.run_once()
        elapsed = time.monotonic() - started

    assert report.channels["webhook"].retry == 1
    assert elapsed < 0.55
    with app.store.read() as tx:
        row = tx.scalars(select(AlertDeliveryRow)).one()
    assert row.last_error == "timed out after 0.2 s (ReadTimeout)"
    assert row.attempts == 1


def test_an_event_written_before_the_channel_existed_is_delivered_to_it(
        tmp_path: Path, receiver: Receiver, clock: Clock) -> None:
    before = open_app(settings(tmp_path), clock)
    assert before.channels() == []
    alert = raise_alerts(before, [finding(1)], clock.now).raised[0]
    before.close()

    after = open_app(settings(tmp_path, webhook=webhook(receiver.url)), clock)
    with Dispatcher(after, clock=clock, jitter=0) as dispatcher:
        report = dispatcher.run_once()

    assert report.added == 1
    assert [r.payload["data"]["id"] for r in receiver.verified()] == [alert.id]


def test_webhook_test_command_prints_the_receivers_answer(
        tmp_path: Path, receiver: Receiver, capsys: object) -> None:
    from syncd.cli.main import main

    config = tmp_path / "syncd.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
                      f'[webhook]\nurl = "{receiver.url}"\nsecret = "{SECRET}"\n')
    assert main(["--config", str(config), "webhook", "test"]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    [got] = receiver.verified()
    assert got.payload["type"] == "test"
    assert out.startswith("webhook: 200 in ")
    assert f"webhook-id {got.webhook_id}" in out

    receiver.responder = lambda got: (503, {})
    assert main(["--config", str(config), "webhook", "test"]) == 1
    assert "webhook: 503 in " in capsys.readouterr().out  # type: ignore[attr-defined]
