"""The HTTP session every Strava request goes through (stravalib's included).

stravalib has no base-URL option and always talks to ``https://www.strava.com``; this
session rewrites that host to ``[strava] api_url``, so that a proxy, a mirror or the test
suite's fake server receives everything, token refresh included. It also keeps the rate
budget from each response's headers, refuses to send while the budget is used up, and turns
a 429, a 5xx, a timeout or a dropped connection into the :mod:`syncd.errors` the scheduler
acts on. It never sleeps and never retries by itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests
import structlog

from connectors.strava.budget import RateBudget
from syncd.errors import TransientError

STRAVA_ORIGIN = "https://www.strava.com"
DEFAULT_TIMEOUT_S = 30.0

log = structlog.get_logger("connectors.strava")


class StravaSession(requests.Session):
    """A :class:`requests.Session` pointed at ``api_url`` and bound to a :class:`RateBudget`."""

    def __init__(self, api_url: str, budget: RateBudget, clock: Callable[[], datetime],
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.budget = budget
        self.clock = clock
        self.timeout_s = timeout_s
        self.headers["User-Agent"] = "syncd"

    def rewrite(self, url: str) -> str:
        """``url`` with Strava's origin replaced by ``api_url``."""
        if url.startswith(STRAVA_ORIGIN):
            return self.api_url + url[len(STRAVA_ORIGIN):]
        return url

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        """Send one request, or raise instead of breaking a rate limit.

        Raises :class:`syncd.errors.RateLimited` (before sending when the budget is used up,
        or after a 429) and :class:`syncd.errors.TransientError` on a timeout, a connection
        failure or a 5xx. Other statuses are returned for the caller to judge.
        """
        method_name = method.decode() if isinstance(method, bytes) else method
        target = self.rewrite(url.decode() if isinstance(url, bytes) else url)
        path = target.removeprefix(self.api_url).split("?", 1)[0]
        self.budget.check(self.clock())
        kwargs.setdefault("timeout", self.timeout_s)
        try:
            response = super().request(method_name, target, *args, **kwargs)
        except requests.Timeout:
            raise TransientError(f"Strava did not answer {method_name} {path} within "
                                 f"{self.timeout_s:g} s; syncd will retry later") from None
        except requests.ConnectionError as err:
            reason = type(err.__context__ or err).__name__
            raise TransientError(f"cannot reach Strava at {self.api_url} ({reason}); check the "
                                 "network; syncd will retry later") from None
        self.budget.observe(response.headers, response.status_code, self.clock())
        log.debug("strava request", method=method_name, path=path, status=response.status_code)
        if response.status_code == 429:
            self.budget.check(self.clock())
        if response.status_code >= 500:
            raise TransientError(f"Strava answered {response.status_code} to {method_name} "
                                 f"{path}; syncd will retry later")
        return response
