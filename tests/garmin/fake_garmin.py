"""A fake Garmin Connect: a real HTTP server on 127.0.0.1 that speaks like Garmin's hosts.

It serves, at one address (what ``[garmin] api_url`` points every Garmin host at):

- the sign-in flow garminconnect's mobile strategy uses (sign-in page, credential POST, MFA
  verification) and the DI token service (service-ticket exchange, refresh with a rotating
  refresh token; access tokens are JWTs whose ``exp`` garminconnect reads);
- the profile and settings calls that login verifies;
- the activity list with ``start``/``limit`` paging, ``startDate``/``endDate`` filters and
  ``sortOrder``; activity detail; typed splits; laps; gear and gear stats;
- the workout library and training calendar (:mod:`tests.garmin.fake_workouts`).

Every request is logged; faults (a status for every path under a prefix, a number of times or
for ever) are injected with :meth:`FakeGarmin.fail`. Used by the tests and by
``benchmarks/garmin_sync.py``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.garmin.fake_workouts import FakeWorkouts

CLIENT_ID = "GARMIN_CONNECT_MOBILE_ANDROID_DI_2025Q2"
PROFILE = {"displayName": "ana-runs", "fullName": "Ana Runner", "profileId": 2591602,
           "userName": "ana@example.org"}
USER_SETTINGS = {"id": 2591602, "userData": {"measurementSystem": "metric"}}

Reply = tuple[int, dict[str, str], bytes]


@dataclass(slots=True)
class Logged:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    authorization: str | None = None
    form: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Fault:
    """Answer ``status`` to requests under ``prefix``, ``times`` times (``None``: always)."""

    prefix: str
    status: int
    times: int | None = None


def jwt(exp: float) -> str:
    """An unsigned-looking JWT that garminconnect decodes for ``exp`` and ``client_id``."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    payload = {"client_id": CLIENT_ID, "exp": int(exp), "jti": secrets.token_hex(8)}
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(payload)}.c2lnbmF0dXJl"


