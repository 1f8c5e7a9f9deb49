"""Garmin Connect, through garminconnect 0.3 and a token store.

A human logs in once (``syncd auth garmin``, with MFA); from then on the connector runs from
the token store alone and never holds a password. Garmin's own run/walk detection
(``RWD_RUN``, ``RWD_WALK``, ``RWD_STAND``) gives each run's running and walking time; the
request policy (:mod:`connectors.garmin.fetching`) asks for more only where the activity
list lacks what the rules need. 401 after a token refresh raises :class:`AuthError`, 427 and
429 raise :class:`RateLimited` until ``now + [garmin] backoff``: neither is retried in a loop.
5xx answers and timeouts are retried inside the call (garminconnect's backoff), then raise
:class:`TransientError`.

Polls list from the newest local date seen minus ``[garmin] lookback`` (the first poll: the
last 30 days, the longest history a rule reads). ``fetch(None, since=DATE)`` backfills from
``DATE``, 1,000 activities a pass; the cursor says where an unfinished backfill stopped and the
next pass continues there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from connectors.base import Connector, ConnectorContext, FetchResult, RawRecord
from connectors.garmin import tokens
from connectors.garmin.cursor import GarminCursor
from connectors.garmin.fetching import FetchPass, Policy, Window
from connectors.garmin.normalize import SOURCE, build_activity
from connectors.garmin.session import DEFAULT_RETRY, GarminSession, Retry
from syncd.errors import ConfigError
from syncd.models import Activity

__all__ = ["GarminConnector", "Policy", "Retry"]

FIRST_POLL = timedelta(days=30)
_DEFAULTS: dict[str, Any] = {
    "api_url": None, "token_store": None, "lookback": timedelta(days=7),
    "backoff": timedelta(hours=6), "run_speed_threshold": 1.9, "fetch_feel": False,
}


class GarminConnector(Connector):
    """Activities and shoes from Garmin Connect (``[garmin]`` settings)."""

    name: ClassVar[str] = SOURCE

    def __init__(self, settings: Any, context: ConnectorContext, *, retry: Retry = DEFAULT_RETRY,
                 timeout: float = 30.0, policy: Policy | None = None) -> None:
        super().__init__(settings, context)
        self.retry = retry
        self.timeout = timeout
        self.policy = policy or Policy(fetch_feel=bool(self.setting("fetch_feel")))
        self._session: GarminSession | None = None

    def setting(self, name: str) -> Any:
        """A ``[garmin]`` setting, or its default when there is no section."""
        value = getattr(self.settings, name, None)
        return _DEFAULTS[name] if value is None else value

    @property
    def token_dir(self) -> Path:
        """The token store folder: ``[garmin] token_store``, else ``garmin/`` in the state
        directory."""
        if self.context.state.get("token_dir") is not None:  # one athlete of a clinic
            return Path(self.context.state["token_dir"])
        token_store = self.setting("token_store")
        state_dir = self.context.state.get("state_dir")  # syncd always passes its own
        if token_store is None and state_dir is None:
            raise ConfigError(["garmin.token_store: not set, and no state directory to keep "
                               "the Garmin tokens in; set [garmin] token_store"])
        return tokens.default_token_dir(token_store, Path(state_dir or "."))

    def session(self) -> GarminSession:
        """The API session, opened from the token store on first use and then reused."""
        if self._session is None:
            session = GarminSession(self.token_dir, api_url=self.setting("api_url"),
                                    now=self._now, backoff=self.setting("backoff"),
                                    retry=self.retry, timeout=self.timeout)
            session.open()
            self._session = session
        return self._session

    def fetch(self, cursor: str | None, *, since: date | None = None) -> FetchResult:
        """List what is new since ``cursor`` (or backfill from ``since``) and fetch what each
        new or changed activity needs. See :class:`connectors.base.Connector`."""
        state = GarminCursor.load(cursor)
        session = self.session()
        run = FetchPass(session, state, self.policy, self._now,
                        saved_profile_id=tokens.load_profile_id(self.token_dir))
        return run.run(self._window(state, since), self.setting("lookback"))

    def _window(self, state: GarminCursor, since: date | None) -> Window:
        """Continue an unfinished backfill, start one, or poll the look-back window."""
        backfill = state.backfill
        if backfill is not None and since in (None, backfill.since):
            return Window(backfill.resume_date, backfill.skip, backfill.since)
        if since is not None:
            return Window(since, 0, since)
        if state.newest is None:
            return Window(self._today() - FIRST_POLL)
        return Window(state.newest - self.setting("lookback"))

    def normalize(self, record: RawRecord) -> Activity:
        """The activity for one Garmin record. Raises
        :class:`syncd.errors.InvalidResponse` when it cannot be read."""
        if record.deleted:
            return _deleted(record.source_id, self.context.athlete)
        return build_activity(record.payload, athlete=self.context.athlete,
                              athlete_zone=self.context.timezone,
                              run_speed_threshold=float(self.setting("run_speed_threshold")))

    def _now(self) -> datetime:
        # The context's default clock is naive local time; astimezone reads it as such.
        return self.context.now().astimezone(UTC)

    def _today(self) -> date:
        return self._now().astimezone(ZoneInfo(self.context.timezone)).date()


def _deleted(activity_id: str, athlete: str) -> Activity:
    """A deletion notice: only the identity matters, the store keeps the row's data."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return Activity(source=SOURCE, source_id=activity_id, sport="other", sport_type="deleted",
                    start_utc=epoch, local_start=epoch.replace(tzinfo=None), elapsed_s=0.0,
                    deleted=True, athlete=athlete)
