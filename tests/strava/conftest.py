"""Fixtures of the Strava tests: the fake server on loopback, a clock both sides share, the
settings pointing at the fake, and tokens kept in a real SQLite database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from connectors.strava import StravaConnector
from syncd.config.sections import StravaSection
from syncd.store import DbCredentialStore, Store, ensure_athlete
from tests.strava.fake_strava import FakeStrava
from tests.strava.strava_support import NOW, make_connector, strava_settings
from tests.support.clock import Clock


@pytest.fixture
def clock_start() -> datetime:
    return NOW


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeStrava]:
    server = FakeStrava(clock=clock).start()
    yield server
    server.stop()


@pytest.fixture
def settings(fake: FakeStrava) -> StravaSection:
    return strava_settings(fake.url)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty database at the current schema, copied by each test (migrating takes 0.3 s)."""
    path = tmp_path_factory.mktemp("template") / "syncd.db"
    Store.open(f"sqlite:///{path}").close()
    return path


@pytest.fixture
def db_path(tmp_path: Path, migrated_db: Path) -> Path:
    """A fresh SQLite database file for the test."""
    path = tmp_path / "syncd.db"
    shutil.copyfile(migrated_db, path)
    return path


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    db = Store.open(f"sqlite:///{db_path}", migrate=False)
    yield db
    db.close()


@pytest.fixture
def credentials(store: Store) -> DbCredentialStore:
    with store.write() as tx:
        athlete_id = ensure_athlete(tx, "ana", "Europe/Berlin")
    return DbCredentialStore(store, athlete_id, prefix="strava.")


@pytest.fixture
def authorized(fake: FakeStrava, credentials: DbCredentialStore) -> dict[str, object]:
    """Tokens as ``syncd auth strava`` leaves them."""
    tokens = fake.issue_tokens()
    credentials.save("tokens", tokens)
    return tokens


@pytest.fixture
def connector(settings: StravaSection, credentials: DbCredentialStore, authorized: object,
              clock: Clock) -> StravaConnector:
    return make_connector(settings, credentials, clock)
