"""Two ``syncd run`` replicas of one clinic on one PostgreSQL database, for the fail-over test.

The clinic: three athletes on Strava (one application, webhooks on: the fake posts each new
activity's event to one replica or the other, as a load balancer would) and one on Garmin
(polled by the leader every two seconds). Every alert goes to the signed webhook receiver and
to the therapist's mail; two athletes also get their own mail. Both replicas run the same
configuration but for ``[server] listen``, and are forked by the fault tests' zygote.

What the test reads afterwards: the fake Strava's overlapping requests for one activity
(:attr:`FakeStrava.overlaps`, with ``latency`` set), the same for Garmin from
:class:`TimedGarmin`'s log of request spans, the rows in PostgreSQL, the webhooks received and
the mails received with their recipients (:class:`RecordingSmtp`).
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from connectors.garmin.tokens import save_profile
from syncd.sources.strava.callback import CALLBACK_PATH
from tests.garmin.fake_garmin import PROFILE, FakeGarmin, make_entry, make_typed_splits
from tests.strava.fake_strava import CLIENT_ID, CLIENT_SECRET, FakeStrava, Limits
from tests.strava.strava_support import publish
from tests.support.config import config_text
from tests.support.net import free_port

from .support import RUN_WALK, SECRET, PlainSmtp, Receiver, Zygote, log_events

ZONE = "Europe/Berlin"
STRAVA_ATHLETES = {"ana": 600_001, "ben": 600_002, "cleo": 600_003}  # name -> Strava id
GARMIN_ATHLETE = "dora"
OWN_MAIL = {"ana": "ana@example.org", "dora": "dora@example.org"}  # their own mail channel
THERAPIST = "pt@example.org"
SUBSCRIPTION_ID = 7001
VERIFY_TOKEN = "verify-5c1e"
# A short easy session (12 minutes of run-walk): inside what the plan allows, so no alert.
EASY = [(60, 2.6), (120, 1.4)] * 4
# Each read of an activity (and of Garmin's list) takes this long on the fakes: two fetches
# of one athlete's source at once would have requests in flight together, and be seen.
LATENCY_S = 0.2


# -- the fakes that record what overlapped -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Span:
    """One request as a fake served it: what it was about, and from when to when."""

    key: str
    started: float
    ended: float


class TimedGarmin(FakeGarmin):
    """The fake Garmin, with each API request taking :data:`LATENCY_S` and logged as a
    :class:`Span` keyed by what it reads (the activity list, or one activity)."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[Span] = []

    def handle(self, method: str, target: str, headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer as the fake does, slowly, and log the span of an API read."""
        key = _garmin_key(target)
        if key is None:
            return super().handle(method, target, headers, body)
        started = time.monotonic()
        time.sleep(LATENCY_S)
        reply = super().handle(method, target, headers, body)
        with self._lock:
            self.spans.append(Span(key, started, time.monotonic()))
        return reply


def _garmin_key(target: str) -> str | None:
    path = target.split("?", 1)[0]
    if path.startswith("/activity-service/activity/"):
        return "activity:" + path.removeprefix("/activity-service/activity/").split("/")[0]
    if path.startswith("/activitylist-service/"):
        # One athlete reads Garmin: two lists at once would be two passes of it at once.
        return "activity list"
    return None


def overlapping(spans: list[Span]) -> list[tuple[Span, Span]]:
    """Pairs of spans of one key that were in flight at the same time."""
    pairs = []
    by_key: dict[str, list[Span]] = {}
    for span in spans:
        by_key.setdefault(span.key, []).append(span)
    for same in by_key.values():
        same.sort(key=lambda s: s.started)
        longest = same[0]  # of the spans started so far, the one that ends last
        for span in same[1:]:
            if span.started < longest.ended:
                pairs.append((longest, span))
            if span.ended > longest.ended:
                longest = span
    return pairs


@dataclass(frozen=True, slots=True)
class Mail:
    """One message as the SMTP server received it."""

    message_id: str
    recipients: tuple[str, ...]
    body: str


class _Record:
    def __init__(self, server: RecordingSmtp) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text_part = message.get_body(preferencelist=("plain",))
        body = text_part.get_content() if text_part is not None else ""
        with self.server.lock:
            self.server.mails.append(Mail(str(message["Message-ID"]),
                                          tuple(sorted(envelope.rcpt_tos)), body))
            self.server.message_ids.append(str(message["Message-ID"]))
        return "250 OK"


class RecordingSmtp(PlainSmtp):
    """The fault tests' plain SMTP server, also keeping who each message went to and its
    text (the same alert told twice has the same text)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        super().__init__()

    def start(self) -> None:
        """Listen on the same port."""
        self.controller = Controller(_Record(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def received(self) -> list[Mail]:
        """Every message received so far."""
        with self.lock:
            return list(self.mails)


# -- the clinic -------------------------------------------------------------------------------


@dataclass
class ClinicWorld:
    """The fakes, the two configurations, and the activities published so far."""

    folder: Path
    database_url: str
    strava: FakeStrava
    garmin: TimedGarmin
    receiver: Receiver
    smtp: RecordingSmtp
    ports: tuple[int, int] = field(default_factory=lambda: (free_port(), free_port()))
    base: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=29))
    published: dict[str, int] = field(default_factory=dict)  # athlete -> activities so far
    events_posted: int = 0

    def config(self, replica: int) -> Path:
        """The configuration of replica 0 or 1."""
        return self.folder / f"syncd-{replica}.toml"

    @property
    def token_store(self) -> Path:
        return self.folder / "garmin"

    def write_configs(self) -> None:
        """One file per replica, the same but for the port it listens on."""
        plan_start = (self.base - timedelta(days=self.base.weekday() + 7)).date()
        athletes = [{"name": name, "timezone": ZONE, "plan_start": plan_start,
                     "sources": ["garmin" if name == GARMIN_ATHLETE else "strava"],
                     "email": [OWN_MAIL[name]] if name in OWN_MAIL else None}
                    for name in [*STRAVA_ATHLETES, GARMIN_ATHLETE]]
        for replica, port in enumerate(self.ports):
            self.config(replica).write_text(config_text(
                athletes=athletes, database={"url": self.database_url},
                strava={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                        "api_url": self.strava.url, "webhook_verify_token": VERIFY_TOKEN,
                        "poll_interval": "2s"},
                garmin={"api_url": self.garmin.url, "token_store": self.token_store,
                        "poll_interval": "2s"},
                webhook={"url": self.receiver.url, "secret": SECRET, "timeout": "1s"},
                email={"host": "127.0.0.1", "port": self.smtp.port, "starttls": False,
                       "sender": "syncd <syncd@example.org>", "recipients": [THERAPIST],
                       "timeout": "1s"},
                alerts={"weekly_summary": False},
                server={"listen": f"127.0.0.1:{port}", "leadership_check": "1s"},
                log={"format": "json"}), encoding="utf-8")

    def connect(self) -> None:
        """What the athletes' onboarding leaves behind: Strava tokens for each Strava athlete
        (and the application's webhook subscription), a Garmin token store for dora."""
        from syncd.clinic import Clinic
        from syncd.config import load_settings
        from syncd.store import DbCredentialStore

        settings = load_settings(self.config(0), env={"STATE_DIRECTORY": str(self.folder)})
        clinic = Clinic(settings)
        try:
            for app in clinic.apps():
                name = app.athlete.name
                if name == GARMIN_ATHLETE:
                    folder = self.token_store / "athletes" / name
                    self.garmin.write_token_store(folder)
                    save_profile(folder, PROFILE["profileId"], PROFILE["displayName"])
                    continue
                strava_id = STRAVA_ATHLETES[name]
                self.strava.add_athlete(strava_id, firstname=name)
                credentials = DbCredentialStore(clinic.store, app.athlete_id, prefix="strava.")
                credentials.save("tokens", self.strava.issue_tokens(athlete_id=strava_id))
                if name == "ana":
                    credentials.save("subscription", {"id": SUBSCRIPTION_ID,
                                                      "callback_url": "http://syncd.example"})
        finally:
            clinic.close()
        self.strava.subscriptions[SUBSCRIPTION_ID] = {"id": SUBSCRIPTION_ID}

    def publish(self, name: str, rng: random.Random) -> int:
        """One new activity of athlete ``name``, a day after their previous one: two in three
        are 40 minutes of run-walk (longer than the plan allows: alerts), the others a short
        easy session. Returns its id on its source."""
        n = self.published.get(name, 0)
        self.published[name] = n + 1
        moment = self.base + timedelta(days=n, hours=7 + rng.randrange(10))
        bouts = EASY if rng.random() < 1 / 3 else RUN_WALK
        if name == GARMIN_ATHLETE:
            activity_id = 80_000 + n
            local = moment.astimezone(ZoneInfo(ZONE))
            offset = local.utcoffset() or timedelta()
            runs, walks = [float(s) for s, _ in bouts[::2]], [float(s) for s, _ in bouts[1::2]]
            entry = make_entry(
                activity_id, local.replace(tzinfo=None),
                utc_offset_h=offset.total_seconds() / 3600, duration=sum(runs) + sum(walks),
                distance=round(sum(s * v for s, v in bouts), 1),
                run_walk=(sum(runs), sum(walks)), bouts=(len(runs), len(walks)))
            self.garmin.typed_splits[str(activity_id)] = make_typed_splits(
                entry, runs, walks, walk_first=False)
            self.garmin.activities.append(entry)
            return activity_id
        strava_id = STRAVA_ATHLETES[name]
        activity_id = strava_id * 100 + n
        publish(self.strava, activity_id, moment, laps=bouts, athlete_id=strava_id)
        return activity_id

    def post_event(self, activity_id: int, port: int) -> None:
        """Strava tells the replica on ``port`` that the activity was created."""
        answer = self.strava.post_event(f"http://127.0.0.1:{port}{CALLBACK_PATH}",
                                        activity_id, subscription_id=SUBSCRIPTION_ID)
        assert answer.json() == {"status": "accepted"}, answer.text
        self.events_posted += 1

    def expected_activities(self) -> set[tuple[str, str, str]]:
        """(athlete, source, id) of every activity the fakes serve."""
        names = {strava_id: name for name, strava_id in STRAVA_ATHLETES.items()}
        expected = {(names[int(a["athlete"]["id"])], "strava", str(i))
                    for i, a in self.strava.activities.items()}
        return expected | {(GARMIN_ATHLETE, "garmin", str(a["activityId"]))
                           for a in self.garmin.activities}

    def close(self) -> None:
        self.strava.stop()
        self.receiver.close()
        self.smtp.stop()


def open_clinic(folder: Path, database_url: str, garmin: TimedGarmin) -> ClinicWorld:
    """The clinic on an empty PostgreSQL database, with the fakes started (the Garmin one
    by the caller, whose ``running()`` block must outlive the clinic) and every athlete
    connected."""
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    strava = FakeStrava(limits=Limits(overall=(10**6, 10**7), read=(10**6, 10**7)),
                        latency=LATENCY_S).start()
    clinic = ClinicWorld(folder, database_url, strava, garmin, Receiver(), RecordingSmtp())
    clinic.write_configs()
    clinic.connect()
    return clinic


# -- the two replicas -------------------------------------------------------------------------

_LEADERSHIP = ("leadership gained", "leadership lost", "leadership released")


@dataclass
class Replica:
    """One of the two places a ``syncd run`` runs in (a machine), and the process running
    there now."""

    index: int
    config: Path
    port: int
    state: Path
    pid: int | None = None
    log: Path | None = None
    starts: int = 0

    def events(self) -> list[str]:
        """The events its current process has logged."""
        return log_events(self.log) if self.log is not None and self.log.exists() else []

    def leads(self) -> bool:
        """True when its running process last said it gained the leadership."""
        said = [e for e in self.events() if e in _LEADERSHIP]
        return self.pid is not None and bool(said) and said[-1] == "leadership gained"

    def serving(self) -> bool:
        """True once its running process is up (HTTP served, scheduler started)."""
        return self.pid is not None and "syncd running" in self.events()


class Pair:
    """The two replicas, started and killed through the zygote."""

    def __init__(self, clinic: ClinicWorld, zygote: Zygote, folder: Path) -> None:
        self.zygote = zygote
        self.folder = folder
        self.replicas = [Replica(i, clinic.config(i), port, folder / f"state-{i}")
                         for i, port in enumerate(clinic.ports)]

    def start(self, replica: Replica) -> None:
        """A new ``syncd run`` in ``replica`` (its own state directory, as on a machine of
        its own), logging to a file of its own."""
        replica.starts += 1
        replica.state.mkdir(exist_ok=True)
        replica.log = self.folder / f"replica-{replica.index}-{replica.starts:02d}.log"
        replica.pid = self.zygote.start(replica.config, replica.log,
                                        env={"STATE_DIRECTORY": str(replica.state)})

    def kill(self, replica: Replica) -> None:
        """SIGKILL, as a machine that loses power."""
        assert replica.pid is not None and replica.log is not None
        os.kill(replica.pid, signal.SIGKILL)
        status = self.zygote.reap(replica.pid)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, \
            replica.log.read_text()
        replica.pid = None

    def stop(self, replica: Replica) -> None:
        """SIGTERM, and a clean exit."""
        assert replica.pid is not None and replica.log is not None
        os.kill(replica.pid, signal.SIGTERM)
        assert self.zygote.reap(replica.pid) == 0, replica.log.read_text()
        replica.pid = None

    def leaders(self) -> list[Replica]:
        """The running replicas that say they lead (never more than one)."""
        leading = [r for r in self.replicas if r.leads()]
        assert len(leading) <= 1, f"two replicas lead at once: {leading}"
        return leading

    def other(self, replica: Replica) -> Replica:
        """The other replica."""
        return self.replicas[1 - replica.index]

    def ports(self) -> list[int]:
        """The ports of the replicas serving now."""
        return [r.port for r in self.replicas if r.serving()]

    def close(self) -> None:
        """Kill whatever still runs (after a failed test)."""
        for replica in self.replicas:
            if replica.pid is not None:
                os.kill(replica.pid, signal.SIGKILL)
                self.zygote.reap(replica.pid)
                replica.pid = None


# -- what the database says -------------------------------------------------------------------


def rows(engine: Engine, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query."""
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def stored_activities(engine: Engine) -> dict[tuple[str, str, str], int]:
    """(athlete, source, id) -> how many rows hold it."""
    found = rows(engine, "SELECT a.name, s.source, s.source_id, COUNT(*) FROM activities s"
                         " JOIN athletes a ON a.id = s.athlete_id GROUP BY 1, 2, 3")
    return {(name, source, source_id): count for name, source, source_id, count in found}


def settled(clinic: ClinicWorld, engine: Engine) -> bool:
    """Every published activity stored, no Strava event waiting, and no delivery pending."""
    if not set(stored_activities(engine)) >= clinic.expected_activities():
        return False
    if rows(engine, "SELECT COUNT(*) FROM strava_events")[0][0]:
        return False
    pending = rows(engine, "SELECT COUNT(*) FROM alert_deliveries WHERE status = 'pending'")
    return pending[0][0] == 0


def channels_of(athlete: str) -> set[str]:
    """The channels an athlete's alerts go to."""
    own = {f"email:{athlete}"} if athlete in OWN_MAIL else set()
    return {"webhook", "email"} | own


@dataclass
class Delivered:
    """What the delivery check counted."""

    events: int
    webhook_requests: int
    webhook_retries: int  # the same webhook-id received again (a retry after a kill)
    mails: int
    mail_retries: int  # the same Message-ID to the same recipients again

    def __str__(self) -> str:
        return (f"{self.events} alert events; webhook {self.webhook_requests} requests "
                f"({self.webhook_retries} repeated ids); mail {self.mails} messages "
                f"({self.mail_retries} repeated ids)")


def check_deliveries(clinic: ClinicWorld, engine: Engine) -> Delivered:
    """Every alert has its events, every event reached each of its athlete's channels (its
    delivery rows say delivered, and the receiver and the mail server got it), and no channel
    got one alert under two ids."""
    from syncd.alerts.messages import message_id

    alerts = rows(engine, "SELECT id FROM alerts")
    raised = {alert_id for alert_id, in rows(
        engine, "SELECT alert_id FROM alert_events WHERE type = 'alert.raised'")}
    assert {alert_id for alert_id, in alerts} <= raised, "an alert without its event"
    deliveries = rows(engine, "SELECT e.id, a.name, d.channel, d.status FROM alert_events e"
                              " JOIN athletes a ON a.id = e.athlete_id"
                              " JOIN alert_deliveries d ON d.event_id = e.id")
    events = rows(engine, "SELECT e.id, a.name FROM alert_events e"
                          " JOIN athletes a ON a.id = e.athlete_id")
    assert len(events) == len(rows(engine, "SELECT id FROM alert_events"))
    assert events, "no alert was raised: the test proves nothing"
    channels: dict[str, set[str]] = {event_id: set() for event_id, _ in events}
    for event_id, _, channel, status in deliveries:
        assert status == "delivered", (event_id, channel, status)
        channels[event_id].add(channel)
    athlete_of = dict(events)
    missing = {e: channels_of(athlete_of[e]) - got for e, got in channels.items()
               if channels_of(athlete_of[e]) - got}
    assert not missing, f"{len(missing)} alert events lack a channel, e.g. {_some(missing)}"
    misrouted = {e: got - channels_of(athlete_of[e]) for e, got in channels.items()
                 if got - channels_of(athlete_of[e])}
    assert not misrouted, (f"{len(misrouted)} alert events went to another athlete's routes, "
                           f"e.g. {_some(misrouted)}")
    made = dict(rows(engine, "SELECT id, created_at FROM alert_events"))
    webhook_requests, webhook_retries = _check_webhooks(clinic, made)
    alert_of = dict(rows(engine, "SELECT id, alert_id FROM alert_events"))
    mails, mail_retries = _check_mails(clinic, {message_id(e): athlete_of[e] for e in channels},
                                       {message_id(e): alert_of[e] for e in channels})
    return Delivered(len(events), webhook_requests, webhook_retries, mails, mail_retries)


def _some(found: dict[str, set[str]]) -> dict[str, list[str]]:
    """A few entries of a large finding, for the failure message."""
    return {key: sorted(value) for key, value in list(found.items())[:3]}


def _check_webhooks(clinic: ClinicWorld, made: dict[str, Any]) -> tuple[int, int]:
    """Each event's webhook arrived, signed; no id that is not an event's; no alert state sent
    twice under two ids: an alert's events, in the order they were made, alternate between
    raised and resolved (a run that arrives late may resolve an alert and a later one raise it
    again: two events, each under its own id; a crash that queued one transition twice shows
    as the same type twice in a row). ``made``: each event's id and when it was made. Returns
    (requests, repeated ids)."""
    received = clinic.receiver.verified()
    assert len(received) == len(clinic.receiver.requests), "a webhook failed verification"
    ids = [r.webhook_id for r in received]
    assert set(ids) == set(made)
    events: dict[str, dict[str, Any]] = {}  # webhook id -> payload (a retry keeps its id)
    for request in received:
        events.setdefault(request.webhook_id, request.payload)
    by_alert: dict[str, list[tuple[Any, str, str]]] = {}
    for webhook_id, payload in events.items():
        if payload["type"] in ("alert.raised", "alert.resolved"):
            by_alert.setdefault(str(payload["data"].get("id")), []).append(
                (made[webhook_id], str(payload["type"]), webhook_id))
    twice = {}
    for alert_id, story in by_alert.items():
        types = [kind for _, kind, _ in sorted(story)]
        if any(a == b for a, b in itertools.pairwise(types)):
            twice[alert_id] = sorted(story)
    assert not twice, f"one alert state delivered under two webhook-ids: {twice}"
    return len(ids), len(ids) - len(set(ids))


def _check_mails(clinic: ClinicWorld, athlete_by_id: dict[str, str],
                 alert_by_id: dict[str, str | None]) -> tuple[int, int]:
    """Each event's mail reached the therapist, and the athlete when they get mail; no
    Message-ID that is not an event's; one text to the same recipients under several
    Message-IDs only for one alert raised again after it was resolved (its events alternate:
    :func:`_check_webhooks`). Returns (messages, repeated ids)."""
    mails = clinic.smtp.received()
    assert {m.message_id for m in mails} == set(athlete_by_id)
    got = {(m.message_id, recipient) for m in mails for recipient in m.recipients}
    strangers = {(athlete_by_id[msg_id], recipient) for msg_id, recipient in got
                 if recipient not in (THERAPIST, OWN_MAIL.get(athlete_by_id[msg_id]))}
    assert not strangers, f"mail about one athlete sent to another: {sorted(strangers)[:5]}"
    for msg_id, athlete in athlete_by_id.items():
        assert (msg_id, THERAPIST) in got, msg_id
        if athlete in OWN_MAIL:
            assert (msg_id, OWN_MAIL[athlete]) in got, msg_id
    ids_per_content: dict[tuple[tuple[str, ...], str], set[str]] = {}
    for mail in mails:
        ids_per_content.setdefault((mail.recipients, mail.body), set()).add(mail.message_id)
    twice = [ids for ids in ids_per_content.values()
             if len(ids) > 1 and (None in {alert_by_id[i] for i in ids}
                                  or len({alert_by_id[i] for i in ids}) > 1)]
    assert not twice, f"one alert mailed under two Message-IDs: {twice}"
    sent = [(m.message_id, m.recipients) for m in mails]
    return len(sent), len(sent) - len(set(sent))


def sleep_watching(pair: Pair, seconds: float) -> None:
    """Wait, checking all along that at most one replica leads."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pair.leaders()
        time.sleep(0.05)


def replicas_rows(engine: Engine) -> Iterator[tuple[int, bool]]:
    """(pid, leader) of the replicas table's rows seen in the last minute."""
    for pid, leader in rows(engine, "SELECT pid, leader FROM replicas"
                                    " WHERE seen_at > now() - interval '60 seconds'"):
        yield int(pid), bool(leader)