class FakeGarmin:
    """State and behaviour of the fake; :meth:`running` serves it."""

    def __init__(self, *, email: str = "ana@example.org", password: str = "correct horse",
                 mfa_code: str | None = None) -> None:
        self.email, self.password, self.mfa_code = email, password, mfa_code
        self.activities: list[dict[str, Any]] = []
        self.details: dict[str, Any] = {}
        self.typed_splits: dict[str, Any] = {}
        self.laps: dict[str, Any] = {}
        self.gear: list[dict[str, Any]] = []
        self.gear_stats: dict[str, Any] = {}
        self.access_ttl = 3600.0
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.tickets: set[str] = set()
        self.pending_mfa: set[str] = set()
        self.requests: list[Logged] = []
        self.faults: list[Fault] = []
        self.delays: dict[str, float] = {}
        self.workout_service = FakeWorkouts()  # the workout library and training calendar
        self.url = ""
        self._lock = threading.Lock()

    # -- test controls ----------------------------------------------------------------------

    def fail(self, prefix: str, status: int, times: int | None = None) -> None:
        """Answer ``status`` under ``prefix`` (``"/"``: everything) ``times`` times."""
        self.faults.append(Fault(prefix, status, times))

    def slow(self, prefix: str, seconds: float) -> None:
        """Answer requests under ``prefix`` only after ``seconds`` (to make a client time out)."""
        self.delays[prefix] = seconds

    def issue_tokens(self, *, access_ttl: float | None = None) -> dict[str, Any]:
        """A fresh token pair, as garminconnect's ``garmin_tokens.json`` holds it."""
        access = jwt(time.time() + (self.access_ttl if access_ttl is None else access_ttl))
        refresh = "rt-" + secrets.token_hex(12)
        with self._lock:
            self.access_tokens[access] = jwt_exp(access)
            self.refresh_tokens.add(refresh)
        return {"di_token": access, "di_refresh_token": refresh, "di_client_id": CLIENT_ID}

    def write_token_store(self, folder: Path, *, access_ttl: float | None = None
                          ) -> dict[str, Any]:
        """Create a token store folder as ``syncd auth garmin`` leaves it."""
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = self.issue_tokens(access_ttl=access_ttl)
        (folder / "garmin_tokens.json").write_text(json.dumps(data), encoding="utf-8")
        (folder / "garmin_tokens.json").chmod(0o600)
        return data

    def revoke_access_tokens(self) -> None:
        """Make every access token invalid (the API answers 401 until a refresh)."""
        with self._lock:
            self.access_tokens.clear()

    def calls(self, prefix: str = "/") -> list[Logged]:
        """The requests under ``prefix``, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.startswith(prefix)]

    def api_calls(self) -> list[Logged]:
        """The requests to the API tier (not sign-in, not tokens)."""
        return [r for r in self.calls() if not r.path.startswith(("/mobile/", "/portal/",
                                                                    "/di-oauth2-service/"))]

    @contextmanager
    def running(self) -> Iterator[FakeGarmin]:
        """Serve on 127.0.0.1 (a free port) until the block ends."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        """Answer one request."""
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
        for prefix, seconds in self.delays.items():
            if parts.path.startswith(prefix):
                time.sleep(seconds)
        reply = self._fault(parts.path) or self._route(method, parts.path, query, headers, body)
        with self._lock:
            self.requests.append(Logged(method, parts.path, query, reply[0],
                                        headers.get("authorization"), form))
        return reply

    def _fault(self, path: str) -> Reply | None:
        with self._lock:
            for fault in self.faults:
                if path.startswith(fault.prefix) and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return _json(fault.status, {"message": f"fake fault {fault.status}"})
        return None

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> Reply:
        if path.startswith(("/mobile/", "/portal/")):
            return self._sso(method, path, headers, body)
        if path == "/di-oauth2-service/oauth/token" and method == "POST":
            return self._token(body)
        if not self._authorized(headers.get("authorization")):
            return _json(401, {"message": "Token is not active"})
        served = self.workout_service.handle(method, path, query, body)
        return served if served is not None else self._api(path, query)

    # -- sign-in and tokens -----------------------------------------------------------------

    def _sso(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method == "GET" and path.endswith("/sign-in"):
            session = secrets.token_hex(8)
            return 200, {"Content-Type": "text/html",
                         "Set-Cookie": f"SESSION={session}; Path=/"}, b"<title>Sign in</title>"
        payload = json.loads(body or b"{}")
        session = _cookie(headers.get("cookie"), "SESSION")
        if path.endswith("/api/login"):
            return self._login(payload, session)
        if path.endswith("/api/mfa/verifyCode"):
            return self._verify(payload, session)
        return _json(404, {"message": "no such sign-in page"})

    def _login(self, payload: dict[str, Any], session: str | None) -> Reply:
        if payload.get("username") != self.email or payload.get("password") != self.password:
            return _json(200, {"responseStatus": {"type": "INVALID_USERNAME_PASSWORD"}})
        if self.mfa_code is not None:
            with self._lock:
                self.pending_mfa.add(session or "")
            return _json(200, {"responseStatus": {"type": "MFA_REQUIRED"},
                               "customerMfaInfo": {"mfaLastMethodUsed": "email"}})
        return _json(200, self._ticket())

    def _verify(self, payload: dict[str, Any], session: str | None) -> Reply:
        with self._lock:
            waiting = (session or "") in self.pending_mfa
        if not waiting or payload.get("mfaVerificationCode") != self.mfa_code:
            return _json(200, {"responseStatus": {"type": "INVALID_MFA_CODE"}})
        with self._lock:
            self.pending_mfa.discard(session or "")
        return _json(200, self._ticket())

    def _ticket(self) -> dict[str, Any]:
        ticket = "ST-" + secrets.token_hex(8)
        with self._lock:
            self.tickets.add(ticket)
        return {"responseStatus": {"type": "SUCCESSFUL"}, "serviceTicketId": ticket}

    def _token(self, body: bytes) -> Reply:
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        with self._lock:
            if form.get("grant_type") == "refresh_token":
                valid = form.get("refresh_token") in self.refresh_tokens
                self.refresh_tokens.discard(form.get("refresh_token", ""))
            else:
                valid = form.get("service_ticket") in self.tickets
                self.tickets.discard(form.get("service_ticket", ""))
        if not valid:
            return _json(401, {"error": "invalid_grant"})
        tokens = self.issue_tokens()
        return _json(200, {"access_token": tokens["di_token"], "token_type": "bearer",
                           "refresh_token": tokens["di_refresh_token"],
                           "expires_in": int(self.access_ttl)})

    def _authorized(self, header: str | None) -> bool:
        token = (header or "").removeprefix("Bearer ")
        with self._lock:
            expires = self.access_tokens.get(token)
        return expires is not None and expires > time.time()

    # -- the API ----------------------------------------------------------------------------

    def _api(self, path: str, query: dict[str, str]) -> Reply:
        if path == "/userprofile-service/socialProfile":
            return _json(200, PROFILE)
        if path == "/userprofile-service/userprofile/user-settings":
            return _json(200, USER_SETTINGS)
        if path == "/activitylist-service/activities/search/activities":
            return _json(200, self._listing(query))
        if path.startswith("/activity-service/activity/"):
            return self._activity(path.removeprefix("/activity-service/activity/"))
        if path == "/gear-service/gear/filterGear":
            return _json(200, self.gear)
        if path.startswith("/gear-service/gear/stats/"):
            found = self.gear_stats.get(path.rsplit("/", 1)[1])
            return _json(200, found) if found else _json(404, {"message": "no such gear"})
        return _json(404, {"message": f"no such path {path}"})

    def _listing(self, query: dict[str, str]) -> list[dict[str, Any]]:
        chosen = [a for a in self.activities
                  if query.get("startDate", "") <= a["startTimeLocal"][:10]
                  and ("endDate" not in query or a["startTimeLocal"][:10] <= query["endDate"])]
        chosen.sort(key=lambda a: a["startTimeLocal"], reverse=query.get("sortOrder") != "asc")
        start, limit = int(query.get("start", "0")), int(query.get("limit", "20"))
        return chosen[start:start + limit]

    def _activity(self, rest: str) -> Reply:
        activity_id, _, what = rest.partition("/")
        table = {"": self.details, "typedsplits": self.typed_splits, "splits": self.laps}
        found = table.get(what, {}).get(activity_id)
        if found is None:
            return _json(404, {"message": f"no {what or 'detail'} for {activity_id}"})
        if isinstance(found, bytes):  # a deliberately broken answer
            return 200, {"Content-Type": "application/json"}, found
        return _json(200, found)


def jwt_exp(token: str) -> float:
    """The ``exp`` of one of the fake's JWTs."""
    payload = token.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


