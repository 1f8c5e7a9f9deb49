"""The email channel through a real SMTP server (aiosmtpd) with TLS and AUTH LOGIN."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import trustme
from sqlalchemy import select

from syncd.alerts import Dispatcher
from syncd.alerts.messages import digest_message_id, message_id
from syncd.clinic import open_app
from syncd.store.outbox import DELIVERED, PENDING, SKIPPED
from syncd.store.tables import AlertDeliveryRow
from tests.support.clock import Clock
from tests.support.net import free_port

from .support import (
    SMTP_USER,
    SmtpServer,
    client_tls,
    email_section,
    event_ids,
    finding,
    raise_alerts,
    settings,
)


def test_one_mail_per_alert_over_starttls_with_auth_login(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA, clock: Clock) -> None:
    app = open_app(settings(tmp_path, email=email_section(smtp, min_severity="warning")), clock)
    result = raise_alerts(app, [finding(1), finding(2, "pain_stop", "critical"),
                                finding(3, "load_ratio", "info")], clock.now)
    ids = event_ids(result, app)
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        report = dispatcher.run_once()

    assert (report.channels["email"].delivered, report.channels["email"].skipped) == (2, 1)
    assert smtp.mailbox.logins == [("LOGIN", SMTP_USER)] * 1
    assert smtp.mailbox.envelopes == [
        ("syncd@example.org", ["runner@example.org", "pt@example.org"], True)] * 2
    warning, critical = (smtp.mailbox.by_id(message_id(ids[a.id]))[0] for a in result.raised[:2])
    assert warning["Subject"] == ("[syncd] WARNING session_length: Session 1: 19.7 min, above "
                                  "the 18.7 min limit.")
    assert critical["Subject"].startswith("[syncd] CRITICAL pain_stop: ")
    assert warning["From"] == "syncd <syncd@example.org>"
    assert warning["To"] == "runner@example.org, pt@example.org"
    text = warning.get_body(("plain",)).get_content()
    assert "Session 1: 19.7 min, above the 18.7 min limit." in text
    assert "What to do: Keep the next session to the prescribed 17 minutes." in text
    assert f"Alert id: {result.raised[0].id}" in text
    html = warning.get_body(("html",)).get_content()
    assert "<b>What to do:</b> Keep the next session to the prescribed 17 minutes." in html
    assert warning.get_content_type() == "multipart/alternative"


def test_the_digest_waits_for_its_interval_then_sends_one_mail(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA, clock: Clock) -> None:
    config = settings(tmp_path, email=email_section(smtp),
                      alerts={"email_mode": "digest", "digest_interval": "1h"})
    app = open_app(config, clock)
    events: list[str] = []
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        for n in range(3):
            events += event_ids(raise_alerts(app, [finding(n)], clock.now), app).values()
            assert dispatcher.run_once().channels["email"].attempts == 0
            clock.advance(minutes=20)
        assert smtp.mailbox.messages == []
        clock.now += timedelta(minutes=1)  # the first alert is now 61 minutes old
        report = dispatcher.run_once()

    assert report.channels["email"].delivered == 3
    [mail] = smtp.mailbox.messages
    assert mail["Message-ID"] == digest_message_id(events)
    assert mail["Subject"] == ("[syncd] 3 alerts: WARNING session_length; "
                               "WARNING session_length; WARNING session_length")
    text = mail.get_body(("plain",)).get_content()
    assert [f"Session {n}:" in text for n in range(3)] == [True] * 3


def test_implicit_tls(tmp_path: Path, ca: trustme.CA, clock: Clock) -> None:
    server = SmtpServer(ca, implicit=True)
    try:
        section = email_section(server, starttls=False, implicit_tls=True)
        app = open_app(settings(tmp_path, email=section), clock)
        raise_alerts(app, [finding(1)], clock.now)
        with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
            assert dispatcher.run_once().channels["email"].delivered == 1
        assert server.mailbox.envelopes[0][2] is True
    finally:
        server.close()


def test_smtp_down_loses_nothing_and_the_mail_goes_out_when_it_is_back(
        tmp_path: Path, ca: trustme.CA, clock: Clock) -> None:
    port = free_port()
    section = {"host": "127.0.0.1", "port": port, "username": SMTP_USER,
               "password": "s3cret-smtp-pass", "sender": "syncd@example.org",
               "recipients": ["runner@example.org"]}
    app = open_app(settings(tmp_path, email=section), clock)
    raise_alerts(app, [finding(1), finding(2)], clock.now)
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca), jitter=0) as dispatcher:
        report = dispatcher.run_once()
        assert (report.channels["email"].retry, report.errors) == (2, [])
        with app.store.read() as tx:
            rows = list(tx.scalars(select(AlertDeliveryRow)))
        assert {(r.status, r.attempts) for r in rows} == {(PENDING, 1)}
        assert rows[0].last_error == (f"cannot reach the mail server 127.0.0.1:{port}: "
                                      "Connection refused")

        server = SmtpServer(ca, port=port)
        try:
            clock.advance(seconds=5)
            assert dispatcher.run_once().channels["email"].delivered == 2
            assert len(server.mailbox.messages) == 2
        finally:
            server.close()


def test_a_refused_login_is_retried_and_named_without_the_password(
        tmp_path: Path, ca: trustme.CA, clock: Clock) -> None:
    server = SmtpServer(ca, password="another-password")
    try:
        app = open_app(settings(tmp_path, email=email_section(server)), clock)
        raise_alerts(app, [finding(1)], clock.now)
        with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
            assert dispatcher.run_once().channels["email"].retry == 1
        with app.store.read() as tx:
            row = tx.scalars(select(AlertDeliveryRow)).one()
        assert row.last_error == (f"the mail server 127.0.0.1:{server.port} refused the login "
                                  "(535): check [email] username and password")
        assert row.last_status_code == 535
        assert server.mailbox.messages == []
    finally:
        server.close()


def test_an_untrusted_certificate_is_refused(
        tmp_path: Path, smtp: SmtpServer, clock: Clock) -> None:
    app = open_app(settings(tmp_path, email=email_section(smtp)), clock)
    raise_alerts(app, [finding(1)], clock.now)
    with Dispatcher(app, clock=clock) as dispatcher:  # the system trust store only
        assert dispatcher.run_once().channels["email"].retry == 1
    with app.store.read() as tx:
        row = tx.scalars(select(AlertDeliveryRow)).one()
    assert row.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in row.last_error
    assert smtp.mailbox.logins == []


def test_deliveries_are_recorded_per_channel(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA, clock: Clock) -> None:
    app = open_app(settings(tmp_path, email=email_section(smtp, min_severity="critical")), clock)
    raise_alerts(app, [finding(1), finding(2, "pain_stop", "critical")], clock.now)
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        dispatcher.run_once()
    with app.store.read() as tx:
        statuses = sorted(tx.scalars(select(AlertDeliveryRow.status)))
    assert statuses == [DELIVERED, SKIPPED]
