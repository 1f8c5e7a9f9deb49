"""The Strava source (stravalib): OAuth with rotating tokens, polling and resumable backfill
within Strava's rate limits, run/walk splits from laps or the speed stream, gear, and the
single-activity reads that webhook events trigger."""

from __future__ import annotations

from connectors.strava.connector import StravaConnector

__all__ = ["StravaConnector"]
