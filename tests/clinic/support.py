"""A clinic of fifty patients for the PostgreSQL tests: who uses which source, where their
alerts go, what history each has, and the fake sources serving it.

Every patient's expected routes are worked out here from the clinic's own description, not
from syncd's code, so that the test compares syncd against an independent account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from tests.e2e.support.activity_files import activity_file
from tests.e2e.support.servers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SMTP_PASSWORD,
    SMTP_USER,
    FakeGarmin,
    FakeStrava,
    bouts_laps,
    make_entry,
    make_typed_splits,
    summary,
)
from tests.e2e.support.spec import RUN_MPS, WALK_MPS, ActivitySpec, Bout, parse_bouts
from tests.support.config import write_config

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Europe/London")
SOURCE_MIX = (("strava",), ("garmin",), ("files",), ("strava", "files"), ("garmin", "strava"))
# Shared routes (channel, min severity): a therapist's webhook for critical alerts only, a
# team's webhook for everything, and the shared mailbox from warnings up.
THERAPIST, TEAM, CLINIC_MAIL = "webhook:therapist", "webhook:team", "email"
SHARED = {THERAPIST: "critical", TEAM: "info", CLINIC_MAIL: "warning"}
CLINIC_ADDRESS = "pt@clinic.example"
ROUTING = ([THERAPIST, CLINIC_MAIL], [THERAPIST], [TEAM], None)  # None: every shared route
# A compliant week-2 session (three 30 s jogs in 15 min) and one far too long (warnings).
EASY = "r30 w4m30s r30 w4m30s r30 w4m"
TOO_LONG = "w4m r2m w2m r2m w2m r2m w2m r2m w2m r2m w2m r2m w2m r2m w2m r2m w2m r2m w4m"
# Outside a plan: a 20-minute run, then one of 45 minutes: a spike of +125 % (critical).
SHORT_RUN, LONG_RUN = "r20m", "r45m"


@dataclass(frozen=True, slots=True)
class Run:
    """One activity of a patient: which source has it, when, and its bouts."""

    source: str
    day: date
    bouts: tuple[Bout, ...]
    source_id: int

    def spec(self, patient: Patient) -> ActivitySpec:
        """The activity as the e2e file writer describes it."""
        return ActivitySpec(name=f"{patient.slug}-{self.source_id}", source="file", day=self.day,
                            clock=time(7, 30), zone=patient.zone, sport="run", bouts=self.bouts,
                            title=f"run {self.source_id}")


@dataclass(slots=True)
class Patient:
    """One athlete of the clinic and where their alerts must go."""

    number: int
    zone: str
    sources: tuple[str, ...]
    plan_start: date | None
    channels: list[str] | None
    own_email: str | None
    own_min: str
    pain: int | None
    runs: list[Run] = field(default_factory=list)
    strava_id: int = 0

    @property
    def name(self) -> str:
        """The athlete's name in syncd."""
        return f"patient {self.number:02d}"

    @property
    def slug(self) -> str:
        """The name as a folder name."""
        return f"patient-{self.number:02d}"

    def routes(self) -> dict[str, str]:
        """Route -> the least severe alert it gets: the shared routes the patient uses, and
        their own mailbox."""
        shared = SHARED if self.channels is None else {c: SHARED[c] for c in self.channels}
        routes = dict(shared)
        if self.own_email:
            routes[f"mail:{self.own_email}"] = self.own_min
        return routes

    def expected(self, alerts: list[dict[str, Any]]) -> dict[str, set[str]]:
        """Route -> the ids of ``alerts`` (this patient's) it must get."""
        return {route: {a["id"] for a in alerts
                        if SEVERITY_RANK[a["severity"]] >= SEVERITY_RANK[least]}
                for route, least in self.routes().items()}


def make_patients(count: int) -> list[Patient]:
    """``count`` patients with mixed sources, zones, plans and routes (a fixed pattern); their
    days count back from each one's local today."""
    patients = []
    next_id = 61_000_000
    for i in range(count):
        zone = ZONES[i % len(ZONES)]
        planned = i % 2 == 0
        today = datetime.now(ZoneInfo(zone)).date()
        patient = Patient(
            number=i + 1, zone=zone, sources=SOURCE_MIX[i % len(SOURCE_MIX)],
            plan_start=today - timedelta(days=14) if planned else None,
            channels=ROUTING[i % len(ROUTING)],
            own_email=f"patient{i + 1:02d}@patients.example" if i % 3 == 0 else None,
            own_min="critical" if i % 6 == 3 else "info",
            pain=5 if planned and i % 4 == 0 else None, strava_id=700_000 + i)
        history = ((-6, EASY), (-3, TOO_LONG)) if planned else ((-10, SHORT_RUN), (-3, LONG_RUN))
        for k, (offset, bouts) in enumerate(history):
            source = patient.sources[k % len(patient.sources)]
            patient.runs.append(Run(source, today + timedelta(days=offset), parse_bouts(bouts),
                                    next_id))
            next_id += 1
        patients.append(patient)
    return patients


# -- what each source serves ----------------------------------------------------------------------


def start_of(run: Run, zone: str) -> tuple[datetime, int]:
    """The run's start (aware, local) and its UTC offset in seconds."""
    local = datetime.combine(run.day, time(7, 30), ZoneInfo(zone))
    offset = local.utcoffset()
    return local, int(offset.total_seconds()) if offset is not None else 0


def speeds(bouts: tuple[Bout, ...]) -> list[tuple[int, float]]:
    """(seconds, metres per second) of each bout."""
    return [(b.seconds, RUN_MPS if b.kind == "run" else WALK_MPS) for b in bouts]


