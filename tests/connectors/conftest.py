"""Fixtures for the connector tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.files import FilesConnector
from tests.connectors.files_support import FIXTURES, make_context


@pytest.fixture
def fit_fixtures() -> Path:
    """The real FIT recordings; the test is skipped when the shared folder is absent."""
    folder = FIXTURES / "fit"
    if not folder.is_dir():
        pytest.skip("../shared/fixtures/fit is absent")
    return folder


@pytest.fixture
def files() -> FilesConnector:
    """A files connector with no watched folder (imports only)."""
    return FilesConnector(None, make_context())
