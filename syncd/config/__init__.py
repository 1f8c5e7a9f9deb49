"""Settings, declared once, loaded from TOML, credential files and the environment, and
validated all at once: every problem is reported together, with the file and the key.

Secrets never sit in the settings' ``repr`` or in an error message. Each secret can be given
inline, as ``<name>_file`` (a path; relative paths are looked up in ``$CREDENTIALS_DIRECTORY``
first, then beside the configuration file), or as ``SYNCD_<SECTION>_<NAME>`` in the
environment; the environment wins over the file, the file over the inline value.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

from syncd.config.mqtt import MqttSection
from syncd.config.notify import NotifySection, fill_urls, notify_problems
from syncd.config.plans import _check_plan
from syncd.config.sections import (
    AlertsSection,
    AthleteSection,
    CheckinSection,
    DatabaseSection,
    EmailSection,
    FilesSection,
    GarminSection,
    LogSection,
    ServerSection,
    SourcesSection,
    StravaSection,
    WebhookSection,
    _Section,
)
from syncd.config.tokens import token_tables
from syncd.errors import ConfigError

SOURCE_NAMES = ("strava", "garmin", "files")

# (section, key) of every secret; each also accepts <key>_file and SYNCD_<SECTION>_<KEY>.
SECRETS: tuple[tuple[str, str], ...] = (
    ("strava", "client_secret"), ("strava", "webhook_verify_token"), ("webhook", "secret"),
    ("email", "password"), ("server", "token"), ("mqtt", "password"),
)

# Sections of sources registered beyond the built-in ones (syncd.sources.registry), by name.
_ADDED_SOURCES: dict[str, type[BaseModel]] = {}

# Sections that exist with their defaults when the file leaves them out.
_ALWAYS_PRESENT = ("database", "athlete", "server", "sources", "alerts", "log")


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
    notify: list[NotifySection] = Field(default_factory=list)
    email: EmailSection | None = None
    mqtt: MqttSection | None = None
    server: ServerSection = Field(default_factory=ServerSection)
    sources: SourcesSection = Field(default_factory=SourcesSection)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    checkin: CheckinSection = Field(default_factory=CheckinSection)
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
        problems += notify_problems(self.notify, self.roster())
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
        if self.server.public_url and not self.server.named_tokens():
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
        """Channels athletes may route to: the webhooks, [[notify]] and the shared [email]."""
        names = [name for name, _ in self.webhook_channel_names()]
        names += [section.channel for section in self.notify]
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
    tables = [(f"webhooks[{i}].secret", t) for i, t in enumerate(data.get("webhooks") or [], 1)]
    for label, table in [*tables, *token_tables(data.get("server"))]:
        if isinstance(table, dict):
            problems += _fill_one(table, label, label.rpartition(".")[2], None, env, base)
    problems += fill_urls(data.get("notify"),
                          lambda table, label: _fill_one(table, label, "url", None, env, base))
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
