"""One batch's sending and its log lines, for the dispatcher (:mod:`syncd.alerts.dispatcher`)."""

from __future__ import annotations

from typing import Any

import structlog

from syncd.alerts import record
from syncd.alerts.channel import Channel, Outcome, Rendered, Result
from syncd.store import outbox

log = structlog.get_logger("syncd.alerts")


def send_batch(channel: Channel, messages: list[Rendered], deadline: float) -> list[Outcome]:
    """The channel's outcomes for ``messages``. Should it raise (it must not), each message
    is tried alone, so that only the one that makes it raise fails (the others may be sent
    twice, under the same id: at least once)."""
    try:
        return channel.deliver(messages, deadline)
    except Exception as err:
        if len(messages) > 1:
            return [outcome for message in messages
                    for outcome in send_batch(channel, [message], deadline)]
        log.warning("alert delivery raised", channel=channel.name,
                    event_id=messages[0].event.id if messages else None,
                    error=type(err).__name__)
        return [Outcome(Result.ERROR, error=f"sending failed ({type(err).__name__})")
                for _ in messages]


def log_attempt(channel: str, claim: outbox.Claim, outcome: Outcome,
                decision: record.Decision) -> None:
    """One line per attempt: which alert, where, how it went. Never a secret or a body."""
    verdict = decision.verdict
    fields: dict[str, Any] = {
        "channel": channel, "event_id": claim.event.id, "event_type": claim.event.type,
        "alert_id": claim.event.alert_id, "attempt": decision.attempts, "outcome": verdict,
        "status_code": outcome.status_code, "duration_ms": round(outcome.duration_s * 1000, 1),
    }
    if outcome.error:
        fields["error"] = outcome.error
    if decision.next_attempt_at is not None and verdict == "retry":
        fields["next_attempt_at"] = decision.next_attempt_at.isoformat()
    level = log.info if verdict == "delivered" else log.warning
    level("alert delivery attempt", **fields)
