"""SIGKILL of ``syncd run`` at random points, over and over, while new runs keep arriving on
Strava and Garmin: after a last, undisturbed start, every activity is stored once, every alert
event reached the webhook and the mail server (with one webhook-id each), both sources still
hold working refresh tokens, and the database is intact.

Each cycle starts a fresh ``syncd run`` (forked from a zygote that imported syncd once) and
kills it either during start-up or at a random moment of its first second of work, which is
when it syncs both sources, evaluates the new runs and delivers their alerts.
``SYNCD_FAULT_KILLS`` sets the number of kills (default 100).

The tokens here live their normal six hours. With tokens refreshed on every pass, a kill
landed once in about sixty between Strava rotating the refresh token and syncd committing the
new one: Strava has then already invalidated the old token, so no client can keep it, and
``syncd auth strava`` is needed. That window (one HTTP answer and one commit) is covered by the
Strava tests' kill-during-refresh cases; here it would only make the loop flaky.
"""

from __future__ import annotations

import os
import random
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

from tests.support.waiting import wait_until

from .support import World, Zygote, check_invariants, log_events, settled

KILLS = int(os.environ.get("SYNCD_FAULT_KILLS", "100"))


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=0.5):
            return True
    except OSError:  # not listening yet (or 503 while the scheduler warms up)
        return False


def _phase(log: Path) -> str:
    """What the killed process had got to, from its log."""
    events = log_events(log)
    for marker, phase in (("alert delivery attempt", "dispatch"),
                          ("source synced", "sync and evaluation"),
                          ("syncd running", "first sync")):
        if marker in events:
            return phase
    return "start-up"


def _kill_once(world: World, zygote: Zygote, rng: random.Random, log: Path) -> str:
    pid = zygote.start(world.config, log)
    if rng.random() < 0.2:
        time.sleep(rng.uniform(0.0, 0.4))  # somewhere in start-up (migrations, binding)
    else:
        deadline = time.monotonic() + 20
        while not _answers(world.port) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5))
    os.kill(pid, signal.SIGKILL)
    status = zygote.reap(pid)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, log.read_text()
    return _phase(log)


def test_a_hundred_sigkills_lose_nothing(world: World, zygote: Zygote, tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4))
    rng = random.Random(seed)
    world.add_runs(2)
    phases: Counter[str] = Counter()
    started = time.monotonic()
    for n in range(KILLS):
        if n % 3 == 0:
            world.add_runs(1)  # new work for the next starts
        phases[_kill_once(world, zygote, rng, tmp_path / f"run-{n}.log")] += 1

    killing = time.monotonic() - started
    log = tmp_path / "recovery.log"
    pid = zygote.start(world.config, log)
    wait_until(lambda: settled(world), 90, "the last run to store and deliver everything",
               every=0.2)
    os.kill(pid, signal.SIGTERM)
    assert zygote.reap(pid) == 0, log.read_text()
    checked = check_invariants(world)
    print(f"seed {seed}: {KILLS} SIGKILLs in {killing:.0f} s, by phase {dict(phases)}; "
          f"recovered in {time.monotonic() - started - killing:.0f} s: {checked}")
    assert sum(phases.values()) == KILLS >= 100 or "SYNCD_FAULT_KILLS" in os.environ
