"""The world the fault tests break: a fake Strava and a fake Garmin (the ones their own tests
use), a webhook receiver that verifies signatures, a plain SMTP server, a ``syncd run`` config
pointing at all of them, a zygote that starts ``syncd run`` quickly, and the invariants checked
after recovery, read straight from the SQLite file with ``sqlite3``."""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from connectors.garmin.tokens import save_profile
from syncd.alerts.messages import message_id
from tests.alerts.support import SECRET, Receiver
from tests.garmin.fake_garmin import PROFILE, FakeGarmin, make_entry
from tests.strava.fake_strava import CLIENT_ID, CLIENT_SECRET, FakeStrava, Limits
from tests.strava.strava_support import publish
from tests.support.config import write_config as build_config
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]

ZONE = "Europe/Berlin"
CHANNELS = ("webhook", "email")
# A run of 40 minutes in 8 laps (jog 5, walk 5): longer than any session of the hip plan.
RUN_WALK = [(300, 2.7), (300, 1.4)] * 4


# -- a plain SMTP server that can go away and come back ---------------------------------------


class _Collect:
    def __init__(self, server: PlainSmtp) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.server.lock:
            self.server.message_ids.append(str(message["Message-ID"]))
        return "250 OK"


class PlainSmtp:
    """aiosmtpd on 127.0.0.1 without TLS or login (the TLS paths have their own tests)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.lock = threading.Lock()
        self.message_ids: list[str] = []
        self.controller: Controller | None = None
        self.start()

    def start(self) -> None:
        """Listen (again) on the same port."""
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def ids(self) -> list[str]:
        with self.lock:
            return list(self.message_ids)


# -- the fake sources -------------------------------------------------------------------------


def make_strava() -> FakeStrava:
    """A started fake Strava on the wall clock (``syncd run`` reads the wall clock), with no
    rate limit in the way of a test that polls every second."""
    fake = FakeStrava(limits=Limits(overall=(10**6, 10**7), read=(10**6, 10**7)))
    return fake.start()


# -- the world --------------------------------------------------------------------------------


@dataclass
class World:
    """Everything one fault test runs against, and the config of its ``syncd run``."""

    folder: Path
    strava: FakeStrava
    garmin: FakeGarmin
    receiver: Receiver
    smtp: PlainSmtp
    port: int = field(default_factory=free_port)
    base: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=29))
    added: int = 0

    @property
    def db(self) -> Path:
        return self.folder / "syncd.db"

    @property
    def config(self) -> Path:
        return self.folder / "syncd.toml"

    @property
    def token_store(self) -> Path:
        return self.folder / "garmin"

    def write_config(self, extra: str = "") -> Path:
        """``syncd run`` on both sources (polled every second), both channels, the hip plan
        started five weeks ago."""
        plan_start = (self.base - timedelta(days=self.base.weekday() + 7)).date()
        return build_config(
            self.folder, athlete={"timezone": ZONE, "plan_start": plan_start},
            strava={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                    "api_url": self.strava.url, "poll_interval": "1s"},
            garmin={"api_url": self.garmin.url, "token_store": self.token_store,
                    "poll_interval": "1s"},
            webhook={"url": self.receiver.url, "secret": SECRET, "timeout": "1s"},
            email={"host": "127.0.0.1", "port": self.smtp.port, "starttls": False,
                   "sender": "syncd <syncd@example.org>", "recipients": ["pt@example.org"],
                   "timeout": "1s"},
            alerts={"weekly_summary": False}, server={"listen": f"127.0.0.1:{self.port}"},
            log={"format": "json"}, extra=extra)

    def authorize(self) -> None:
        """What ``syncd auth strava`` and ``syncd auth garmin`` leave behind."""
        from syncd.clinic import open_app
        from syncd.config import load_settings
        from syncd.store import DbCredentialStore

        self.garmin.write_token_store(self.token_store)
        save_profile(self.token_store, PROFILE["profileId"], PROFILE["displayName"])
        app = open_app(load_settings(self.config, env={"STATE_DIRECTORY": str(self.folder)}))
        try:
            DbCredentialStore(app.store, app.athlete_id, prefix="strava.").save(
                "tokens", self.strava.issue_tokens())
        finally:
            app.close()

    def add_runs(self, count: int = 1) -> None:
        """Publish ``count`` new runs on each source, five hours apart, oldest first; each one
        is longer than the plan allows, so each raises alerts."""
        for _ in range(count):
            n = self.added
            moment = self.base + timedelta(hours=5 * n)
            publish(self.strava, 50_000 + n, moment, laps=RUN_WALK)
            local = (moment + timedelta(hours=2)).astimezone(_zone()).replace(tzinfo=None)
            self.garmin.activities.append(make_entry(
                70_000 + n, local, utc_offset_h=_offset_h(moment), duration=2400.0,
                distance=5200.0, run_walk=(1200.0, 1200.0), bouts=(1, 1)))
            self.added += 1

    def expected_activities(self) -> set[tuple[str, str]]:
        """(source, id) of every activity the fake sources serve."""
        ids = {("strava", str(i)) for i in self.strava.activities}
        return ids | {("garmin", str(a["activityId"])) for a in self.garmin.activities}

    def close(self) -> None:
        self.strava.stop()
        self.receiver.close()
        self.smtp.stop()


def _zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(ZONE)


def _offset_h(moment: datetime) -> float:
    offset = moment.astimezone(_zone()).utcoffset()
    return offset.total_seconds() / 3600 if offset else 0.0


# -- starting and killing syncd run -----------------------------------------------------------


class Zygote:
    """A process that imported syncd once and forks a ``syncd run`` per :meth:`start`."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("zygote.py"))], cwd=REPO,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self._ask_line()  # ready

    def _ask_line(self, request: dict[str, Any] | None = None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if request is not None:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the zygote died"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def start(self, config: Path, log: Path, env: dict[str, str] | None = None) -> int:
        """Fork ``syncd --config CONFIG run``; its pid."""
        pid: int = self._ask_line({"op": "start", "argv": ["--config", str(config), "run"],
                                   "log": str(log), "env": env or {}})["pid"]
        return pid

    def reap(self, pid: int) -> int:
        """Wait for ``pid`` to end; its wait status."""
        status: int = self._ask_line({"op": "reap", "pid": pid})["status"]
        return status

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(10)



def log_events(log: Path) -> list[str]:
    """The ``event`` of each JSON line of a daemon's log."""
    events = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(str(json.loads(line).get("event")))
            except ValueError:
                continue  # the line the SIGKILL cut short
    return events


# -- the invariants ---------------------------------------------------------------------------


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of one query on the SQLite file (read-only)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        return list(conn.execute(sql, args))


def settled(world: World) -> bool:
    """Every served activity stored and no delivery still pending."""
    try:
        stored = {(s, i) for s, i in query(world.db, "SELECT source, source_id FROM activities")}
        events = query(world.db, "SELECT COUNT(*) FROM alert_events")[0][0]
        done = query(world.db, "SELECT COUNT(*) FROM alert_deliveries WHERE status = 'delivered'")
    except sqlite3.Error:
        return False
    return stored >= world.expected_activities() and done[0][0] == events * len(CHANNELS)


@dataclass
class Checked:
    """What the invariant check counted."""

    activities: int
    events: int
    webhook_requests: int
    mails: int


def check_invariants(world: World) -> Checked:
    """The promises, after recovery: every activity once, every alert event on every channel
    with one webhook id, the tokens still usable, and an intact database."""
    db = world.db
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    rows = query(db, "SELECT source, source_id, COUNT(*) FROM activities GROUP BY 1, 2")
    assert all(count == 1 for *_, count in rows)
    assert {(s, i) for s, i, _ in rows} == world.expected_activities()
    twice = query(db, "SELECT rule, subject_key FROM alerts GROUP BY 1, 2 HAVING COUNT(*) > 1")
    assert twice == []
    events = dict(query(db, "SELECT id, alert_id FROM alert_events"))
    assert events, "the runs raised no alert: the test proves nothing"
    statuses = query(db, "SELECT channel, status, COUNT(*) FROM alert_deliveries GROUP BY 1, 2")
    assert statuses == [(c, "delivered", len(events)) for c in sorted(CHANNELS)], statuses
    _check_webhook(world, events)
    mails = world.smtp.ids()
    assert {message_id(e) for e in events} <= set(mails)
    _check_tokens(world)
    return Checked(len(rows), len(events), len(world.receiver.requests), len(mails))


def _check_webhook(world: World, events: dict[str, str | None]) -> None:
    """Each event arrived, signed, and every copy of it carried the same webhook-id."""
    received = world.receiver.verified()
    assert {r.webhook_id for r in received} >= set(events)
    ids_per_event: dict[tuple[str, str], set[str]] = {}
    for request in received:
        payload = request.payload
        key = (str(payload["type"]), str(payload["data"].get("id")))
        ids_per_event.setdefault(key, set()).add(request.webhook_id)
    assert all(len(ids) == 1 for ids in ids_per_event.values()), ids_per_event


def _check_tokens(world: World) -> None:
    """The refresh tokens syncd holds are the ones the fakes still accept."""
    [(stored,)] = query(world.db, "SELECT value FROM credentials WHERE name = 'strava.tokens'")
    assert json.loads(stored)["refresh_token"] in world.strava.refresh_tokens
    garmin = json.loads((world.token_store / "garmin_tokens.json").read_text())
    assert garmin["di_refresh_token"] in world.garmin.refresh_tokens
    errors = query(world.db, "SELECT source, last_error FROM sync_state WHERE error_count > 0")
    assert errors == [], errors
