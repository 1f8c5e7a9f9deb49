"""``syncd sync --source garmin`` killed with SIGKILL again and again while it pushes the plan
to the fake Garmin calendar: whatever moment each kill hits (before an upload, between an
upload and its record, between a workout and its calendar entries), the pass that finally
completes leaves exactly one entry per planned session and one workout per plan week."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.garmin.fake_garmin import FakeGarmin
from tests.garmin.workout_support import BERLIN, plan_text
from tests.support.config import write_config

REPO = Path(__file__).resolve().parents[2]
NAMES = ["syncd: W2 4:00 jog (1:00 bouts) / 13:00 walk",
         "syncd: W3 6:00 jog (1:00 bouts) / 11:00 walk",
         "syncd: W4 8:00 jog (1:00 bouts) / 9:00 walk",
         "syncd: W5 10:00 jog (1:00 bouts) / 7:00 walk"]
KILLS = 8  # 4 uploads and 12 entries to make: every kill lands inside the push


def sync_command(config: Path, state: Path) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one ``syncd sync --source garmin``."""
    env = {**os.environ, "STATE_DIRECTORY": str(state), "PYTHONPATH": str(REPO)}
    return ([sys.executable, "-m", "syncd.cli", "--config", str(config), "sync", "--source",
             "garmin"], env)


def kill_after(command: list[str], env: dict[str, str], fake: FakeGarmin, writes: int,
               limit: float = 30.0) -> None:
    """Start ``command`` and SIGKILL it as soon as the workout service has seen ``writes``
    writes (or when it ends by itself, or after ``limit`` seconds)."""
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + limit
    while (len(fake.workout_service.writes) < writes and process.poll() is None
           and time.monotonic() < deadline):
        time.sleep(0.002)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_sigkill_during_the_push_never_doubles_an_entry(tmp_path: Path, fake: FakeGarmin,
                                                        token_dir: Path) -> None:
    # The real clock (a subprocess reads its own): plan week 2 starts today in Berlin.
    today = datetime.now(BERLIN).date()
    plan = tmp_path / "plan.toml"
    plan.write_text(plan_text(), encoding="utf-8")
    config = write_config(
        tmp_path, athlete={"timezone": "Europe/Berlin", "plan": str(plan),
                           "plan_start": today - timedelta(days=7)},
        garmin={"api_url": fake.url, "token_store": token_dir, "push_workouts": True,
                "workout_days": 28})
    command, env = sync_command(config, tmp_path / "state")
    # Slow answers, so that the kills land inside the push; the write is stored before the
    # answer goes out, like a Garmin whose reply is lost.
    fake.slow("/workout-service/", 0.05)
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    service = fake.workout_service
    for _ in range(KILLS):
        kill_after(command, env, fake, len(service.writes) + rng.randint(1, 3))

    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (seed, done.stdout, done.stderr)
    planned = [(today + timedelta(days=7 * week + d), name)
               for week, name in enumerate(NAMES) for d in (0, 2, 4)]
    assert service.entries() == planned, (seed, service.changes())
    assert sorted(service.names()) == NAMES, seed
    before = len(service.writes)
    again = subprocess.run(command, env=env, cwd=REPO, capture_output=True, timeout=120)
    assert again.returncode == 0 and len(service.writes) == before  # settled: nothing to do
