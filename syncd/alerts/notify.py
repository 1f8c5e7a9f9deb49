"""The notify channels: push services (ntfy, Gotify, Telegram, Matrix, Signal, Pushover...)
reached through Apprise, one URL per ``[[notify]]`` entry, channel ``notify:<name>``.

They ride the same outbox as the webhooks: the dispatcher claims, this channel sends, every
attempt is recorded and retried on the same schedule. Apprise answers a send with a bool:
``False`` is a failed attempt to try again; a plugin that raises fails that one attempt. Each
attempt runs in a thread of its own that the dispatcher waits on for at most the channel's
timeout, so a service that hangs holds up nothing beyond that (Apprise's sockets get the same
timeout, so the thread ends soon after).

The URL holds the service's secrets: it is never logged or shown. Apprise's own log lines,
which can hold pieces of it, stay out of syncd's log (see :mod:`syncd.config.notify`); the
warning of a failed attempt becomes the delivery's error with every piece of the URL masked.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import unquote

from apprise import Apprise
from apprise.plugins.base import NotifyBase

from syncd.alerts.channel import (
    EVENT_NOTICE,
    Channel,
    Outcome,
    Rendered,
    Result,
    by_alert_in_order,
    passes_filter,
)
from syncd.alerts.checkin_mail import CheckinMessage
from syncd.alerts.pushes import NOTIFY_TYPES, Push, checkin_push, push_of, with_options
from syncd.config import Settings
from syncd.config.notify import APPRISE_LOG, NotifySection, apprise_asset
from syncd.logs import redact_text
from syncd.store.outbox import OutboxEvent
from syncd.text import clean_line

ERROR_MAX = 240
MASK = "***"


class NotifyChannel(Channel):
    """One ``[[notify]]`` entry: an Apprise URL with its own filter and athletes."""

    def __init__(self, section: NotifySection, *, name_athletes: bool = False,
                 concurrency: int = 4, batch_size: int = 32) -> None:
        self.name = section.channel
        self.section = section
        self.timeout_s = section.timeout.total_seconds()
        self.concurrency = max(1, concurrency)
        self.batch_size = max(1, batch_size)
        # A channel seen by several athletes' alerts names the athlete in each title.
        self.name_athletes = name_athletes
        assert section.url is not None  # the section refuses an entry without one
        self._url = section.url.get_secret_value()
        self._pieces = secret_pieces(self._url)
        self._pool: ThreadPoolExecutor | None = None

    @property
    def shared(self) -> bool:
        """True for a channel routed like a webhook (no athletes list): the operator's."""
        return self.section.athletes is None

    def accepts(self, event: OutboxEvent) -> bool:
        """Alerts through the severity and rule filters; operator notices only on a shared
        channel (a channel kept to athletes is theirs, not the operator's)."""
        if event.type == EVENT_NOTICE and not self.shared:
            return False
        return passes_filter(event, self.section.min_severity, self.section.rules)

    def render(self, event: OutboxEvent) -> Rendered:
        """The title and text of ``event``'s push."""
        return Rendered(event, push_of(event, name_athlete=self.name_athletes))

    def deliver(self, messages: list[Rendered], deadline: float) -> list[Outcome]:
        """Send the pushes, ``concurrency`` at a time, but the pushes of one alert (raised,
        then resolved) one after the other, in order: a reader must not see "resolved"
        first. None is started that could not end before ``deadline`` (released)."""
        if len(messages) <= 1 or self.concurrency == 1:
            return self._in_order(messages, deadline)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.name)
        return by_alert_in_order(self._pool, messages,
                                 lambda group: self._in_order(group, deadline))

    def send(self, push: Push) -> Outcome:
        """Send one push now, waiting at most the channel's timeout (``syncd notify test``
        uses this)."""
        started = time.monotonic()
        done: Future[Outcome] = Future()
        # A thread of its own, a daemon: one that hangs past the timeout is left behind and
        # never waited for, so the pool's worker (and the dispatcher) moves on.
        threading.Thread(target=self._run, args=(push, done), daemon=True,
                         name=f"{self.name}-send").start()
        return self._wait(done, started)

    def send_checkin(self, message: CheckinMessage) -> Outcome:
        """Send a morning check-in now: its question and a link per score, and on ntfy one
        button per score band (:class:`~syncd.alerts.checkin_mail.CheckinCarrier`)."""
        return self.send(checkin_push(message, self._url))

    def close(self) -> None:
        """Stop the worker threads (each waits at most the timeout for its attempt)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _in_order(self, messages: list[Rendered], deadline: float) -> list[Outcome]:
        """Send ``messages`` one after the other; those that could not end before
        ``deadline`` are released."""
        return [Outcome(Result.RELEASED) if time.monotonic() + self.timeout_s > deadline
                else self.send(message.message) for message in messages]

    def _wait(self, done: Future[Outcome], started: float) -> Outcome:
        try:
            return done.result(timeout=max(0.0, started + self.timeout_s - time.monotonic()))
        except TimeoutError:
            return Outcome(Result.ERROR, error=f"timed out after {self.timeout_s:g} s",
                           duration_s=time.monotonic() - started)

    def _run(self, push: Push, done: Future[Outcome]) -> None:
        """One attempt, on its own thread: Apprise's answer, or what it raised."""
        started = time.monotonic()
        _SAID.listen()
        try:
            plugin = self._plugin(push)
            sent = plugin is not None and plugin.notify(
                body=push.body, title=push.title, notify_type=NOTIFY_TYPES[push.level])
            outcome = (Outcome(Result.DELIVERED) if sent
                       else Outcome(Result.ERROR, error=self._refusal(plugin, _SAID.heard())))
        except Exception as err:  # a plugin's bug fails this attempt, never the dispatcher
            outcome = Outcome(Result.ERROR, error=f"the Apprise plugin raised "
                                                  f"{type(err).__name__}")
        finally:
            _SAID.stop()
        done.set_result(Outcome(outcome.result, error=outcome.error,
                                duration_s=time.monotonic() - started))

    def _plugin(self, push: Push) -> NotifyBase | None:
        """A fresh Apprise plugin for one attempt (nothing shared between threads), with what
        ``push`` asks of the service (its priority, ntfy's buttons) and the channel's timeout
        on its sockets."""
        plugin = Apprise.instantiate(with_options(self._url, push), asset=apprise_asset())
        if plugin is not None:
            plugin.socket_read_timeout = self.timeout_s
            plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, self.timeout_s)
        return plugin

    def _refusal(self, plugin: NotifyBase | None, heard: list[str]) -> str:
        """Why an attempt failed, in words that hold no piece of the URL."""
        if plugin is None:
            return "Apprise could not load the url"
        text = f"{plugin.service_name} did not take the message"
        if heard:
            text += f": {mask(heard[-1], self._pieces)}"
        return clean_line(text, ERROR_MAX)


