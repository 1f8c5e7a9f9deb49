"""Who may talk to the local HTTP endpoint.

Two guards, as ASGI middleware in front of every route:

- **Host header** (DNS rebinding): a web page on ``evil.example`` whose name an attacker points
  at 127.0.0.1 could otherwise read ``/status`` from the runner's own browser. Only the
  configured listen host, ``localhost``, ``127.0.0.1``, ``[::1]`` and ``[server]
  allowed_hosts`` are served; the ``public_url`` host reaches the Strava callback only. The
  header is parsed strictly: ``127.0.0.1:evil.example`` is refused, not read as 127.0.0.1.
- **Bearer token** (optional, ``[server] token`` or the named ``[server] tokens``): each
  token is compared in constant time; ``/healthz`` and the Strava callback stay open. The name
  of the token that matched (``operator`` for the single ``token``) is put in the request's
  state (:func:`token_name_of`), so that an acknowledgement records who made it. A browser
  logs in through a form and gets a session cookie
  (:mod:`syncd.web.logins`: random per log-in, never the token, expiring, ended by ``POST
  /logout``), ``HttpOnly`` and ``SameSite=Strict``. Wrong tokens, typed or sent as a bearer
  header, are braked per client address: past a few, each try waits longer (429).

The token is optional only on loopback: :func:`syncd.runtime.exposure.check_exposure` refuses
to serve a ``[server] listen`` address other machines can reach without one, since every page
shows health data.
"""

from __future__ import annotations

import hmac
import math
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlsplit

from syncd.config.sections import ServerSection
from syncd.runtime.exposure import LOOPBACK_NAMES
from syncd.web.bodies import BodyCap
from syncd.web.logins import logins_of
from syncd.web.methods import HeadAndOptions

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - names, not a bind
COOKIE = "syncd_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Open without the token: the health check, and logging in and out (a log-out only ends the
# session its own request carries).
OPEN_PATHS = ("/healthz", "/login", "/logout")
# The key of the request's state holding the name of the token the request carried.
TOKEN_NAME = "token_name"  # noqa: S105 - a key, not a secret
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$")
_IPV6 = re.compile(r"^[0-9a-f:.]+$")


def parse_host(header: str) -> str | None:
    """The host name of a ``Host`` header value, lower-cased, or ``None`` when the value is
    not exactly ``name``, ``name:port``, ``[v6]`` or ``[v6]:port`` with a numeric port."""
    value = header.strip().lower()
    if value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        if not bracket or not _IPV6.match(inside) or not _port_ok(rest, optional=True):
            return None
        return inside
    name, colon, port = value.partition(":")
    if colon and not _port_ok(":" + port, optional=False):
        return None
    name = name.removesuffix(".")
    return name if _NAME.match(name) else None


def _port_ok(rest: str, *, optional: bool) -> bool:
    if rest == "":
        return optional
    return rest.startswith(":") and rest[1:].isdigit() and 0 < len(rest) - 1 <= 5


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The hosts served, the token (if any) and the paths open without it."""

    hosts: frozenset[str]
    public_hosts: frozenset[str] = frozenset()
    # (name, token) of every configured token; empty: no token is needed.
    tokens: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    open_paths: tuple[str, ...] = OPEN_PATHS
    public_paths: tuple[str, ...] = ()
    public_origins: frozenset[tuple[str, str, int]] = frozenset()

    @classmethod
    def from_settings(cls, server: ServerSection, *, public_paths: Iterable[str] = (),
                      open_paths: Iterable[str] = OPEN_PATHS) -> AccessPolicy:
        """The policy ``[server]`` describes; ``public_paths`` (the Strava callback) are open
        without the token and the only paths reachable through ``public_url``'s host."""
        hosts = set(LOOPBACK_NAMES)
        if server.host.lower() not in WILDCARD_HOSTS:
            hosts.add(server.host.lower())
        hosts.update(h.lower().strip("[]") for h in server.allowed_hosts)
        public: set[str] = set()
        origins: set[tuple[str, str, int]] = set()
        if server.public_url:
            parts = urlsplit(str(server.public_url))
            if parts.hostname:
                public.add(parts.hostname.lower())
            origin = origin_of(f"{parts.scheme}://{parts.netloc}")
            if origin is not None:
                origins.add(origin)
        paths = tuple(public_paths)
        return cls(hosts=frozenset(hosts), public_hosts=frozenset(public - hosts),
                   tokens=tuple(server.named_tokens()), open_paths=(*open_paths, *paths),
                   public_paths=paths,
                   public_origins=frozenset(origins))

    @property
    def token(self) -> str | None:
        """The first configured token (the single ``[server] token`` when set), if any."""
        return self.tokens[0][1] if self.tokens else None

    def host_allows(self, host: str | None, path: str) -> bool:
        """True when a request for ``path`` with this parsed ``Host`` may be served."""
        if host is None:
            return False
        if host in self.hosts:
            return True
        return host in self.public_hosts and _under(path, self.public_paths)

    def needs_token(self, path: str) -> bool:
        """True when ``path`` requires the token (one is configured, the path is not open)."""
        return bool(self.tokens) and not _under(path, self.open_paths)

    def login_ok(self, given: str) -> bool:
        """True when ``given`` (typed into the login form, or a bearer header) is a token."""
        return self.token_name(given) is not None

    def token_name(self, given: str) -> str | None:
        """The name of the token ``given`` is (``None``: none is). Every token is compared,
        each in constant time, so the time taken says nothing about which one was close."""
        raw = given.encode("utf-8", "replace")
        found = None
        for name, token in self.tokens:
            if hmac.compare_digest(raw, token.encode()) and found is None:
                found = name
        return found


