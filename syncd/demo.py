"""``./dev demo``: syncd on its embedded default, with no account and no network.

Runs against ``examples/syncd.toml``: SQLite in ``./state/demo`` and the files source on the
bundled 8-week sample history. It syncs once, then shows the plan, the status and the alerts
the sample's deliberate breaches raise. ``--fresh`` starts from an empty database.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path

from syncd.cli import main as syncd_main

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "syncd.toml"


def record_sample_pain() -> None:
    """Record the sample's pain reports (``examples/pain.csv``); repeats are ignored."""
    from syncd.app import App
    from syncd.config import load_settings

    app = App(load_settings(CONFIG))
    try:
        with (ROOT / "examples" / "pain.csv").open(encoding="utf-8") as rows:
            for row in csv.DictReader(rows):
                at = datetime.fromisoformat(row["timestamp"])
                app.record_pain(int(row["score"]), at, row["note"] or None)
    finally:
        app.close()


def main(argv: list[str]) -> int:
    """Run the demo; returns the exit code of the first failing step."""
    state = ROOT / "state" / "demo"
    if "--fresh" in argv and state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    os.environ["STATE_DIRECTORY"] = str(state)
    steps = [["sync"], ["plan"], ["status"], ["alerts"]]
    record_sample_pain()
    for step in steps:
        print(f"\n$ syncd --config {CONFIG.relative_to(ROOT)} {' '.join(step)}", flush=True)
        code = syncd_main(["--config", str(CONFIG), *step])
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