def notify_channels(settings: Settings, *, concurrency: int = 4,
                    batch_size: int = 32) -> list[NotifyChannel]:
    """A channel for each ``[[notify]]`` entry. In a clinic, a channel that carries several
    athletes' alerts names the athlete in every title."""
    return [NotifyChannel(section, concurrency=concurrency, batch_size=batch_size,
                          name_athletes=settings.clinic and (section.athletes is None
                                                             or len(section.athletes) > 1))
            for section in settings.notify]


def secret_pieces(url: str) -> list[str]:
    """Every part of ``url`` after its scheme (user, password, host, path, query values), as
    written and decoded, longest first: what an error text must not show."""
    rest = url.partition("://")[2]
    pieces = {p for p in re.split(r"[/:@?&=#,;+\s]+", rest) if len(p) >= 3}
    pieces |= {unquote(p) for p in pieces}
    return sorted(pieces, key=len, reverse=True)


def mask(text: str, pieces: list[str]) -> str:
    """``text`` with every piece of the URL (and any token shaped like one) masked."""
    for piece in pieces:
        text = text.replace(piece, MASK)
    return redact_text(text)


class _Said(logging.Handler):
    """Keeps the warnings Apprise logs on the threads that listen (one per attempt), so that
    a failed attempt can say why."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._heard: dict[int, list[str]] = {}
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the line when its thread listens (a few lines at most)."""
        with self._guard:
            lines = self._heard.get(record.thread or 0)
            if lines is not None and len(lines) < 8:
                try:
                    lines.append(record.getMessage())
                except Exception:  # a line Apprise could not format: its template will do
                    lines.append(str(record.msg))

    def listen(self) -> None:
        """Keep what Apprise logs on this thread from now on."""
        with self._guard:
            self._heard[threading.get_ident()] = []

    def heard(self) -> list[str]:
        """What Apprise logged on this thread since :meth:`listen`."""
        with self._guard:
            return list(self._heard.get(threading.get_ident(), []))

    def stop(self) -> None:
        """Stop keeping this thread's lines."""
        with self._guard:
            self._heard.pop(threading.get_ident(), None)


_SAID = _Said()
APPRISE_LOG.addHandler(_SAID)
# Apprise's warnings say why a send failed; they are kept whatever syncd's own log level is.
APPRISE_LOG.setLevel(logging.WARNING)
