"""Several dispatchers on one database (PostgreSQL: ``SKIP LOCKED`` claims; SQLite: one
writer at a time) never send the same delivery twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from syncd.alerts import Dispatcher
from syncd.clinic import open_app
from syncd.store.database import Store
from syncd.store.outbox import DELIVERED
from syncd.store.tables import AlertDeliveryRow
from tests.support.clock import Clock

from .support import Receiver, finding, raise_alerts, settings, webhook


def test_two_dispatchers_share_the_work_and_send_each_alert_once(
        tmp_path: Path, db_url: str, receiver: Receiver, clock: Clock) -> None:
    def slow(got: object) -> tuple[int, dict[str, str]]:
        time.sleep(0.03)
        return 200, {}

    receiver.responder = slow
    config = settings(tmp_path, db_url=db_url, webhook=webhook(receiver.url))
    app = open_app(config, clock)
    raise_alerts(app, [finding(n) for n in range(80)], clock.now)
    stores = [Store.open(db_url), Store.open(db_url)]
    dispatchers = [Dispatcher(open_app(config, clock, store=store), clock, batch_size=8,
                              concurrency=4) for store in stores]
    start = threading.Barrier(2)
    delivered: dict[int, int] = {}

    def run(i: int) -> None:
        start.wait()
        delivered[i] = dispatchers[i].run_once().channels["webhook"].delivered

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for dispatcher, store in zip(dispatchers, stores, strict=True):
        dispatcher.close()
        store.close()

    counts = Counter(receiver.ids())
    assert len(counts) == 80 and set(counts.values()) == {1}
    assert sum(delivered.values()) == 80
    assert min(delivered.values()) > 0  # both took part
    with app.store.read() as tx:
        assert set(tx.scalars(select(AlertDeliveryRow.status))) == {DELIVERED}
    app.close()
