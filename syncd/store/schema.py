"""Schema upgrades on start, with Alembic driven from code (no alembic.ini at run time)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from syncd.errors import StorageError
from syncd.store.engine import display_url, mapped_errors, writer_engine

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _newest_file_revision() -> str:
    """The revision of the newest migration, read from the file names (``NNNN_what.py``, named
    after their revision) so that the fast path needs no Alembic and no hand-kept constant."""
    files = (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    return max(path.name[:4] for path in files)


# The newest revision in migrations/versions (a test keeps it equal to Alembic's head). A
# database already there is opened without importing Alembic, which costs most of a
# command's start-up.
HEAD_REVISION = _newest_file_revision()
# Any fixed number: it names the PostgreSQL advisory lock that serializes migrations.
_PG_MIGRATION_LOCK = 0x5359_4E43


def alembic_config() -> Config:
    """An Alembic configuration pointing at the migrations shipped in the package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest schema revision this syncd knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def current_revision(connection: Connection) -> str | None:
    """The schema revision the database is at (``None`` for an empty database)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> None:
    """Upgrade the database to this syncd's newest revision, in one locked transaction.

    Two processes starting at once take turns (SQLite write lock, PostgreSQL advisory lock).
    Raises :class:`StorageError` when the database is at a revision this syncd does not know
    (written by a newer version): downgrading silently could lose data.
    """
    if _at_head(engine):
        return
    from alembic import command
    from alembic.script import ScriptDirectory

    where = display_url(engine.url)
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    writer = writer_engine(engine)
    with mapped_errors(where), writer.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _PG_MIGRATION_LOCK})
        _refuse_unknown_revision(connection, script, where)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _at_head(engine: Engine) -> bool:
    """True when the database is exactly at :data:`HEAD_REVISION` (nothing to do)."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return False  # no version table yet, or unreachable: the full path reports it
    return [row[0] for row in rows] == [HEAD_REVISION]


def _refuse_unknown_revision(connection: Connection, script: ScriptDirectory, where: str) -> None:
    """Raise StorageError when the database's revision is not among the shipped ones."""
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    for revision in MigrationContext.configure(connection).get_current_heads():
        try:
            known = script.get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise StorageError(
                f"database {where} is at schema revision {revision}, newer than this syncd "
                f"({script.get_current_head()}); upgrade syncd or restore a backup"
            )
