"""What every delivery channel (a webhook endpoint, the mailbox) offers the dispatcher."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from syncd.app import own_mail as own_mail
from syncd.models import SEVERITY_ORDER
from syncd.store.acks import EVENT_ACKNOWLEDGED
from syncd.store.alerts import EVENT_ESCALATED, EVENT_RAISED, EVENT_RESOLVED
from syncd.store.alerts import EVENT_NOTICE as EVENT_NOTICE
from syncd.store.outbox import OutboxEvent

EVENT_SUMMARY = "summary.weekly"
EVENT_TEST = "test"
# An escalation is routed by the alert's new severity: a channel that only wants critical
# alerts gets it even though it never got the warning before.
ALERT_EVENTS = (EVENT_RAISED, EVENT_RESOLVED, EVENT_ESCALATED)
# The notice saying a webhook endpoint answered 410 Gone, keyed by the endpoint's fingerprint.
GONE_NOTICE_PREFIX = "webhook_gone:"


class Result(StrEnum):
    """How one attempt (or non-attempt) on one channel ended."""

    DELIVERED = "delivered"  # the receiver took it (2xx, or the mail server accepted it)
    ERROR = "error"  # try again on the schedule
    GONE = "gone"  # 410: the endpoint is gone for good
    SKIPPED = "skipped"  # the channel does not want this event (severity, rules, type)
    RELEASED = "released"  # not attempted in time; due again at once, no attempt counted


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of offering one event to a channel."""

    result: Result
    status_code: int | None = None
    error: str | None = None
    retry_after: timedelta | None = None
    duration_s: float = 0.0

    @property
    def attempted(self) -> bool:
        """True when something went over the network (an attempt to record)."""
        return self.result in (Result.DELIVERED, Result.ERROR, Result.GONE)


@dataclass(frozen=True, slots=True)
class Rendered:
    """One event and the message a channel built for it (a mail, a request body)."""

    event: OutboxEvent
    message: Any


def by_alert_in_order(pool: Executor, messages: list[Rendered],
                      send_in_order: Callable[[list[Rendered]], list[Outcome]]
                      ) -> list[Outcome]:
    """Offer ``messages`` on ``pool``, several alerts at once but one alert's messages
    (raised, then resolved) one after the other in the order given, through
    ``send_in_order``: a receiver must never see an alert resolved before it was raised."""
    alerts: dict[str, list[int]] = {}
    for i, message in enumerate(messages):
        alerts.setdefault(message.event.alert_id or message.event.id, []).append(i)
    outcomes: list[Outcome] = [Outcome(Result.RELEASED)] * len(messages)
    groups = list(alerts.values())
    sent = pool.map(lambda indices: send_in_order([messages[i] for i in indices]), groups)
    for indices, results in zip(groups, sent, strict=True):
        for i, outcome in zip(indices, results, strict=True):
            outcomes[i] = outcome
    return outcomes


#: The metrics label of every athlete's own mail: one label, so that no patient is named.
OWN_MAIL_LABEL = "email:own"


def metric_label(channel: str) -> str:
    """The label a channel has in ``/metrics``: its name, except that the athletes' own mail
    channels (``email:ana``) all count as ``email:own``."""
    return OWN_MAIL_LABEL if own_mail(channel) else channel


def unbuildable(err: BaseException) -> str:
    """The recorded error of a message that could not be built or written: the kind of
    failure only, never the text (which holds health data)."""
    return f"its message could not be built ({type(err).__name__})"


def severity_at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` is ``minimum`` or above."""
    return SEVERITY_ORDER.get(severity, 0) >= SEVERITY_ORDER.get(minimum, 0)


def passes_filter(event: OutboxEvent, min_severity: str, rules: list[str] | None, *,
                  acks: bool = False) -> bool:
    """The filter of a channel configured with ``min_severity`` and ``rules`` (a webhook, a
    notify channel): alerts that pass both, and operator notices at or above
    ``min_severity`` except the one saying a webhook endpoint is gone (which is for the
    operator's mailbox). ``alert.acknowledged`` passes as its alert would when ``acks``
    (a channel of the clinic's, never one a patient reads: it names who acknowledged)."""
    if event.type in ALERT_EVENTS or (acks and event.type == EVENT_ACKNOWLEDGED):
        return (severity_at_least(event.severity, min_severity)
                and (rules is None or event.rule in rules))
    if event.type == EVENT_NOTICE:
        kind = event.notice_kind or ""
        return (not kind.startswith(GONE_NOTICE_PREFIX)
                and severity_at_least(event.severity, min_severity))
    return False


class Channel(ABC):
    """A destination for outbox events. Implementations are used from one dispatcher thread
    at a time but may fan out internally."""

    #: The channel's name as stored on deliveries (``webhook``, ``webhook:1``, ``email``).
    name: str
    #: How long one attempt may take at most (connect, send, answer).
    timeout_s: float
    #: How many events the dispatcher claims at once for this channel.
    batch_size: int = 32
    #: How many attempts run at the same time.
    concurrency: int = 1
    #: A digest waits until its oldest event is this old (``None``: send at once).
    hold: timedelta | None = None

    @abstractmethod
    def accepts(self, event: OutboxEvent) -> bool:
        """True when this channel should carry ``event`` (type, severity and rule filters)."""

    @abstractmethod
    def render(self, event: OutboxEvent) -> Rendered:
        """Build what is sent for ``event``. Raises (anything) when it cannot be built: the
        dispatcher then records a failed attempt for this event alone."""

    @abstractmethod
    def deliver(self, messages: list[Rendered], deadline: float) -> list[Outcome]:
        """Try to deliver each rendered event; one outcome per message, in order. No attempt
        may start when it could not finish before ``deadline`` (a ``time.monotonic()``
        value): such events come back :attr:`Result.RELEASED`. Never raises for a delivery
        failure."""

    def lease(self) -> timedelta:
        """How long a claimed batch stays reserved for this dispatcher: long enough for every
        attempt in it to finish, after which a crashed dispatcher's claims are taken over."""
        rounds = -(-self.batch_size // max(1, self.concurrency))
        return timedelta(seconds=self.timeout_s * rounds + max(1.0, self.timeout_s))

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections and threads."""
