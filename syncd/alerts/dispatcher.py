"""The dispatcher: takes due deliveries from the outbox, sends them, records every attempt.

One pass (:meth:`Dispatcher.run_once`) first gives every event a delivery row on every
configured channel and queues the weekly summary when a plan week has ended, then drains each
channel (the channels side by side, so a dead webhook never holds up the mail): claim a batch,
send it, record the outcomes and the next attempt on the retry schedule. Delivery is at least
once: a dispatcher that dies after sending but before recording leaves its claims behind, and
the next pass sends them again under the same event id: at once when the claims' holder is
known to be gone (:mod:`syncd.store.claim_holders`), else once their lease runs out.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.orm import Session

from syncd.alerts import record
from syncd.alerts.attempts import log_attempt, send_batch
from syncd.alerts.channel import (
    EVENT_NOTICE,
    GONE_NOTICE_PREFIX,
    Channel,
    Outcome,
    Rendered,
    Result,
    own_mail,
    unbuildable,
)
from syncd.alerts.clinic_view import ChannelView
from syncd.alerts.metrics import DeliveryMetrics
from syncd.alerts.notify import notify_channels
from syncd.alerts.reports import ChannelReport, DispatchReport
from syncd.alerts.smtp import EmailChannel
from syncd.alerts.summary import queue_weekly_summary
from syncd.alerts.summary_updates import Checked, queue_corrected_summaries
from syncd.alerts.webhook import WebhookChannel
from syncd.app import athlete_channels, own_email_channel
from syncd.config import Settings
from syncd.config.sections import AthleteSection
from syncd.errors import SyncdError
from syncd.store import outbox
from syncd.store.alerts import add_operator_notice
from syncd.store.claim_holders import own, stale_holders
from syncd.store.consents import withdrawn_since
from syncd.store.outbox import OutboxEvent
from syncd.store.replicas import new_replica_id

if TYPE_CHECKING:
    import ssl

    from syncd.app import App

log = structlog.get_logger("syncd.alerts")

DEFAULT_LIMIT = 1000
# The notice saying deliveries on a channel failed for good, keyed by the channel.
FAILED_NOTICE_PREFIX = "delivery_failed:"
# A replica silent for this long at least has its delivery claims taken over.
STALE_AFTER_MIN = timedelta(seconds=3)


def utcnow() -> datetime:
    """The wall clock, aware UTC."""
    return datetime.now(UTC)


def build_channels(settings: Settings, *, roster: Sequence[AthleteSection] | None = None,
                   tls_context: ssl.SSLContext | None = None, concurrency: int = 8,
                   batch_size: int = 32) -> list[Channel]:
    """The configured channels, named as :meth:`syncd.app.App.channels` names them: the
    webhooks, the notify channels, the shared mail, and the own mail of each athlete of
    ``roster`` that has one."""
    channels: list[Channel] = [
        WebhookChannel(name, section, concurrency=concurrency, batch_size=batch_size)
        for name, section in settings.webhook_channel_names()]
    channels += notify_channels(settings, concurrency=concurrency, batch_size=batch_size)
    if settings.email is not None:
        channels.append(EmailChannel("email", settings.email, settings.alerts,
                                     tls_context=tls_context))
        for athlete in roster if roster is not None else settings.roster():
            if athlete.email:
                own = settings.email.model_copy(update={
                    "recipients": list(athlete.email),
                    "min_severity": athlete.email_min_severity})
                channels.append(EmailChannel(own_email_channel(athlete.name), own,
                                             settings.alerts, tls_context=tls_context,
                                             operator=False))
    return channels


class Dispatcher:
    """Delivers the outbox of an :class:`~syncd.app.App` (of its clinic, when it has one),
    reading the time from ``clock``."""

    def __init__(self, app: App, clock: Callable[[], datetime] = utcnow, *,
                 channels: Sequence[Channel] | None = None,
                 metrics: DeliveryMetrics | None = None, jitter: float = 0.1,
                 rng: random.Random | None = None, tls_context: ssl.SSLContext | None = None,
                 concurrency: int = 8, batch_size: int = 32, holder: str | None = None) -> None:
        self.app = app
        # Whose claims this dispatcher takes (``syncd run`` passes its replica id).
        self.holder = own(holder or new_replica_id())
        self._summaries_checked: Checked = {}  # changed weeks whose figures stayed the same
        self.store = app.store
        self.settings = settings = app.settings
        self.clock = clock
        self.channels = list(channels) if channels is not None else build_channels(
            settings, roster=app.clinic.roster(), tls_context=tls_context, concurrency=concurrency,
            batch_size=batch_size)
        self.metrics = metrics or DeliveryMetrics()
        self.metrics.watch(self.store)
        self.jitter = jitter
        self.rng = rng or random.Random()
        self._view = ChannelView(settings)  # the pass's, read at its start

    # -- one pass ------------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None, limit: int = DEFAULT_LIMIT) -> DispatchReport:
        """Deliver what is due at ``now`` (default: the clock), at most ``limit`` deliveries
        per channel, and report what happened. Failures are recorded and reported, never
        raised, so that the caller (the scheduler, ``syncd sync``) goes on."""
        now = now or self.clock()
        report = DispatchReport(now, channels={c.name: ChannelReport() for c in self.channels})
        names = [c.name for c in self.channels]
        try:
            self._view = ChannelView(self.settings, self._withdrawn())
            with self.store.write() as tx:
                report.added = outbox.ensure_deliveries(tx, names, now, self._audience(),
                                                         own_mail=own_mail)
                gone = outbox.gone_endpoints(tx, GONE_NOTICE_PREFIX)
        except SyncdError as err:
            report.errors.append(str(err))
            log.error("outbox unavailable", error=str(err))
            return report
        self._queue_summary(now, names, report)
        live = [c for c in self.channels if not self._is_gone(c, gone, now, report)]
        if live:
            with ThreadPoolExecutor(len(live), thread_name_prefix="dispatch") as pool:
                for channel, error in zip(live, pool.map(
                        lambda c: self._drain(c, now, limit, report.channels[c.name]), live),
                        strict=True):
                    if error:
                        report.errors.append(f"{channel.name}: {error}")
        return report

    def run_until_idle(self, within: timedelta, limit: int = DEFAULT_LIMIT,
                       sleep: Callable[[float], None] = time.sleep) -> list[DispatchReport]:
        """Pass after pass while a pending delivery is due within ``within`` of the clock
        (waiting for it in between); for ``syncd deliver --wait``."""
        reports = [self.run_once(limit=limit)]
        while True:
            with self.store.read() as tx:
                due = outbox.next_due(tx)
            now = self.clock()
            if due is None or due > now + within:
                return reports
            sleep(max(0.0, min((due - now).total_seconds(), within.total_seconds())) + 0.05)
            reports.append(self.run_once(limit=limit))

    def close(self) -> None:
        """Close every channel's connections."""
        for channel in self.channels:
            channel.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- steps ---------------------------------------------------------------------------------

    def _audience(self) -> dict[str, set[str]]:
        """Channel -> the athletes whose events it carries: those routed to it."""
        audience: dict[str, set[str]] = {}
        for profile in self.app.clinic.roster():
            for name in athlete_channels(self.settings, profile):
                audience.setdefault(name, set()).add(profile.name)
        return audience

    def _queue_summary(self, now: datetime, names: Sequence[str], report: DispatchReport) -> None:
        """Queue the weekly summary when a week has ended (email configured and wanted)."""
        if (not self.settings.alerts.weekly_summary
                or not any(isinstance(c, EmailChannel) for c in self.channels)):
            return
        for app in self.app.clinic.apps():
            routed = [n for n in app.channels() if n in names]
            if not routed:
                continue
            try:
                event_ids = [queue_weekly_summary(app, now, routed), *queue_corrected_summaries(
                    app, now, routed, self._summaries_checked)]
            except Exception as err:  # a summary that cannot be built must not stop alerts
                log.exception("weekly summary failed", athlete=app.athlete.name)
                report.errors.append(f"weekly summary of {app.athlete.name}: {err}")
                continue
            for event_id in filter(None, event_ids):
                report.summaries.append(event_id)
                log.info("weekly summary queued", event_id=event_id)

    def _is_gone(self, channel: Channel, gone: set[str], now: datetime,
                 report: DispatchReport) -> bool:
        """True for a webhook whose endpoint answered 410; its pending rows become disabled."""
        if not isinstance(channel, WebhookChannel) or channel.fingerprint not in gone:
            return False
        with self.store.write() as tx:
            count = outbox.disable_pending(tx, channel.name, now)
        report.channels[channel.name].disabled += count
        for _ in range(count):
            self.metrics.observe(channel.name, "disabled")
        return True

    def _drain(self, channel: Channel, now: datetime, limit: int,
               report: ChannelReport) -> str | None:
        """Claim, send and record batches on one channel until nothing is due; returns an
        error text when the channel had to stop. One transaction records a batch and claims
        the next (one commit per batch: with ``synchronous=FULL`` each commit is an fsync)."""
        started = time.monotonic()
        remaining = limit
        sent: list[tuple[outbox.Claim, Outcome]] = []
        try:
            while True:
                lease = channel.lease()
                with self.store.write() as tx:
                    lines, disabled = self._write_outcomes(tx, channel, sent, now)
                    claims: list[outbox.Claim] = []
                    if remaining > 0 and disabled is None and self._ready(tx, channel, now):
                        moment = now + timedelta(seconds=time.monotonic() - started)
                        claims = outbox.claim_due(tx, channel.name, now,
                                                  min(channel.batch_size, remaining),
                                                  moment + lease, holder=self.holder,
                                                  stale=self._gone_holders(tx, now))
                self._count(channel, lines, disabled, report)
                if not claims:
                    break
                remaining -= len(claims)
                deadline = time.monotonic() + lease.total_seconds()
                outcomes = self._offer(channel, [c.event for c in claims], deadline)
                sent = list(zip(claims, outcomes, strict=True))
        except SyncdError as err:
            log.error("delivery channel stopped", channel=channel.name, error=str(err))
            return str(err)
        except Exception as err:  # a bug in one channel must not stop the others
            log.exception("delivery channel crashed", channel=channel.name)
            return f"unexpected {type(err).__name__}"
        return None

    def orphaned_claims(self, now: datetime) -> bool:
        """True when a process that is gone holds claims (``syncd run`` then runs a pass
        at once rather than at the next tick)."""
        with self.store.read() as tx:
            return bool(self._gone_holders(tx, now))

    def _gone_holders(self, tx: Session, now: datetime) -> set[str]:
        """The holders of claims that are gone, whose claims are taken over at once. A
        ``syncd run`` replica is gone after three missed heartbeats (one per leadership
        check), so that one slow beat costs nothing."""
        stale_after = max(self.settings.server.leadership_check * 3, STALE_AFTER_MIN)
        return stale_holders(tx, now, self.holder, stale_after)

    def _ready(self, tx: Session, channel: Channel, now: datetime) -> bool:
        """A digest channel sends only once its oldest due event has waited long enough."""
        if channel.hold is None:
            return True
        oldest = outbox.oldest_due(tx, channel.name, now)
        return oldest is not None and oldest + channel.hold <= now

    def _withdrawn(self) -> set[str]:
        """The athletes who withdrew their consent to share, by name (none for a single
        athlete, whose channels are all their own)."""
        if not self.settings.clinic:
            return set()
        # Outside any transaction: an App may store its athlete on first use.
        names = {app.athlete_id: app.profile.name for app in self.app.clinic.apps()}
        with self.store.read() as tx:
            return {names[i] for i in withdrawn_since(tx, list(names)) if i in names}

    def _offer(self, channel: Channel, events: list[OutboxEvent], deadline: float
               ) -> list[Outcome]:
        """The channel's outcome for each event, as the channel may carry it
        (:mod:`syncd.alerts.clinic_view`): refused events are skipped, unsent; an event whose
        message cannot be built is one failed attempt of its own; the rest are sent."""
        outcomes = [Outcome(Result.SKIPPED)] * len(events)
        ready: list[tuple[int, Rendered]] = []
        for i, event in enumerate(events):
            try:
                shown = self._view.shown(channel.name, event)
                if shown is not None and channel.accepts(shown):
                    ready.append((i, channel.render(shown)))
            except Exception as err:  # this event's text, not the channel: it fails alone
                outcomes[i] = Outcome(Result.ERROR, error=unbuildable(err))
                log.warning("alert message could not be built", channel=channel.name,
                            event_id=event.id, event_type=event.type,
                            error=type(err).__name__)
        sent = send_batch(channel, [message for _, message in ready], deadline)
        for (i, _), outcome in zip(ready, sent, strict=True):
            outcomes[i] = outcome
        return outcomes

    def _write_outcomes(self, tx: Session, channel: Channel,
                        results: list[tuple[outbox.Claim, Outcome]], now: datetime,
                        ) -> tuple[list[tuple[outbox.Claim, Outcome, record.Decision]], int | None]:
        """Write a batch's attempts and the deliveries' new state. Returns what to count and
        log, and (after a 410 Gone) how many more pending deliveries were disabled."""
        if not results:
            return [], None
        decided: list[tuple[int, Outcome, record.Decision]] = []
        lines: list[tuple[outbox.Claim, Outcome, record.Decision]] = []
        states = outbox.load_states(tx, [claim.delivery_id for claim, _ in results])
        for claim, outcome in results:
            state = states.get(claim.delivery_id)
            if state is None:  # the event was deleted meanwhile (athlete erased)
                continue
            decision = record.decide(state, claim.lease_until, outcome, now,
                                     jitter=self.jitter, rng=self.rng)
            decided.append((claim.delivery_id, outcome, decision))
            lines.append((claim, outcome, decision))
        record.write(tx, decided, now)
        self._notice_failed(tx, channel, lines, now)
        if any(decision.verdict == "gone" for _, _, decision in lines):
            return lines, self._endpoint_gone(tx, channel, now)
        return lines, None

    def _count(self, channel: Channel,
               lines: list[tuple[outbox.Claim, Outcome, record.Decision]], disabled: int | None,
               report: ChannelReport) -> None:
        """Count and log what was written (after the commit, so that nothing is reported
        that a rollback undid)."""
        report.disabled += disabled or 0
        for _ in range(disabled or 0):
            self.metrics.observe(channel.name, "disabled")
        for claim, outcome, decision in lines:
            verdict = decision.verdict
            setattr(report, verdict, getattr(report, verdict) + 1)
            if verdict != "released":
                self.metrics.observe(channel.name, verdict,
                                     outcome.duration_s if outcome.attempted else None)
            if outcome.attempted:
                log_attempt(channel.name, claim, outcome, decision)

    def operator_channels(self) -> list[str]:
        """The channels that carry operator notices: every one but the athletes' own mail."""
        return [c.name for c in self.channels if not own_mail(c.name)]

    def _notice_failed(self, tx: Session, channel: Channel,
                       lines: list[tuple[outbox.Claim, Outcome, record.Decision]],
                       now: datetime) -> None:
        """Tell the operator (once a day per channel) that deliveries failed for good."""
        failed = [line for line in lines
                  if line[2].verdict == "failed" and line[0].event.type != EVENT_NOTICE]
        if not failed:
            return
        claim, outcome, decision = failed[-1]
        what = f"alert {claim.event.alert_id}" if claim.event.alert_id else claim.event.type
        message = (f"Delivery on channel {channel.name} failed for good after "
                   f"{decision.attempts} attempts ({what}: {outcome.error or 'no answer'}). "
                   "`syncd deliveries` lists what did not arrive; `syncd alerts` still shows "
                   "every alert.")
        add_operator_notice(tx, None, FAILED_NOTICE_PREFIX + channel.name, message, now,
                            self.operator_channels())

    def _endpoint_gone(self, tx: Session, channel: Channel, now: datetime) -> int:
        """Disable a webhook endpoint that answered 410, and tell the operator by mail;
        returns how many pending deliveries were disabled with it."""
        assert isinstance(channel, WebhookChannel)
        disabled = outbox.disable_pending(tx, channel.name, now)
        mail = [c.name for c in self.channels if isinstance(c, EmailChannel) and c.operator]
        message = (f"The webhook endpoint of channel {channel.name} answered 410 Gone: syncd "
                   "stopped sending alerts to it (they stay listed by `syncd alerts` and "
                   "`syncd deliveries`). Point its url at a live endpoint to resume.")
        add_operator_notice(tx, None, GONE_NOTICE_PREFIX + channel.fingerprint, message, now,
                            mail)
        return disabled


def deliver_pending(app: App, limit: int = DEFAULT_LIMIT) -> DispatchReport:
    """One dispatcher pass for ``app`` (what ``syncd sync`` and the scheduler call)."""
    with Dispatcher(app, app.clock) as dispatcher:
        return dispatcher.run_once(limit=limit)
