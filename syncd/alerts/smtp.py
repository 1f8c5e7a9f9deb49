"""The email channel: SMTP with STARTTLS or implicit TLS and a login, one mail per event or an
hourly digest. The password and the mail bodies never reach a log line or an error text."""

from __future__ import annotations

import smtplib
import ssl
import time
from email.errors import MessageError
from email.message import EmailMessage

from syncd.alerts.channel import (
    ALERT_EVENTS,
    EVENT_NOTICE,
    EVENT_SUMMARY,
    Channel,
    Outcome,
    Rendered,
    Result,
    severity_at_least,
    unbuildable,
)
from syncd.alerts.checkin_mail import CheckinMessage, checkin_mail
from syncd.alerts.daily_digest import EVENT_DAILY_DIGEST, daily_digest_mail
from syncd.alerts.messages import DigestPart, alert_mail, digest_mail, digest_part
from syncd.config.sections import AlertsSection, EmailSection
from syncd.store.outbox import OutboxEvent

DIGEST_BATCH = 500
EACH_BATCH = 20
_OK = 250


class EmailChannel(Channel):
    """The configured mailbox(es). ``tls_context`` defaults to the system's trust store
    (``SSL_CERT_FILE`` points it at a private CA)."""

    def __init__(self, name: str, section: EmailSection, alerts: AlertsSection, *,
                 tls_context: ssl.SSLContext | None = None, operator: bool = True) -> None:
        self.name = name
        # The operator's mail gets the operator notices; an athlete's own mail never does.
        self.operator = operator
        self.section = section
        self.digest = alerts.email_mode == "digest"
        # In digest mode nothing goes out before the oldest waiting event is an interval old.
        self.hold = alerts.digest_interval if self.digest else None
        self.timeout_s = section.timeout.total_seconds()
        self.batch_size = DIGEST_BATCH if self.digest else EACH_BATCH
        self.concurrency = 1
        self._tls = tls_context or ssl.create_default_context()

    def accepts(self, event: OutboxEvent) -> bool:
        """Alerts at or above ``min_severity`` and weekly summaries; operator notices only
        on the operator's mail (never on an athlete's own), as is the daily mail of the
        alerts nobody acknowledged."""
        if event.type == EVENT_DAILY_DIGEST:
            return self.operator
        if event.type in ALERT_EVENTS:
            return severity_at_least(event.severity, self.section.min_severity)
        if event.type == EVENT_NOTICE:
            return self.operator
        return event.type == EVENT_SUMMARY

    def render(self, event: OutboxEvent) -> Rendered:
        """The mail for ``event`` (written out once, so that a mail the library cannot write
        fails here, for this event alone), or its part of the next digest."""
        if event.type == EVENT_DAILY_DIGEST:  # a mail of its own, whatever the mode
            return Rendered(event, daily_digest_mail(event, self.section.sender,
                                                     self.section.recipients))
        if self.digest and event.type != EVENT_SUMMARY:
            return Rendered(event, digest_part(event))
        message = alert_mail(event, self.section.sender, self.section.recipients)
        message.as_bytes()
        return Rendered(event, message)

    def deliver(self, messages: list[Rendered], deadline: float) -> list[Outcome]:
        """Send the mails over one SMTP connection: one each, or one digest (weekly
        summaries always go alone)."""
        if not messages:
            return []
        mails = self._mails(messages)
        outcomes: dict[int, Outcome] = {}
        started = time.monotonic()
        try:
            with self._connect() as smtp:
                for indices, message in mails:
                    if time.monotonic() + self.timeout_s > deadline:
                        break
                    outcome = self._send(smtp, message)
                    outcomes.update(dict.fromkeys(indices, outcome))
        except (smtplib.SMTPException, OSError) as err:
            failed = Outcome(Result.ERROR, _code(err), describe_smtp_error(err, self.section),
                             duration_s=time.monotonic() - started)
            for indices, _ in mails:
                for i in indices:
                    outcomes.setdefault(i, failed)
        return [outcomes.get(i, Outcome(Result.RELEASED)) for i in range(len(messages))]

    def send_checkin(self, message: CheckinMessage) -> Outcome:
        """Mail a morning check-in to this channel's recipients (an athlete's own mail) over
        a connection of its own (:class:`~syncd.alerts.checkin_mail.CheckinCarrier`)."""
        started = time.monotonic()
        try:
            mail = checkin_mail(message, self.section.sender, self.section.recipients)
            with self._connect() as smtp:
                return self._send(smtp, mail)
        except (smtplib.SMTPException, OSError) as err:
            return Outcome(Result.ERROR, _code(err), describe_smtp_error(err, self.section),
                           duration_s=time.monotonic() - started)
        except (ValueError, TypeError, UnicodeError, MessageError) as err:
            return Outcome(Result.ERROR, error=unbuildable(err))

    def _mails(self, messages: list[Rendered]) -> list[tuple[list[int], EmailMessage]]:
        """(indices of the events it carries, mail) pairs: the mails rendered one per event,
        then the digest of the parts."""
        mails = [([i], m.message) for i, m in enumerate(messages)
                 if isinstance(m.message, EmailMessage)]
        grouped = [i for i, m in enumerate(messages) if isinstance(m.message, DigestPart)]
        if grouped:
            mails.append((grouped, digest_mail([messages[i].message for i in grouped],
                                               self.section.sender, self.section.recipients)))
        return mails

    def _connect(self) -> smtplib.SMTP:
        """An SMTP connection, encrypted and logged in as configured."""
        host, port, timeout = self.section.host, self.section.port, self.timeout_s
        if self.section.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout,
                                                  context=self._tls)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        try:
            smtp.ehlo()
            if self.section.starttls and not self.section.implicit_tls:
                smtp.starttls(context=self._tls)
                smtp.ehlo()
            if self.section.username:
                password = self.section.password.get_secret_value() if self.section.password else ""
                smtp.login(self.section.username, password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _send(self, smtp: smtplib.SMTP, message: EmailMessage) -> Outcome:
        started = time.monotonic()
        try:
            refused = smtp.send_message(message, self.section.sender,
                                        list(self.section.recipients))
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError,
                smtplib.SMTPSenderRefused, smtplib.SMTPNotSupportedError) as err:
            return Outcome(Result.ERROR, _code(err), describe_smtp_error(err, self.section),
                           duration_s=time.monotonic() - started)
        except (ValueError, TypeError, UnicodeError, MessageError) as err:
            # This mail cannot be written (a header the library refuses): it fails alone,
            # and the connection serves the next one (nothing was sent yet).
            return Outcome(Result.ERROR, error=unbuildable(err),
                           duration_s=time.monotonic() - started)
        error = f"refused for {len(refused)} recipient(s)" if refused else None
        return Outcome(Result.DELIVERED, _OK, error, duration_s=time.monotonic() - started)


