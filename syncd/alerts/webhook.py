"""The webhook channel: a JSON POST signed per the Standard Webhooks spec.

The body is the outbox event's payload (DESIGN section 6, a contract). Each attempt is signed
anew with the time it is sent (``webhook-timestamp``), under the event id (``webhook-id``),
so a receiver can refuse replays and recognise a re-send. Redirects are not followed: a
receiver that moved must be configured at its new address, and a signed alert must not be
handed to whatever host a redirect names.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import httpx
from standardwebhooks import Webhook

from syncd.alerts.channel import (
    EVENT_TEST,
    Channel,
    Outcome,
    Rendered,
    Result,
    by_alert_in_order,
    passes_filter,
)
from syncd.alerts.schedule import parse_retry_after
from syncd.config.sections import WebhookSection
from syncd.errors import ConfigError
from syncd.logs import redact_text
from syncd.models import utc_iso
from syncd.store.outbox import OutboxEvent


def _version() -> str:
    try:
        return metadata.version("syncd")
    except metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return "dev"


USER_AGENT = f"syncd/{_version()}"


def render_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def signer(secret: str | None, label: str) -> Webhook | None:
    """A Standard Webhooks signer for ``secret`` (``whsec_`` + base64), or ``None`` when no
    secret is configured. Raises :class:`ConfigError` for a malformed secret."""
    if not secret:
        return None
    try:
        if not secret.startswith("whsec_"):
            raise ValueError
        return Webhook(secret)
    except Exception:  # binascii.Error, ValueError, EmptyWebhookSecretError
        raise ConfigError([f"{label}: not a Standard Webhooks secret; it must be \"whsec_\" "
                           "followed by base64 (run `syncd webhook secret` for a new one)"]
                          ) from None


def signed_headers(hook: Webhook | None, event_id: str, body: bytes,
                   sent_at: datetime | None = None) -> dict[str, str]:
    """The request headers of one attempt: id, timestamp and (with a secret) signature."""
    moment = (sent_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event_id,
        "webhook-timestamp": str(int(moment.timestamp())),
    }
    if hook is not None:
        headers["webhook-signature"] = hook.sign(event_id, moment, body.decode())
    return headers


def endpoint_fingerprint(url: str) -> str:
    """A short, stable name for an endpoint URL that does not reveal it (URLs can hold
    tokens): how a 410 Gone is remembered."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


class WebhookChannel(Channel):
    """One configured webhook endpoint, with its own secret and filter."""

    def __init__(self, name: str, section: WebhookSection, *, concurrency: int = 8,
                 batch_size: int = 32, transport: httpx.BaseTransport | None = None) -> None:
        self.name = name
        self.section = section
        self.url = str(section.url)
        self.fingerprint = endpoint_fingerprint(self.url)
        secret = section.secret.get_secret_value() if section.secret else None
        self._hook = signer(secret, f"{name}.secret")
        self.timeout_s = section.timeout.total_seconds()
        self.concurrency = max(1, concurrency)
        self.batch_size = max(1, batch_size)
        self._client = httpx.Client(
            timeout=self.timeout_s, follow_redirects=False, transport=transport,
            limits=httpx.Limits(max_connections=self.concurrency,
                                max_keepalive_connections=self.concurrency))
        self._pool: ThreadPoolExecutor | None = None

    @property
    def signed(self) -> bool:
        """True when a secret is configured (every request carries a signature)."""
        return self._hook is not None

    def accepts(self, event: OutboxEvent) -> bool:
        """Alerts (and their acknowledgements: a webhook is the clinic's, never a patient's)
        that pass the severity and rule filters, and operator notices (except the one saying
        a webhook endpoint is gone, which is for the operator's mailbox)."""
        return passes_filter(event, self.section.min_severity, self.section.rules, acks=True)

    def render(self, event: OutboxEvent) -> Rendered:
        """The exact body of ``event``'s request."""
        return Rendered(event, render_body(event.payload))

    def deliver(self, messages: list[Rendered], deadline: float) -> list[Outcome]:
        """POST every body, ``concurrency`` at a time, but one alert's (raised, then resolved)
        one after the other, in order; after a 410 Gone nothing more is started (the rest
        comes back released)."""
        gone = threading.Event()
        if len(messages) <= 1 or self.concurrency == 1:
            return [self._attempt(message, deadline, gone) for message in messages]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.name)
        return by_alert_in_order(self._pool, messages, lambda group: [
            self._attempt(message, deadline, gone) for message in group])

    def post(self, event_id: str, payload: dict[str, Any]) -> Outcome:
        """Send one payload now under ``event_id`` (``syncd webhook test`` uses this)."""
        return self._post(event_id, render_body(payload))

    def _attempt(self, message: Rendered, deadline: float, gone: threading.Event) -> Outcome:
        if gone.is_set() or time.monotonic() + self.timeout_s > deadline:
            return Outcome(Result.RELEASED)
        outcome = self._post(message.event.id, message.message)
        if outcome.result is Result.GONE:
            gone.set()
        return outcome

    def _post(self, event_id: str, body: bytes) -> Outcome:
        started = time.monotonic()
        headers = signed_headers(self._hook, event_id, body)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return Outcome(Result.ERROR, error=self._describe(err),
                           duration_s=time.monotonic() - started)
        return self._judge(response, time.monotonic() - started)

    def _judge(self, response: httpx.Response, duration_s: float) -> Outcome:
        code = response.status_code
        if 200 <= code < 300:
            return Outcome(Result.DELIVERED, code, duration_s=duration_s)
        if code == 410:
            return Outcome(Result.GONE, code, "the endpoint answered 410 Gone",
                           duration_s=duration_s)
        if 300 <= code < 400:
            error = (f"redirected ({code}); redirects are not followed: set the "
                     f"endpoint's url to the final address")
        else:
            error = f"the receiver answered {code} {response.reason_phrase}".rstrip()
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return Outcome(Result.ERROR, code, error, retry_after, duration_s)

    def _describe(self, err: httpx.HTTPError) -> str:
        """The error without the URL (which may carry a token) or any secret."""
        if isinstance(err, httpx.TimeoutException):
            return f"timed out after {self.timeout_s:g} s ({type(err).__name__})"
        text = str(err).replace(self.url, "<url>") or type(err).__name__
        return redact_text(f"{type(err).__name__}: {text}")[:300]

    def close(self) -> None:
        """Close the HTTP connections and the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._client.close()


def make_test_payload(athlete: str, event_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The body of ``syncd webhook test``: a ``test`` event a receiver can verify and drop."""
    stamp = utc_iso(now or datetime.now(UTC))
    return {"type": EVENT_TEST, "timestamp": stamp,
            "data": {"id": event_id, "athlete": athlete, "created_at": stamp,
                     "message": "A test event from syncd: the signature verifies, nothing "
                                "else to do."}}
