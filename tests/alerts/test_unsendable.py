"""One event that cannot be sent fails alone: the rest of the batch is delivered; it follows
the retry schedule to ``failed``, which ``/metrics`` and ``/healthz`` show and an operator
notice tells. Operator notices go to the operator's channels, never to a patient's mail, and
``/metrics`` names no patient."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import trustme
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from syncd.alerts import DeliveryMetrics, Dispatcher
from syncd.alerts.channel import EVENT_SUMMARY
from syncd.alerts.messages import message_id
from syncd.alerts.schedule import RETRY_DELAYS
from syncd.app import App
from syncd.clinic import open_app
from syncd.errors import AuthError
from syncd.pipeline.notices import notify_source_failure
from syncd.pipeline.sync import SourceResult
from syncd.store import outbox
from syncd.store.alerts import add_operator_notice, new_event_id
from syncd.web.factory import create_app
from tests.support.clock import Clock

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

# A patient with their own mail, beside the therapist's shared one.
ANA = {"name": "ana", "timezone": "Europe/Berlin", "email": ["ana@example.org"]}
BROKEN = "its message could not be built (KeyError)"


def _drive(dispatcher: Dispatcher, app: App, clock: Clock, until: datetime) -> None:
    """A pass at every moment a delivery falls due, up to ``until``."""
    while True:
        with app.store.read() as tx:
            due = outbox.next_due(tx)
        if due is None or due > until:
            return
        clock.now = max(clock.now, due)
        dispatcher.run_once()


def _broken_summary(app: App, now: datetime) -> str:
    """A weekly summary row its mail cannot be made from (as an older syncd could leave)."""
    event_id = new_event_id()
    with app.store.write() as tx:
        outbox.add_event(tx, event_id, EVENT_SUMMARY, {"type": EVENT_SUMMARY, "data": {}},
                         now, app.channels(), athlete_id=app.athlete_id)
    return event_id


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_an_event_that_cannot_be_built_fails_alone_and_is_reported(
        tmp_path: Path, smtp: SmtpServer, receiver: Receiver, ca: trustme.CA,
        clock: Clock) -> None:
    app = open_app(settings(tmp_path, email=email_section(smtp),
                       webhook=webhook(receiver.url)), clock)
    first = raise_alerts(app, [finding(1), finding(2, "pain_stop", "critical")], clock.now)
    broken = _broken_summary(app, clock.now)
    later = raise_alerts(app, [finding(3)], clock.now)
    alerts = {**event_ids(first, app), **event_ids(later, app)}
    web = TestClient(create_app(app), base_url="http://127.0.0.1:8765")

    with Dispatcher(app, clock=clock, jitter=0, tls_context=client_tls(ca),
                    metrics=DeliveryMetrics()) as dispatcher:
        report = dispatcher.run_once()
        # Every alert went out at once, by mail and webhook, in the same batch as the
        # broken summary, which counts one failed attempt of its own.
        assert (report.channels["email"].delivered, report.channels["email"].retry) == (3, 1)
        assert sorted(receiver.ids()) == sorted(alerts.values())
        assert sorted(m["Message-ID"] for m in smtp.mailbox.messages) == sorted(
            message_id(e) for e in alerts.values())
        with app.store.read() as tx:
            [attempt] = outbox.attempts_of(tx, broken, "email")
        assert attempt.error == BROKEN
        _drive(dispatcher, app, clock, clock.now + timedelta(days=10))

    with app.store.read() as tx:
        [failed] = outbox.list_deliveries(tx, statuses=[outbox.FAILED])
        assert (failed.event_id, failed.attempts) == (broken, 1 + len(RETRY_DELAYS))
        assert len(outbox.attempts_of(tx, broken, "email")) == 10
    samples = _samples(web.get("/metrics").text)
    assert samples[("syncd_deliveries", (("channel", "email"), ("status", "failed")))] == 1
    assert samples[("syncd_deliveries", (("channel", "email"), ("status", "delivered")))] >= 3
    health = web.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["deliveries"] == {"failed": 1, "stalled": 0}
    # The operator is told, by mail and webhook, once.
    [notice] = [m for m in smtp.mailbox.messages if m["Subject"].startswith("[syncd] notice:")]
    assert notice["Subject"].startswith(
        "[syncd] notice: Delivery on channel email failed for good after 10 attempts")
    assert notice.get_body(("plain",)).get_content().startswith(
        f"Delivery on channel email failed for good after 10 attempts (summary.weekly: "
        f"{BROKEN}). `syncd deliveries` lists what did not arrive; `syncd alerts` still shows "
        "every alert.")
    assert [r.payload["data"]["kind"] for r in receiver.verified()
            if r.payload["type"] == "operator.notice"] == ["delivery_failed:email"]


def test_a_header_stored_dirty_is_cleaned_when_the_mail_is_built(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA, clock: Clock) -> None:
    app = open_app(settings(tmp_path, email=email_section(smtp)), clock)
    dirty = finding(1)
    stored_before = type(dirty)(**{**{f: getattr(dirty, f) for f in dirty.__dataclass_fields__},
                                   "message": "Shoes Peg\r\nBcc: x@example.org\x1b[2J asus"})
    result = raise_alerts(app, [stored_before, finding(2)], clock.now)

    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        assert dispatcher.run_once().channels["email"].delivered == 2

    ids = event_ids(result, app)
    [mail] = smtp.mailbox.by_id(message_id(ids[result.raised[0].id]))
    assert mail["Subject"] == ("[syncd] WARNING session_length: Shoes Peg  Bcc: x@example.org "
                               "asus")
    assert mail["Bcc"] is None


def test_an_alert_no_attempt_reached_shows_as_stalled(tmp_path: Path, clock: Clock) -> None:
    app = open_app(settings(tmp_path, webhook=webhook("http://127.0.0.1:9/hook")), clock)
    raise_alerts(app, [finding(1)], clock.now)
    clock.advance(hours=2)  # and no dispatcher pass got to it (stopped, or crashing)

    health = TestClient(create_app(app), base_url="http://127.0.0.1:8765").get("/healthz")

    assert health.json()["status"] == "degraded"
    assert health.json()["deliveries"] == {"failed": 0, "stalled": 1}


def test_operator_notices_never_reach_a_patients_own_mail(
        tmp_path: Path, smtp: SmtpServer, receiver: Receiver, ca: trustme.CA,
        clock: Clock) -> None:
    config = settings(tmp_path, email=email_section(smtp, recipients=["pt@example.org"]),
                      webhook=webhook(receiver.url), athlete=ANA)
    app = open_app(config, clock)
    assert "email:ana" in app.channels()
    raise_alerts(app, [finding(1)], clock.now)
    notify_source_failure(app, SourceResult(
        "garmin", error=AuthError("Garmin login needs attention: run `syncd auth garmin` "
                                  "(tokens in /var/lib/syncd/garmin_tokens.json expired)")))
    with app.store.write() as tx:  # as the Strava callback writes its notice: every channel
        add_operator_notice(tx, app.athlete_id, "strava.revoked", "Strava access revoked: "
                            "run `syncd auth strava`", clock.now, app.channels())
        add_operator_notice(tx, None, "webhook_gone:x", "A webhook is gone.", clock.now, [])

    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        dispatcher.run_once()

    to_ana = [m for m, envelope in zip(smtp.mailbox.messages, smtp.mailbox.envelopes,
                                       strict=True) if "ana@example.org" in envelope[1]]
    to_pt = [m for m, envelope in zip(smtp.mailbox.messages, smtp.mailbox.envelopes,
                                      strict=True) if "pt@example.org" in envelope[1]]
    def heads(mails: list[EmailMessage]) -> list[str]:
        return sorted(" ".join(m["Subject"].split()[:4]) for m in mails)

    assert heads(to_ana) == ["[syncd] WARNING session_length: Session"]
    assert heads(to_pt) == ["[syncd] WARNING session_length: Session",
                            "[syncd] notice: A webhook", "[syncd] notice: Garmin login",
                            "[syncd] notice: Strava access"]
    with app.store.read() as tx:
        own = [v for v in outbox.list_deliveries(tx) if v.channel == "email:ana"]
    assert {(v.event_type, v.status) for v in own} == {("alert.raised", "delivered"),
                                                       ("operator.notice", "skipped")}


def test_metrics_name_no_patient(tmp_path: Path, smtp: SmtpServer, ca: trustme.CA,
                                 clock: Clock) -> None:
    config = settings(tmp_path, email=email_section(smtp, recipients=["pt@example.org"]),
                      athlete=ANA)
    app = open_app(config, clock)
    raise_alerts(app, [finding(1), finding(2)], clock.now)
    metrics = DeliveryMetrics()
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca), metrics=metrics) as dispatcher:
        dispatcher.run_once()
    from prometheus_client import generate_latest

    texts = [generate_latest(metrics.registry).decode(),
             TestClient(create_app(app), base_url="http://127.0.0.1:8765").get("/metrics").text]

    for text in texts:
        assert "email:ana" not in text
        labels = {dict(key[1]).get("channel") for key in _samples(text)} - {None}
        assert labels == {"email", "email:own"}
    samples = _samples(texts[1])
    assert samples[("syncd_deliveries", (("channel", "email:own"), ("status", "delivered")))] == 2
