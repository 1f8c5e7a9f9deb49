"""The database as syncd uses it: :class:`Store` opens it, upgrades its schema and hands out
sessions for reading and writing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from syncd.store.engine import (
    DEFAULT_BUSY_TIMEOUT_S,
    display_url,
    mapped_errors,
    open_engine,
    writer_engine,
)
from syncd.store.schema import migrate


class Store:
    """The database as syncd uses it: ``write()`` and ``read()`` hand out sessions.

    ``write()`` holds the write lock for the whole transaction on SQLite (``BEGIN
    IMMEDIATE``) and commits when the block ends without an exception; ``read()`` never
    commits. Both turn full-disk, locked and unreachable-database errors into
    :class:`StorageError`.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.where = display_url(engine.url)
        self._writer = writer_engine(engine)

    @classmethod
    def open(
        cls, url: str, *, migrate: bool = True, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
    ) -> Store:
        """Open the database at ``url`` and, unless told not to, upgrade its schema."""
        store = cls(open_engine(url, busy_timeout_s=busy_timeout_s))
        if migrate:
            try:
                store.migrate()
            except BaseException:
                store.close()
                raise
        return store

    def migrate(self) -> None:
        """Upgrade the schema to this syncd's revision (see :func:`syncd.store.schema.migrate`)."""
        migrate(self.engine)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in a write transaction, committed when the block succeeds."""
        session = Session(self._writer, expire_on_commit=False)
        try:
            with mapped_errors(self.where), session.begin():
                yield session
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; whatever the block changes is rolled back."""
        session = Session(self.engine, expire_on_commit=False)
        try:
            with mapped_errors(self.where):
                yield session
        finally:
            with mapped_errors(self.where):
                session.close()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.where!r})"
