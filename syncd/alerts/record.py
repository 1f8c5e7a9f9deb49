"""What an outcome does to a delivery: the pure decision, then one bulk write per batch.

A delivery is only moved on by the dispatcher that holds its claim (status still pending and
``next_attempt_at`` still the lease it wrote). A dispatcher whose lease ran out while it was
sending records its attempt but leaves the state to the one that took over, except a success,
which counts whoever saw it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from syncd.alerts import outbox
from syncd.alerts.channel import Outcome, Result
from syncd.alerts.schedule import retry_delay
from syncd.store.tables import AlertDeliveryRow, DeliveryAttemptRow


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """The columns of a delivery that the decision reads."""

    id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict (a report counter name), the columns to change, whether to keep an
    attempt row, and the delivery's attempt count and next attempt afterwards."""

    verdict: str
    changes: dict[str, Any] | None
    attempted: bool
    attempts: int
    next_attempt_at: datetime | None


def load_states(session: Session, ids: list[int]) -> dict[int, DeliveryState]:
    """The claimed deliveries' current state, locked for update on PostgreSQL."""
    query = select(AlertDeliveryRow.id, AlertDeliveryRow.status, AlertDeliveryRow.attempts,
                   AlertDeliveryRow.next_attempt_at).where(AlertDeliveryRow.id.in_(ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return {row.id: DeliveryState(*row) for row in session.execute(query)}


def decide(state: DeliveryState, lease_until: datetime, outcome: Outcome, now: datetime, *,
           jitter: float = 0.0, rng: random.Random | None = None) -> Decision:
    """The new state of one delivery after ``outcome``."""
    owned = state.status == outbox.PENDING and state.next_attempt_at == lease_until
    if not outcome.attempted:
        skipped = outcome.result is Result.SKIPPED
        changes: dict[str, Any] | None = None
        if owned:
            changes = ({"status": outbox.SKIPPED, "next_attempt_at": None} if skipped
                       else {"next_attempt_at": now})
        return Decision("skipped" if skipped else "released", changes, False, state.attempts,
                        None if skipped else now)
    if state.status != outbox.PENDING or (outcome.result is not Result.DELIVERED and not owned):
        # Finished, or taken over by another dispatcher: only the attempt is kept.
        verdict = "delivered" if state.status == outbox.DELIVERED else "retry"
        return Decision(verdict, None, True, state.attempts, state.next_attempt_at)
    attempts = state.attempts + 1
    verdict, status, next_at = _next(attempts, outcome, now, jitter, rng)
    updates: dict[str, Any] = {"attempts": attempts, "status": status,
                               "next_attempt_at": next_at, "last_attempt_at": now,
                               "last_status_code": outcome.status_code,
                               "last_error": outcome.error}
    if verdict == "delivered":
        updates["delivered_at"] = now
    return Decision(verdict, updates, True, attempts, next_at)


def _next(attempts: int, outcome: Outcome, now: datetime, jitter: float,
          rng: random.Random | None) -> tuple[str, str, datetime | None]:
    """(verdict, status, next attempt) after attempt number ``attempts``."""
    if outcome.result is Result.DELIVERED:
        return "delivered", outbox.DELIVERED, None
    if outcome.result is Result.GONE:
        return "gone", outbox.DISABLED, None
    delay = retry_delay(attempts, jitter=jitter, retry_after=outcome.retry_after, rng=rng)
    if delay is None:
        return "failed", outbox.FAILED, None
    return "retry", outbox.PENDING, now + delay


def write(session: Session, decided: list[tuple[int, Outcome, Decision]],
          now: datetime) -> None:
    """Apply a batch's decisions: attempt rows in one insert, then the deliveries' changes
    grouped by the columns they touch (one UPDATE ... executemany per group)."""
    # Core statements, not the ORM's bulk paths: this runs once per batch on the hot path.
    connection = session.connection()
    attempts = [{"delivery_id": delivery_id, "at": now, "status_code": outcome.status_code,
                 "error": outcome.error, "duration_ms": round(outcome.duration_s * 1000, 3)}
                for delivery_id, outcome, decision in decided if decision.attempted]
    if attempts:
        connection.execute(insert(_table(DeliveryAttemptRow)), attempts)
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for delivery_id, _, decision in decided:
        if decision.changes:
            groups.setdefault(tuple(sorted(decision.changes)), []).append(
                {"delivery_id": delivery_id, **decision.changes})
    table = _table(AlertDeliveryRow)
    for columns, rows in groups.items():
        statement = (update(table).where(table.c.id == bindparam("delivery_id"))
                     .values({name: bindparam(name) for name in columns}))
        connection.execute(statement, rows)


def _table(model: type[AlertDeliveryRow] | type[DeliveryAttemptRow]) -> Table:
    """The Core table behind a mapped class."""
    return model.metadata.tables[model.__tablename__]