def token_name_of(scope: Scope) -> str | None:
    """The name of the token that let the request in (``None``: no token is configured, or
    the path is open without one)."""
    state = scope.get("state")
    return state.get(TOKEN_NAME) if isinstance(state, dict) else None


def bearer_of(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header (``None``: no bearer given)."""
    scheme, _, given = (authorization or "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" else None


def session_of(cookie_header: str | None) -> str | None:
    """The dashboard session id in a ``Cookie`` header, if any."""
    if not cookie_header:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(cookie_header)
    except Exception:  # a malformed Cookie header is simply no login
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel is not None and morsel.value else None



def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class AccessGuard:
    """ASGI middleware enforcing an :class:`AccessPolicy` before any route runs."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy,
                 login_page: ASGIApp | None = None) -> None:
        # What passes the guard may also be asked with HEAD and OPTIONS (:mod:`methods`), and
        # carries a body of a bounded size (:mod:`bodies`).
        self.app: ASGIApp = HeadAndOptions(BodyCap(app))
        self.policy = policy
        self.login_page = login_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a foreign host (400) or a missing token (401); pass the rest on."""
        if scope["type"] == "websocket":
            # No route speaks WebSocket; refusing them all keeps them out of the guard's way.
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path = scope.get("path", "/")
        host = parse_host(headers.get("host", ""))
        if not self.policy.host_allows(host, path):
            await _plain(send, 400, "host not allowed: add it to [server] allowed_hosts")
            return
        if scope.get("method") not in SAFE_METHODS and not self._same_site(headers, scope):
            await _plain(send, 403, "cross-site request refused")
            return
        if self.policy.needs_token(path) and not await self._authorized(scope, receive, send):
            return
        await self.app(scope, receive, send)

    async def _authorized(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """True when the request carries the token or a live session; otherwise the refusal
        is sent: 429 while wrong tokens from its address are braked, else 401 (the login
        page for a browser's page)."""
        headers = _headers(scope)
        sessions, throttle = logins_of(scope["app"].state)
        now, client = _now(scope), client_of(scope)
        given = bearer_of(headers.get("authorization"))
        if given is None:
            session = session_of(headers.get("cookie"))
            name = sessions.name_of(session, now) if session is not None else None
            if name is not None:
                scope.setdefault("state", {})[TOKEN_NAME] = name
                return True
            if self.login_page is not None and _is_page(scope.get("path", "/")):
                await self.login_page(scope, receive, send)
                return False
        elif wait := throttle.wait(client, now):
            await too_many_guesses(send, wait)
            return False
        elif (name := self.policy.token_name(given)) is not None:
            throttle.succeeded(client)
            scope.setdefault("state", {})[TOKEN_NAME] = name
            return True
        else:
            throttle.failed(client, now)
        await _plain(send, 401, "a bearer token is required (Authorization: Bearer ...)",
                     extra=[(b"www-authenticate", b'Bearer realm="syncd"')])
        return False

    def _same_site(self, headers: dict[str, str], scope: Scope) -> bool:
        # A page elsewhere can make the runner's browser POST a form here (the Host is then
        # ours): browsers say where a request comes from, so refuse what comes from outside.
        fetch_site = headers.get("sec-fetch-site")
        if fetch_site is not None:
            # Another port on localhost is "same-site" but not ours: refused too.
            return fetch_site in ("same-origin", "none")
        origin = headers.get("origin")
        if origin is None:  # not a browser (curl, a script, Strava's servers)
            return True
        # An older browser: the Origin must be this very origin (scheme, host and port), as
        # the request reached us or as public_url names it. A page on another local port is
        # another origin.
        given = origin_of(origin)
        own = origin_of(f"{scope.get('scheme', 'http')}://{headers.get('host', '')}")
        return given is not None and (given == own or given in self.policy.public_origins)


def origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin such as ``http://127.0.0.1:8765`` (the port
    defaulting by scheme), or ``None`` when it is not an http(s) origin."""
    scheme, _, netloc = url.strip().lower().partition("://")
    host = parse_host(netloc)
    if scheme not in ("http", "https") or host is None:
        return None
    after_host = netloc.rpartition("]")[2] if netloc.startswith("[") else netloc
    _, colon, port = after_host.partition(":")
    return scheme, host, int(port) if colon else (443 if scheme == "https" else 80)


def _now(scope: Scope) -> datetime:
    """The running App's clock (the tests' injected one), else the system's."""
    context = getattr(scope["app"].state, "syncd", None)
    return context.app.clock() if context is not None else datetime.now(UTC)


def client_of(scope: Scope) -> str:
    """The client's address, as the connection shows it (a proxy's, behind one)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def too_many_guesses(send: Send, wait: timedelta) -> None:
    """429 with ``Retry-After``: wrong tokens from this address are braked."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    await _plain(send, 429, f"too many wrong tokens: try again in {seconds} s",
                 extra=[(b"retry-after", str(seconds).encode())])


def _is_page(path: str) -> bool:
    """The dashboard's pages: a browser that is not logged in gets the login form there."""
    return path == "/" or path.startswith("/athletes/")


def _headers(scope: Scope) -> dict[str, str]:
    # Duplicated headers: the first wins, as a proxy would forward it.
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        out.setdefault(raw_name.decode("latin-1").lower(), raw_value.decode("latin-1"))
    return out


async def _plain(send: Send, status: int, text: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = (text + "\n").encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()), *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
