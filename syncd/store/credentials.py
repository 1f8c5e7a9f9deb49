"""Credentials: a connector's tokens and syncd's own rows about a source (the Strava
subscription), one row per (athlete, name), read and written here only.

Values are JSON objects. Some questions look inside them without reading them out: which
athletes hold tokens of a given Strava account, whether a subscription with a given id is
stored. Neither the other athletes' tokens nor their ids leave the database for that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from syncd.store.database import Store
from syncd.store.tables import AthleteRow, CredentialRow

# Names of the credential rows syncd itself reads (a connector's own rows are
# ``<source>.<name>`` through :class:`DbCredentialStore`).
STRAVA_TOKENS = "strava.tokens"
STRAVA_SUBSCRIPTION = "strava.subscription"


def _query(athlete_id: int, name: str) -> Any:
    """The query for credential ``name`` of ``athlete_id``."""
    return select(CredentialRow).where(CredentialRow.athlete_id == athlete_id,
                                       CredentialRow.name == name)


def read_credential(tx: Session, athlete_id: int, name: str, *,
                    for_update: bool = False) -> Any | None:
    """The value stored under ``name`` for ``athlete_id`` (``None`` when there is no row);
    ``for_update`` locks the row on PostgreSQL until the transaction ends."""
    query = _query(athlete_id, name)
    row = tx.scalars(query.with_for_update() if for_update else query).one_or_none()
    return row.value if row is not None else None


def put_credential(tx: Session, athlete_id: int, name: str, value: Mapping[str, Any],
                   now: datetime) -> None:
    """Store ``value`` under ``name`` for ``athlete_id`` in ``tx`` (the row is created when
    missing): it commits with the caller's transaction, or not at all."""
    row = tx.scalars(_query(athlete_id, name)).one_or_none()
    if row is None:
        row = CredentialRow(athlete_id=athlete_id, name=name)
        tx.add(row)
    row.value = dict(value)
    row.updated_at = now


def delete_credential(tx: Session, athlete_id: int, name: str) -> None:
    """Forget the credential ``name`` of ``athlete_id``."""
    tx.execute(delete(CredentialRow).where(CredentialRow.athlete_id == athlete_id,
                                           CredentialRow.name == name))


def athletes_holding(tx: Session, name: str) -> set[int]:
    """The ids of the athletes that hold a credential called ``name``."""
    return set(tx.scalars(select(CredentialRow.athlete_id).where(CredentialRow.name == name)))


def credential_counts(tx: Session, name: str) -> dict[int, int]:
    """Per athlete id, how many credentials called ``name`` they hold (0 or 1; absent: 0)."""
    query = (select(CredentialRow.athlete_id, func.count()).where(CredentialRow.name == name)
             .group_by(CredentialRow.athlete_id))
    return {athlete_id: count for athlete_id, count in tx.execute(query).all()}


def any_stored(tx: Session, name: str) -> bool:
    """True when any athlete holds a credential called ``name``."""
    return tx.scalars(select(CredentialRow.id).where(
        CredentialRow.name == name).limit(1)).first() is not None


def values_named(tx: Session, name: str) -> list[Any]:
    """The values of every credential called ``name``, whoever holds it."""
    return list(tx.scalars(select(CredentialRow.value).where(CredentialRow.name == name)))


def strava_account_elsewhere(tx: Session, athlete_id: int, strava_athlete: int) -> bool:
    """True when another watched (not removed) athlete holds tokens of the same Strava
    account."""
    values = tx.execute(select(CredentialRow.value).join(
        AthleteRow, AthleteRow.id == CredentialRow.athlete_id).where(
        CredentialRow.name == STRAVA_TOKENS, CredentialRow.athlete_id != athlete_id,
        AthleteRow.removed_at.is_(None))).scalars()
    return any(isinstance(value, Mapping) and value.get("athlete_id") == strava_athlete
               for value in values)


def strava_token_owners(tx: Session, owner_id: int) -> list[tuple[int, str]]:
    """(athlete id, name) of the athletes whose stored Strava tokens are ``owner_id``'s, by
    athlete id."""
    # Read inside the JSON; compared as text: a cast to a number could fail on another
    # credential's value.
    strava_athlete = CredentialRow.value["athlete_id"].as_string()
    query = (select(CredentialRow.athlete_id, AthleteRow.name)
             .join(AthleteRow, AthleteRow.id == CredentialRow.athlete_id)
             .where(CredentialRow.name == STRAVA_TOKENS, strava_athlete == str(owner_id))
             .order_by(CredentialRow.athlete_id))
    return [(athlete_id, name) for athlete_id, name in tx.execute(query)]


def _durable(tx: Session) -> None:
    """Make ``tx``'s commit wait for the disk: a rotated token lost to a power cut is a lost
    login. SQLite connections run with ``synchronous=FULL`` already (``store/engine.py``);
    PostgreSQL is told so for this transaction, whatever the server's default."""
    if tx.get_bind().dialect.name == "postgresql":
        tx.execute(text("SET LOCAL synchronous_commit TO on"))


class DbCredentialStore:
    """A connector's :class:`connectors.base.CredentialStore`, kept in the database.

    ``save`` commits in its own write transaction before returning, so a rotated refresh
    token is durable before the connector uses it. Do not call it while holding a write
    transaction on the same SQLite database: the two would wait for each other.
    """

    def __init__(self, store: Store, athlete_id: int, *, prefix: str = "") -> None:
        self._store = store
        self._athlete_id = athlete_id
        # One connector's names cannot clash with another's: "strava." + "token".
        self._prefix = prefix

    def load(self, name: str) -> dict[str, Any] | None:
        """Return the stored credential called ``name``, or ``None``."""
        with self._store.read() as session:
            value = read_credential(session, self._athlete_id, self._prefix + name)
            return dict(value) if value is not None else None

    def save(self, name: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``name``, committed durably (on disk, not only in a cache)
        before returning."""
        now = datetime.now(UTC)
        with self._store.write() as session:
            _durable(session)
            put_credential(session, self._athlete_id, self._prefix + name, value, now)

    def delete(self, name: str) -> None:
        """Forget the credential called ``name``."""
        with self._store.write() as session:
            delete_credential(session, self._athlete_id, self._prefix + name)

    def __repr__(self) -> str:
        return f"DbCredentialStore(athlete_id={self._athlete_id}, prefix={self._prefix!r})"
