"""The training plans the configuration names: where the shipped ones are, and whether every
plan an athlete names exists and is valid."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from syncd.config.sections import DEFAULT_PLAN
from syncd.errors import ConfigError
from syncd.plan import load_plan


def shipped_plans_dir() -> Path:
    """Where the shipped plans are: the source tree's ``config/plans``, or the installed copy."""
    source_tree = Path(__file__).resolve().parents[2] / "config" / "plans"
    if source_tree.is_dir():
        return source_tree
    return Path(sys.prefix) / "share" / "syncd" / "plans"


def resolve_plan(name_or_path: str, base_dir: Path) -> Path:
    """A plan given as a path (relative to ``base_dir``) or as a shipped plan's name."""
    candidate = Path(name_or_path).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if candidate.is_file():
        return candidate
    shipped = shipped_plans_dir() / f"{name_or_path.removesuffix('.toml')}.toml"
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in shipped_plans_dir().glob("*.toml"))
    raise ConfigError([f"athlete.plan: {name_or_path!r} is neither a plan file nor a shipped "
                       f"plan; shipped plans: {', '.join(names) or 'none'}"])


def _check_plan(data: Mapping[str, Any], base: Path) -> list[str]:
    """Every plan named in the raw data must exist and be valid, whatever else is wrong with
    the file: the configuration's problems and its plans' problems are reported together."""
    entries = [("athlete", data.get("athlete", {}))]
    listed = data.get("athletes")
    if isinstance(listed, list):
        entries += [(f"athletes[{i}]", entry) for i, entry in enumerate(listed, start=1)]
    problems: list[str] = []
    checked: set[Path] = set()  # a plan many athletes share is read once
    for label, athlete in entries:
        plan = athlete.get("plan", DEFAULT_PLAN) if isinstance(athlete, dict) else None
        if not isinstance(plan, str) or not plan:  # a wrong type is reported by validation
            continue
        try:
            path = resolve_plan(plan, base)
        except ConfigError as err:
            problems += [p.replace("athlete.plan", f"{label}.plan", 1) for p in err.problems]
            continue
        if path not in checked:
            checked.add(path)
            problems += _plan_problems(path, label)
    return problems


def _plan_problems(path: Path, label: str) -> list[str]:
    """The problems of one plan file, each naming the file and the athlete that uses it."""
    try:
        load_plan(path)
    except ConfigError as err:
        return [f"{label}.plan {path}: {problem}" for problem in err.problems]
    return []
