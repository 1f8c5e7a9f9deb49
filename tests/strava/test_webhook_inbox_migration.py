"""Migration 0003: a database whose Strava inbox was one JSON credential per athlete keeps its
well-formed waiting events as rows of their own, and the old credential goes."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from sqlalchemy import text

from syncd.sources.strava.inbox import inbox_events
from syncd.store import Store
from syncd.store.schema import alembic_config

GOOD = {"object_type": "activity", "object_id": 81, "aspect_type": "create", "owner_id": 7,
        "subscription_id": 3, "event_time": 1793000000, "updates": {"title": "x" * 5000}}
REVOKE = {"object_type": "athlete", "object_id": 7, "aspect_type": "update", "owner_id": 7,
          "subscription_id": 3, "event_time": 1793000100, "updates": {"authorized": "false"}}
FORGED = {**GOOD, "object_id": "81; drop", "updates": {}}


def test_old_inbox_events_become_rows_and_the_credential_goes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'syncd.db'}"
    store = Store.open(url)
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
        conn.execute(text("INSERT INTO athletes (name, timezone, created_at, origin) "
                          "VALUES ('ana', 'UTC', '2026-11-01 00:00:00', 'config')"))
        conn.execute(text("INSERT INTO credentials (athlete_id, name, value, updated_at) "
                          "VALUES (1, 'strava.webhook_inbox', :value, '2026-11-01 00:00:00')"),
                     {"value": json.dumps({"events": [GOOD, FORGED, REVOKE]})})
    store.close()

    store = Store.open(url)  # migrates to the head
    try:
        with store.read() as tx:
            waiting = inbox_events(tx, 1)
            left = tx.execute(text("SELECT COUNT(*) FROM credentials")).scalar()
    finally:
        store.close()

    assert [(e["object_type"], e["object_id"], e["updates"]) for e in waiting] == [
        ("activity", 81, {}), ("athlete", 7, {"authorized": "false"})]
    assert left == 0
