"""Settings, declared once, loaded from TOML, credential files and the environment, and
validated all at once: every problem is reported together, with the file and the key.

Secrets never sit in the settings' ``repr`` or in an error message. Each secret can be given
inline, as ``<name>_file`` (a path; relative paths are looked up in ``$CREDENTIALS_DIRECTORY``
first, then beside the configuration file), or as ``SYNCD_<SECTION>_<NAME>`` in the
environment; the environment wins over the file, the file over the inline value.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from syncd.errors import ConfigError
from syncd.plan import load_plan
from syncd.rules import RULE_IDS

DEFAULT_PLAN = "hip-return-run-walk"
SOURCE_NAMES = ("strava", "garmin", "files")
SEVERITIES = ("info", "warning", "critical")
SourceKind = Literal["garmin", "file", "strava"]
CANONICAL_ORDER: tuple[SourceKind, ...] = ("garmin", "file", "strava")

# (section, key) of every secret; each also accepts <key>_file and SYNCD_<SECTION>_<KEY>.
SECRETS: tuple[tuple[str, str], ...] = (
    ("strava", "client_secret"), ("strava", "webhook_verify_token"), ("webhook", "secret"),
    ("email", "password"), ("server", "token"),
)

# Sections of sources registered beyond the built-in ones (syncd.sources.registry), by name.
_ADDED_SOURCES: dict[str, type[BaseModel]] = {}

# Sections that exist with their defaults when the file leaves them out.
_ALWAYS_PRESENT = ("database", "athlete", "server", "sources", "alerts", "log")

MAX_DURATION_S = 100 * 365.25 * 86400
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(value: Any) -> timedelta:
    """``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"7d"`` -> timedelta (positive)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("is not a duration")
    elif isinstance(value, int | float) or (
        isinstance(value, str) and value.strip().replace(".", "", 1).isdigit()
    ):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)) and any(match.groups()):
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    else:
        raise ValueError("is not a duration")
    if not math.isfinite(seconds):
        raise ValueError("is not a duration")
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    if seconds > MAX_DURATION_S:  # timedelta itself stops at a billion days
        raise ValueError("is longer than 100 years")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest string :func:`parse_duration` reads back to ``value``."""
    seconds = value.total_seconds()
    if seconds != int(seconds):
        return f"{seconds:.6f}".rstrip("0") + "s"
    seconds_int, out = int(seconds), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds_int = divmod(seconds_int, size)
        if count:
            out += f"{count}{unit}"
    return out


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("is not an http(s) URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, BeforeValidator(lambda v: _url(str(v)) if v is not None else v)]


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
    on_revoke: Literal["keep", "delete"] = "keep"
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


class GarminSection(_Section):
    """Garmin Connect through its token store."""

    token_store: Path | None = None
    api_url: HttpUrl | None = None
    poll_interval: Duration = timedelta(minutes=30)
    lookback: Duration = timedelta(days=7)
    backoff: Duration = timedelta(hours=6)
    run_speed_threshold: float = Field(1.9, gt=0, le=10)
    fetch_feel: bool = False


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
    rules: list[str] | None = None
    timeout: Duration = timedelta(seconds=15)

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: list[str] | None) -> list[str] | None:
        unknown = [rule for rule in value or [] if rule not in RULE_IDS]
        if unknown:
            raise ValueError(f"unknown rule {', '.join(map(repr, unknown))}; known rules: "
                             f"{', '.join(RULE_IDS)}")
        return value


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


class LogSection(_Section):
    """Logging."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(_Section):
    """Everything syncd is configured with. A source is enabled when its section exists."""

    database: DatabaseSection = Field(default_factory=DatabaseSection)
    athlete: AthleteSection = Field(default_factory=AthleteSection)
    athletes: list[AthleteSection] = Field(default_factory=list)
    strava: StravaSection | None = None
    garmin: GarminSection | None = None
    files: FilesSection | None = None
    webhook: WebhookSection | None = None
    webhooks: list[WebhookSection] = Field(default_factory=list)
    email: EmailSection | None = None
    server: ServerSection = Field(default_factory=ServerSection)
    sources: SourcesSection = Field(default_factory=SourcesSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    log: LogSection = Field(default_factory=LogSection)

    _config_path: Path | None = PrivateAttr(default=None)
    _state_dir: Path = PrivateAttr(default_factory=lambda: state_dir())
    # The sections of added sources present in the file (see register_source_section).
    _added: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_roster(self) -> Settings:
        problems = []
        if self.athletes and "athlete" in self.model_fields_set:
            problems.append("[athlete] and [[athletes]] cannot both be given; move the single "
                            "athlete into an [[athletes]] entry")
        names = [a.name for a in self.athletes]
        problems += [f"athlete {name!r} is listed twice in [[athletes]]; names must be unique"
                     for name in sorted({n for n in names if names.count(n) > 1})]
        hooks = [h.name for h in self.webhooks if h.name]
        problems += [f"webhook name {name!r} is used twice in [[webhooks]]"
                     for name in sorted({n for n in hooks if hooks.count(n) > 1})]
        known = self.shared_channels()
        for athlete in self.roster():
            unknown = [c for c in athlete.channels or [] if c not in known]
            if unknown:
                problems.append(f"athlete {athlete.name!r}: channels {unknown} are not "
                                f"configured; known channels: {', '.join(known) or 'none'}")
            if athlete.email and self.email is None:
                problems.append(f"athlete {athlete.name!r}: email recipients need an [email] "
                                "section (the SMTP server)")
            missing = [s for s in athlete.sources or [] if getattr(self, s) is None]
            if missing:
                problems.append(f"athlete {athlete.name!r}: sources {missing} are not "
                                "configured; add their sections or remove them")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _public_needs_token(self) -> Settings:
        # Behind a reverse proxy every request comes from 127.0.0.1, often with that Host:
        # without the token, anyone who reaches public_url would read every athlete's data.
        token = self.server.token.get_secret_value() if self.server.token else ""
        if self.server.public_url and not token:
            raise ValueError(
                "server.public_url is set but [server] token is not: set token (or "
                "token_file) so that only the Strava callback and onboarding links are open "
                "on the public address, or remove public_url")
        return self

    def roster(self) -> list[AthleteSection]:
        """The athletes declared in the file: the ``[[athletes]]`` list, else ``[athlete]``."""
        return list(self.athletes) if self.athletes else [self.athlete]

    @property
    def clinic(self) -> bool:
        """True when the file declares ``[[athletes]]`` (clinic mode)."""
        return bool(self.athletes)

    def webhook_channel_names(self) -> list[tuple[str, WebhookSection]]:
        """Each webhook with its channel name: ``webhook``, then ``webhook:<name or n>``."""
        named = [("webhook", self.webhook)] if self.webhook is not None else []
        named += [(f"webhook:{h.name or i}", h) for i, h in enumerate(self.webhooks, start=1)]
        return named

    def shared_channels(self) -> list[str]:
        """Channels every athlete may route to: the webhooks and the shared [email]."""
        names = [name for name, _ in self.webhook_channel_names()]
        if self.email is not None and self.email.recipients:
            names.append("email")
        return names

    @property
    def config_path(self) -> Path | None:
        """The file the settings came from (``None``: built-in defaults)."""
        return self._config_path

    @property
    def config_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self._config_path.parent if self._config_path else Path.cwd()

    @property
    def state_dir(self) -> Path:
        """Where syncd keeps its database and token files."""
        return self._state_dir

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: ``[database] url``, else SQLite in the state directory."""
        return self.database.url or f"sqlite:///{self._state_dir / 'syncd.db'}"

    def database_url_redacted(self) -> str:
        """The database URL with any password hidden."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)

    def enabled_sources(self) -> list[str]:
        """The configured sources, in a fixed order."""
        return [name for name in (*SOURCE_NAMES, *self._added)
                if self.source_section(name) is not None]

    def source_section(self, name: str) -> Any:
        """The section configuring source ``name`` (``None``: not configured)."""
        if name in SOURCE_NAMES:
            return getattr(self, name)
        return self._added.get(name)

    def redacted_dict(self) -> dict[str, Any]:
        """The settings as a dict; every secret is ``"***"``, or ``"(not set)"``."""
        dumped: dict[str, Any] = _redact(self.model_dump(mode="json"))
        tables = [(dumped.get(section), key) for section, key in SECRETS]
        tables += [(hook, "secret") for hook in dumped["webhooks"]]
        for table, key in tables:
            if isinstance(table, dict) and table.get(key) is None:
                table[key] = "(not set)"
        return dumped


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return "***" if value == "**********" else value


# -- loading --------------------------------------------------------------------------------


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$STATE_DIRECTORY`` (systemd), else ``$XDG_DATA_HOME/syncd``, else
    ``~/.local/share/syncd``."""
    env = os.environ if env is None else env
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    if env.get("XDG_DATA_HOME"):
        return Path(env["XDG_DATA_HOME"]) / "syncd"
    return Path.home() / ".local" / "share" / "syncd"


def shipped_plans_dir() -> Path:
    """Where the shipped plans are: the source tree's ``config/plans``, or the installed copy."""
    source_tree = Path(__file__).resolve().parents[1] / "config" / "plans"
    if source_tree.is_dir():
        return source_tree
    return Path(sys.prefix) / "share" / "syncd" / "plans"


def resolve_plan(name_or_path: str, base_dir: Path) -> Path:
    """A plan given as a path (relative to ``base_dir``) or as a shipped plan's name."""
    candidate = Path(name_or_path).expanduser()
    if not candidate.is_absolute():
        candidate = base_dir / candidate
    if candidate.is_file():
        return candidate
    shipped = shipped_plans_dir() / f"{name_or_path.removesuffix('.toml')}.toml"
    if shipped.is_file():
        return shipped
    names = sorted(p.stem for p in shipped_plans_dir().glob("*.toml"))
    raise ConfigError([f"athlete.plan: {name_or_path!r} is neither a plan file nor a shipped "
                       f"plan; shipped plans: {', '.join(names) or 'none'}"])


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read, complete and validate the configuration. Raises :class:`ConfigError` listing
    every problem found; nothing else happens before the configuration is valid."""
    env = os.environ if env is None else env
    if path is None and env.get("SYNCD_CONFIG"):
        path = Path(env["SYNCD_CONFIG"])
    source = str(path) if path else "the built-in defaults"
    data, problems = _read(path)
    # The same folder as Settings.config_dir, so relative paths mean one thing everywhere.
    base = path.resolve().parent if path else Path.cwd()
    problems += _fill_secrets(data, env, base)
    added, added_problems = _added_sections(data)
    problems += added_problems
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        problems += [_describe(e, data) for e in err.errors()]
    problems += _check_plan(data, base)
    if settings is not None:
        settings._config_path = path.resolve() if path else None
        settings._state_dir = state_dir(env)
        settings._added = added
    if problems:
        raise ConfigError(problems, source=source)
    assert settings is not None
    return _resolved(settings, base)


def register_source_section(name: str, model: type[BaseModel]) -> None:
    """Accept a ``[name]`` section validated by ``model``: the section of a source registered
    beyond the built-in ones, which is enabled when the section is present."""
    if name in Settings.model_fields:
        raise ValueError(f"[{name}] is a section of syncd itself; choose another source name")
    _ADDED_SOURCES[name] = model


def forget_source_section(name: str) -> None:
    """Undo :func:`register_source_section`."""
    _ADDED_SOURCES.pop(name, None)


def _added_sections(data: dict[str, Any]) -> tuple[dict[str, BaseModel], list[str]]:
    """Take the sections of added sources out of ``data`` and validate each."""
    sections: dict[str, BaseModel] = {}
    problems: list[str] = []
    for name, model in _ADDED_SOURCES.items():
        if name not in data:
            continue
        try:
            sections[name] = model.model_validate(data.pop(name))
        except ValidationError as err:
            problems += [_describe({**e, "loc": (name, *e["loc"])}, data) for e in err.errors()]
    return sections, problems


def _read(path: Path | None) -> tuple[dict[str, Any], list[str]]:
    if path is None:
        return {}, []
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), []
    except FileNotFoundError:
        return {}, [f"{path}: the configuration file does not exist; create it from "
                    "config/syncd.example.toml or pass --config"]
    except (OSError, UnicodeDecodeError) as err:
        return {}, [f"{path}: cannot be read ({err.__class__.__name__}); check its permissions"]
    except tomllib.TOMLDecodeError as err:
        return {}, [f"{path}: not valid TOML: {err}"]


def _fill_secrets(data: dict[str, Any], env: Mapping[str, str], base: Path) -> list[str]:
    """Move ``<key>_file`` and ``SYNCD_<SECTION>_<KEY>`` values into ``data``."""
    problems: list[str] = []
    for section_name, key in SECRETS:
        section = data.get(section_name)
        if section is None and section_name in _ALWAYS_PRESENT:
            section = data.setdefault(section_name, {})
        if not isinstance(section, dict):
            continue
        problems += _fill_one(section, f"{section_name}.{key}", key,
                              env.get(f"SYNCD_{section_name.upper()}_{key.upper()}"), env, base)
    for i, hook in enumerate(data.get("webhooks") or []):
        if isinstance(hook, dict):
            problems += _fill_one(hook, f"webhooks[{i + 1}].secret", "secret", None, env, base)
    return problems


def _fill_one(section: dict[str, Any], label: str, key: str, from_env: str | None,
              env: Mapping[str, str], base: Path) -> list[str]:
    file_value = section.pop(f"{key}_file", None)
    if from_env:
        section[key] = from_env
        return []
    if file_value is None:
        return []
    if not isinstance(file_value, str):
        return [f"{label}_file: must be a path (a string)"]
    credentials = env.get("CREDENTIALS_DIRECTORY")
    candidate = Path(file_value).expanduser()
    if not candidate.is_absolute():
        inside = Path(credentials) / candidate if credentials else None
        candidate = inside if inside is not None and inside.exists() else base / candidate
    try:
        section[key] = candidate.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError:
        return [f"{label}_file: cannot read {candidate}; create it (mode 0600) or fix the path"]
    return []


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """One pydantic error as ``section.key: what is wrong; what to do``."""
    loc = [str(p) if not isinstance(p, int) else f"[{p + 1}]" for p in error["loc"]]
    label = ".".join(loc).replace(".[", "[")
    kind, message = error["type"], str(error["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        return f"{label}: unknown key{_did_you_mean(error['loc'])}"
    if kind == "missing":
        return f"{label}: required; add it to the configuration"
    if not error["loc"]:  # a check across sections: its message names the keys itself
        return message
    secret = error["loc"][-1] in {key for _, key in SECRETS}
    value = "" if secret or kind.startswith("model_") else _shown(error.get("input"))
    if "duration" in message:
        message += '; use e.g. "15m", "1h", "7d" or a number of seconds'
    if value and not message.startswith(("is ", "must ")):
        return f"{label}: {value.strip()}: {message[0].lower()}{message[1:]}"
    return f"{label}: {value}{message}"


def _shown(value: Any) -> str:
    if isinstance(value, str | int | float | bool | date) and len(repr(value)) < 60:
        return f"{value!r} ".replace("'", '"')
    return ""


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        inner = _model_of(field.annotation) if field else None
        if inner is None:
            return ""
        model = inner
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return hint + f" (known keys: {', '.join(known)})"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _check_plan(data: Mapping[str, Any], base: Path) -> list[str]:
    """Every plan named in the raw data must exist and be valid, whatever else is wrong with
    the file: the configuration's problems and its plans' problems are reported together."""
    entries = [("athlete", data.get("athlete", {}))]
    listed = data.get("athletes")
    if isinstance(listed, list):
        entries += [(f"athletes[{i}]", entry) for i, entry in enumerate(listed, start=1)]
    problems: list[str] = []
    checked: set[Path] = set()  # a plan many athletes share is read once
    for label, athlete in entries:
        plan = athlete.get("plan", DEFAULT_PLAN) if isinstance(athlete, dict) else None
        if not isinstance(plan, str) or not plan:  # a wrong type is reported by validation
            continue
        try:
            path = resolve_plan(plan, base)
        except ConfigError as err:
            problems += [p.replace("athlete.plan", f"{label}.plan", 1) for p in err.problems]
            continue
        if path not in checked:
            checked.add(path)
            problems += _plan_problems(path, label)
    return problems


def _plan_problems(path: Path, label: str) -> list[str]:
    """The problems of one plan file, each naming the file and the athlete that uses it."""
    try:
        load_plan(path)
    except ConfigError as err:
        return [f"{label}.plan {path}: {problem}" for problem in err.problems]
    return []


def _resolved(settings: Settings, base: Path) -> Settings:
    """Relative paths made absolute against the configuration file's folder."""
    updates: dict[str, Any] = {}
    if settings.files is not None:
        watch = [p.expanduser() if p.expanduser().is_absolute() else base / p
                 for p in settings.files.watch]
        updates["files"] = settings.files.model_copy(update={"watch": watch})
    if settings.athletes:
        updates["athletes"] = [
            a if a.watch is None else a.model_copy(update={"watch": [
                p.expanduser() if p.expanduser().is_absolute() else base / p for p in a.watch]})
            for a in settings.athletes]
    if settings.garmin is not None and settings.garmin.token_store is not None:
        store = settings.garmin.token_store.expanduser()
        updates["garmin"] = settings.garmin.model_copy(
            update={"token_store": store if store.is_absolute() else base / store})
    resolved = settings.model_copy(update=updates)
    resolved._config_path = settings._config_path
    resolved._state_dir = settings._state_dir
    return resolved
