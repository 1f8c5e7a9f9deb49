"""Shared bits of the Garmin tests: the fixed clock, the athlete's zone, short retries."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.garmin import Retry

# The recorded activities are from early January 2026, around Mexico City.
NOW = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)
ZONE = "America/Mexico_City"
# Retries are garminconnect's own backoff; the tests keep its waits short.
FAST_RETRY = Retry(attempts=1, min_wait=0.01, max_wait=0.02)
