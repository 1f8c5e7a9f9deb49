"""A fake Strava: a real HTTP server on 127.0.0.1 that speaks Strava's wire format.

It serves ``/oauth/authorize`` (a redirect with a code), ``/oauth/token`` (code exchange and
refresh with **rotating** refresh tokens), ``/api/v3/athlete``, ``/api/v3/athlete/activities``
(``after``/``before``/``page``/``per_page``; oldest first when ``after`` is given, as Strava
does), ``/api/v3/activities/{id}`` (with its laps), ``/laps``, ``/streams`` (keyed by type),
``/api/v3/gear/{id}`` and ``/api/v3/push_subscriptions`` (which validates the callback with a
GET, as Strava does). Every API response carries the ``X-RateLimit-*`` and
``X-ReadRateLimit-*`` headers, counted per 15-minute window and UTC day on the injected clock,
and answers 429 past the limit.

It serves many athletes of one application, as Strava does: each token belongs to an athlete
(:meth:`FakeStrava.issue_tokens`), each activity to the athlete of its ``athlete.id`` (one
added with :meth:`FakeStrava.add_athlete`, else the default athlete), and the
list, detail, laps and streams only serve the token's own athlete (another athlete's activity
is a 404). :meth:`FakeStrava.post_event` sends a webhook event to a callback URL as Strava's
push service does.

Tests drive it through its attributes: the stored activities, forced failures, a gate that
holds token requests, the request log (:attr:`FakeStrava.served`: when, for whom, and whether
it was answered 429), and, with ``latency`` set, the requests for one activity that were in
flight at once (:attr:`FakeStrava.overlaps`).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

CLIENT_ID = "4242"
CLIENT_SECRET = "fake-client-secret-0123456789"
ATHLETE_ID = 134815
TOKEN_LIFETIME = timedelta(hours=6)
GARBAGE = object()  # a body that is not JSON (a proxy's error page)


@dataclass(frozen=True, slots=True)
class Call:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Served:
    """One API request as the fake counted it: when (on the injected clock), for which athlete
    (``None``: no valid token), and the status it was answered with."""

    at: datetime
    method: str
    path: str
    athlete: int | None
    status: int


@dataclass(slots=True)
class Limits:
    """Per-application limits, as Strava announces them."""

    overall: tuple[int, int] = (200, 2000)
    read: tuple[int, int] = (100, 1000)


@dataclass(slots=True)
class _Counter:
    window: datetime | None = None
    day: datetime | None = None
    short: int = 0
    long: int = 0

    def count(self, now: datetime) -> tuple[int, int]:
        window = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        if window != self.window:
            self.window, self.short = window, 0
        if day != self.day:
            self.day, self.long = day, 0
        self.short += 1
        self.long += 1
        return self.short, self.long


@dataclass(slots=True)
class FakeStrava:
    """The fake's state; :meth:`start` serves it on an ephemeral port."""

    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    activities: dict[int, dict[str, Any]] = field(default_factory=dict)
    laps: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    streams: dict[int, dict[str, list[Any]]] = field(default_factory=dict)
    gear: dict[str, dict[str, Any]] = field(default_factory=dict)
    athlete: dict[str, Any] = field(default_factory=lambda: {
        "id": ATHLETE_ID, "resource_state": 3, "firstname": "Ana", "lastname": "Runner",
        "city": "Berlin", "country": "Germany", "sex": "F", "premium": False})
    limits: Limits = field(default_factory=Limits)
    calls: list[Call] = field(default_factory=list)
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: dict[str, datetime] = field(default_factory=dict)
    refreshes: list[str] = field(default_factory=list)  # refresh tokens presented, in order
    # How long a rotated refresh token is still accepted, as Strava does (None: not at all).
    grace: timedelta | None = None
    # Called after a refresh rotated the tokens, before the answer is sent (a test kills the
    # client there: the answer is then lost).
    on_rotated: Callable[[], None] | None = None
    _rotated_at: dict[str, datetime] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)  # code -> scope granted
    revoked: bool = False
    inactive: bool = False
    force_429: set[int] = field(default_factory=set)  # API request numbers answered 429
    failures: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses to send
    garbage: dict[str, int] = field(default_factory=dict)  # path -> bodies to send as non-JSON
    token_gate: threading.Event | None = None  # when set by a test, /oauth/token waits on it
    token_requests: threading.Event = field(default_factory=threading.Event)
    subscriptions: dict[int, dict[str, Any]] = field(default_factory=dict)
    on_api_request: Callable[[Call], None] | None = None
    athletes: dict[int, dict[str, Any]] = field(default_factory=dict)  # besides ``athlete``
    token_owners: dict[str, int] = field(default_factory=dict)  # access/refresh -> athlete
    authorizing: int = ATHLETE_ID  # the athlete who approves the next authorization
    served: list[Served] = field(default_factory=list)
    latency: float = 0.0  # seconds each API request takes (outside the lock: they overlap)
    overlaps: list[str] = field(default_factory=list)  # "activity:<id>" met twice in flight
    _in_flight: dict[str, int] = field(default_factory=dict)
    _code_owners: dict[str, int] = field(default_factory=dict)
    _overall_usage: _Counter = field(default_factory=_Counter)
    _read_usage: _Counter = field(default_factory=_Counter)
    _api_requests: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FakeStrava:
        """Serve on 127.0.0.1 (an ephemeral port) in a background thread."""
        fake = self

        class Handler(_Handler):
            strava = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.token_gate is not None:
            self.token_gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        """The base URL to configure as ``[strava] api_url``."""
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test set-up --------------------------------------------------------------------------

    def issue_tokens(self, *, expires_in: timedelta = TOKEN_LIFETIME,
                     athlete_id: int = ATHLETE_ID) -> dict[str, Any]:
        """A valid token pair of ``athlete_id``, as a completed authorization leaves it."""
        with self._lock:
            refresh = "rt-" + secrets.token_hex(8)
            access = "at-" + secrets.token_hex(8)
            self.refresh_tokens.add(refresh)
            expires = self.clock() + expires_in
            self.access_tokens[access] = expires
            self.token_owners[refresh] = self.token_owners[access] = athlete_id
            return {"refresh_token": refresh, "access_token": access,
                    "expires_at": int(expires.timestamp()), "athlete_id": athlete_id,
                    "scope": "read,activity:read_all,profile:read_all"}

    def add_athlete(self, athlete_id: int, firstname: str = "Runner",
                    lastname: str = "") -> dict[str, Any]:
        """Another athlete of the application (the default one is :data:`ATHLETE_ID`)."""
        profile = {**self.athlete, "id": athlete_id, "firstname": firstname,
                   "lastname": lastname}
        with self._lock:
            self.athletes[athlete_id] = profile
        return profile

    def profile(self, athlete_id: int) -> dict[str, Any]:
        """The athlete's profile as ``/athlete`` shows it."""
        if athlete_id == self.athlete.get("id", ATHLETE_ID):
            return self.athlete
        return self.athletes.get(athlete_id) or {**self.athlete, "id": athlete_id}

    def add(self, activity: dict[str, Any], laps: list[dict[str, Any]] | None = None,
            streams: dict[str, list[Any]] | None = None) -> dict[str, Any]:
        """Publish an activity (and its laps and streams)."""
        with self._lock:
            self.activities[activity["id"]] = activity
            if laps is not None:
                self.laps[activity["id"]] = laps
            if streams is not None:
                self.streams[activity["id"]] = streams
        return activity

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses, in order."""
        with self._lock:
            self.failures.setdefault(path, []).extend(statuses)

    def api_calls(self, prefix: str = "/api/v3") -> list[Call]:
        """The requests received under ``prefix``."""
        with self._lock:
            return [c for c in self.calls if c.path.startswith(prefix)]

    def new_id(self) -> int:
        """A fresh activity id."""
        return 10_000_000 + next(self._ids)

    def answered_429(self) -> list[Served]:
        """The API requests answered 429."""
        with self._lock:
            return [s for s in self.served if s.status == 429]

    def reads_by_window(self) -> dict[datetime, int]:
        """Reads (GET requests) the fake counted in each 15-minute window."""
        return self._reads_by(lambda at: at.replace(minute=at.minute - at.minute % 15,
                                                    second=0, microsecond=0))

    def reads_by_day(self) -> dict[datetime, int]:
        """Reads (GET requests) the fake counted in each UTC day."""
        return self._reads_by(lambda at: at.replace(hour=0, minute=0, second=0, microsecond=0))

    def _reads_by(self, key: Callable[[datetime], datetime]) -> dict[datetime, int]:
        counts: dict[datetime, int] = {}
        with self._lock:
            for served in self.served:
                if served.method == "GET":
                    start = key(served.at)
                    counts[start] = counts.get(start, 0) + 1
        return counts

    def owner(self, activity_id: int) -> int | None:
        """The athlete an activity belongs to, or ``None`` when there is no such activity."""
        activity = self.activities.get(activity_id)
        return None if activity is None else self._owner(activity)

    def _owner(self, activity: dict[str, Any]) -> int:
        """The athlete of an activity: its ``athlete.id`` when that is one of the fake's
        athletes, else the default athlete (a real recording names a stranger)."""
        athlete = activity.get("athlete")
        owner = athlete.get("id") if isinstance(athlete, dict) else None
        return owner if isinstance(owner, int) and owner in self.athletes else ATHLETE_ID

    # -- webhook events -----------------------------------------------------------------------

    def post_event(self, callback_url: str, object_id: int, aspect_type: str = "create", *,
                   object_type: str = "activity", owner_id: int | None = None,
                   subscription_id: int | None = None,
                   updates: dict[str, Any] | None = None) -> httpx.Response:
        """POST an event to ``callback_url`` as Strava's push service does. ``owner_id``
        defaults to the activity's athlete, ``subscription_id`` to the only subscription."""
        if owner_id is None:
            owner_id = self.owner(object_id) if object_type == "activity" else object_id
        if subscription_id is None:
            if len(self.subscriptions) != 1:
                raise ValueError("name the subscription_id: the fake has "
                                 f"{len(self.subscriptions)} subscriptions")
            subscription_id = next(iter(self.subscriptions))
        body = {"aspect_type": aspect_type, "event_time": int(self.clock().timestamp()),
                "object_id": object_id, "object_type": object_type, "owner_id": owner_id,
                "subscription_id": subscription_id, "updates": updates or {}}
        return httpx.post(callback_url, json=body, timeout=2.0)

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], Any]:
        """Answer one request: (status, extra headers, JSON body or None)."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        form = {k: v[-1] for k, v in parse_qs(body.decode() or "").items()}
        if headers.get("content-type", "").startswith("application/json") and body:
            form = json.loads(body)
        token = headers.get("authorization", "").removeprefix("Bearer ") or None
        call = Call(method, parts.path, query, token)
        with self._lock:
            self.calls.append(call)
        if parts.path == "/oauth/authorize":
            return self._authorize(query)
        if parts.path == "/oauth/token":
            return self._token(form)
        if not parts.path.startswith("/api/v3/"):
            return 404, {}, {"message": "Not Found"}
        if not self.latency:
            return self._api(call, form)
        with self._in_flight_for(call.path):
            time.sleep(self.latency)
            return self._api(call, form)

    def _in_flight_for(self, path: str) -> _InFlight:
        match = _ACTIVITY_PATH.match(path)
        return _InFlight(self, f"activity:{match.group(1)}" if match else None)

    def _api(self, call: Call, form: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            answer = self._answer(call, form)
            owner = self._token_owner(call.token)
            self.served.append(Served(self.clock().astimezone(UTC), call.method, call.path,
                                      owner, answer[0]))
            return answer

    def _answer(self, call: Call, form: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            if self.on_api_request is not None:
                self.on_api_request(call)
            status, rate_headers = self._count(call.method)
            forced = self.failures.get(call.path)
            if status is None and forced:
                status = forced.pop(0)
            if status == 429:
                return 429, rate_headers, {"message": "Rate Limit Exceeded", "errors": [
                    {"resource": "Application", "field": "rate limit", "code": "exceeded"}]}
            if status is not None:
                return status, rate_headers, {"message": "Server Error", "errors": []}
            if self.garbage.get(call.path):
                self.garbage[call.path] -= 1
                return 200, rate_headers, GARBAGE
            if self.inactive:
                return 403, rate_headers, {"message": "Forbidden", "errors": [
                    {"resource": "Application", "field": "Status", "code": "Inactive"}]}
            if call.path.startswith("/api/v3/push_subscriptions"):
                return self._subscriptions(call, form, rate_headers)
            athlete_id = self._authorized(call.token)
            if athlete_id is None:
                return 401, rate_headers, {"message": "Authorization Error", "errors": [
                    {"resource": "Athlete", "field": "access_token", "code": "invalid"}]}
            code, payload = self._read(call, athlete_id)
            return code, rate_headers, payload

    def _count(self, method: str) -> tuple[int | None, dict[str, str]]:
        """Count one API request; return a forced status (429) and the rate headers."""
        now = self.clock().astimezone(UTC)
        self._api_requests += 1
        overall = self._overall_usage.count(now)
        if method == "GET":
            read = self._read_usage.count(now)
        else:
            read = (self._read_usage.short, self._read_usage.long)
        limited = (overall[0] > self.limits.overall[0] or overall[1] > self.limits.overall[1]
                   or read[0] > self.limits.read[0] or read[1] > self.limits.read[1])
        if self._api_requests in self.force_429:
            # Someone else used the application's budget: report the window as full.
            read = (max(read[0], self.limits.read[0]), read[1])
            limited = True
        headers = {
            "X-RateLimit-Limit": _pair(self.limits.overall),
            "X-RateLimit-Usage": _pair(overall),
            "X-ReadRateLimit-Limit": _pair(self.limits.read),
            "X-ReadRateLimit-Usage": _pair(read),
        }
        return (429 if limited else None), headers

    def _authorized(self, token: str | None) -> int | None:
        """The athlete of a valid access token, else ``None``."""
        expires = self.access_tokens.get(token or "")
        if self.revoked or expires is None or expires <= self.clock():
            return None
        return self._token_owner(token)

    def _token_owner(self, token: str | None) -> int | None:
        if token is None or token not in self.access_tokens:
            return None
        return self.token_owners.get(token, ATHLETE_ID)

    # -- reads --------------------------------------------------------------------------------

    def _read(self, call: Call, athlete_id: int) -> tuple[int, Any]:
        path = call.path.removeprefix("/api/v3")
        parts = path.strip("/").split("/")
        if path == "/athlete":
            shoes = [self._gear_summary(g) for g in self.gear.values() if g.get("kind") == "shoe"
                     and not g.get("retired") and g.get("athlete", ATHLETE_ID) == athlete_id]
            return 200, {**self.profile(athlete_id), "shoes": shoes, "bikes": []}
        if path == "/athlete/activities":
            return 200, self._list(call.query, athlete_id)
        if parts[0] == "gear" and len(parts) == 2:
            gear = self.gear.get(parts[1])
            if gear is None:
                return _not_found("Gear")
            return 200, {k: v for k, v in gear.items() if k != "kind"}
        if parts[0] == "activities" and len(parts) >= 2 and parts[1].isdigit():
            if self.owner(int(parts[1])) not in (athlete_id, None):
                return _not_found("Activity")  # another athlete's: not visible to this token
            return self._activity(int(parts[1]), parts[2:], call.query)
        return 404, {"message": "Not Found"}

    def _list(self, query: dict[str, str], athlete_id: int) -> list[dict[str, Any]]:
        after, before = int(query.get("after", 0)), query.get("before")
        per_page = min(int(query.get("per_page", 30)), 200)
        page = int(query.get("page", 1))
        chosen = [a for a in self.activities.values()
                  if self._owner(a) == athlete_id and _epoch(a) > after
                  and (before is None or _epoch(a) < int(before))]
        chosen.sort(key=_epoch, reverse="after" not in query)
        return chosen[(page - 1) * per_page: page * per_page]

    def _activity(self, activity_id: int, rest: list[str],
                  query: dict[str, str]) -> tuple[int, Any]:
        activity = self.activities.get(activity_id)
        if activity is None:
            return _not_found("Activity")
        if not rest:
            detail = {**activity, "resource_state": 3, "description": None,
                      "segment_efforts": [], "splits_metric": [], "best_efforts": []}
            if activity_id in self.laps:
                detail["laps"] = self.laps[activity_id]
            return 200, detail
        if rest == ["laps"]:
            return 200, self.laps.get(activity_id, [])
        if rest == ["streams"]:
            if query.get("key_by_type") != "True" and query.get("key_by_type") != "true":
                return 400, {"message": "key_by_type must be true"}
            streams = self.streams.get(activity_id, {})
            keys = query.get("keys", "").split(",")
            return 200, {k: {"data": v, "series_type": "distance", "original_size": len(v),
                             "resolution": "high"} for k, v in streams.items() if k in keys}
        return 404, {"message": "Not Found"}

    @staticmethod
    def _gear_summary(gear: dict[str, Any]) -> dict[str, Any]:
        return {"id": gear["id"], "primary": gear.get("primary", False), "name": gear["name"],
                "resource_state": 2, "distance": gear["distance"],
                "retired": gear.get("retired", False)}

    # -- OAuth --------------------------------------------------------------------------------

    def _authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if query.get("client_id") != CLIENT_ID:
            return 400, {}, {"message": "Bad Request"}
        code = "code-" + secrets.token_hex(6)
        self.codes[code] = query.get("scope", "read")
        self._code_owners[code] = self.authorizing
        target = query["redirect_uri"] + "?" + urlencode(
            {"state": query.get("state", ""), "code": code, "scope": self.codes[code]})
        return 302, {"Location": target}, None

    def _token(self, form: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        self.token_requests.set()
        if self.token_gate is not None:
            self.token_gate.wait(30)  # the test kills or releases the client meanwhile
        with self._lock:
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return 401, {}, {"message": "Bad Request", "errors": [
                    {"resource": "Application", "field": "client_id", "code": "invalid"}]}
            if form.get("grant_type") == "refresh_token":
                return self._refresh(str(form.get("refresh_token")))
            code = str(form.get("code"))
            if form.get("grant_type") != "authorization_code" or code not in self.codes:
                return 400, {}, {"message": "Bad Request", "errors": [
                    {"resource": "AuthorizationCode", "field": "code", "code": "invalid"}]}
            scope = self.codes.pop(code)
            athlete_id = self._code_owners.pop(code, ATHLETE_ID)
            pair = self.issue_tokens(athlete_id=athlete_id)
            profile = self.profile(athlete_id)
            return 200, {}, {"token_type": "Bearer", "expires_at": pair["expires_at"],
                             "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                             "refresh_token": pair["refresh_token"],
                             "access_token": pair["access_token"], "scope": scope,
                             "athlete": {"id": athlete_id, "resource_state": 2,
                                         "firstname": profile.get("firstname"),
                                         "lastname": profile.get("lastname")}}

    def _refresh(self, refresh_token: str) -> tuple[int, dict[str, str], Any]:
        self.refreshes.append(refresh_token)
        if self.revoked or not self._accepts(refresh_token):
            return 400, {}, {"message": "Bad Request", "errors": [
                {"resource": "RefreshToken", "field": "refresh_token", "code": "invalid"}]}
        # Rotation: the old refresh token stops working as soon as a new one is issued (or
        # after the grace period).
        self.refresh_tokens.discard(refresh_token)
        self._rotated_at.setdefault(refresh_token, self.clock())
        pair = self.issue_tokens(athlete_id=self.token_owners.get(refresh_token, ATHLETE_ID))
        if self.on_rotated is not None:
            self.on_rotated()
        return 200, {}, {"token_type": "Bearer", "access_token": pair["access_token"],
                         "expires_at": pair["expires_at"],
                         "expires_in": int(TOKEN_LIFETIME.total_seconds()),
                         "refresh_token": pair["refresh_token"]}

    def _accepts(self, refresh_token: str) -> bool:
        """The current refresh tokens, and a rotated one within the grace period."""
        if refresh_token in self.refresh_tokens:
            return True
        rotated = self._rotated_at.get(refresh_token)
        return (self.grace is not None and rotated is not None
                and self.clock() - rotated <= self.grace)

    def revoke(self) -> None:
        """The athlete revoked the application: every token stops working."""
        with self._lock:
            self.revoked = True

    # -- webhook subscriptions ----------------------------------------------------------------

    def _subscriptions(self, call: Call, form: dict[str, Any],
                       rate_headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        creds = form if call.method in ("POST", "DELETE") else call.query
        if creds.get("client_id") != CLIENT_ID or creds.get("client_secret") != CLIENT_SECRET:
            return 401, rate_headers, {"message": "Authorization Error", "errors": [
                {"resource": "Application", "field": "client_id", "code": "invalid"}]}
        if call.method == "GET":
            return 200, rate_headers, list(self.subscriptions.values())
        if call.method == "DELETE":
            sub_id = int(call.path.rsplit("/", 1)[1])
            if self.subscriptions.pop(sub_id, None) is None:
                return _with(rate_headers, _not_found("PushSubscription"))
            return 204, rate_headers, None
        if self.subscriptions:
            return 400, rate_headers, {"message": "Bad Request", "errors": [
                {"resource": "PushSubscription", "field": "", "code": "already exists"}]}
        if not _validate_callback(str(form.get("callback_url")), str(form.get("verify_token"))):
            return 400, rate_headers, {"message": "Bad Request", "errors": [
                {"resource": "PushSubscription", "field": "callback url",
                 "code": "GET to callback URL does not return 200"}]}
        sub_id = 100 + len(self.subscriptions) + 1
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        self.subscriptions[sub_id] = {"id": sub_id, "resource_state": 2,
                                      "application_id": int(CLIENT_ID),
                                      "callback_url": form.get("callback_url"),
                                      "created_at": now, "updated_at": now}
        return 201, rate_headers, {"id": sub_id}


_ACTIVITY_PATH = re.compile(r"^/api/v3/activities/(\d+)")


class _InFlight:
    """Marks one activity's request in flight for the block; a second one met meanwhile is
    recorded in :attr:`FakeStrava.overlaps` (two fetches of one activity at once)."""

    def __init__(self, fake: FakeStrava, key: str | None) -> None:
        self.fake = fake
        self.key = key

    def __enter__(self) -> None:
        if self.key is None:
            return
        with self.fake._lock:
            if self.fake._in_flight.get(self.key):
                self.fake.overlaps.append(self.key)
            self.fake._in_flight[self.key] = self.fake._in_flight.get(self.key, 0) + 1

    def __exit__(self, *exc: object) -> None:
        if self.key is None:
            return
        with self.fake._lock:
            self.fake._in_flight[self.key] -= 1


def _validate_callback(url: str, verify_token: str) -> bool:
    """Strava's check of a new subscription: a GET with a challenge, echoed within 2 s."""
    challenge = secrets.token_hex(8)
    try:
        answer = httpx.get(url, params={"hub.mode": "subscribe", "hub.challenge": challenge,
                                        "hub.verify_token": verify_token}, timeout=2.0)
        return answer.status_code == 200 and answer.json().get("hub.challenge") == challenge
    except (httpx.HTTPError, ValueError):
        return False


