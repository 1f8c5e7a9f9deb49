"""One pass of one source: fetch what is new since the cursor, store it, evaluate, remember.

Used by ``syncd sync``, ``syncd import`` and the scheduler alike. A failure is recorded in the
source's sync state with what to do next (retry, back off, re-authorize) and never affects
another source.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from connectors.base import Connector, ConnectorContext, FetchResult
from syncd.errors import Action, RateLimited, StorageError, SyncdError
from syncd.pipeline.notices import NEEDS_ATTENTION, notify_source_failure
from syncd.sources.registry import hooks_for, source_settings
from syncd.store import state as sync_state
from syncd.store.credentials import DbCredentialStore

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.pipeline.sync")
MAX_RETRY_BACKOFF = timedelta(hours=2)

# After an error, wait this long before the next attempt (the scheduler's poll interval
# still applies; this only stops a failing source from being hammered).
RETRY_AFTER = {Action.RETRY: timedelta(minutes=5), Action.SKIP: timedelta(0),
               Action.REAUTH: timedelta(hours=6), Action.FIX_CONFIG: timedelta(hours=6),
               Action.ABORT: timedelta(hours=1), Action.BACKOFF: timedelta(hours=1)}


@dataclass(slots=True)
class SourceResult:
    """What one pass of a source did."""

    source: str
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    linked: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    raised: int = 0
    resolved: int = 0
    error: SyncdError | None = None
    skipped_until: datetime | None = None
    more: bool = False

    @property
    def ok(self) -> bool:
        """True when the source was reached and read (some records may still have failed)."""
        return self.error is None

    def summary(self) -> str:
        """One line for the CLI."""
        if self.skipped_until is not None:
            return f"{self.source}: backing off until {self.skipped_until:%Y-%m-%d %H:%M} UTC"
        if self.error is not None:
            return f"{self.source}: failed: {self.error}"
        line = (f"{self.source}: {self.fetched} fetched, {self.inserted} new, {self.updated} "
                f"updated, {self.unchanged} unchanged, {self.deleted} deleted, {self.linked} "
                f"merged with another source; alerts {self.raised} raised, {self.resolved} "
                "resolved")
        if self.failures:
            line += f"; {len(self.failures)} failed"
        return line


def make_connector(app: App, name: str) -> Connector:
    """Instantiate the connector configured under ``name``."""
    hooks = hooks_for(name)
    state: dict[str, Any] = {"state_dir": app.settings.state_dir, **hooks.connector_state(app)}
    context = ConnectorContext(
        athlete=app.athlete.name, timezone=app.athlete.timezone,
        credentials=DbCredentialStore(app.store, app.athlete_id, prefix=f"{name}."),
        now=app.clock,
        state=state,
    )
    return hooks.connector_class()(source_settings(app, name), context)


def sync_source(app: App, name: str, *, since: date | None = None, force: bool = False,
                connector: Connector | None = None) -> SourceResult:
    """Run one pass of source ``name``: fetch, store, evaluate, record the outcome."""
    result = SourceResult(name)
    now = app.clock()
    with app.store.read() as tx:
        state = sync_state.get_sync_state(tx, app.athlete_id, name)
    if not force and state.backoff_until is not None and state.backoff_until > now:
        result.skipped_until = state.backoff_until
        return result
    try:
        connector = connector or make_connector(app, name)
        with hooks_for(name).around_fetch(app):
            # With the cursor, an interrupted backfill continues where it stopped.
            fetched = connector.fetch(state.cursor, since=since)
        store_fetched(app, connector, fetched, result)
    except SyncdError as err:
        result.error = err
        _record_failure(app, name, err, state.error_count)
        notify_source_failure(app, result)
        return result
    _record_success(app, name, fetched, result, had_error=state.error_count > 0)
    _after_pass(app, name, connector, result)
    return result


def _after_pass(app: App, name: str, connector: Connector, result: SourceResult) -> None:
    """The source's own work after a successful pass (:meth:`SourceHooks.after_pass`): a
    refused login or a throttle fails the pass (back-off, one operator notice), anything else
    is one of the pass's failures."""
    try:
        hooks_for(name).after_pass(app, connector)
    except SyncdError as err:
        if err.action not in NEEDS_ATTENTION:
            log.warning("source's work after the pass failed", source=name, error=str(err))
            result.failures.append(("the work after the pass", str(err)))
            return
        result.error = err
        _record_failure(app, name, err, 0)
        notify_source_failure(app, result)


def store_fetched(app: App, connector: Connector, fetched: FetchResult,
                  result: SourceResult) -> None:
    """Normalize, store and evaluate what a fetch returned, updating ``result``."""
    activities, failures = connector.normalize_all(fetched.records)
    result.fetched = len(fetched.records)
    result.failures = [*fetched.failures, *failures]
    result.more = fetched.more
    for source_id, reason in result.failures:
        log.warning("record skipped", source=connector.name, record=source_id, reason=reason)
    ingested = app.ingest(activities, gear=fetched.gear, source=connector.name)
    upsert = ingested.upsert
    result.inserted, result.updated, result.unchanged = (
        upsert.inserted, upsert.updated, upsert.unchanged)
    result.deleted, result.linked = upsert.deleted, upsert.linked
    if ingested.evaluation is not None:
        result.raised = len(ingested.evaluation.raised)
        result.resolved = len(ingested.evaluation.resolved)


def _record_success(app: App, name: str, fetched: FetchResult, result: SourceResult,
                    had_error: bool) -> None:
    with app.store.write() as tx:
        # The connector's details (API quota left, backfill progress) reach /status with ours.
        sync_state.record_sync_success(tx, app.athlete_id, name, app.clock(),
                                       cursor=fetched.cursor,
                                       details={**fetched.details, **_details(result)})
    if had_error:
        log.info("source recovered", source=name)


def _record_failure(app: App, name: str, err: SyncdError, streak: int) -> None:
    """Record a failed pass and when to try again: transient failures back off exponentially
    with jitter (5 min, 10 min, ... up to 2 h), the others by their action."""
    now = app.clock()
    first = streak == 0
    backoff = RETRY_AFTER.get(err.action, timedelta(minutes=5))
    if err.action is Action.RETRY:
        backoff = min(backoff * 2 ** min(streak, 10), MAX_RETRY_BACKOFF)
        backoff *= 1 + random.uniform(0, 0.1)  # jitter: failing clients don't retry in step
    configured = getattr(app.settings.source_section(name), "backoff", None)
    if err.action is Action.REAUTH and isinstance(configured, timedelta):
        backoff = configured  # the source's own back-off ([garmin] backoff)
    until: datetime | None = now + backoff if backoff else None
    if isinstance(err, RateLimited) and err.retry_at is not None:
        until = err.retry_at
    try:
        with app.store.write() as tx:
            sync_state.record_sync_error(tx, app.athlete_id, name, now, str(err),
                                         backoff_until=until)
    except StorageError as unrecorded:
        # The database refuses writes (a full disk): say so plainly, every pass, since the
        # failure could not be recorded for /status; the next pass tries again.
        log.error("source failing", source=name, error=str(err), action=err.action.value,
                  not_recorded=str(unrecorded))
        return
    # Log once when a source starts failing, then quietly until it recovers.
    if first:
        log.error("source failing", source=name, error=str(err), action=err.action.value)
    else:
        log.debug("source still failing", source=name, error=str(err))


def _details(result: SourceResult) -> dict[str, Any]:
    return {"fetched": result.fetched, "inserted": result.inserted, "updated": result.updated,
            "failed": len(result.failures), "more": result.more}
