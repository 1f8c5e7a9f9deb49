"""One operator notice when a source needs a human, not one per poll.

A source whose login was refused (:class:`~syncd.errors.AuthError`) or that the service is
throttling (:class:`~syncd.errors.RateLimited`, Garmin's 427 and 429) backs off for hours;
polling on would only repeat the failure. :func:`notify_source_failure`, called after each
pass, queues an ``operator.notice`` ("Garmin login needs attention: run `syncd auth
garmin`") through the outbox, and :func:`syncd.store.alerts.add_operator_notice` drops the
repeats: a notice of the same kind written within the last day, or still being delivered.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from syncd.app import App, own_mail
from syncd.errors import Action, RateLimited, SyncdError
from syncd.sources.registry import hooks_for
from syncd.store.alerts import add_operator_notice

NEEDS_ATTENTION = frozenset({Action.REAUTH, Action.BACKOFF})
SHORT_THROTTLE = timedelta(hours=1)


def notice_kind(source: str) -> str:
    """The de-duplication key of a source's login notice."""
    return f"{source}.login"


def notice_message(source: str, reason: str) -> str:
    """What the operator reads: the source, the command that fixes it, and why. A reason
    that already starts that way (Garmin's errors do) is used as it is."""
    head = f"{hooks_for(source).title} login needs attention"
    if reason.startswith(head):
        return reason
    return f"{head}: run `syncd auth {source}` ({reason})"


class SourcePass(Protocol):
    """How a pass ended, as :class:`syncd.pipeline.sync.SourceResult` tells it."""

    @property
    def source(self) -> str:
        """The source's config name."""

    @property
    def error(self) -> SyncdError | None:
        """What made the pass fail, if it did."""


def notify_source_failure(app: App, result: SourcePass) -> bool:
    """Queue the operator notice for a pass that ended in a refused login or a throttle.
    Returns whether a notice was written (False for other outcomes and for repeats)."""
    err = result.error
    if err is None or err.action not in NEEDS_ATTENTION:
        return False
    # A short throttle (Strava's 15-minute window) passes by itself: no human needed.
    if isinstance(err, RateLimited) and (err.retry_at is None
                                         or err.retry_at - app.clock() < SHORT_THROTTLE):
        return False
    message = notice_message(result.source, str(err))
    # The operator's channels only: the notice names commands and paths for an admin.
    operator = [name for name in app.channels() if not own_mail(name)]
    with app.store.write() as tx:
        return add_operator_notice(tx, app.athlete_id, notice_kind(result.source), message,
                                   app.clock(), operator)