def _cookie(header: str | None, name: str) -> str | None:
    jar: SimpleCookie = SimpleCookie()
    jar.load(header or "")
    return jar[name].value if name in jar else None


def _json(status: int, body: Any) -> Reply:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _handler(fake: FakeGarmin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Garmin's hosts
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer back 40 ms.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)  # unless the client gave up (a timeout test)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the fake's own log is :attr:`FakeGarmin.requests`."""

    return Handler


# -- building activities ------------------------------------------------------------------


def garmin_time(moment: datetime, *, iso: bool = False) -> str:
    """Garmin's list format ("2026-01-08 08:10:21") or its detail format (ISO with ".0")."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0" if iso else "%Y-%m-%d %H:%M:%S")


def make_entry(activity_id: int, local_start: datetime, *, utc_offset_h: float = 1.0,
               type_key: str = "running", duration: float = 1800.0,
               distance: float | None = 4000.0, run_walk: tuple[float, float] | None = None,
               bouts: tuple[int, int] = (1, 1), laps: int = 1,
               split_summaries: bool = True) -> dict[str, Any]:
    """An activity-list entry shaped like Garmin's (the fields syncd reads and some it does
    not). ``run_walk`` is Garmin's detection: (run seconds, walk seconds) in ``bouts``."""
    start_utc = local_start - timedelta(hours=utc_offset_h)
    entry: dict[str, Any] = {
        "activityId": activity_id, "activityName": f"{type_key} {activity_id}",
        "startTimeLocal": garmin_time(local_start), "startTimeGMT": garmin_time(start_utc),
        "activityType": {"typeId": 1, "typeKey": type_key, "parentTypeId": 17},
        "eventType": {"typeId": 9, "typeKey": "uncategorized"},
        "distance": distance, "duration": duration, "elapsedDuration": duration + 2.0,
        "movingDuration": duration - 5.0, "averageSpeed": (distance or 0) / duration,
        "calories": 300.0, "averageHR": 140.0, "maxHR": 165.0, "steps": 4000,
        "ownerId": PROFILE["profileId"], "ownerDisplayName": PROFILE["displayName"],
        "beginTimestamp": int(start_utc.timestamp() * 1000), "timeZoneId": 124,
        "lapCount": laps, "manualActivity": False, "hasSplits": True,
        "userRoles": ["SCOPE_CONNECT_READ", "ROLE_CONNECTUSER"],
    }
    if split_summaries:
        entry["splitSummaries"] = [{"noOfSplits": 1, "duration": duration,
                                    "splitType": "INTERVAL_ACTIVE", "distance": distance}]
        if run_walk is not None:
            entry["splitSummaries"] += [
                {"noOfSplits": bouts[0], "duration": run_walk[0], "splitType": "RWD_RUN",
                 "distance": run_walk[0] * 2.2, "maxDistance": 400},
                {"noOfSplits": bouts[1], "duration": run_walk[1], "splitType": "RWD_WALK",
                 "distance": run_walk[1] * 1.4, "maxDistance": 150},
            ]
    return entry


