"""Notify channels (Apprise) on the outbox: against a real ntfy-compatible server on
127.0.0.1, an alert arrives once per channel with its message, advice and priority; a refused
push is retried on the webhook schedule; a receiver down for a day gets every alert
afterwards; a plugin that raises fails one event only; a receiver that hangs costs a pass no
more than the channel's timeout."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from apprise import NotifyType
from apprise.manager_plugins import NotificationManager
from apprise.plugins.base import NotifyBase

from syncd.alerts import Dispatcher
from syncd.app import App
from syncd.clinic import open_app
from syncd.store.alerts import apply_findings
from syncd.store.outbox import DELIVERED, FAILED, PENDING, attempts_of, list_deliveries, next_due
from tests.support.clock import Clock
from tests.support.net import free_port
from tests.support.ntfy import NtfyServer

from .support import Receiver, event_ids, finding, raise_alerts, settings, webhook

S, M, H = 1, 60, 3600


def _drive(dispatcher: Dispatcher, app: App, clock: Clock, until: datetime) -> None:
    """A pass at every moment a delivery falls due, up to ``until``."""
    while True:
        with app.store.read() as tx:
            due = next_due(tx)
        if due is None or due > until:
            return
        clock.now = max(clock.now, due)
        dispatcher.run_once()


def _statuses(app: App, channel: str) -> list[str]:
    with app.store.read() as tx:
        return [v.status for v in list_deliveries(tx) if v.channel == channel]


def test_an_alert_arrives_once_on_every_notify_channel_with_its_words_and_priority(
        tmp_path: Path, db_url: str, ntfy: NtfyServer, receiver: Receiver,
        clock: Clock) -> None:
    app = open_app(settings(tmp_path, db_url, webhook=webhook(receiver.url), notify=[
        {"name": "phone", "url": ntfy.url("phone")},
        {"name": "family", "url": ntfy.url("family", priority="min")}]), clock)
    raise_alerts(app, [finding(1), finding(2, "pain_stop", "critical")], clock.now)
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        dispatcher.run_once()
        dispatcher.run_once()  # nothing left to send: no second copy

    phone = {m.title: m for m in ntfy.on("phone")}
    assert sorted(phone) == ["Critical: pain stop", "Warning: session length"]
    warning = phone["Warning: session length"]
    assert warning.message == ("Session 1: 19.7 min, above the 18.7 min limit.\n\n"
                               "What to do: Keep the next session to the prescribed 17 minutes.")
    assert (warning.priority, phone["Critical: pain stop"].priority) == (4, 5)
    # A priority the URL sets is the user's choice: it stays.
    assert sorted(m.priority for m in ntfy.on("family")) == [1, 1]
    assert len(receiver.verified()) == 2  # the webhook beside them is unaffected
    assert _statuses(app, "notify:phone") == [DELIVERED] * 2
    assert _statuses(app, "notify:family") == [DELIVERED] * 2


def test_a_resolved_alert_arrives_as_good_news(
        tmp_path: Path, ntfy: NtfyServer, clock: Clock) -> None:
    app = open_app(settings(tmp_path, notify=[{"name": "phone", "url": ntfy.url()}]), clock)
    raise_alerts(app, [finding(1)], clock.now)
    with app.store.write() as tx:  # the next evaluation no longer finds it
        apply_findings(tx, app.athlete_id, app.athlete.name, [], lambda _: True,
                       clock.advance(hours=1), app.channels())
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        dispatcher.run_once()
    raised, resolved = ntfy.on("syncd-alerts")
    assert raised.title == "Warning: session length"
    assert resolved.title == "Resolved: session length"
    assert resolved.message.startswith("Session 1: 19.7 min")
    assert resolved.priority == 2


def test_a_refused_push_is_retried_on_the_schedule_and_each_attempt_recorded(
        tmp_path: Path, ntfy: NtfyServer, clock: Clock) -> None:
    answers = iter([500, 500, 200])
    ntfy.responder = lambda _: next(answers)
    app = open_app(settings(tmp_path, notify=[{"name": "phone", "url": ntfy.url()}]), clock)
    result = raise_alerts(app, [finding(1)], clock.now)
    [event_id] = event_ids(result, app).values()
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        _drive(dispatcher, app, clock, clock.now + timedelta(days=1))

    with app.store.read() as tx:
        attempts = attempts_of(tx, event_id, "notify:phone")
    raised_at = result.raised[0].created_at
    assert [(a.at - raised_at).total_seconds() for a in attempts] == [0, 5, 305]
    assert [a.error is None for a in attempts] == [False, False, True]
    assert attempts[0].error is not None
    assert attempts[0].error.startswith("ntfy did not take the message")
    assert ntfy.url() not in attempts[0].error and str(ntfy.port) not in attempts[0].error
    assert len(ntfy.on("syncd-alerts")) == 1
    assert _statuses(app, "notify:phone") == [DELIVERED]


def test_a_push_refused_to_the_end_is_failed_after_the_last_attempt(
        tmp_path: Path, ntfy: NtfyServer, clock: Clock) -> None:
    ntfy.responder = lambda _: 500
    app = open_app(settings(tmp_path, notify=[{"name": "phone", "url": ntfy.url()}]), clock)
    result = raise_alerts(app, [finding(1)], clock.now)
    [event_id] = event_ids(result, app).values()
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        _drive(dispatcher, app, clock, clock.now + timedelta(days=10))
    with app.store.read() as tx:
        attempts = attempts_of(tx, event_id, "notify:phone")
        [failed] = [v for v in list_deliveries(tx, statuses=[FAILED])
                    if v.event_id == event_id]
    assert len(attempts) == 10 == failed.attempts
    assert failed.channel == "notify:phone"


def test_a_receiver_down_for_a_day_gets_every_alert_afterwards(
        tmp_path: Path, db_url: str, clock: Clock) -> None:
    port = free_port()
    url = f"ntfy://127.0.0.1:{port}/phone"
    app = open_app(settings(tmp_path, db_url, notify=[{"name": "phone", "url": url}]), clock)
    start = clock.now
    raised: list[str] = []
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        for hours in (0, 1, 6, 13, 23):  # alerts keep coming while nothing answers
            _drive(dispatcher, app, clock, start + timedelta(hours=hours))
            clock.now = start + timedelta(hours=hours)
            result = raise_alerts(app, [finding(hours)], clock.now)
            raised += event_ids(result, app).values()
            dispatcher.run_once()
        _drive(dispatcher, app, clock, start + timedelta(hours=24))
        assert _statuses(app, "notify:phone") == [PENDING] * 5
        server = NtfyServer(port=port)  # back after a day
        try:
            _drive(dispatcher, app, clock, start + timedelta(days=4))
        finally:
            server.close()

    assert sorted(m.message.split(":")[0] for m in server.on("phone")) == sorted(
        f"Session {h}" for h in (0, 1, 6, 13, 23))
    assert _statuses(app, "notify:phone") == [DELIVERED] * 5
    with app.store.read() as tx:
        for event_id in raised:
            *failures, success = attempts_of(tx, event_id, "notify:phone")
            assert failures and all(a.error for a in failures) and success.error is None
            assert success.at >= start + timedelta(hours=24)


class Flaky(NotifyBase):
    """An Apprise plugin (``flaky://``) with a bug: it raises on a message about a "boom"."""

    service_name = "Flaky"
    protocol = "flaky"
    secure_protocol = "flaky"
    sent: ClassVar[list[str]] = []

    def send(self, body: str, title: str = "", notify_type: NotifyType = NotifyType.INFO,
             **kwargs: Any) -> bool:
        if "boom" in body:
            raise RuntimeError("a bug in the plugin")
        Flaky.sent.append(body)
        return True

    def url(self, *args: Any, **kwargs: Any) -> str:
        return "flaky://service/"

    @staticmethod
    def parse_url(url: str) -> dict[str, Any]:
        return NotifyBase.parse_url(url, verify_host=False)


def test_a_plugin_that_raises_fails_that_event_alone(
        tmp_path: Path, ntfy: NtfyServer, clock: Clock) -> None:
    plugins = NotificationManager()
    plugins.add(Flaky, schemas="flaky")
    Flaky.sent.clear()
    try:
        app = open_app(settings(tmp_path, notify=[
            {"name": "flaky", "url": "flaky://service/"},
            {"name": "phone", "url": ntfy.url()}]), clock)
        boom = dataclasses.replace(finding(2), message="Session 2: boom.")
        result = raise_alerts(app, [finding(1), boom, finding(3)], clock.now)
        with Dispatcher(app, clock=clock, jitter=0, concurrency=1) as dispatcher:
            report = dispatcher.run_once()
    finally:
        plugins.remove("flaky")

    assert report.errors == []
    assert (report.channels["notify:flaky"].delivered, report.channels["notify:flaky"].retry) \
        == (2, 1)
    assert [body.split(":")[0] for body in Flaky.sent] == ["Session 1", "Session 3"]
    assert len(ntfy.on("syncd-alerts")) == 3  # the other channel never noticed
    boom_event = event_ids(result, app)[result.raised[1].id]
    with app.store.read() as tx:
        [attempt] = attempts_of(tx, boom_event, "notify:flaky")
    assert attempt.error == "the Apprise plugin raised RuntimeError"


def test_a_receiver_that_hangs_costs_a_pass_no_more_than_its_timeout(
        tmp_path: Path, ntfy: NtfyServer, clock: Clock) -> None:
    slow = NtfyServer()
    slow.delay = 5.0
    try:
        app = open_app(settings(tmp_path, notify=[
            {"name": "slow", "url": slow.url(), "timeout": "0.5s"},
            {"name": "phone", "url": ntfy.url()}]), clock)
        result = raise_alerts(app, [finding(1), finding(2)], clock.now)
        started = time.monotonic()
        with Dispatcher(app, clock=clock, jitter=0, concurrency=1) as dispatcher:
            report = dispatcher.run_once()
        took = time.monotonic() - started
    finally:
        slow.close()
    assert took < 3.0
    assert report.channels["notify:phone"].delivered == 2
    assert report.channels["notify:slow"].retry == 2
    with app.store.read() as tx:
        [attempt] = attempts_of(tx, event_ids(result, app)[result.raised[0].id], "notify:slow")
    assert attempt.error == "timed out after 0.5 s"
