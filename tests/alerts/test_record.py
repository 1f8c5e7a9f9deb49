"""The decision an outcome makes on a delivery, claim by claim."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncd.alerts.channel import Outcome, Result
from syncd.alerts.record import decide
from syncd.store.outbox import DELIVERED, DISABLED, FAILED, PENDING, SKIPPED, DeliveryState

NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
LEASE = NOW + timedelta(seconds=65)
OURS = DeliveryState(1, PENDING, 2, LEASE)
TAKEN_OVER = DeliveryState(1, PENDING, 2, LEASE + timedelta(seconds=70))


def test_a_failed_attempt_moves_to_the_next_step() -> None:
    decision = decide(OURS, LEASE, Outcome(Result.ERROR, 500, "answered 500"), NOW)
    assert decision.verdict == "retry"
    assert decision.changes == {
        "attempts": 3, "status": PENDING, "next_attempt_at": NOW + timedelta(minutes=30),
        "last_attempt_at": NOW, "last_status_code": 500, "last_error": "answered 500"}


def test_success_gone_and_the_last_attempt() -> None:
    delivered = decide(OURS, LEASE, Outcome(Result.DELIVERED, 204), NOW)
    assert (delivered.verdict, delivered.changes and delivered.changes["status"]) == (
        "delivered", DELIVERED)
    assert delivered.changes and delivered.changes["delivered_at"] == NOW
    gone = decide(OURS, LEASE, Outcome(Result.GONE, 410), NOW)
    assert (gone.verdict, gone.changes and gone.changes["status"]) == ("gone", DISABLED)
    last = DeliveryState(1, PENDING, 9, LEASE)
    failed = decide(last, LEASE, Outcome(Result.ERROR, 503), NOW)
    assert (failed.verdict, failed.attempts, failed.changes and failed.changes["status"]) == (
        "failed", 10, FAILED)


def test_a_taken_over_claim_keeps_its_attempt_but_not_the_state() -> None:
    decision = decide(TAKEN_OVER, LEASE, Outcome(Result.ERROR, 500), NOW)
    assert (decision.verdict, decision.changes, decision.attempted) == ("retry", None, True)
    # A success counts whoever saw it.
    success = decide(TAKEN_OVER, LEASE, Outcome(Result.DELIVERED, 200), NOW)
    assert success.changes and success.changes["status"] == DELIVERED
    # Delivered already (by the dispatcher that took over): only the attempt is kept.
    done = DeliveryState(1, DELIVERED, 3, None)
    assert decide(done, LEASE, Outcome(Result.DELIVERED, 200), NOW).changes is None


def test_skipped_and_released_are_not_attempts() -> None:
    skipped = decide(OURS, LEASE, Outcome(Result.SKIPPED), NOW)
    assert (skipped.changes, skipped.attempted) == (
        {"status": SKIPPED, "next_attempt_at": None}, False)
    released = decide(OURS, LEASE, Outcome(Result.RELEASED), NOW)
    assert (released.changes, released.attempted) == ({"next_attempt_at": NOW}, False)
    assert decide(TAKEN_OVER, LEASE, Outcome(Result.RELEASED), NOW).changes is None
