"""Shared helpers for the connector tests: paths to the real fixtures and the sample history,
and a context with a fixed clock. (A plain module: ``from conftest import`` is ambiguous once
several conftest files exist.)"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.base import ConnectorContext

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / ".." / "shared" / "fixtures"
EXAMPLES = REPO / "examples"
HISTORY = EXAMPLES / "history"
# The sample history ends on 2026-10-30; "now" sits a few days later.
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def make_context(timezone: str = "Europe/Berlin") -> ConnectorContext:
    """A context with a fixed clock."""
    return ConnectorContext(athlete="ana", timezone=timezone, now=lambda: NOW)