def make_typed_splits(entry: dict[str, Any], runs: list[float], walks: list[float],
                      *, walk_first: bool = True) -> dict[str, Any]:
    """Typed splits alternating walk and run bouts of the given lengths (Garmin also sends
    the whole activity as one INTERVAL_ACTIVE split, which syncd must ignore)."""
    start = datetime.fromisoformat(entry["startTimeGMT"])
    local = datetime.fromisoformat(entry["startTimeLocal"])
    order: list[tuple[str, float]] = []
    first, second = (("RWD_WALK", walks), ("RWD_RUN", runs)) if walk_first else (
        ("RWD_RUN", runs), ("RWD_WALK", walks))
    for i in range(max(len(walks), len(runs))):
        for kind, durations in (first, second):
            if i < len(durations):
                order.append((kind, durations[i]))
    splits: list[dict[str, Any]] = [{
        "type": "INTERVAL_ACTIVE", "startTimeGMT": garmin_time(start, iso=True),
        "duration": entry["duration"], "distance": entry["distance"], "messageIndex": 0}]
    offset = 0.0
    for index, (kind, seconds) in enumerate(order):
        at = timedelta(seconds=offset)
        splits.append({
            "type": kind, "startTimeGMT": garmin_time(start + at, iso=True),
            "startTimeLocal": garmin_time(local + at, iso=True), "duration": seconds,
            "elapsedDuration": seconds, "movingDuration": seconds,
            "distance": round(seconds * (2.2 if kind == "RWD_RUN" else 1.4), 2),
            "messageIndex": index, "averageHR": 140.0,
        })
        offset += seconds
    return {"activityId": entry["activityId"], "activityUUID": {"uuid": "x"}, "splits": splits}


def make_laps(entry: dict[str, Any], laps: list[tuple[float, float, str | None]]
              ) -> dict[str, Any]:
    """Laps of (seconds, metres, intensityType or None) one after the other."""
    start = datetime.fromisoformat(entry["startTimeGMT"])
    dtos, offset = [], 0.0
    for index, (seconds, metres, intensity) in enumerate(laps, start=1):
        lap: dict[str, Any] = {
            "lapIndex": index, "startTimeGMT": garmin_time(start + timedelta(seconds=offset),
                                                           iso=True),
            "duration": seconds, "distance": metres, "averageSpeed": metres / seconds}
        if intensity:
            lap["intensityType"] = intensity
        dtos.append(lap)
        offset += seconds
    return {"activityId": entry["activityId"], "lapDTOs": dtos}


def make_gear(uuid: str, name: str, metres: float, *, kind: str = "Shoes",
              status: str = "active") -> tuple[dict[str, Any], dict[str, Any]]:
    """A gear entry and its stats."""
    entry = {"gearPk": abs(hash(uuid)) % 10**6, "uuid": uuid, "displayName": name,
             "customMakeModel": name, "gearTypeName": kind, "gearStatusName": status,
             "userProfilePk": PROFILE["profileId"], "maximumMeters": 800000.0}
    return entry, {"uuid": uuid, "totalDistance": metres, "totalActivities": 42}


def load_fixtures(fixtures: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The recorded activity list (trail run, hike, paddleboard) and the trail run's detail."""
    listing = json.loads((fixtures / "garmin" / "activity_list.json").read_text())
    recorded = json.loads((fixtures / "garmin" / "activity_get.json").read_text())
    detail = next(x["body"] for x in recorded if x["path"].startswith("/activity-service/"))
    return listing[0]["body"], detail
