"""One alert's events reach a webhook in the order they were made: raised before resolved,
even when both wait in one batch and the channel sends several requests at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from syncd.alerts import Dispatcher
from syncd.clinic import open_app
from syncd.store.alerts import apply_findings
from tests.support.clock import Clock

from .support import Received, Receiver, finding, raise_alerts, settings, webhook

ALERTS = 6


def test_a_resolved_alert_never_overtakes_its_raise(tmp_path: Path, receiver: Receiver,
                                                    clock: Clock) -> None:
    app = open_app(settings(tmp_path, webhook=webhook(receiver.url)), clock)
    raised = raise_alerts(app, [finding(n) for n in range(ALERTS)], clock.now).raised
    with app.store.write() as tx:  # every one resolved before anything was sent
        resolved = apply_findings(tx, app.athlete_id, app.athlete.name, [], lambda _: True,
                                  clock.now, app.channels()).resolved
    assert len(raised) == len(resolved) == ALERTS
    answered: dict[str, float] = {}
    arrived: dict[str, float] = {}
    lock = threading.Lock()

    def slow_raise(got: Received) -> tuple[int, dict[str, Any]]:
        alert_id = str(got.payload["data"]["id"])
        if got.payload["type"] == "alert.raised":
            time.sleep(0.2)  # the raise is slow to be answered: a resolve sent beside it wins
            with lock:
                answered[alert_id] = time.monotonic()
        else:
            with lock:
                arrived[alert_id] = time.monotonic()
        return 200, {}

    receiver.responder = slow_raise
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        report = dispatcher.run_once()
    assert report.channels["webhook"].delivered == 2 * ALERTS
    assert sorted(arrived) == sorted(answered) == sorted(a.id for a in raised)
    assert all(arrived[a] >= answered[a] for a in arrived), "a resolve overtook its raise"
    app.close()
