"""FilesConnector against the Connector contract: a watched folder that files are dropped in."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from connectors.base import Connector
from connectors.files import FilesConnector
from tests.connectors.contract import ConnectorContract
from tests.connectors.files_support import HISTORY, make_context


class TestFilesContract(ConnectorContract):
    @pytest.fixture
    def connector(self, tmp_path: Path) -> Connector:
        watch = tmp_path / "inbox"
        watch.mkdir()
        return FilesConnector(SimpleNamespace(watch=[str(watch)], poll_interval=60),
                              make_context())

    def publish(self, connector: Connector, n: int) -> None:
        assert isinstance(connector, FilesConnector)
        source = sorted(HISTORY.iterdir())[n]
        shutil.copy2(source, connector.watch_folders[0] / source.name)
