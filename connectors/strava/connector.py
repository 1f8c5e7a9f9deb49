"""The Strava source: polling, resumable backfill, laps for run/walk, gear, and single
activities re-read for webhook events."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.base import Connector, ConnectorContext, FetchResult, RawRecord
from connectors.strava.api import NotFound, StravaApi
from connectors.strava.cursor import Backfill, SyncCursor, epoch
from connectors.strava.normalize import read_summary, slim, to_activity
from connectors.strava.passes import SyncPass, enrich
from syncd.errors import AuthError, InvalidResponse
from syncd.models import Activity

DEFAULT_LOOKBACK = timedelta(days=7)
DEFAULT_HISTORY = timedelta(days=56)
DEFAULT_THRESHOLD = 1.9


class StravaConnector(Connector):
    """Activities of one athlete from Strava's API.

    ``settings`` is the ``[strava]`` section: ``client_id``, ``client_secret``, ``api_url``,
    ``lookback`` (re-read window, default 7 days), ``history`` (how far back the first sync
    reaches, default 8 weeks) and ``run_speed_threshold`` (m/s, default 1.9). Tokens come from
    ``context.credentials``; ``syncd auth strava`` puts them there.
    """

    name = "strava"

    def __init__(self, settings: Any, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.api = StravaApi(settings, context)
        self.lookback: timedelta = getattr(settings, "lookback", None) or DEFAULT_LOOKBACK
        self.history: timedelta = getattr(settings, "history", None) or DEFAULT_HISTORY
        self.threshold = float(getattr(settings, "run_speed_threshold", None)
                               or DEFAULT_THRESHOLD)

    def fetch(self, cursor: str | None, *, since: date | None = None) -> FetchResult:
        """Poll for new and changed activities and continue any backfill.

        The first fetch (no cursor) backfills ``history``; ``since`` starts (or, with the same
        date, resumes) a backfill from that local date. Activities deleted on Strava within
        the look-back window come back as deleted records. Raises :class:`AuthError`,
        :class:`RateLimited` (with ``retry_at``) or :class:`TransientError` when nothing could
        be fetched; after partial progress, returns it with ``more`` set instead. ``more`` is
        also set when a backfill batch is done; a pass that stopped at the budget's reserve
        leaves it false: the next poll, in a later window, goes on.
        """
        state = SyncCursor.decode(cursor)
        self.api.budget.load(state.budget)
        if since is not None:
            state.backfill = self._backfill(state.backfill, since)
        elif state.newest is None and state.backfill is None:
            first = (self.api.clock() - self.history).astimezone(ZoneInfo(self.zone)).date()
            state.backfill = self._backfill(None, first)
        return SyncPass(self, state).run()

    def normalize(self, record: RawRecord) -> Activity:
        """The :class:`Activity` of a record from :meth:`fetch` or :meth:`fetch_activity`.

        Raises :class:`InvalidResponse` when the record lacks an id, a start, a sport type or
        an elapsed time.
        """
        return to_activity(record.payload, deleted=record.deleted, athlete=self.context.athlete,
                           timezone=self.zone, threshold=self.threshold)

    def fetch_activity(self, activity_id: int) -> RawRecord | None:
        """Read one activity in detail, with its laps (and streams where the laps do not
        separate run from walk), as a webhook event asks. ``None`` when Strava no longer has
        it (deleted, or not visible to this authorization)."""
        try:
            detail = self.api.activity(activity_id)
        except NotFound:
            return None
        summary = read_summary(detail, self.zone)
        if summary.id != activity_id:
            raise InvalidResponse(f"Strava answered activity {summary.id} when asked for "
                                  f"{activity_id}")
        payload: dict[str, Any] = {"activity": slim(detail)}
        if summary.needs_laps:
            laps = detail.get("laps")
            if not enrich(self.api, payload, summary, self.threshold,
                          laps if isinstance(laps, list) and laps else None):
                return None
        return RawRecord(str(activity_id), payload)

    def deleted_record(self, stored_payload: Any, activity_id: int) -> RawRecord:
        """A deleted record for an activity, from what was stored of it."""
        return RawRecord(str(activity_id), stored_payload, deleted=True)

    def access_revoked(self) -> bool:
        """Ask Strava whether the stored authorization still works (a revoke event is
        unsigned: it is only believed when Strava refuses the tokens)."""
        try:
            self.api.athlete()
        except AuthError:
            return True
        return False

    def forget_tokens(self) -> None:
        """Delete the stored tokens (the athlete revoked access)."""
        self.api.keeper.forget()

    def quota(self) -> dict[str, Any]:
        """Requests left in Strava's 15-minute window and day, for ``syncd status``."""
        return self.api.budget.left(self.api.clock())

    @property
    def zone(self) -> str:
        """The athlete's time zone (local dates of backfills, activities without one)."""
        return self.context.timezone or "UTC"

    def _backfill(self, current: Backfill | None, since: date) -> Backfill:
        """The backfill from local date ``since``: resumed when it is the one in progress."""
        if current is not None and current.since == since:
            return current
        midnight = datetime.combine(since, time(), tzinfo=ZoneInfo(self.zone))
        # Strava's "after" excludes its own second; one second earlier keeps midnight starts.
        return Backfill(since=since, after=epoch(midnight) - 1)
