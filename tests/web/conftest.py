"""In-process fixtures for the HTTP tests: an App on a copy of a database holding the sample
history (imported once per worker), the ASGI app, and a client on it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.pipeline.sync import sync_source
from syncd.web import create_app

from .support import NOW, MakeApp, client_for, write_config


@pytest.fixture(scope="session")
def sample_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the sample history imported (once per test worker)."""
    folder = tmp_path_factory.mktemp("template")
    database = folder / "syncd.db"
    app = open_app(load_settings(write_config(folder, database)), clock=lambda: NOW)
    result = sync_source(app, "files", force=True)
    assert result.ok and result.inserted == 28, result.summary()
    app.close()
    return database


@pytest.fixture
def make_app(tmp_path: Path, sample_database: Path) -> Iterator[MakeApp]:
    """Build an App on a fresh copy of the sample database, with ``extra`` TOML settings."""
    apps: list[App] = []

    def make(extra: str = "", clock: Callable[[], datetime] = lambda: NOW) -> App:
        database = tmp_path / f"syncd-{len(apps)}.db"
        shutil.copyfile(sample_database, database)
        app = open_app(load_settings(write_config(tmp_path, database, extra)), clock=clock)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


@pytest.fixture
def sample_app(make_app: MakeApp) -> App:
    """The sample runner's App, no token."""
    return make_app()


@pytest.fixture
def web(sample_app: App) -> FastAPI:
    """The ASGI application on the sample App."""
    return create_app(sample_app)


@pytest.fixture
def client(web: FastAPI) -> Iterator[TestClient]:
    """A client on the sample App's API."""
    with client_for(web) as http:
        yield http
