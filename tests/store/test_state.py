"""Sync state (cursor, failing streak, backoff) and credentials kept in the database."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syncd.store import (
    DbCredentialStore,
    Store,
    get_cursor,
    get_sync_state,
    record_sync_error,
    record_sync_success,
    set_cursor,
    sync_states,
)

from .conftest import NOW

LATER = NOW + timedelta(minutes=10)


def test_cursor_is_none_before_the_first_poll_then_what_was_stored(
    store: Store, athlete_id: int
) -> None:
    with store.write() as tx:
        assert get_cursor(tx, athlete_id, "strava") is None
        assert get_sync_state(tx, athlete_id, "strava").error_count == 0
        set_cursor(tx, athlete_id, "strava", "1767225600", now=NOW)
    with store.read() as tx:
        assert get_cursor(tx, athlete_id, "strava") == "1767225600"
        assert get_cursor(tx, athlete_id, "garmin") is None


def test_a_failing_streak_is_counted_then_ended_by_a_success(
    store: Store, athlete_id: int
) -> None:
    with store.write() as tx:
        assert record_sync_error(tx, athlete_id, "garmin", NOW, "429 Too Many Requests",
                                 backoff_until=NOW + timedelta(hours=2)) == 1
        assert record_sync_error(tx, athlete_id, "garmin", LATER, "timed out") == 2
    with store.read() as tx:
        state = get_sync_state(tx, athlete_id, "garmin")
    assert (state.error_count, state.first_error_at, state.last_error_at, state.last_error,
            state.backoff_until, state.failing) == (2, NOW, LATER, "timed out", None, True)
    with store.write() as tx:
        assert record_sync_success(tx, athlete_id, "garmin", LATER, cursor="c2",
                                   details={"fetched": 3}) is True
        assert record_sync_success(tx, athlete_id, "garmin", LATER) is False
    with store.read() as tx:
        assert sync_states(tx, athlete_id) == {"garmin": {
            "last_success_at": "2026-03-10T12:10:00Z", "first_error_at": None,
            "last_error_at": "2026-03-10T12:10:00Z", "last_error": "timed out",
            "error_count": 0, "backoff_until": None, "details": {"fetched": 3}}}
        assert get_cursor(tx, athlete_id, "garmin") == "c2"  # kept by the cursor-less success


def test_a_saved_credential_is_committed_before_save_returns(
    store: Store, athlete_id: int, store_url: str
) -> None:
    tokens = DbCredentialStore(store, athlete_id, prefix="strava.")
    tokens.save("token", {"refresh_token": "rotated-2", "expires_at": 1767225600})
    elsewhere = Store.open(store_url, migrate=False)  # another process would see the same
    assert DbCredentialStore(elsewhere, athlete_id, prefix="strava.").load("token") == {
        "refresh_token": "rotated-2", "expires_at": 1767225600}
    assert DbCredentialStore(elsewhere, athlete_id, prefix="garmin.").load("token") is None
    elsewhere.close()
    tokens.save("token", {"refresh_token": "rotated-3"})
    assert tokens.load("token") == {"refresh_token": "rotated-3"}
    tokens.delete("token")
    assert tokens.load("token") is None
    assert "rotated" not in repr(tokens)


def test_a_failing_statement_does_not_quote_the_token_it_carried(store: Store) -> None:
    from sqlalchemy.exc import IntegrityError

    from syncd.store.tables import CredentialRow

    with pytest.raises(IntegrityError) as caught, store.write() as tx:
        tx.add(CredentialRow(athlete_id=999, name="strava.token",  # no such athlete
                             value={"refresh_token": "very-secret-token"}, updated_at=NOW))
    assert "very-secret-token" not in str(caught.value)