def _not_found(resource: str) -> tuple[int, Any]:
    return 404, {"message": "Record Not Found", "errors": [
        {"resource": resource, "field": "id", "code": "invalid"}]}


def _with(headers: dict[str, str], answer: tuple[int, Any]) -> tuple[int, dict[str, str], Any]:
    return answer[0], headers, answer[1]


def _pair(values: tuple[int, int]) -> str:
    return f"{values[0]},{values[1]}"


def _epoch(activity: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(activity["start_date"].replace("Z", "+00:00")).timestamp())


class _Handler(BaseHTTPRequestHandler):
    """Bytes in, bytes out; all the logic lives in :class:`FakeStrava`."""

    strava: FakeStrava
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, payload = self.strava.handle(self.command, self.path, headers, body)
        if payload is GARBAGE:
            data = b"<html><body>502 Bad Gateway</body></html>"
        else:
            data = b"" if payload is None else json.dumps(payload).encode()
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
                 f"Content-Length: {len(data)}"]
        if payload is not None:
            lines.append("Content-Type: application/json; charset=utf-8")
        lines += [f"{k}: {v}" for k, v in extra.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + data)

    def do_GET(self) -> None:
        """Answer a GET."""
        self._serve()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._serve()

    def do_DELETE(self) -> None:
        """Answer a DELETE."""
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read :attr:`FakeStrava.calls` instead."""


# -- building realistic records ---------------------------------------------------------------


def iso(moment: datetime) -> str:
    """Strava's time format."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def summary(activity_id: int, start: datetime, *, sport_type: str = "Run",
            elapsed_s: int = 1800, moving_s: int | None = None, distance_m: float = 5000.0,
            zone: str = "Europe/Berlin", offset_h: int = 1, gear_id: str | None = None,
            external_id: str | None = None, manual: bool = False,
            name: str = "Morning Run", athlete_id: int = ATHLETE_ID) -> dict[str, Any]:
    """A list item shaped like Strava's ``SummaryActivity`` (the documented example's keys),
    of athlete ``athlete_id``."""
    moving = moving_s if moving_s is not None else elapsed_s
    activity_type = sport_type if sport_type in ("Run", "Walk", "Hike", "Ride", "Swim") else \
        "Workout"
    return {
        "resource_state": 2, "athlete": {"id": athlete_id, "resource_state": 1},
        "name": name, "distance": distance_m, "moving_time": moving,
        "elapsed_time": elapsed_s, "total_elevation_gain": 12.0, "type": activity_type,
        "sport_type": sport_type, "workout_type": None, "id": activity_id,
        "external_id": external_id, "upload_id": activity_id * 10,
        "start_date": iso(start),
        "start_date_local": (start + timedelta(hours=offset_h)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "timezone": f"(GMT+{offset_h:02d}:00) {zone}", "utc_offset": offset_h * 3600.0,
        "start_latlng": [52.52, 13.405], "end_latlng": [52.521, 13.406],
        "location_city": None, "location_state": None, "location_country": "Germany",
        "achievement_count": 0, "kudos_count": 0, "comment_count": 0, "athlete_count": 1,
        "photo_count": 0, "map": {"id": f"a{activity_id}", "summary_polyline": "",
                                  "resource_state": 2},
        "trainer": False, "commute": False, "manual": manual, "private": False,
        "visibility": "everyone", "flagged": False, "gear_id": gear_id,
        "from_accepted_tag": False, "average_speed": round(distance_m / max(moving, 1), 3),
        "max_speed": 4.2, "has_heartrate": False, "pr_count": 0, "total_photo_count": 0,
        "has_kudoed": False,
    }


def bouts_laps(activity_id: int, start: datetime, bouts: Sequence[tuple[int, float]],
               athlete_id: int = ATHLETE_ID) -> list[dict[str, Any]]:
    """One lap per (seconds, speed m/s) bout, shaped like Strava's ``Lap``."""
    laps, offset = [], 0
    for i, (seconds, speed) in enumerate(bouts, start=1):
        lap_start = start + timedelta(seconds=offset)
        laps.append({
            "id": activity_id * 100 + i, "resource_state": 2, "name": f"Lap {i}",
            "activity": {"id": activity_id, "resource_state": 1},
            "athlete": {"id": athlete_id, "resource_state": 1},
            "elapsed_time": seconds, "moving_time": seconds, "start_date": iso(lap_start),
            "start_date_local": iso(lap_start + timedelta(hours=1)),
            "distance": round(seconds * speed, 1), "start_index": offset,
            "end_index": offset + seconds, "total_elevation_gain": 1.0,
            "average_speed": speed, "max_speed": speed + 0.4, "lap_index": i, "split": i,
        })
        offset += seconds
    return laps


def bouts_streams(bouts: Sequence[tuple[int, float]]) -> dict[str, list[Any]]:
    """1 Hz ``time``, ``velocity_smooth`` and ``distance`` streams for the bouts."""
    times, speeds, distances = [0], [0.0], [0.0]
    for seconds, speed in bouts:
        for _ in range(seconds):
            times.append(times[-1] + 1)
            speeds.append(speed)
            distances.append(round(distances[-1] + speed, 1))
    return {"time": times, "velocity_smooth": speeds, "distance": distances}