def publish_strava(fake: FakeStrava, patient: Patient, run: Run) -> None:
    """The run on the fake Strava, as the patient's activity, one lap per bout."""
    local, offset = start_of(run, patient.zone)
    elapsed = sum(b.seconds for b in run.bouts)
    metres = round(sum(b.metres for b in run.bouts), 1)
    item = summary(run.source_id, local, elapsed_s=elapsed, distance_m=metres,
                   athlete_id=patient.strava_id, name=f"run {run.source_id}")
    sign = "+" if offset >= 0 else "-"
    item.update(start_date_local=local.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%SZ"),
                timezone=f"(GMT{sign}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}) "
                         f"{patient.zone}", utc_offset=float(offset))
    fake.add(item, bouts_laps(run.source_id, local, speeds(run.bouts),
                              athlete_id=patient.strava_id))


def garmin_activity(patient: Patient, run: Run) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The list entry of the run as Garmin shows it, and its typed splits when it mixes
    running and walking (Garmin's run/walk detection)."""
    local, offset = start_of(run, patient.zone)
    runs = [float(b.seconds) for b in run.bouts if b.kind == "run"]
    walks = [float(b.seconds) for b in run.bouts if b.kind == "walk"]
    elapsed = float(sum(b.seconds for b in run.bouts))
    entry = make_entry(run.source_id, local.replace(tzinfo=None), utc_offset_h=offset / 3600,
                       duration=elapsed, distance=round(sum(b.metres for b in run.bouts), 1),
                       run_walk=(sum(runs), sum(walks)) if walks else None,
                       bouts=(len(runs), len(walks)))
    entry.update(movingDuration=elapsed, elapsedDuration=elapsed)
    if not walks:
        return entry, None
    return entry, make_typed_splits(entry, runs, walks, walk_first=run.bouts[0].kind == "walk")


def write_file(folder: Path, patient: Patient, run: Run) -> None:
    """The run as a TCX file in the patient's watched folder."""
    name, data = activity_file(run.spec(patient))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


class ClinicGarmin(FakeGarmin):
    """The fake Garmin Connect serving one account per token store: each store written by
    :meth:`write_account` belongs to an account, tokens refreshed from it stay that account's,
    and the activity list shows the account's own activities only."""

    def __init__(self) -> None:
        super().__init__()
        self.accounts: dict[str, list[dict[str, Any]]] = {}
        self.owners: dict[str, str] = {}  # access or refresh token -> account

    def write_account(self, folder: Path, account: str) -> None:
        """A token store of ``account`` in ``folder``, as ``syncd auth garmin`` leaves it."""
        tokens = self.write_token_store(folder)
        self.owners[tokens["di_token"]] = self.owners[tokens["di_refresh_token"]] = account
        self.accounts.setdefault(account, [])

    def _token(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        account = self.owners.get(form.get("refresh_token", ""))
        reply = super()._token(body)
        if reply[0] == 200 and account is not None:
            issued = json.loads(reply[2])
            self.owners[issued["access_token"]] = self.owners[issued["refresh_token"]] = account
        return reply

    def _route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
               body: bytes) -> tuple[int, dict[str, str], bytes]:
        token = (headers.get("authorization") or "").removeprefix("Bearer ")
        if path == "/activitylist-service/activities/search/activities" and self._authorized(
                headers.get("authorization")):
            listing = sorted(self.accounts.get(self.owners.get(token, ""), []),
                             key=lambda a: a["startTimeLocal"],
                             reverse=query.get("sortOrder") != "asc")
            listing = [a for a in listing if query.get("startDate", "") <= a["startTimeLocal"]]
            start, limit = int(query.get("start", "0")), int(query.get("limit", "20"))
            return 200, {"Content-Type": "application/json"}, json.dumps(
                listing[start:start + limit]).encode()
        return super()._route(method, path, query, headers, body)


# -- the configuration ----------------------------------------------------------------------------


def clinic_config(folder: Path, database_url: str, patients: list[Patient], *, strava_url: str,
                  garmin_url: str, therapist_url: str, team_url: str, smtp_port: int,
                  therapist_secret: str, team_secret: str) -> Path:
    """The clinic's syncd.toml: every patient in ``[[athletes]]``, both webhooks, the SMTP
    server, Strava, Garmin (one token folder per patient) and the files source."""
    return write_config(
        folder, database={"url": database_url},
        athletes=[_athlete(folder, patient) for patient in patients],
        strava={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "api_url": strava_url},
        garmin={"api_url": garmin_url, "token_store": folder / "garmin"}, files={},
        webhooks=[{"name": "therapist", "url": therapist_url, "secret": therapist_secret,
                   "min_severity": "critical"},
                  {"name": "team", "url": team_url, "secret": team_secret}],
        email={"host": "127.0.0.1", "port": smtp_port, "starttls": True, "username": SMTP_USER,
               "password": SMTP_PASSWORD, "sender": "syncd <syncd@clinic.example>",
               "recipients": [CLINIC_ADDRESS], "min_severity": "warning"},
        alerts={"weekly_summary": False}, log={"format": "json", "level": "warning"})


def _athlete(folder: Path, patient: Patient) -> dict[str, Any]:
    """One patient's ``[[athletes]]`` table (``None``: left to syncd's default)."""
    own = {"email": [patient.own_email], "email_min_severity": patient.own_min}
    return {"name": patient.name, "timezone": patient.zone, "sources": list(patient.sources),
            "plan_start": patient.plan_start, "channels": patient.channels,
            **(own if patient.own_email else {}),
            "watch": [folder / "inbox" / patient.slug] if "files" in patient.sources else None}
