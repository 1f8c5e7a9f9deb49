"""Helpers of the Strava tests (kept out of conftest.py so that tests can import them)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from connectors.base import ConnectorContext, CredentialStore
from connectors.strava import StravaConnector
from syncd.config import Settings, load_settings
from syncd.config.sections import StravaSection
from tests.strava.fake_strava import (
    CLIENT_ID,
    CLIENT_SECRET,
    FakeStrava,
    bouts_laps,
    bouts_streams,
    summary,
)
from tests.support.clock import Clock
from tests.support.config import write_config

# A Monday morning in the athlete's autumn; the fake's activities lie before it.
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def strava_settings(api_url: str, **extra: object) -> StravaSection:
    """The ``[strava]`` section pointing at the fake."""
    return StravaSection.model_validate({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                         "api_url": api_url, **extra})


def make_connector(settings: StravaSection, credentials: CredentialStore,
                   clock: Clock) -> StravaConnector:
    """A connector for athlete "ana" in Berlin."""
    return StravaConnector(settings, ConnectorContext(
        athlete="ana", timezone="Europe/Berlin", credentials=credentials, now=clock))


RUN_WALK = [(120, 2.8), (600, 1.4), (120, 2.9), (600, 1.3)]  # laps that separate
STEADY = [(300, 3.0), (60, 1.2), (300, 3.1), (60, 1.1)]  # bouts inside one lap


def publish(fake: FakeStrava, activity_id: int, start: datetime, *, sport_type: str = "Run",
            laps: list[tuple[int, float]] | None = None,
            stream: list[tuple[int, float]] | None = None, **fields: Any) -> dict[str, Any]:
    """An activity on the fake, with laps of the given bouts (one lap over ``stream``'s bouts
    when only a stream is given) and that stream."""
    bouts = laps or stream or [(1800, 2.6)]
    elapsed = sum(seconds for seconds, _ in bouts)
    distance = round(sum(seconds * speed for seconds, speed in bouts), 1)
    item = summary(activity_id, start, sport_type=sport_type, elapsed_s=elapsed,
                   distance_m=distance, **fields)
    lap_bouts = laps if laps else [(elapsed, distance / elapsed)]
    return fake.add(item, bouts_laps(activity_id, start, lap_bouts),
                    bouts_streams(stream) if stream else None)


def app_settings(folder: Path, api_url: str, *, plan_start: str | None = None,
                 strava: str = "") -> Settings:
    """Whole settings: athlete "ana" in Berlin on the hip plan, SQLite in ``folder``, Strava at
    ``api_url`` (``strava``: more lines for the section)."""
    config = write_config(
        folder, athlete={"plan": None, "plan_start": date.fromisoformat(plan_start)
                         if plan_start else None},
        strava={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_url": api_url},
        extra=strava)
    return load_settings(config, env={"STATE_DIRECTORY": str(folder / "state")})
