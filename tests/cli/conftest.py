"""Fixtures of the command-line tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory of the test's own (where the SQLite file goes when the configuration
    names no database), and no ``SYNCD_CONFIG`` from outside."""
    folder = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(folder))
    monkeypatch.delenv("SYNCD_CONFIG", raising=False)
    return folder
