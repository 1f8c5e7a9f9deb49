"""Authorizing syncd with Strava: the authorize URL, the redirect (caught on a one-shot
listener on 127.0.0.1, or pasted on a headless server), and storing the tokens.

Strava allows ``localhost`` and ``127.0.0.1`` as the callback domain of any application, on
any port, so the listener needs no configuration. The ``state`` parameter ties the redirect
to this run of ``syncd auth strava``.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from connectors.strava.api import SCOPES, StravaApi
from connectors.strava.tokens import REAUTH, Tokens
from syncd.errors import AuthError

CALLBACK_PATH = "/strava/authorized"
_PAGE = (b"<!doctype html><meta charset=utf-8><title>syncd</title>"
         b"<p>syncd received Strava's answer. You can close this tab.</p>")


def authorize_url(api_url: str, client_id: int, redirect_uri: str, state: str) -> str:
    """Strava's authorization page for syncd's scopes (``api_url`` stands in for
    ``https://www.strava.com``)."""
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri,
                       "response_type": "code", "approval_prompt": "auto",
                       "scope": ",".join(SCOPES), "state": state})
    return f"{api_url.rstrip('/')}/oauth/authorize?{query}"


def new_state() -> str:
    """A random ``state`` value for one authorization."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True, slots=True)
class Grant:
    """What Strava's redirect carried: the one-time code and the scopes granted."""

    code: str
    scope: str | None

    def missing_scopes(self) -> list[str]:
        """Scopes syncd asked for that the athlete unticked (``[]`` when unknown)."""
        if self.scope is None:
            return []
        granted = set(self.scope.split(","))
        return [s for s in SCOPES if s not in granted and s != "read"]


def grant_from_query(query: Mapping[str, list[str]], state: str | None = None) -> Grant:
    """Read the redirect's query; raises :class:`AuthError` on a refusal or a mismatch."""
    def first(name: str) -> str | None:
        """The first value of a query parameter."""
        values = query.get(name)
        return values[0] if values else None

    if first("error"):
        raise AuthError(f"Strava did not authorize syncd ({first('error')}); {REAUTH} and "
                        "press Authorize")
    if state is not None and first("state") != state:
        raise AuthError(f"the redirect does not belong to this authorization; {REAUTH} again")
    code = first("code")
    if not code:
        raise AuthError(f"the redirect carries no authorization code; {REAUTH} again")
    return Grant(code=code, scope=first("scope"))


def grant_from_url(url: str) -> Grant:
    """Read a redirect URL pasted from the browser's address bar."""
    return grant_from_query(parse_qs(urlsplit(url.strip()).query))


class OneShotListener:
    """Serves one redirect on 127.0.0.1 and remembers its query."""

    def __init__(self, port: int = 0) -> None:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            """Answers the browser's redirect once, and nothing else."""

            def do_GET(self) -> None:
                """Keep the redirect's query and thank the browser."""
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH:
                    self.send_error(404)
                    return
                listener.query = parse_qs(parts.query)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(_PAGE)))
                self.end_headers()
                self.wfile.write(_PAGE)
                listener.received.set()

            def log_message(self, format: str, *args: Any) -> None:
                """The query holds the one-time code: keep it out of the terminal."""

        self.query: dict[str, list[str]] | None = None
        self.received = threading.Event()
        self.server = HTTPServer(("127.0.0.1", port), Handler)

    @property
    def redirect_uri(self) -> str:
        """Where Strava must send the browser back."""
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}{CALLBACK_PATH}"

    def wait(self, timeout_s: float) -> dict[str, list[str]] | None:
        """Serve until the redirect arrives or ``timeout_s`` passes; its query or ``None``."""
        thread = threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True)
        thread.start()
        try:
            self.received.wait(timeout_s)
        finally:
            self.server.shutdown()
            self.server.server_close()
        return self.query


def authorize_with_code(api: StravaApi, grant: Grant) -> Tokens:
    """Exchange the code and store the tokens (with the athlete's id and the scopes)."""
    tokens = api.exchange_code(grant.code)
    if grant.scope:
        tokens = Tokens(**{**tokens.as_json(), "scope": grant.scope})
    api.keeper.save(tokens)
    return tokens


def authorize_with_refresh_token(api: StravaApi, refresh_token: str) -> Tokens:
    """Check a refresh token by refreshing it, store the (rotated) pair, and record whose it
    is. The rotated token is saved before the new access token is used."""
    answer = api.keeper.refresher(refresh_token.strip())
    tokens = Tokens(refresh_token=refresh_token.strip()).rotated(answer)
    api.keeper.save(tokens)
    athlete = api.athlete()
    if isinstance(athlete.get("id"), int):
        tokens = Tokens(**{**tokens.as_json(), "athlete_id": athlete["id"]})
        api.keeper.save(tokens)
    return tokens
