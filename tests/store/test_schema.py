"""Migrations: they build exactly the models' schema, and a newer database is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from syncd.errors import StorageError
from syncd.store import Store, current_revision, display_url, head_revision
from syncd.store.schema import HEAD_REVISION, alembic_config
from syncd.store.tables import Base


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A database migrated from empty, on SQLite and on PostgreSQL."""
    opened = Store.open(db_url)
    yield opened
    opened.close()


def test_migrated_database_matches_the_models_exactly(store: Store) -> None:
    with store.read() as tx:
        context = MigrationContext.configure(tx.connection(), opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert current_revision(tx.connection()) == head_revision() == HEAD_REVISION


def test_migrating_again_changes_nothing(store: Store) -> None:
    store.migrate()
    store.migrate()
    with store.read() as tx:
        assert current_revision(tx.connection()) == HEAD_REVISION


def test_downgrade_to_empty_and_back(store: Store) -> None:
    config = alembic_config()
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
        assert inspect(conn).get_table_names() == ["alembic_version"]
    store.migrate()
    with store.read() as tx:
        assert "activities" in inspect(tx.connection()).get_table_names()


def test_database_from_a_newer_syncd_is_refused(store: Store, db_url: str) -> None:
    with store.write() as tx:
        tx.execute(text("UPDATE alembic_version SET version_num = '0042'"))
    store.close()
    with pytest.raises(StorageError) as caught:
        Store.open(db_url)
    assert str(caught.value) == (
        f"database {display_url(db_url)} is at schema revision 0042, newer than this syncd "
        f"({HEAD_REVISION}); upgrade syncd or restore a backup"
    )


def test_display_url_drops_the_password_and_shows_sqlite_as_a_path() -> None:
    assert display_url("postgresql+psycopg://clinic:s3cret@db.local:5433/syncd") == (
        "postgresql+psycopg://clinic@db.local:5433/syncd")
    assert display_url("sqlite:////var/lib/syncd/syncd.db") == "/var/lib/syncd/syncd.db"


def test_the_fast_path_knows_the_newest_migration() -> None:
    """A database at HEAD_REVISION opens without Alembic; that constant must be the head."""
    assert head_revision() == HEAD_REVISION
