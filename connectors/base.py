"""The contract every activity source implements, and the registry that finds them.

A connector knows one source. It fetches what is new since a cursor (its own opaque string,
stored by syncd between runs) and turns each raw record into a normalized
:class:`syncd.models.Activity`. It never touches the database, the plan or the alerts: syncd
does that with what the connector returns. Connectors import only ``syncd.models``,
``syncd.errors`` and this module.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar, Protocol

from syncd.errors import ConfigError, SyncdError
from syncd.models import Activity, Gear


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as the source sent it (JSON-able ``payload``), before normalization.

    ``deleted`` is set when the source reports that the record was removed.
    """

    source_id: str
    payload: Any
    deleted: bool = False


@dataclass(slots=True)
class FetchResult:
    """What one fetch returned.

    ``cursor`` is the high-water mark to pass to the next fetch (``None``: unchanged);
    ``more`` is true when a backfill stopped early (budget, page limit) and should continue;
    ``failures`` lists ``(source_id, reason)`` for records that were skipped;
    ``details`` holds what the source wants ``syncd status`` to show (quota left, backfill
    progress), JSON-able.
    """

    records: list[RawRecord] = field(default_factory=list)
    cursor: str | None = None
    more: bool = False
    gear: list[Gear] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class CredentialStore(Protocol):
    """Where a connector keeps its tokens (the database, through syncd)."""

    def load(self, name: str) -> dict[str, Any] | None:
        """Return the stored credential called ``name``, or ``None``."""
        ...

    def save(self, name: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``name`` durably (committed before returning)."""
        ...

    def delete(self, name: str) -> None:
        """Forget the credential called ``name``."""
        ...


@dataclass(slots=True)
class ConnectorContext:
    """What syncd hands a connector: the athlete, their time zone, tokens and the clock."""

    athlete: str
    timezone: str
    credentials: CredentialStore | None = None
    now: Callable[[], datetime] = field(default=datetime.now)
    state: dict[str, Any] = field(default_factory=dict)


class Connector(ABC):
    """One activity source. Subclasses set ``name`` and implement the two methods."""

    name: ClassVar[str]

    def __init__(self, settings: Any, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context

    @abstractmethod
    def fetch(self, cursor: str | None, *, since: date | None = None) -> FetchResult:
        """Fetch the records that are new or changed since ``cursor``.

        ``since`` asks for a backfill from that local date instead. Returns a
        :class:`FetchResult`. Raises :class:`syncd.errors.AuthError` when a human must
        authorize again, :class:`syncd.errors.RateLimited` when the source asked to slow
        down, and :class:`syncd.errors.TransientError` on network or server failures; one
        unreadable record is reported in ``failures`` and never fails the whole fetch.
        """

    @abstractmethod
    def normalize(self, record: RawRecord) -> Activity:
        """Turn one raw record into an :class:`Activity`.

        Raises :class:`syncd.errors.InvalidResponse` (or ``InvalidFile``) when the record
        cannot be read; the caller skips it.
        """

    def normalize_all(
        self, records: Iterable[RawRecord]
    ) -> tuple[list[Activity], list[tuple[str, str]]]:
        """Normalize many records, collecting ``(source_id, reason)`` for those that fail."""
        activities: list[Activity] = []
        failures: list[tuple[str, str]] = []
        for record in records:
            try:
                activities.append(self.normalize(record))
            except SyncdError as err:
                failures.append((record.source_id, str(err)))
        return activities, failures


# Config name -> "module:Class", imported only when that source is configured.
REGISTRY: dict[str, str] = {
    "strava": "connectors.strava:StravaConnector",
    "garmin": "connectors.garmin:GarminConnector",
    "files": "connectors.files:FilesConnector",
    "memory": "connectors.memory:MemoryConnector",
}


def connector_class(name: str) -> type[Connector]:
    """Return the connector class registered under ``name``.

    Raises :class:`syncd.errors.ConfigError` for an unknown name.
    """
    try:
        target = REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError([f"unknown source {name!r}: known sources are {known}"]) from None
    module_name, _, class_name = target.partition(":")
    cls: type[Connector] = getattr(importlib.import_module(module_name), class_name)
    return cls
