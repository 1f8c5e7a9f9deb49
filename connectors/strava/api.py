"""Strava's API v3 with syncd's tokens, budget and errors.

Every athlete call goes through :meth:`StravaApi._call`: a valid access token first (refreshed
ahead of expiry), one refresh and retry after a 401, and failures turned into
:mod:`syncd.errors`. Reads come back as raw JSON through the session (the connector judges
each list item on its own: one bad item must not cost the page) and are checked with
stravalib's models; the token exchange and refresh and the webhook subscription go through
stravalib's client, over the same session.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pydantic
import requests
from stravalib import exc
from stravalib.client import Client
from stravalib.model import Stream
from stravalib.protocol import ApiV3
from stravalib.strava_model import DetailedGear

from connectors.base import ConnectorContext
from connectors.strava.budget import RateBudget, budget_for
from connectors.strava.session import StravaSession
from connectors.strava.tokens import REAUTH, TokenKeeper, Tokens
from syncd.errors import AuthError, ConfigError, InvalidResponse, TransientError

T = TypeVar("T")

REVOKED = f"Strava access revoked or expired: {REAUTH}"
SCOPES = ("read", "activity:read_all", "profile:read_all")
STREAM_TYPES = ["time", "velocity_smooth", "distance"]
PER_PAGE = 200  # Strava's maximum


class NotFound(Exception):
    """Strava says the object does not exist (deleted, or not visible to this token)."""


# stravalib logs every request at INFO; the session already logs each one (path and status)
# at debug, so its own line is only wanted when something is wrong.
_PROTOCOL_LOG = logging.getLogger("connectors.strava.stravalib")
_PROTOCOL_LOG.setLevel(logging.WARNING)


class _Protocol(ApiV3):
    """stravalib's protocol without its own token refresh.

    stravalib refreshes by itself when ``STRAVA_CLIENT_ID``/``STRAVA_CLIENT_SECRET`` are in the
    environment, and would then use a rotated refresh token that nobody saved. The
    :class:`TokenKeeper` does every refresh instead.
    """

    def __init__(self, requests_session: requests.Session) -> None:
        super().__init__(requests_session=requests_session)
        self.log = _PROTOCOL_LOG

    def _check_credentials(self) -> None:
        self.client_id = None
        self.client_secret = None


class _Client(Client):
    """stravalib's client over :class:`_Protocol` and syncd's session, with no sleeping rate
    limiter: the session keeps the budget and raises instead of waiting."""

    def __init__(self, session: requests.Session) -> None:
        # Client.__init__ would build a plain ApiV3 (and log warnings about the environment).
        self.log = logging.getLogger("stravalib.client.Client")
        self.protocol = _Protocol(requests_session=session)


class StravaApi:
    """The calls syncd makes, for one athlete (tokens) of one application (budget)."""

    def __init__(self, settings: Any, context: ConnectorContext) -> None:
        self.settings = settings
        self.api_url: str = str(getattr(settings, "api_url", None) or "https://www.strava.com")
        client_id = getattr(settings, "client_id", None)
        self.budget: RateBudget = budget_for(f"{self.api_url}|{client_id}")
        self.clock = utc_clock(context.now)
        self.session = StravaSession(self.api_url, self.budget, self.clock)
        self.client = _Client(self.session)
        lock_key = f"{self.api_url}|{context.athlete}"
        state_dir = context.state.get("state_dir")
        lock_file = (Path(state_dir) / "locks" / f"strava-{_digest(lock_key)}.lock"
                     if state_dir else None)
        self.keeper = TokenKeeper(context.credentials, self._refresh_grant, self.clock,
                                  lock_key=lock_key, lock_file=lock_file)

    # -- application credentials and tokens ---------------------------------------------------

    def app_credentials(self) -> tuple[int, str]:
        """(client_id, client_secret) from the settings; :class:`ConfigError` when missing."""
        client_id = getattr(self.settings, "client_id", None)
        secret = getattr(self.settings, "client_secret", None)
        problems = []
        if not client_id or not str(client_id).isdigit():
            problems.append("strava.client_id: set it to your Strava API application's number "
                            "(https://www.strava.com/settings/api)")
        if secret is None or not _secret(secret):
            problems.append("strava.client_secret: give the application's secret (as "
                            "client_secret_file or SYNCD_STRAVA_CLIENT_SECRET)")
        if problems:
            raise ConfigError(problems)
        return int(str(client_id)), _secret(secret)

    def _refresh_grant(self, refresh_token: str) -> Mapping[str, Any]:
        client_id, secret = self.app_credentials()
        self.client.access_token = None
        try:
            return self.client.protocol.refresh_access_token(client_id, secret, refresh_token)
        except exc.ApplicationInactive:
            raise AuthError(self._inactive()) from None
        except exc.Fault as err:
            status = err.response.status_code if err.response is not None else None
            if status in (400, 401, 403):
                raise AuthError(REVOKED) from None
            raise InvalidResponse(f"Strava refused the token refresh ({status})") from None
        except requests.exceptions.JSONDecodeError:
            raise TransientError("Strava's token answer is not JSON; syncd will retry") from None

    def exchange_code(self, code: str) -> Tokens:
        """Trade an authorization code for tokens (not saved: the caller decides)."""
        client_id, secret = self.app_credentials()
        try:
            info, athlete = self.client.protocol.exchange_code_for_token(
                client_id, secret, code, return_athlete=True)
        except exc.Fault as err:
            status = err.response.status_code if err.response is not None else None
            raise AuthError(f"Strava refused the authorization code ({status}): it is used "
                            f"once and expires quickly; {REAUTH} again") from None
        answer = {**info, "athlete": athlete or {}}
        return Tokens(refresh_token=info["refresh_token"]).rotated(answer)

    # -- reads --------------------------------------------------------------------------------

    def list_activities(self, after: int, per_page: int = PER_PAGE) -> list[Any]:
        """One page of the athlete's activities that started after ``after`` (epoch seconds),
        oldest first, as raw JSON."""
        page = self._get("/athlete/activities", "the activity list",
                         after=after, per_page=per_page, page=1)
        if not isinstance(page, list):
            raise TransientError("Strava sent an activity list that is not a list; syncd will "
                                 "retry later")
        return page

    def activity(self, activity_id: int) -> dict[str, Any]:
        """The detailed activity (laps included) as raw JSON; :class:`NotFound` when gone."""
        detail = self._get(f"/activities/{activity_id}", f"activity {activity_id}")
        if not isinstance(detail, dict):
            raise InvalidResponse(f"Strava sent activity {activity_id} as something else than "
                                  "an object")
        return detail

    def laps(self, activity_id: int) -> list[Any]:
        """The activity's laps as raw JSON."""
        laps = self._get(f"/activities/{activity_id}/laps",
                         f"the laps of activity {activity_id}")
        if not isinstance(laps, list):
            raise InvalidResponse(f"Strava sent the laps of activity {activity_id} as "
                                  "something else than a list")
        return laps

    def streams(self, activity_id: int) -> dict[str, list[Any]]:
        """The time, velocity_smooth and distance streams (those that exist), by type."""
        what = f"the streams of activity {activity_id}"
        # The request stravalib's get_activity_streams makes (keys, key_by_type), without its
        # JSON-schema rebuild on every call (a millisecond each, for 1,000s of runs).
        raw = self._get(f"/activities/{activity_id}/streams", what,
                        keys=",".join(STREAM_TYPES), key_by_type="true")
        if not isinstance(raw, dict):
            raise InvalidResponse(f"Strava sent {what} as something else than an object keyed "
                                  "by type")
        streams = self._mapped(lambda: {name: Stream.model_validate(value)
                                        for name, value in raw.items()}, what)
        return {name: list(stream.data or []) for name, stream in streams.items()}

    def athlete(self) -> dict[str, Any]:
        """The authenticated athlete (with their shoes) as raw JSON."""
        athlete = self._get("/athlete", "the athlete")
        if not isinstance(athlete, dict):
            raise InvalidResponse("Strava sent the athlete as something else than an object")
        return athlete

    def gear(self, gear_id: str) -> dict[str, Any]:
        """One piece of gear (name, distance in metres, retired)."""
        gear = self._get(f"/gear/{gear_id}", f"gear {gear_id}")
        # Validated by stravalib's model, read raw: the model drops ``retired``.
        self._mapped(lambda: DetailedGear.model_validate(gear), f"gear {gear_id}")
        if not isinstance(gear, dict):
            raise InvalidResponse(f"Strava sent gear {gear_id} as something else than an object")
        return gear

    # -- webhook subscriptions (application credentials, no athlete token) --------------------

    def create_subscription(self, callback_url: str, verify_token: str) -> dict[str, Any]:
        """Subscribe the application to webhook events; Strava validates the callback first."""
        client_id, secret = self.app_credentials()
        created = self._app_call(lambda: self.client.create_subscription(
            client_id, secret, callback_url, verify_token), "the subscription")
        return created.model_dump(mode="json")

    def list_subscriptions(self) -> list[dict[str, Any]]:
        """The application's webhook subscriptions (at most one)."""
        client_id, secret = self.app_credentials()
        return self._app_call(lambda: [s.model_dump(mode="json") for s in
                                       self.client.list_subscriptions(client_id, secret)],
                              "the subscriptions")

    def delete_subscription(self, subscription_id: int) -> None:
        """End a webhook subscription; :class:`NotFound` when it does not exist."""
        client_id, secret = self.app_credentials()
        self._app_call(lambda: self.client.delete_subscription(
            subscription_id, client_id, secret), f"subscription {subscription_id}")

    # -- requests and error mapping -----------------------------------------------------------

    def _get(self, path: str, what: str, **params: Any) -> Any:
        """GET ``/api/v3{path}`` as raw JSON, with the athlete's token (see :meth:`_call`).

        The reads go through the session directly rather than through stravalib's protocol:
        the same request and the same errors, without decoding every body twice (a list page
        is 200 activities, a stream thousands of samples)."""
        url = f"{self.api_url}/api/v3{path}"

        def request() -> Any:
            """One try, with the token :meth:`_call` just set."""
            token = self.client.access_token
            response = self.session.get(url, params=params,
                                        headers={"Authorization": f"Bearer {token}"})
            return self._body(response, what)

        return self._call(request, what)

    def _body(self, response: requests.Response, what: str) -> Any:
        """The JSON of a response, or the error its status means."""
        status = response.status_code
        if status == 401:
            raise exc.AccessUnauthorized("401 Unauthorized", response=response)
        if status == 404:
            raise NotFound(what)
        if status >= 400:
            errors = _errors(response)
            if status == 403 and any(e.get("resource") == "Application" and
                                     e.get("code") == "Inactive" for e in errors):
                raise AuthError(self._inactive())
            raise self._fault(exc.Fault(str(status), response=response), what)
        try:
            return response.json()
        except requests.exceptions.JSONDecodeError:
            raise TransientError(f"Strava sent {what} in a body that is not JSON; syncd will "
                                 "retry later") from None

    def _call(self, request: Callable[[], T], what: str) -> T:
        """Run ``request`` with a valid token; refresh once after a 401."""
        token = self.keeper.access_token()
        for attempt in (1, 2):
            self.client.access_token = token
            try:
                return self._mapped(request, what)
            except exc.AccessUnauthorized:
                if attempt == 2:
                    break
                token = self.keeper.refresh(rejected=token)
        raise AuthError(REVOKED)

    def _app_call(self, request: Callable[[], T], what: str) -> T:
        """Run a request authenticated by the application's credentials alone."""
        self.client.access_token = None
        try:
            return self._mapped(request, what)
        except exc.AccessUnauthorized:
            raise ConfigError(["strava.client_id / strava.client_secret: Strava does not "
                               "accept them; copy both from https://www.strava.com/settings/api"]
                              ) from None

    def _mapped(self, request: Callable[[], T], what: str) -> T:
        """Run ``request``, turning stravalib's and pydantic's exceptions into syncd's
        (a 401 is left to the caller)."""
        try:
            return request()
        except exc.ObjectNotFound:
            raise NotFound(what) from None
        except exc.AccessUnauthorized:
            raise
        except exc.ApplicationInactive:
            raise AuthError(self._inactive()) from None
        except exc.Fault as err:
            raise self._fault(err, what) from None
        except requests.exceptions.JSONDecodeError:
            raise TransientError(f"Strava sent {what} in a body that is not JSON; syncd will "
                                 "retry later") from None
        except pydantic.ValidationError as err:
            raise InvalidResponse(f"Strava sent {what} in an unexpected shape "
                                  f"({err.error_count()} problems)") from None

    def _fault(self, err: exc.Fault, what: str) -> Exception:
        status = err.response.status_code if err.response is not None else None
        if status == 403:
            return AuthError(f"Strava refused access to {what} (403): the authorization lacks a "
                             f"permission syncd needs; {REAUTH} and allow all activities and "
                             "the profile")
        return InvalidResponse(f"Strava refused the request for {what} ({status}"
                               f"{_reasons(err.response)})")

    def _inactive(self) -> str:
        client_id = getattr(self.settings, "client_id", None)
        return (f"Strava refuses every request because the API application (client_id "
                f"{client_id}) is inactive: the account that owns it needs an active Strava "
                "subscription; subscribe with that account and reactivate the application "
                "at https://www.strava.com/settings/api")


def utc_clock(now: Callable[[], datetime]) -> Callable[[], datetime]:
    """``now`` returning aware UTC (a naive reading is taken as the machine's local time,
    which is what the context's default, ``datetime.now``, gives)."""
    return lambda: now().astimezone(UTC)


def _digest(text: str) -> str:
    """A short, file-name-safe digest (the lock file must not spell out the athlete)."""
    return hashlib.blake2s(text.encode(), digest_size=6).hexdigest()


def _errors(response: requests.Response | None) -> list[dict[str, Any]]:
    """The ``errors`` entries of a Strava error body (none when it has another shape)."""
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _reasons(response: requests.Response | None) -> str:
    """Strava's error entries ("PushSubscription callback url: GET to callback URL does not
    return 200"), which name fields and codes, never secrets."""
    parts = [" ".join(str(e.get(k)) for k in ("resource", "field") if e.get(k))
             + f": {e.get('code')}" for e in _errors(response)]
    return "; " + "; ".join(parts) if parts else ""


def _secret(value: Any) -> str:
    """The text of a SecretStr (or of a plain string, as tests may pass)."""
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if getter else value)
