"""The sections of the configuration file, each a frozen model that refuses unknown keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from syncd.config.durations import Duration
from syncd.config.tokens import NamedToken, named_tokens, token_problems
from syncd.rules import RULE_IDS

DEFAULT_PLAN = "hip-return-run-walk"
SEVERITIES = ("info", "warning", "critical")
SourceKind = Literal["garmin", "file", "strava"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CANONICAL_ORDER: tuple[SourceKind, ...] = ("garmin", "file", "strava")


def order_names(order: Sequence[str]) -> list[str]:
    """``[sources] canonical_order`` (record kinds) as source names: the ``files`` source's
    records are of kind ``file``."""
    return ["files" if kind == "file" else kind for kind in order]
# Strava's API policy allows a 7-day cache: a clinic keeps raw Strava records no longer.
DEFAULT_RAW_RETENTION = timedelta(days=7)


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("is not an http(s) URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, BeforeValidator(lambda v: _url(str(v)) if v is not None else v)]


def _known_rules(value: list[str] | None) -> list[str] | None:
    unknown = [rule for rule in value or [] if rule not in RULE_IDS]
    if unknown:
        raise ValueError(f"unknown rule {', '.join(map(repr, unknown))}; known rules: "
                         f"{', '.join(RULE_IDS)}")
    return value


# A channel's rule filter (None: every rule), shared by [[webhooks]] and [[notify]].
RuleFilter = Annotated[list[str] | None, AfterValidator(_known_rules)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class DatabaseSection(_Section):
    """Where syncd keeps its data."""

    url: str | None = None


class AthleteSection(_Section):
    """Who is running, where (time zone), on which plan from which local date; in clinic mode
    also which sources are theirs and where their alerts go."""

    name: str = Field("default", min_length=1, max_length=100, pattern=r"^[^/\\\x00-\x1f]+$")
    timezone: str = "UTC"
    plan: str | None = DEFAULT_PLAN
    plan_start: date | None = None
    # The configured sources this athlete uses (None: every configured source).
    sources: list[Literal["strava", "garmin", "files"]] | None = None
    # The shared channels (``webhook``, ``webhook:<name>``, ``email``) that get this athlete's
    # alerts (None: all of them).
    channels: list[str] | None = None
    # The athlete's own mail recipients (channel ``email:<name>``, through the [email] server).
    email: list[str] = Field(default_factory=list)
    email_min_severity: Literal["info", "warning", "critical"] = "info"
    # Folders watched for this athlete's files (clinic mode; default: [files] watch for a
    # single athlete, none for a clinic's athletes).
    watch: list[Path] | None = None
    # The weekdays the planned sessions go on (the Garmin calendar, the calendar feed);
    # None: spread over the week by the plan's rest-day rule.
    run_days: list[Weekday] | None = None

    @field_validator("run_days")
    @classmethod
    def _run_days(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("is empty; name at least one day, e.g. [\"mon\", \"wed\", "
                             "\"fri\"], or leave it out to spread the runs by the plan")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("names a day twice; name each run day once")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder like "Europe"
            raise ValueError("is not a known time zone; use an IANA name like "
                             "\"Europe/Berlin\" or \"America/New_York\"") from None
        return value


class StravaSection(_Section):
    """The Strava API application and polling."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_url: HttpUrl = "https://www.strava.com"
    poll_interval: Duration = timedelta(minutes=15)
    webhook_verify_token: SecretStr | None = None
    lookback: Duration = timedelta(days=7)
    run_speed_threshold: float = Field(1.9, gt=0, le=10)
    history: Duration = timedelta(days=56)
    # What a revocation does to the athlete's Strava data; unset: ``delete`` in a clinic
    # (Strava data is the athlete's, kept only with their authorization), ``keep`` for a
    # single athlete (their own data on their own machine). See :meth:`revoke_action`.
    on_revoke: Literal["keep", "delete"] | None = None
    # How long raw Strava records (the JSON, laps and stream bouts) are kept after they were
    # read; unset: 7 days in a clinic, for ever for a single athlete. See :meth:`retention`.
    raw_retention: Duration | None = None
    # Clinic mode: with webhooks on, each athlete's routine poll is a slow reconciliation
    # (events bring new activities within a minute); the planner stretches it, and
    # poll_interval, when the athletes would outgrow the application's daily budget.
    reconcile_interval: Duration = timedelta(hours=6)
    # How many new activities a day to keep budget for, per athlete (planning estimate).
    activities_per_athlete_day: float = Field(1.5, gt=0, le=20)

    @field_validator("client_id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def revoke_action(self, clinic: bool) -> Literal["keep", "delete"]:
        """``on_revoke``, or its default: ``delete`` in a clinic, ``keep`` otherwise."""
        if self.on_revoke is not None:
            return self.on_revoke
        return "delete" if clinic else "keep"

    def retention(self, clinic: bool) -> timedelta | None:
        """``raw_retention``, or its default: 7 days in a clinic, ``None`` (kept) otherwise."""
        if self.raw_retention is not None:
            return self.raw_retention
        return DEFAULT_RAW_RETENTION if clinic else None


class GarminSection(_Section):
    """Garmin Connect through its token store."""

    token_store: Path | None = None
    api_url: HttpUrl | None = None
    poll_interval: Duration = timedelta(minutes=30)
    lookback: Duration = timedelta(days=7)
    backoff: Duration = timedelta(hours=6)
    run_speed_threshold: float = Field(1.9, gt=0, le=10)
    fetch_feel: bool = False
    # The coming planned sessions as scheduled Garmin workouts, this many days ahead
    # (watches keep only a limited number of future workouts).
    push_workouts: bool = False
    workout_days: int = Field(14, ge=1, le=28)


class FilesSection(_Section):
    """Folders watched for activity files."""

    watch: list[Path] = Field(default_factory=list)
    poll_interval: Duration = timedelta(minutes=5)
    run_threshold_mps: float = Field(1.9, gt=0, le=10)
    # One activity file's limits: a larger file is refused, naming the limit (real recordings
    # stay far below: a 24-hour run at one point a second is 86,400 points, about 20 MB).
    max_file_mb: float = Field(32, gt=0, le=1024)
    max_points: int = Field(100_000, gt=0, le=10_000_000)


class WebhookSection(_Section):
    """One webhook endpoint, signed per the Standard Webhooks spec."""

    url: HttpUrl
    # Names the channel ``webhook:<name>`` (athletes route to it by that name); default: its
    # position, ``webhook:1``...
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    secret: SecretStr | None = None
    min_severity: Literal["info", "warning", "critical"] = "info"
    rules: RuleFilter = None
    timeout: Duration = timedelta(seconds=15)


class EmailSection(_Section):
    """The SMTP server and who gets the mail."""

    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    implicit_tls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str = Field(min_length=3)
    # The shared recipients (the therapist); may be empty when only athletes' own addresses
    # (``[[athletes]] email``) get mail.
    recipients: list[str] = Field(default_factory=list)
    min_severity: Literal["info", "warning", "critical"] = "info"
    timeout: Duration = timedelta(seconds=30)

    @model_validator(mode="before")
    @classmethod
    def _implicit_tls_defaults(cls, data: Any) -> Any:
        # TLS from the first byte is port 465 and excludes STARTTLS unless the file says more.
        if isinstance(data, dict) and data.get("implicit_tls") is True:
            return {"port": 465, "starttls": False, **data}
        return data

    @model_validator(mode="after")
    def _one_tls_mode(self) -> EmailSection:
        if self.starttls and self.implicit_tls:
            raise ValueError("starttls and implicit_tls cannot both be true; use implicit_tls "
                             "for port 465 or starttls for port 587")
        return self


class ServerSection(_Section):
    """The local HTTP status endpoint."""

    listen: str = "127.0.0.1:8765"
    token: SecretStr | None = None
    # One token per person, each with a name (what they do is recorded under it); the
    # single ``token`` above is the one named "operator".
    tokens: list[NamedToken] = Field(default_factory=list)
    public_url: HttpUrl | None = None
    # Extra names the endpoint answers to (a LAN name like "pi.local"); anything else is
    # refused, against DNS rebinding.
    allowed_hosts: list[str] = Field(default_factory=list)
    # How often a standby replica tries to take the lead (and the leader checks it still
    # holds it): a replica whose leader died takes over within this long.
    leadership_check: Duration = timedelta(seconds=5)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. \"127.0.0.1:8765\"")
        return value

    @model_validator(mode="after")
    def _tokens_apart(self) -> ServerSection:
        problems = token_problems(self.token, self.tokens)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def named_tokens(self) -> list[tuple[str, str]]:
        """Every token with its holder's name, ``(name, token)`` (empty: no token)."""
        return named_tokens(self.token, self.tokens)

    @property
    def host(self) -> str:
        """The host part of ``listen``, without IPv6 brackets."""
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        """The port part of ``listen``."""
        return int(self.listen.rpartition(":")[2])


