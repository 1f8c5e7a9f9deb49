"""Run every benchmark in this folder and write ``benchmarks/RESULTS.md``.

    .venv/bin/python benchmarks/run_all.py [--full] [--only NAME ...] [--out PATH]

Each ``benchmarks/*.py`` (but this one) runs in its own process, one after the other, in a
short mode that keeps the whole run to a few minutes (``--full``: each benchmark's own
defaults). Every benchmark prints its figures with their goals ("(goal < 2 s)", "(goal:
within 1.5x)"); this script keeps those lines, works out each figure's ratio to its goal
where both are numbers, and writes them with the machine they were measured on (CPU, cores,
memory, Python, date, commit) and each benchmark's whole output. A benchmark that fails is
reported as such, and the others still run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Arguments of the short mode; a benchmark not listed runs with its defaults.
SHORT: dict[str, list[str]] = {
    "clinic": ["--short"],
    "daemon": ["--duration", "10", "--rate", "100"],
    "dispatch": ["--alerts", "2000", "--rounds", "2"],
    "dispatch_notify": ["--alerts", "1000", "--rounds", "2"],
    "evaluate": ["--repeat", "2"],
    "garmin_sync": ["--activities", "500", "--repeat", "1"],
    "import_files": ["--files", "200", "--repeat", "1"],
    "strava_sync": ["--activities", "500", "--runs", "400", "--repeat", "1"],
}
TIMEOUT_S = 900
_NUMBER = r"(\d+(?:[.,]\d+)*)"
_GOAL = re.compile(r"goal\b[^)]*?(<=|<|within|under)\s*" + _NUMBER + r"\s*(x|%|ms|s|MB)?",
                   re.IGNORECASE)
_MEASURED = re.compile(_NUMBER + r"\s*(x|%|ms|s|MB|files/s)?")


@dataclass
class Outcome:
    """One benchmark's run."""

    name: str
    command: list[str]
    seconds: float
    code: int
    output: str

    def goal_lines(self) -> list[str]:
        """The lines that state a figure and its goal."""
        return [line.strip() for line in self.output.splitlines() if "goal" in line.lower()]


def run(name: str, full: bool) -> Outcome:
    """Run ``benchmarks/NAME.py`` and capture what it prints."""
    command = [sys.executable, str(HERE / f"{name}.py"), *([] if full else SHORT.get(name, []))]
    started = time.monotonic()
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                              timeout=TIMEOUT_S, check=False)
        code, output = done.returncode, done.stdout + (
            f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode else "")
    except subprocess.TimeoutExpired as err:
        code, output = -1, f"{err.stdout or ''}\n[stopped after {TIMEOUT_S} s]"
    shown = [str(Path(command[1]).relative_to(REPO)), *command[2:]]
    return Outcome(name, shown, time.monotonic() - started, code, str(output))


def ratio_to_goal(line: str) -> str:
    """``measured / goal`` for a line like "812.3 ms (goal < 2000 ms)", or "" when the two
    numbers cannot be told apart."""
    goal = _GOAL.search(line)
    if goal is None:
        return ""
    before = line[: line.lower().index("goal")]
    before = before[: before.rfind("(")] if "(" in before else before
    measured = _MEASURED.findall(before)
    if not measured:
        return ""
    value, unit = measured[-1]
    limit, limit_unit = goal.group(2), goal.group(3) or ""
    if limit_unit and unit and limit_unit != unit:
        return ""
    try:
        return f"{_float(value) / _float(limit):.2f}"
    except ZeroDivisionError:
        return ""


def _float(text: str) -> float:
    return float(text.replace(",", ""))


def machine() -> list[str]:
    """CPU, cores, memory, OS, Python, date and commit, one fact a line."""
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with open("/proc/meminfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                            capture_output=True, check=False).stdout.strip() or "unknown"
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    return [f"CPU: {cpu}", f"cores: {os.cpu_count()}", f"memory: {memory}",
            f"OS: {platform.platform()}", f"Python: {platform.python_version()}",
            f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", f"commit: {commit}",
            f"load average before the run (1/5/15 min): {load}"]


def report(outcomes: list[Outcome], facts: list[str], full: bool) -> str:
    """The Markdown of RESULTS.md."""
    lines = ["# Benchmark results", "",
             "Written by `benchmarks/run_all.py` (`./dev bench`); "
             + ("each benchmark's default size." if full else
                "short mode (smaller inputs, fewer repeats; `--full` for the defaults)."),
             "Ratios are measured / goal: below 1.00 meets a goal stated as a ceiling.", "",
             "## Machine", "", *[f"- {fact}" for fact in facts], "", "## Figures against goals",
             "", "| benchmark | figure (as printed) | ratio to goal |", "| --- | --- | --- |"]
    for outcome in outcomes:
        if outcome.code != 0:
            lines.append(f"| {outcome.name} | FAILED (exit {outcome.code}) | |")
        for line in outcome.goal_lines():
            cell = line.replace("|", "\\|")
            lines.append(f"| {outcome.name} | {cell} | {ratio_to_goal(line)} |")
    lines += ["", "## Each benchmark's output", ""]
    for outcome in outcomes:
        lines += [f"### {outcome.name}", "",
                  f"`{' '.join(outcome.command)}`: exit {outcome.code}, "
                  f"{outcome.seconds:.0f} s", "", "```", outcome.output.rstrip(), "```", ""]
    return "\n".join(lines)


def main() -> int:
    """Run the benchmarks, write the report, exit 1 when one failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--full", action="store_true", help="each benchmark's own defaults")
    parser.add_argument("--only", nargs="*", help="benchmark names (default: all)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    names = sorted(p.stem for p in HERE.glob("*.py") if p.stem != "run_all")
    if args.only:
        names = [n for n in names if n in args.only]
    facts = machine()
    outcomes = []
    for name in names:
        print(f"running {name}...", flush=True)
        outcome = run(name, args.full)
        print(f"  exit {outcome.code} after {outcome.seconds:.0f} s", flush=True)
        for line in outcome.goal_lines():
            print(f"  {line}", flush=True)
        outcomes.append(outcome)
    args.out.write_text(report(outcomes, facts, args.full) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0 if all(o.code == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
