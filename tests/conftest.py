"""Fixtures shared by the whole suite: the injected clock, the real recordings folder and
databases.

``db_url`` runs a test on a SQLite file and on PostgreSQL. The PostgreSQL database is created
once per test session (``syncd_test_<random>``, from the server's ``test`` database) and
emptied before each test; its parameter is skipped when the server is unreachable. Point
``SYNCD_TEST_POSTGRES`` at another server's admin database to use it instead.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.clock import START, Clock
from tests.support.ntfy import NtfyServer

# aiosmtpd logs each client's connect and disconnect from its own thread; a disconnect that
# lands after its test ended would write to pytest's closed capture stream ("Logging error").
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

FIXTURES = Path(__file__).resolve().parents[1] / ".." / "shared" / "fixtures"
POSTGRES_ADMIN_URL = os.environ.get(
    "SYNCD_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def fixtures_dir() -> Path:
    """The shared real recordings; the test is skipped when the folder is absent."""
    if not FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is absent (a fresh clone has none)")
    return FIXTURES


@pytest.fixture
def clock_start() -> datetime:
    """Where ``clock`` starts; a folder or module whose story starts elsewhere overrides it."""
    return START


@pytest.fixture
def clock(clock_start: datetime) -> Clock:
    """The clock injected into syncd and the fakes, at ``clock_start`` until the test moves
    it."""
    return Clock(clock_start)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL for a fresh SQLite file in a folder that does not exist yet."""
    return f"sqlite:///{tmp_path / 'db' / 'syncd.db'}"


def _postgres_reachable(url: str) -> bool:
    """True when something listens on the server's port."""
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database for this test session (one per xdist worker), dropped after."""
    if not _postgres_reachable(POSTGRES_ADMIN_URL):
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = f"syncd_test_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _empty_postgres(url: str) -> str:
    """Drop everything in the test database's public schema; return its URL."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """An empty database: a SQLite file, then the PostgreSQL test database."""
    if request.param == "sqlite":
        return sqlite_url
    return _empty_postgres(request.getfixturevalue("postgres_database"))


@pytest.fixture
def ntfy() -> Iterator[NtfyServer]:
    """A ntfy-compatible server on 127.0.0.1 for the notify channels (Apprise ``ntfy://``
    URLs)."""
    server = NtfyServer()
    yield server
    server.close()