def _code(err: BaseException) -> int | None:
    code = getattr(err, "smtp_code", None)
    return code if isinstance(code, int) else None


def describe_smtp_error(err: BaseException, section: EmailSection) -> str:
    """What went wrong, and what to check, without the password or the server's free text
    (which may echo what was sent)."""
    where = f"{section.host}:{section.port}"
    if isinstance(err, smtplib.SMTPAuthenticationError):
        return (f"the mail server {where} refused the login ({err.smtp_code}): check "
                "[email] username and password")
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return (f"the mail server {where} does not offer STARTTLS: use implicit_tls (port 465) "
                "or a server that encrypts; syncd never logs in unencrypted")
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return f"the mail server {where} refused every recipient: check [email] recipients"
    if isinstance(err, smtplib.SMTPSenderRefused):
        return f"the mail server {where} refused the sender ({err.smtp_code}): check [email] sender"
    if isinstance(err, smtplib.SMTPResponseException):
        return f"the mail server {where} answered {err.smtp_code}"
    if isinstance(err, ssl.SSLError):
        return f"TLS with the mail server {where} failed ({err.reason or type(err).__name__})"
    if isinstance(err, TimeoutError):
        seconds = section.timeout.total_seconds()
        return f"the mail server {where} did not answer within {seconds:g} s"
    if isinstance(err, OSError):
        return f"cannot reach the mail server {where}: {err.strerror or type(err).__name__}"
    return f"mail to {where} failed ({type(err).__name__})"
