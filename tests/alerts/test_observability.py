"""Metrics and log lines of the dispatcher: counts by channel and outcome, one log line per
attempt naming the alert, and never a secret or a mail body."""

from __future__ import annotations

import io
import json
from pathlib import Path

import trustme
from prometheus_client import CollectorRegistry, generate_latest

from syncd.alerts import DeliveryMetrics, Dispatcher
from syncd.clinic import open_app
from tests.support.clock import Clock
from tests.support.net import free_port

from .support import (
    SECRET,
    SMTP_PASSWORD,
    Receiver,
    SmtpServer,
    client_tls,
    email_section,
    finding,
    raise_alerts,
    settings,
    webhook,
)


def test_counts_latency_and_queue_gauges(
        tmp_path: Path, receiver: Receiver, clock: Clock) -> None:
    answers = iter([200, 500, 200])
    receiver.responder = lambda got: (next(answers), {})
    app = open_app(settings(tmp_path, webhook=webhook(receiver.url, min_severity="warning")), clock)
    raise_alerts(app, [finding(n) for n in range(3)] + [finding(9, "load_ratio", "info")],
                 clock.now)
    registry = CollectorRegistry()
    with Dispatcher(app, clock=clock, metrics=DeliveryMetrics(registry), concurrency=1,
                    jitter=0) as dispatcher:
        dispatcher.run_once()

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"channel": "webhook", **labels})

    assert sample("syncd_alert_deliveries_total", outcome="delivered") == 2
    assert sample("syncd_alert_deliveries_total", outcome="retry") == 1
    assert sample("syncd_alert_deliveries_total", outcome="skipped") == 1
    assert sample("syncd_alert_delivery_seconds_count", outcome="delivered") == 2
    assert sample("syncd_alert_deliveries_pending") == 1
    assert sample("syncd_alert_deliveries_failed") == 0
    exposition = generate_latest(registry).decode()
    assert 'syncd_alert_deliveries_pending{channel="webhook"} 1.0' in exposition


def test_one_line_per_attempt_and_no_secret_or_body_in_the_logs(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA, clock: Clock,
        log_output: io.StringIO) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook?token=url-token-123"
    wrong_password = dict(email_section(smtp), password="not-" + SMTP_PASSWORD)
    app = open_app(settings(tmp_path, webhook=webhook(dead), email=wrong_password), clock)
    alerts = raise_alerts(app, [finding(1), finding(2)], clock.now).raised
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca), jitter=0) as dispatcher:
        report = dispatcher.run_once()
        clock.advance(seconds=5)
        dispatcher.run_once()
    assert report.errors == []

    text = log_output.getvalue()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    attempts = [line for line in lines if line["event"] == "alert delivery attempt"]
    # 2 alerts x 2 channels x 2 passes, each attempt named by its alert.
    assert len(attempts) == 8
    assert sorted({a["alert_id"] for a in attempts}) == sorted(a.id for a in alerts)
    assert {(a["channel"], a["outcome"]) for a in attempts} == {("webhook", "retry"),
                                                                ("email", "retry")}
    for secret in (SECRET, SECRET.removeprefix("whsec_"), "not-" + SMTP_PASSWORD,
                   "url-token-123", "Session 1: 19.7 min", "Keep the next session"):
        assert secret not in text
