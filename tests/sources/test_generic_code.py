"""The generic code reaches sources through their hooks only: no source's name in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "syncd"
GENERIC = [*sorted((ROOT / "pipeline").glob("*.py")), *sorted((ROOT / "runtime").glob("*.py")),
           ROOT / "app.py", ROOT / "cli" / "main.py", ROOT / "web" / "factory.py"]
SOURCES = {"strava", "garmin", "files"}


def source_names_in(path: Path) -> list[str]:
    """``line: name`` for each string constant that is a source's name, and each import of a
    source's package."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and node.value in SOURCES:
            found.append(f"{node.lineno}: {node.value!r}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                tuple(f"syncd.sources.{name}" for name in SOURCES)):
            found.append(f"{node.lineno}: from {node.module}")
    return found


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_is_named(path: Path) -> None:
    assert source_names_in(path) == []
