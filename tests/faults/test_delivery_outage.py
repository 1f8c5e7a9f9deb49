"""The webhook receiver and the mail server down for three simulated days: every attempt
fails and is recorded on the Standard Webhooks schedule (nine attempts within the three days,
none lost, none given up), and once both are back the next pass delivers every alert, the
webhook once per event with its one webhook-id. Time is the dispatcher's clock, moved from
one due attempt to the next."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from syncd.alerts.dispatcher import Dispatcher
from syncd.alerts.messages import message_id
from syncd.app import App
from syncd.clinic import open_app
from syncd.store import outbox
from syncd.store.tables import AlertDeliveryRow, AlertEventRow, DeliveryAttemptRow
from tests.alerts.support import SECRET, T0, Receiver, finding, raise_alerts, settings
from tests.support.clock import Clock

from .support import PlainSmtp, query

DOWN_FOR = timedelta(days=3)
# First attempt, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h, 24 h: 65 h 35 min 5 s in.
ATTEMPTS_IN_THREE_DAYS = 9
ALERTS = 6


def test_three_days_without_receivers_lose_no_alert(tmp_path: Path) -> None:
    clock = Clock(T0)
    receiver = Receiver()
    port = receiver.server.server_port
    receiver.close()  # down: connections refused
    smtp = PlainSmtp()
    smtp.stop()
    app = open_app(settings(tmp_path, webhook={"url": f"http://127.0.0.1:{port}/hook",
                                          "secret": SECRET, "timeout": "1s"},
                       email={"host": "127.0.0.1", "port": smtp.port, "starttls": False,
                              "sender": "syncd@example.org", "recipients": ["pt@example.org"],
                              "timeout": "1s"},
                       alerts={"weekly_summary": False}), clock=clock)
    dispatcher = Dispatcher(app, clock=clock, jitter=0.0)
    try:
        raise_alerts(app, [finding(n) for n in range(ALERTS)], clock())
        passes = _fail_until(app, dispatcher, clock, T0 + DOWN_FOR)
        rows = _deliveries(app)
        assert {(r.status, r.attempts) for r in rows} == {
            (outbox.PENDING, ATTEMPTS_IN_THREE_DAYS)}, passes
        assert len(rows) == 2 * ALERTS
        errors = _attempt_errors(app)
        assert errors and all(e and ("127.0.0.1" in e or "refused" in e) for e in errors)

        receiver = Receiver(port=port)
        smtp.start()
        with app.store.read() as tx:
            clock.now = max(clock.now, outbox.next_due(tx) or clock.now)
        report = dispatcher.run_once()
        assert report.total("delivered") == 2 * ALERTS, report.summary()
        events = _event_ids(app)
        assert sorted(receiver.ids()) == sorted(events)  # each once, verified, its own id
        assert {message_id(e) for e in events} == set(smtp.ids())
        assert {r.status for r in _deliveries(app)} == {outbox.DELIVERED}
        assert query(tmp_path / "syncd.db", "PRAGMA integrity_check") == [("ok",)]
        print(f"{passes} dispatcher passes over {DOWN_FOR}, {len(errors)} failed attempts "
              f"recorded, then {report.total('delivered')} deliveries")
    finally:
        dispatcher.close()
        app.close()
        receiver.close()
        smtp.stop()


def _fail_until(app: App, dispatcher: Dispatcher, clock: Clock, end: object) -> int:
    """Dispatcher passes at each due time until ``end``; how many ran."""
    passes = 0
    while True:
        report = dispatcher.run_once()
        assert report.total("delivered") == 0
        passes += 1
        with app.store.read() as tx:
            due = outbox.next_due(tx)
        if due is None or due > end:  # type: ignore[operator]
            return passes
        clock.now = due


def _deliveries(app: App) -> list[AlertDeliveryRow]:
    with app.store.read() as tx:
        return list(tx.scalars(select(AlertDeliveryRow)))


def _event_ids(app: App) -> list[str]:
    with app.store.read() as tx:
        return list(tx.scalars(select(AlertEventRow.id)))


def _attempt_errors(app: App) -> list[str | None]:
    with app.store.read() as tx:
        return list(tx.scalars(select(DeliveryAttemptRow.error)))
