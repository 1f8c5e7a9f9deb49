"""Alembic environment: runs on the connection syncd hands over, or on a URL for developers.

At run time :func:`syncd.store.schema.migrate` passes its open connection (already inside the
transaction that holds the migration lock) in ``config.attributes["connection"]``. A developer
generating a revision runs ``alembic -c syncd/store/alembic.ini -x url=sqlite:///dev.db
revision --autogenerate -m "..."``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from syncd.store.tables import Base


def _configure_and_run(connection: Connection) -> None:
    """Run the pending migrations on ``connection``."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    """Use the handed-over connection, else open one from ``-x url=...``."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    from syncd.store.engine import open_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database with -x url=sqlite:///path/to/syncd.db")
    engine = open_engine(url)
    with engine.begin() as conn:
        _configure_and_run(conn)
    engine.dispose()


_run()
