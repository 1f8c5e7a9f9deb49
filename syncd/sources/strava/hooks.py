"""Strava's hooks: a clinic's shared read budget (one coordinator for every athlete), the
webhook callback and its inbox of events, ``syncd auth strava`` and ``syncd strava ...``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from syncd.sources.hooks import AddCommand, Coordinator, EventInbox, SourceHooks
from syncd.sources.strava import cli
from syncd.sources.strava.inbox import drain_inbox, inbox_events
from syncd.sources.strava.planner import EventAllowance
from syncd.sources.strava.retention import purge_strava_raw
from syncd.store.credentials import STRAVA_TOKENS

if TYPE_CHECKING:
    from fastapi import APIRouter

    from syncd.app import App
    from syncd.clinic import Clinic


@dataclass
class StravaInbox:
    """The webhook events each athlete's inbox holds, served within what each athlete's
    events may read (the allowance lives as long as the daemon)."""

    allowance: EventAllowance = field(default_factory=EventAllowance)

    def waiting(self, app: App) -> bool:
        """True when ``app``'s athlete has Strava events waiting in the inbox."""
        with app.store.read() as tx:
            return bool(inbox_events(tx, app.athlete_id))

    def drain(self, app: App) -> None:
        """Serve the athlete's waiting events within their allowance."""
        drain_inbox(app, self.allowance)


class StravaHooks(SourceHooks):
    """The Strava API, polled and told of changes by its webhook."""

    title = "Strava"
    status_key = "strava_quota"
    credential = STRAVA_TOKENS

    def coordinator(self, clinic: Clinic) -> Coordinator | None:
        """In a clinic, one coordinator shares the application's request budget among the
        athletes; a single athlete is polled like any source."""
        if not clinic.settings.clinic:
            return None
        from syncd.sources.strava.coordinator import StravaCoordinator  # loads the store

        return StravaCoordinator(clinic)

    def coordinator_status(self, coordinator: Coordinator, now: datetime) -> dict[str, object]:
        """The shared quota: what was read, what is left, the poll interval it allows."""
        from syncd.sources.strava.coordinator import StravaCoordinator

        assert isinstance(coordinator, StravaCoordinator)
        status: dict[str, object] = coordinator.quota_status(now)
        return status

    def upkeep(self, app: App) -> None:
        """Drop the raw records older than ``[strava] raw_retention`` (Strava's terms)."""
        purge_strava_raw(app)

    def inbox(self) -> EventInbox:
        """The inbox the webhook callback stores events in."""
        return StravaInbox()

    def register_commands(self, add: AddCommand) -> None:
        """``syncd auth strava`` and ``syncd strava subscribe|subscriptions|unsubscribe``."""
        cli.register(add)

    def routes(self) -> list[APIRouter]:
        """The webhook callback, and the Strava authorization of an invite link
        (``/onboard/{token}/strava``, ``/onboard/strava/callback``)."""
        from syncd.sources.strava import callback, onboarding

        return [callback.router, onboarding.router]

    def public_paths(self) -> list[str]:
        """Strava posts from the internet, unsigned and without our token: the callback
        checks what it can itself."""
        return [cli.CALLBACK_PATH]
