"""A Garmin Connect session run from the token store, with garminconnect's errors turned into
syncd's.

garminconnect's host names are fixed, but its client keeps them in four attributes:
``_connectapi`` (the API tier), ``_connect`` and ``_sso`` (sign-in) and ``_di_token_url``
(token exchange and refresh). :func:`point_at` sets all four from ``[garmin] api_url``, so that
tests, proxies and mirrors stand in for every Garmin host at once.

The daemon never calls ``Garmin.login()``: from a token store that call spends two requests on
the profile and settings, retries them with sleeps, and reports a rate limit as a failed
login. It loads the tokens instead; garminconnect refreshes the access token when it is
about to expire (or on a 401, once) and syncd writes a rotated refresh token to disk as soon
as a call returns with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from garminconnect import (
    Garmin,
    GarminConnectAuthenticationError,
    GarminConnectTooManyRequestsError,
)

from connectors.garmin import tokens
from syncd.errors import AuthError, InvalidResponse, RateLimited, SyncdError, TransientError

DI_TOKEN_PATH = "/di-oauth2-service/oauth/token"  # noqa: S105 - a URL path, not a secret
REAUTH_HINT = "run `syncd auth garmin`"
_STATUS = re.compile(r"(?:API Error|Error|HTTP)\s*\(?(\d{3})\b")


@dataclass(frozen=True, slots=True)
class Retry:
    """How garminconnect retries 5xx answers and network errors inside one call (exponential
    backoff with jitter between ``min_wait`` and ``max_wait`` seconds). 401, 427 and 429 are
    never retried: they end the poll and the source backs off."""

    attempts: int = 2
    min_wait: float = 1.0
    max_wait: float = 8.0


DEFAULT_RETRY = Retry()


def point_at(garmin: Garmin, api_url: str | None) -> None:
    """Send every request of ``garmin`` (sign-in, tokens, API) to ``api_url`` instead of
    Garmin's hosts; ``None`` keeps Garmin's."""
    if not api_url:
        return
    base = api_url.rstrip("/")
    client = garmin.client
    client._connectapi = base
    client._connect = base
    client._sso = base
    client._di_token_url = base + DI_TOKEN_PATH


def new_garmin(api_url: str | None, retry: Retry = DEFAULT_RETRY, **kwargs: Any) -> Garmin:
    """A garminconnect client pointed at ``api_url``."""
    garmin = Garmin(retry_attempts=retry.attempts, retry_min_wait=retry.min_wait,
                    retry_max_wait=retry.max_wait, **kwargs)
    point_at(garmin, api_url)
    return garmin


def status_of(err: BaseException) -> int | None:
    """The HTTP status behind a garminconnect error, when there is one."""
    for current in _chain(err):
        status = getattr(getattr(current, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        if match := _STATUS.search(str(current)):
            return int(match.group(1))
    return None


def _chain(err: BaseException) -> list[BaseException]:
    """``err`` and its causes, outermost first."""
    found: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and current not in found:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def translate(err: Exception, what: str, retry_at: datetime) -> SyncdError:
    """The syncd error for a failed Garmin call about ``what``."""
    status = status_of(err)
    if isinstance(err, GarminConnectAuthenticationError) or status in (401, 403):
        return AuthError(f"Garmin login needs attention: Garmin refused syncd's saved login "
                         f"(HTTP {status or 401}) on {what}, even after refreshing it; "
                         f"{REAUTH_HINT}")
    if isinstance(err, GarminConnectTooManyRequestsError) or status in (427, 429):
        return RateLimited(f"Garmin login needs attention: Garmin is refusing requests "
                           f"(HTTP {status or 429}) on {what}; syncd pauses Garmin until "
                           f"{retry_at:%Y-%m-%d %H:%M} UTC, and if it persists, "
                           f"{REAUTH_HINT}", retry_at=retry_at)
    if status is not None and 400 <= status < 500:
        return InvalidResponse(f"Garmin answered HTTP {status} for {what}")
    if status is None and not _network_failure(err):
        return InvalidResponse(f"Garmin sent something unreadable for {what}")
    return TransientError(f"cannot reach Garmin for {what} ({_reason(status, err)}); "
                          "syncd tries again later")


def _network_failure(err: BaseException) -> bool:
    """True when a connection error or a timeout is behind ``err``."""
    return any(isinstance(e, requests.ConnectionError | requests.Timeout) for e in _chain(err))


def _reason(status: int | None, err: BaseException) -> str:
    if status is not None:
        return f"HTTP {status}"
    timed_out = any(isinstance(e, requests.Timeout) for e in _chain(err))
    return "timed out" if timed_out else "connection failed"


class GarminSession:
    """Calls to the Garmin Connect API from one token store."""

    def __init__(self, folder: Path, *, api_url: str | None, now: Callable[[], datetime],
                 backoff: timedelta, retry: Retry = DEFAULT_RETRY, timeout: float = 30.0) -> None:
        self.folder = folder
        self.now = now
        self.backoff = backoff
        self.timeout = timeout
        self.garmin = new_garmin(api_url, retry)
        self._saved_refresh: str | None = None

    def open(self) -> None:
        """Load the tokens. Raises :class:`AuthError` when there is no usable token store."""
        path = tokens.token_file(self.folder)
        if not path.is_file():
            raise AuthError(f"Garmin login needs attention: no Garmin login is stored in "
                            f"{self.folder}; {REAUTH_HINT}")
        try:
            self.garmin.client.load(str(self.folder))
        except Exception as err:  # garminconnect wraps every load problem the same way
            # Its messages name the problem (unreadable JSON, a symlinked path), never a token.
            reason = str(err.__cause__ or err).splitlines()[0][:200]
            raise AuthError(f"Garmin login needs attention: the token store {path} cannot be "
                            f"used ({reason}); {REAUTH_HINT}") from None
        self._saved_refresh = self.garmin.client.di_refresh_token

    def get(self, path: str, what: str, params: dict[str, Any] | None = None) -> Any:
        """GET ``path`` and return its JSON. A refused, throttled or unreachable API raises
        :class:`AuthError`, :class:`RateLimited` or :class:`TransientError`; any other failure
        :class:`InvalidResponse` (the caller decides whether that skips one item)."""
        return self.call(lambda garmin: garmin.connectapi(path, params=params,
                                                          timeout=self.timeout), what)

    def call(self, action: Callable[[Garmin], Any], what: str) -> Any:
        """Run ``action`` on the garminconnect client (any of its calls) and return what it
        returns, with the errors of :meth:`get`."""
        try:
            return self._call(action)
        except GarminConnectAuthenticationError as err:
            # Another syncd process may have rotated the refresh token under us.
            if not self._reload_if_rotated():
                raise self._error(err, what) from err
        except Exception as err:
            raise self._error(err, what) from err
        try:
            return self._call(action)
        except Exception as err:
            raise self._error(err, what) from err

    def _call(self, action: Callable[[Garmin], Any]) -> Any:
        """One call through garminconnect, then persist a refresh token it rotated."""
        try:
            return action(self.garmin)
        finally:
            self.save_rotated_tokens()

    def _error(self, err: Exception, what: str) -> SyncdError:
        return translate(err, what, self.now() + self.backoff)

    def save_rotated_tokens(self) -> None:
        """Write the tokens when the refresh token changed since they were last written."""
        client = self.garmin.client
        if client.di_refresh_token and client.di_refresh_token != self._saved_refresh:
            tokens.write_private(tokens.token_file(self.folder), client.dumps())
            self._saved_refresh = client.di_refresh_token

    def _reload_if_rotated(self) -> bool:
        """Load the tokens again when the file holds another refresh token than ours."""
        on_disk = tokens.stored_refresh_token(self.folder)
        if on_disk is None or on_disk == self.garmin.client.di_refresh_token:
            return False
        self.open()
        return True
