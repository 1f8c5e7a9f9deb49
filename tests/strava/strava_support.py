"""Helpers of the Strava tests (kept out of conftest.py so that tests can import them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fake_strava import CLIENT_ID, CLIENT_SECRET

from connectors.base import ConnectorContext, CredentialStore
from connectors.strava import StravaConnector
from syncd.config import StravaSection

# A Monday morning in the athlete's autumn; the fake's activities lie before it.
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand, shared by the fake server and syncd."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock forward."""
        self.now += timedelta(**delta)
        return self.now


def strava_settings(api_url: str, **extra: object) -> StravaSection:
    """The ``[strava]`` section pointing at the fake."""
    return StravaSection.model_validate({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                         "api_url": api_url, **extra})


def make_connector(settings: StravaSection, credentials: CredentialStore,
                   clock: Clock) -> StravaConnector:
    """A connector for athlete "ana" in Berlin."""
    return StravaConnector(settings, ConnectorContext(
        athlete="ana", timezone="Europe/Berlin", credentials=credentials, now=clock))
