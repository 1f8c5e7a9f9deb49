"""The same runs waiting on Garmin and on Strava when ``syncd run`` starts: the first passes
land Garmin's (canonical) copies before Strava's, and the daily re-evaluation runs after both,
so the runner gets each alert once and never one resolved a moment later (the webhook
receiver counts the events)."""

from __future__ import annotations

import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.daemon.support import start_daemon
from tests.garmin.fake_garmin import make_entry
from tests.strava.strava_support import publish
from tests.support.waiting import wait_until

from .support import RUN_WALK, ZONE, World, query, settled


def _same_runs(world: World, count: int) -> None:
    """``count`` runs of the last days, each on Strava and on Garmin (one session, two
    copies); each is longer than the plan allows."""
    for n in range(count):
        moment = (datetime.now(UTC) - timedelta(days=count - n)).replace(
            hour=7, minute=0, second=0, microsecond=0)
        publish(world.strava, 50_000 + n, moment, laps=RUN_WALK)
        local = moment.astimezone(ZoneInfo(ZONE))
        offset = local.utcoffset() or timedelta(0)
        world.garmin.activities.append(make_entry(
            70_000 + n, local.replace(tzinfo=None), utc_offset_h=offset.total_seconds() / 3600,
            duration=2400.0, distance=4920.0, run_walk=(1200.0, 1200.0), bouts=(1, 1)))


def _events(world: World) -> Counter[tuple[str, str]]:
    """(type, alert id) of every verified event the receiver got, counted."""
    return Counter((str(r.payload["type"]), str(r.payload["data"].get("id")))
                   for r in world.receiver.verified())


def test_runs_on_both_sources_at_start_raise_each_alert_once(world: World) -> None:
    _same_runs(world, 3)
    daemon = start_daemon(world.config, world.port, env={"STATE_DIRECTORY": str(world.folder)})
    try:
        wait_until(lambda: settled(world), 60, "both sources stored and every event delivered")
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(30) == 0, daemon.log_path.read_text()
    finally:
        daemon.stop()
    got = _events(world)
    raised = {alert for kind, alert in got if kind == "alert.raised"}
    assert raised, "the runs raised no alert: the test proves nothing"
    assert [key for key in got if key[0] == "alert.resolved"] == []
    assert all(count == 1 for count in got.values()), got
    # One session per run, on Garmin's copy: every Strava copy links to it.
    assert query(world.db, "SELECT source, COUNT(*) FROM activities WHERE canonical_id IS NULL "
                           "GROUP BY source") == [("garmin", 3)]
