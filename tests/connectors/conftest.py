"""Shared helpers for the connector tests: the real fixtures folder and the sample history."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.base import ConnectorContext
from connectors.files import FilesConnector

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / ".." / "shared" / "fixtures"
EXAMPLES = REPO / "examples"
HISTORY = EXAMPLES / "history"
# The sample history ends on 2026-10-30; "now" sits a few days later.
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def fit_fixtures() -> Path:
    """The real FIT recordings; the test is skipped when the shared folder is absent."""
    folder = FIXTURES / "fit"
    if not folder.is_dir():
        pytest.skip("../shared/fixtures/fit is absent")
    return folder


def make_context(timezone: str = "Europe/Berlin") -> ConnectorContext:
    """A context with a fixed clock."""
    return ConnectorContext(athlete="ana", timezone=timezone, now=lambda: NOW)


@pytest.fixture
def files() -> FilesConnector:
    """A files connector with no watched folder (imports only)."""
    return FilesConnector(None, make_context())
