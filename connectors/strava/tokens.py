"""Strava's OAuth tokens: where they live, when they are refreshed, and the rotation rule.

Access tokens last six hours; refreshing one returns a new refresh token and the old one stops
working (Strava still accepts it for a short while). So the refreshed pair is saved
(``CredentialStore.save`` commits durably before returning) **before** anything else is done
with it, and before the request a "refresh in flight" mark is saved with the pair it
refreshes. A process killed between Strava's answer and the commit leaves that mark: the next
start refreshes again at once with the previous refresh token (while Strava still accepts it),
and when Strava refuses it the error says plainly that ``syncd auth strava`` is needed. One
refresh runs at a time per athlete in a process, and
the stored pair is read again under the lock so that a refresh done meanwhile (by another
thread or process) is adopted rather than repeated with a spent refresh token. Between
processes (the daemon and a ``syncd sync`` run beside it) the lock is a ``flock`` on a file in
the state directory.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.base import CredentialStore
from syncd.errors import AuthError

TOKEN_NAME = "tokens"  # noqa: S105 - the credential's name, not a secret
# Refresh this long before expiry, so that a long backfill never starts with a dying token.
REFRESH_AHEAD = timedelta(minutes=10)
REAUTH = "run `syncd auth strava`"
# The stored pair's mark of a refresh under way (when it started, epoch seconds).
IN_FLIGHT = "refresh_in_flight"
LOST = ("Strava login needs attention: a token refresh did not complete (syncd stopped before "
        "it could store Strava's answer) and Strava no longer accepts the previous token; run "
        "`syncd auth strava` to authorise syncd again")

Refresher = Callable[[str], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Tokens:
    """One athlete's token pair and who they belong to. Secrets stay out of the repr."""

    refresh_token: str = field(repr=False)
    access_token: str | None = field(default=None, repr=False)
    expires_at: int = 0
    athlete_id: int | None = None
    scope: str | None = None
    # A refresh of this pair started and its answer was never stored (see IN_FLIGHT).
    interrupted: bool = False

    def fresh(self, now: datetime) -> bool:
        """True when the access token is good for at least :data:`REFRESH_AHEAD` (never
        after an interrupted refresh: Strava may have replaced it)."""
        expires = datetime.fromtimestamp(self.expires_at, UTC)
        return (bool(self.access_token) and not self.interrupted
                and expires - REFRESH_AHEAD > now)

    def as_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"refresh_token": self.refresh_token, "access_token": self.access_token,
                "expires_at": self.expires_at, "athlete_id": self.athlete_id,
                "scope": self.scope}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Tokens:
        """Read the stored form; raises :class:`AuthError` when it is unusable."""
        refresh = value.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise AuthError(f"the stored Strava token is incomplete: {REAUTH}")
        athlete = value.get("athlete_id")
        return cls(refresh_token=refresh, access_token=value.get("access_token") or None,
                   expires_at=int(value.get("expires_at") or 0),
                   athlete_id=int(athlete) if athlete is not None else None,
                   scope=value.get("scope"), interrupted=bool(value.get(IN_FLIGHT)))

    def rotated(self, answer: Mapping[str, Any]) -> Tokens:
        """The pair after a token response (which may or may not rotate the refresh token)."""
        try:
            access, expires = str(answer["access_token"]), int(answer["expires_at"])
        except (KeyError, TypeError, ValueError):
            raise AuthError("Strava's token answer lacks an access token or its expiry; "
                            f"{REAUTH} if this persists") from None
        athlete = answer.get("athlete")
        athlete_id = athlete.get("id") if isinstance(athlete, Mapping) else None
        return replace(self, access_token=access, expires_at=expires, interrupted=False,
                       refresh_token=str(answer.get("refresh_token") or self.refresh_token),
                       athlete_id=int(athlete_id) if athlete_id else self.athlete_id)


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (no lock file possible: carry on without, the
    re-read under the thread lock still catches most races)."""
    if path is None:
        yield
        return
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        yield
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # held for one token request at most
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


class TokenKeeper:
    """Hands out a valid access token, refreshing (and saving the rotation) when needed."""

    def __init__(self, credentials: CredentialStore | None, refresher: Refresher,
                 clock: Callable[[], datetime], lock_key: str,
                 lock_file: Path | None = None) -> None:
        self.credentials = credentials
        self.refresher = refresher
        self.clock = clock
        self._lock = _lock_for(lock_key)
        self._lock_file = lock_file
        self._tokens: Tokens | None = None

    def load(self) -> Tokens:
        """The stored tokens; raises :class:`AuthError` when there are none."""
        stored = self.credentials.load(TOKEN_NAME) if self.credentials is not None else None
        if not stored:
            raise AuthError(f"Strava is not authorized yet: {REAUTH}")
        return Tokens.from_json(stored)

    def save(self, tokens: Tokens) -> None:
        """Store ``tokens`` durably (the credential store commits before returning)."""
        if self.credentials is None:
            raise AuthError(f"no place to keep the Strava tokens: {REAUTH}")
        self.credentials.save(TOKEN_NAME, tokens.as_json())
        self._tokens = tokens

    @property
    def tokens(self) -> Tokens:
        """The tokens in use (loaded on first use)."""
        if self._tokens is None:
            self._tokens = self.load()
        return self._tokens

    def access_token(self) -> str:
        """A valid access token, refreshed first when it expires soon."""
        tokens = self.tokens
        if tokens.fresh(self.clock()) and tokens.access_token:
            return tokens.access_token
        return self.refresh(rejected=tokens.access_token)

    def refresh(self, rejected: str | None) -> str:
        """Refresh the pair (after ``rejected`` expired or got a 401) and return the new
        access token; the rotated refresh token is saved before this returns."""
        with self._lock, _file_lock(self._lock_file):
            stored = self.load()
            if (stored.access_token and stored.access_token != rejected
                    and stored.fresh(self.clock())):
                self._tokens = stored  # refreshed meanwhile by someone else: adopt it
                return stored.access_token
            self._mark_in_flight(stored)
            try:
                answer = self.refresher(stored.refresh_token)
            except AuthError:
                if stored.interrupted:  # say why the login is gone: the refresh cut short
                    raise AuthError(LOST) from None
                raise
            renewed = stored.rotated(answer)
            self.save(renewed)  # durable, and the mark gone with it, before any use
            assert renewed.access_token is not None
            return renewed.access_token

    def _mark_in_flight(self, stored: Tokens) -> None:
        """Store the pair being refreshed with the in-flight mark, durably, before asking."""
        if self.credentials is None:
            raise AuthError(f"no place to keep the Strava tokens: {REAUTH}")
        marked = {**stored.as_json(), IN_FLIGHT: int(self.clock().timestamp())}
        self.credentials.save(TOKEN_NAME, marked)

    def forget(self) -> None:
        """Delete the stored tokens (the athlete revoked access)."""
        if self.credentials is not None:
            self.credentials.delete(TOKEN_NAME)
        self._tokens = None
