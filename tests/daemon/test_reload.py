"""SIGHUP reloads the configuration: a new poll interval takes effect; a broken file, or a
change that needs a restart, leaves the running configuration in place."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.net import free_port
from tests.support.waiting import wait_until

from .support import start_daemon, write_config


def test_sighup_applies_a_new_schedule_and_refuses_a_broken_file(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path, port, poll="1s")
    daemon = start_daemon(config, port)
    try:
        wait_until(lambda: "syncd running" in daemon.events(), 30, "the daemon to start")
        wait_until(lambda: daemon.status()["sources"]["files"]["last_success_at"] is not None,
                   30, "the first files pass")

        write_config(tmp_path, port, poll="2h")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in daemon.events(), 20, "the reload")

        def next_run() -> datetime:
            text = daemon.status()["sources"]["files"]["next_run_at"]
            return datetime.fromisoformat(text)

        # The pass already due runs; the one after it follows the new 2-hour interval.
        wait_until(lambda: next_run() > datetime.now(UTC) + timedelta(minutes=100), 20,
                   "the next run to move two hours out")

        config.write_text(config.read_text() + "\n[athlete]\nname = 'twice'\n")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: "configuration not reloaded; the running one stays"
                   in daemon.events(), 20, "the broken file to be refused")

        write_config(tmp_path, free_port(), poll="2h")
        daemon.signal(signal.SIGHUP)
        wait_until(lambda: any("need a restart" in e for e in daemon.events()), 20,
                   "the listen change to be refused")
        code, health = daemon.get("/healthz")
        assert (code, health["status"]) == (200, "ok")
        assert next_run() > datetime.now(UTC) + timedelta(minutes=100)
        daemon.signal(signal.SIGTERM)
        assert daemon.process.wait(20) == 0
    finally:
        daemon.stop()
