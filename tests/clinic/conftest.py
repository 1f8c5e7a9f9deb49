"""Fixtures of the clinic tests: two empty PostgreSQL databases on the local server (the
clinic's, and another clinic's to import into) and the certificate authority of the SMTP
server's STARTTLS certificate."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@pytest.fixture
def clinic_database(postgres_database: str) -> str:
    """The test session's PostgreSQL database, emptied (skipped without PostgreSQL)."""
    engine = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return postgres_database


@pytest.fixture
def other_clinic_database(postgres_database: str) -> Iterator[str]:
    """A second database on the same server, dropped after the test."""
    url = make_url(postgres_database)
    name = f"{url.database}_other_{secrets.token_hex(3)}"
    engine = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """The certificate authority of the SMTP server's certificate."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The authority as a PEM file, for ``SSL_CERT_FILE``."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path
