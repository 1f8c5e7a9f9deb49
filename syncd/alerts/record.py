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

from sqlalchemy.orm import Session

from syncd.alerts.channel import Outcome, Result
from syncd.alerts.schedule import retry_delay
from syncd.store import outbox
from syncd.store.outbox import DeliveryState


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict (a report counter name), the columns to change, whether to keep an
    attempt row, and the delivery's attempt count and next attempt afterwards."""

    verdict: str
    changes: dict[str, Any] | None
    attempted: bool
    attempts: int
    next_attempt_at: datetime | None


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
    """Apply a batch's decisions: an attempt row for each delivery attempted, and each
    delivery's changes (see :func:`syncd.store.outbox.record_outcomes`)."""
    attempts = [{"delivery_id": delivery_id, "at": now, "status_code": outcome.status_code,
                 "error": outcome.error, "duration_ms": round(outcome.duration_s * 1000, 3)}
                for delivery_id, outcome, decision in decided if decision.attempted]
    changes = [(delivery_id, decision.changes) for delivery_id, _, decision in decided
               if decision.changes]
    outbox.record_outcomes(session, attempts, changes)