class SourcesSection(_Section):
    """How records from several sources are merged."""

    canonical_order: list[SourceKind] = Field(
        default_factory=lambda: list(CANONICAL_ORDER), min_length=1)


class AlertsSection(_Section):
    """How alerts are delivered."""

    email_mode: Literal["each", "digest"] = "each"
    digest_interval: Duration = timedelta(hours=1)
    weekly_summary: bool = True
    # The daily mail to the shared [email] of the open alerts nobody acknowledged, from this
    # local time on ("HH:MM"); unset: no daily mail. Local to digest_timezone (default: the
    # first athlete's time zone).
    digest_time: time | None = None
    digest_timezone: str | None = None

    @field_validator("digest_time", mode="before")
    @classmethod
    def _digest_time(cls, value: Any) -> Any:
        return None if value is None else _time_of_day(value)

    @field_validator("digest_timezone")
    @classmethod
    def _digest_zone(cls, value: str | None) -> str | None:
        return None if value is None else AthleteSection._zone(value)


def _time_of_day(value: Any) -> Any:
    """A local time of day from ``"HH:MM"`` (or a TOML local time such as ``08:00:00``)."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0)
    hours, colon, minutes = str(value).partition(":") if isinstance(value, str) else ("", "", "")
    if (colon and hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and int(hours) < 24 and int(minutes) < 60):
        return time(int(hours), int(minutes))
    raise ValueError('must be a time of day as "HH:MM" on the 24-hour clock, e.g. "08:00"')


TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]


class CheckinSection(_Section):
    """The morning check-in: on the local morning after a run day (and every morning while
    pain at the plan's ``pain_stop`` or more is unresolved) the athlete is asked for a score
    through their own channels (their mail)."""

    # None: on for every athlete who has a channel of their own ([[athletes]] email).
    enabled: bool | None = None
    # From when on the athlete's local morning the check-in is sent.
    time: TimeOfDay = time(8, 0)


class LogSection(_Section):
    """Logging."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
