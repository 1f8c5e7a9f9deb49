"""The morning check-in of one athlete: whether it is on, which morning is due, its links, and
what an answer records (DESIGN section 10).

The links are ``{public_url, else the dashboard's address}/checkin/{token}/{score}``. Sending
is :mod:`syncd.runtime.checkins`' business, the pages :mod:`syncd.web.checkin`'s. An answer is
claimed on the check-in first (one ``UPDATE``: of two racing answers one records), then stored
as a pain report ``when = "next_morning"`` and evaluated as every report is; should storing it
fail, the check-in is open again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from syncd.app import own_mail
from syncd.config import Settings
from syncd.config.notify import kept_to
from syncd.models import PainReport, PainWhen, pain_symptoms
from syncd.pipeline.evaluation import local_midnight, reevaluate
from syncd.rules.checkin import DueCheckin, due_checkin
from syncd.store import queries
from syncd.store.alerts import ApplyResult
from syncd.store.checkins import (
    Checkin,
    add_report_symptoms,
    checkin_of,
    claim_answer,
    claim_symptoms,
    latest_pain_score,
    link_report,
    release_answer,
)

if TYPE_CHECKING:
    from syncd.app import App

LINK_PATH = "/checkin"
SCORES = tuple(range(11))
WILDCARD_HOSTS = ("0.0.0.0", "::", "")  # noqa: S104 - names, not a bind


def own_channels(app: App) -> list[str]:
    """The athlete's own channels among those their alerts go to (their mail, a [[notify]]
    channel kept to them alone): where a check-in may go. A shared channel (the therapist's
    mail, a webhook) never gets one."""
    alone = kept_to(app.settings.notify, app.athlete.name)
    return [name for name in app.channels() if own_mail(name) or name in alone]


def checkins_enabled(app: App) -> bool:
    """``[checkin] enabled``; by default on for an athlete with a channel of their own."""
    enabled = app.settings.checkin.enabled
    return bool(own_channels(app)) if enabled is None else enabled


def due_now(app: App, now: datetime) -> DueCheckin | None:
    """The check-in due for ``app``'s athlete at ``now`` (see
    :func:`syncd.rules.checkin.due_checkin`), read from their runs of yesterday and their
    last pain report."""
    local = now.astimezone(app.zone).replace(tzinfo=None)
    today = local.date()
    with app.store.read() as tx:
        sessions = queries.load_sessions(tx, app.athlete_id,
                                         local_midnight(today - timedelta(days=1)),
                                         local_midnight(today))
        score = latest_pain_score(tx, app.athlete_id, now)
    return due_checkin(sessions, score, app.athlete.limits.pain_stop, local,
                       app.settings.checkin.time)


def open_checkin(app: App, now: datetime) -> Checkin | None:
    """Today's check-in of ``app``'s athlete while it waits for an answer (the dashboard shows
    its form), else ``None``."""
    with app.store.read() as tx:
        checkin = checkin_of(tx, app.athlete_id, app.athlete.local_date(now))
    return checkin if checkin is not None and checkin.answered_at is None else None


# -- links --------------------------------------------------------------------------------------


def link_base(settings: Settings) -> str:
    """Where the athlete's links point: ``[server] public_url``, else the dashboard's address
    (a wildcard listen address names the first ``allowed_hosts`` entry, else localhost)."""
    server = settings.server
    if server.public_url:
        return server.public_url.rstrip("/")
    host = server.host
    if host in WILDCARD_HOSTS:
        host = server.allowed_hosts[0] if server.allowed_hosts else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{server.port}"


def score_links(base: str, token: str) -> list[tuple[int, str]]:
    """One link per score 0-10: ``(score, url)``."""
    return [(score, f"{base}{LINK_PATH}/{token}/{score}") for score in SCORES]


# -- answers ------------------------------------------------------------------------------------


def answer(app: App, checkin: Checkin, score: int) -> tuple[PainReport, ApplyResult] | None:
    """Record ``score`` as the answer to ``checkin`` (a pain report of ``app``'s athlete,
    made now, ``when = "next_morning"``); ``None`` when it was answered already."""
    if score not in SCORES:
        raise ValueError(f"score {score!r} is not one of 0-10")
    now = app.clock()
    with app.store.write() as tx:
        if not claim_answer(tx, checkin.id, now):
            return None
    try:
        report, result = app.record_pain(score, now, when=PainWhen.NEXT_MORNING.value)
    except BaseException:
        with app.store.write() as tx:
            release_answer(tx, checkin.id)
        raise
    with app.store.write() as tx:
        link_report(tx, checkin.id, int(report.id))
    return report, result


def give_symptoms(app: App, checkin: Checkin, symptoms: Sequence[str]) -> ApplyResult | None:
    """Add ``symptoms`` to the report that answered ``checkin`` and evaluate it again (a
    symptom raises ``red_flag``); ``None`` when the check-in has no answer yet or its
    symptoms were given already. Unknown names raise ``ValueError`` before anything is
    stored."""
    chosen = pain_symptoms(symptoms)
    now = app.clock()
    with app.store.write() as tx:
        fresh = checkin_of(tx, app.athlete_id, checkin.morning)
        if (fresh is None or fresh.pain_report_id is None
                or not claim_symptoms(tx, checkin.id, now)):
            return None
        if not chosen:
            return ApplyResult()
        day = add_report_symptoms(tx, fresh.pain_report_id, chosen)
        return reevaluate(tx, app.athlete_id, app.athlete, {day}, now, app.channels())
