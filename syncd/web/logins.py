"""Dashboard log-ins and the brake on token guesses.

- :class:`LoginSessions`: a browser that logs in gets a random session id in its cookie (a new
  one at every log-in, never derived from the token), valid for :data:`SESSION_LIFETIME` or
  until ``POST /logout``; the session remembers the name of the token typed (who acts).
  The ids live in this process's memory, hashed: a restart logs every
  browser out, and each replica keeps its own (the dashboard is reached on a replica's own
  address; only the Strava callback and onboarding pages go through ``public_url``).
- :class:`GuessThrottle`: after :data:`FREE_GUESSES` wrong tokens from one client address
  (a log-in form or a bearer header), each further try waits twice as long as the last, up to
  :data:`MAX_BACKOFF`; a try during the wait is refused without looking at the token, so the
  right token guessed then does not pass either. Behind a reverse proxy every client has the
  proxy's address: the brake then holds for everyone, which is the safe side.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SESSION_LIFETIME = timedelta(hours=12)
MAX_SESSIONS = 1000
FREE_GUESSES = 5
MAX_BACKOFF = timedelta(minutes=5)
# Wrong tries older than this are forgotten (a typo yesterday does not count today).
GUESS_MEMORY = timedelta(minutes=15)
MAX_CLIENTS = 10_000


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


@dataclass
class LoginSessions:
    """Open dashboard sessions (see the module's description)."""

    lifetime: timedelta = SESSION_LIFETIME
    limit: int = MAX_SESSIONS
    _expires: dict[str, datetime] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, now: datetime, name: str = "") -> str:
        """A new session id for the holder of the token named ``name``, valid until ``now +
        lifetime``; the oldest session ends when :attr:`limit` are open."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._expires = {k: v for k, v in self._expires.items() if v > now}
            while len(self._expires) >= self.limit:
                del self._expires[min(self._expires, key=self._expires.__getitem__)]
            self._names = {k: v for k, v in self._names.items() if k in self._expires}
            self._expires[_digest(session_id)] = now + self.lifetime
            self._names[_digest(session_id)] = name
        return session_id

    def valid(self, session_id: str, now: datetime) -> bool:
        """True when ``session_id`` was opened here, has not expired and was not ended."""
        with self._lock:
            expires = self._expires.get(_digest(session_id))
        return expires is not None and now < expires

    def name_of(self, session_id: str, now: datetime) -> str | None:
        """The token name the live session ``session_id`` logged in with (``None``: no such
        live session)."""
        if not self.valid(session_id, now):
            return None
        with self._lock:
            return self._names.get(_digest(session_id))

    def end(self, session_id: str) -> None:
        """End the session (a log-out); an unknown id is ignored."""
        with self._lock:
            self._expires.pop(_digest(session_id), None)
            self._names.pop(_digest(session_id), None)


@dataclass
class _Guesses:
    wrong: int
    last_at: datetime


@dataclass
class GuessThrottle:
    """Wrong tokens per client address and the wait they impose (see the module)."""

    free: int = FREE_GUESSES
    max_backoff: timedelta = MAX_BACKOFF
    _clients: dict[str, _Guesses] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, client: str, now: datetime) -> timedelta:
        """How long ``client`` must wait before its token is checked again (zero: now)."""
        with self._lock:
            guesses = self._clients.get(client)
        if guesses is None or guesses.wrong < self.free:
            return timedelta(0)
        backoff = min(timedelta(seconds=2 ** (guesses.wrong - self.free)), self.max_backoff)
        return max(guesses.last_at + backoff - now, timedelta(0))

    def failed(self, client: str, now: datetime) -> None:
        """Count a wrong token from ``client``."""
        with self._lock:
            guesses = self._clients.get(client)
            if guesses is None or now - guesses.last_at > GUESS_MEMORY:
                guesses = self._clients[client] = _Guesses(0, now)
            guesses.wrong += 1
            guesses.last_at = now
            if len(self._clients) > MAX_CLIENTS:  # forget the longest quiet one
                del self._clients[min(self._clients, key=lambda c: self._clients[c].last_at)]

    def succeeded(self, client: str) -> None:
        """The right token: ``client``'s wrong tries are forgotten."""
        with self._lock:
            self._clients.pop(client, None)


def logins_of(state: Any) -> tuple[LoginSessions, GuessThrottle]:
    """The sessions and the throttle of a web application (its ``app.state``), made on
    first use."""
    found = getattr(state, "logins", None)
    if found is None:
        found = state.logins = (LoginSessions(), GuessThrottle())
    return found
