"""Loading the configuration: defaults, every kind of problem (all reported at once), secrets
from the file, credential files and the environment, and the documented example file."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.config import Settings, load_settings, state_dir
from syncd.config.durations import format_duration, parse_duration
from syncd.config.plans import resolve_plan, shipped_plans_dir
from syncd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "syncd.example.toml"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment whose state folder is inside the test's temporary folder."""
    return {"XDG_DATA_HOME": str(tmp_path / "data")}


def write(folder: Path, text: str, name: str = "syncd.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env)
    assert caught.value.source == str(path)
    return caught.value.problems


# -- defaults and where things are ------------------------------------------------------------


def test_no_file_gives_every_default(tmp_path: Path, env: dict[str, str]) -> None:
    settings = load_settings(None, env=env)
    assert settings.config_path is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'syncd' / 'syncd.db'}"
    assert settings.athlete.plan == "hip-return-run-walk"
    assert settings.athlete.name == "default"
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8765)
    assert settings.sources.canonical_order == ["garmin", "file", "strava"]
    assert settings.alerts.email_mode == "each"
    assert settings.enabled_sources() == []
    assert not (tmp_path / "data").exists()  # loading creates nothing


def test_syncd_config_names_the_file_when_no_path_is_given(tmp_path: Path,
                                                          env: dict[str, str]) -> None:
    path = write(tmp_path, '[athlete]\nname = "ana"\n')
    settings = load_settings(None, env={**env, "SYNCD_CONFIG": str(path)})
    assert settings.athlete.name == "ana"
    assert settings.config_path == path
    assert settings.config_dir == tmp_path


@pytest.mark.parametrize(("variables", "expected"), [
    ({"STATE_DIRECTORY": "/var/lib/syncd:/var/lib/other", "XDG_DATA_HOME": "/x"},
     Path("/var/lib/syncd")),
    ({"XDG_DATA_HOME": "/home/ana/.data"}, Path("/home/ana/.data/syncd")),
    ({}, Path.home() / ".local" / "share" / "syncd"),
])
def test_state_dir(variables: dict[str, str], expected: Path) -> None:
    assert state_dir(variables) == expected


def test_sources_are_enabled_by_their_section(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, '[files]\nwatch = ["inbox"]\n[strava]\nclient_id = 1\n')
    assert load_settings(path, env=env).enabled_sources() == ["strava", "files"]


def test_relative_paths_are_resolved_beside_the_config_file(tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    write(tmp_path, 'name = "mine"\n[[weeks]]\nsessions = 3\nrun_min = 0\nwalk_min = 15\n',
          "plans/mine.toml")
    path = write(tmp_path, '[athlete]\nplan = "plans/mine.toml"\n'
                           '[files]\nwatch = ["inbox", "/srv/runs"]\n'
                           '[garmin]\ntoken_store = "garmin"\n'
                           '[database]\nurl = "postgresql+psycopg://syncd:pw@db.local/syncd"\n')
    settings = load_settings(path, env=env)
    assert settings.files is not None and settings.garmin is not None
    assert settings.files.watch == [tmp_path / "inbox", Path("/srv/runs")]
    assert settings.garmin.token_store == tmp_path / "garmin"
    assert resolve_plan(settings.athlete.plan or "", settings.config_dir) == (
        tmp_path / "plans" / "mine.toml")
    assert settings.database_url_redacted() == "postgresql+psycopg://syncd:***@db.local/syncd"


def test_shipped_plan_is_found_by_name(tmp_path: Path) -> None:
    assert resolve_plan("hip-return-run-walk", tmp_path) == (
        shipped_plans_dir() / "hip-return-run-walk.toml")
    with pytest.raises(ConfigError) as caught:
        resolve_plan("nope", tmp_path)
    assert caught.value.problems[0].startswith("athlete.plan: 'nope' is neither a plan file")


def test_implicit_tls_means_port_465_without_starttls(tmp_path: Path,
                                                     env: dict[str, str]) -> None:
    path = write(tmp_path, '[email]\nhost = "smtp.example.org"\nsender = "a@example.org"\n'
                           'recipients = ["b@example.org"]\nimplicit_tls = true\n')
    email = load_settings(path, env=env).email
    assert email is not None
    assert (email.port, email.starttls, email.implicit_tls) == (465, False, True)


# -- problems -------------------------------------------------------------------------------


PROBLEMS = [
    ('[strava]\nclient_id = 1\npol_interval = "15m"\n',
     "strava.pol_interval: unknown key; did you mean 'poll_interval'?"),
    ('[stava]\nclient_id = 1\n', "stava: unknown key; did you mean 'strava'?"),
    ('[server]\nlisten = 8765\n', "server.listen: 8765: input should be a valid string"),
    ('[server]\nlisten = "localhost"\n',
     'server.listen: "localhost" must be HOST:PORT, e.g. "127.0.0.1:8765"'),
    ('[athlete]\ntimezone = "Europe/Berln"\n',
     'athlete.timezone: "Europe/Berln" is not a known time zone; use an IANA name like '
     '"Europe/Berlin" or "America/New_York"'),
    ('[athlete]\ntimezone = "America"\n',  # a folder of the zone database, not a zone
     'athlete.timezone: "America" is not a known time zone; use an IANA name like '
     '"Europe/Berlin" or "America/New_York"'),
    ('[garmin]\npoll_interval = "15x"\n',
     'garmin.poll_interval: "15x" is not a duration; use e.g. "15m", "1h", "7d" or a number '
     "of seconds"),
    ('[garmin]\nbackoff = 0\n', "garmin.backoff: 0 must be longer than zero"),
    ('[webhook]\nurl = "ftp://example.org/hook"\n',
     'webhook.url: "ftp://example.org/hook" is not an http(s) URL'),
    ('[athlete]\nplan_start = "next monday"\n',
     'athlete.plan_start: "next monday": input should be a valid date or datetime, invalid '
     "character in year"),
    ('[athlete]\nplan = "hip-retrun"\n',
     "athlete.plan: 'hip-retrun' is neither a plan file nor a shipped plan; shipped plans: "
     "hip-return-run-walk"),
    ('[sources]\ncanonical_order = ["garmin", "fit"]\n',
     "sources.canonical_order[2]: \"fit\": input should be 'garmin', 'file' or 'strava'"),
    ('[[webhooks]]\nurl = "https://a.example/x"\nmin_severity = "loud"\n',
     "webhooks[1].min_severity: \"loud\": input should be 'info', 'warning' or 'critical'"),
    ('[email]\nhost = "h"\nsender = "a@b"\nrecipients = ["a@b"]\nstarttls = true\n'
     "implicit_tls = true\n",
     "email: starttls and implicit_tls cannot both be true; use implicit_tls for port 465 or "
     "starttls for port 587"),
]


@pytest.mark.parametrize(("text", "expected"), PROBLEMS)
def test_each_kind_of_problem_names_its_key(tmp_path: Path, env: dict[str, str], text: str,
                                            expected: str) -> None:
    found = problems(write(tmp_path, text), env)
    assert len(found) == 1
    assert found[0].startswith(expected)


def test_unknown_key_lists_the_known_ones(tmp_path: Path, env: dict[str, str]) -> None:
    (found,) = problems(write(tmp_path, "[log]\nverbosity = 3\n"), env)
    assert found == "log.verbosity: unknown key (known keys: level, format)"


def test_missing_required_keys(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, '[email]\nrecipients = ["a@example.org"]\n')
    assert problems(path, env) == ["email.host: required; add it to the configuration",
                                   "email.sender: required; add it to the configuration"]


def test_every_problem_is_reported_at_once(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, '[athlete]\ntimezone = "Mars/Olympus"\nplan = "nope"\n'
                           '[strava]\nclient_id = 1\npoll_interval = "soon"\ncolor = "red"\n'
                           '[server]\nlisten = "127.0.0.1:99999"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env=env)
    keys = [p.split(":", 1)[0] for p in caught.value.problems]
    assert keys == ["athlete.timezone", "strava.poll_interval", "strava.color", "server.listen",
                    "athlete.plan"]
    assert str(caught.value).startswith(f"5 problems in {path}:\n  - athlete.timezone: ")


def test_missing_file(tmp_path: Path, env: dict[str, str]) -> None:
    path = tmp_path / "absent.toml"
    assert problems(path, env) == [f"{path}: the configuration file does not exist; create it "
                                   "from config/syncd.example.toml or pass --config"]


@pytest.mark.parametrize(("content", "expected"), [
    (b"[athlete]\nname = \n", "not valid TOML: Invalid value (at line 2, column 8)"),
    (b'[athlete]\nname = "\xff"\n', "cannot be read (UnicodeDecodeError)"),
])
def test_unreadable_file(tmp_path: Path, env: dict[str, str], content: bytes,
                         expected: str) -> None:
    path = tmp_path / "syncd.toml"
    path.write_bytes(content)
    assert problems(path, env) == [f"{path}: {expected}" + (
        "; check its permissions" if "cannot be read" in expected else "")]


def test_a_folder_is_not_a_config_file(tmp_path: Path, env: dict[str, str]) -> None:
    assert problems(tmp_path, env) == [
        f"{tmp_path}: cannot be read (IsADirectoryError); check its permissions"]


# -- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(("inline", "in_file", "in_env", "expected"), [
    ("from-inline", None, None, "from-inline"),
    ("from-inline", "from-file", None, "from-file"),
    ("from-inline", "from-file", "from-env", "from-env"),
    (None, "from-file", None, "from-file"),
    (None, None, "from-env", "from-env"),
])
def test_secret_precedence_env_then_file_then_inline(
        tmp_path: Path, env: dict[str, str], inline: str | None, in_file: str | None,
        in_env: str | None, expected: str) -> None:
    text = "[strava]\nclient_id = 1\n"
    if inline:
        text += f'client_secret = "{inline}"\n'
    if in_file:
        write(tmp_path, in_file + "\n", "strava_secret")
        text += 'client_secret_file = "strava_secret"\n'
    if in_env:
        env["SYNCD_STRAVA_CLIENT_SECRET"] = in_env
    strava = load_settings(write(tmp_path, text), env=env).strava
    assert strava is not None and strava.client_secret is not None
    assert strava.client_secret.get_secret_value() == expected


def test_secret_files_are_looked_up_in_the_credentials_directory(tmp_path: Path,
                                                                env: dict[str, str]) -> None:
    write(tmp_path / "creds", f"{WHSEC}\r\n", "webhook")
    write(tmp_path / "creds", "clinic-secret\n", "clinic")
    path = write(tmp_path / "etc", '[webhook]\nurl = "https://a.example/x"\n'
                                   'secret_file = "webhook"\n'
                                   '[[webhooks]]\nurl = "https://b.example/x"\n'
                                   'secret_file = "clinic"\n')
    settings = load_settings(path, env={**env, "CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
    assert settings.webhook is not None and settings.webhook.secret is not None
    assert settings.webhook.secret.get_secret_value() == WHSEC
    assert settings.webhooks[0].secret is not None
    assert settings.webhooks[0].secret.get_secret_value() == "clinic-secret"


def test_missing_secret_file_names_its_key_and_path(tmp_path: Path,
                                                   env: dict[str, str]) -> None:
    path = write(tmp_path, '[email]\nhost = "h"\nsender = "a@b"\nrecipients = ["a@b"]\n'
                           'password_file = "smtp_password"\n')
    assert problems(path, env) == [f"email.password_file: cannot read {tmp_path}/smtp_password; "
                                   "create it (mode 0600) or fix the path"]


def test_server_token_from_the_environment_needs_no_server_section(
        env: dict[str, str]) -> None:
    settings = load_settings(None, env={**env, "SYNCD_SERVER_TOKEN": "t0ken-from-env"})
    assert settings.server.token is not None
    assert settings.server.token.get_secret_value() == "t0ken-from-env"


def test_a_secret_in_the_environment_does_not_enable_a_source(env: dict[str, str]) -> None:
    settings = load_settings(None, env={**env, "SYNCD_STRAVA_CLIENT_SECRET": "x"})
    assert settings.enabled_sources() == []


def _with_every_secret(tmp_path: Path, env: dict[str, str]) -> Settings:
    path = write(tmp_path, '[strava]\nclient_id = 1\nclient_secret = "S3-strava"\n'
                           'webhook_verify_token = "S3-verify"\n'
                           f'[webhook]\nurl = "https://a.example/x"\nsecret = "{WHSEC}"\n'
                           '[[webhooks]]\nurl = "https://b.example/x"\nsecret = "S3-clinic"\n'
                           '[email]\nhost = "h"\nsender = "a@b"\nrecipients = ["a@b"]\n'
                           'username = "ana"\npassword = "S3-smtp"\n'
                           '[server]\ntoken = "S3-server"\n')
    return load_settings(path, env=env)


SECRET_VALUES = ["S3-strava", "S3-verify", WHSEC, "S3-clinic", "S3-smtp", "S3-server"]


def test_secrets_never_appear_in_repr_or_check_config_output(tmp_path: Path,
                                                            env: dict[str, str]) -> None:
    settings = _with_every_secret(tmp_path, env)
    shown = repr(settings) + str(settings) + repr(settings.redacted_dict())
    assert [s for s in SECRET_VALUES if s in shown] == []
    redacted = settings.redacted_dict()
    assert redacted["strava"]["client_secret"] == "***"
    assert redacted["webhooks"][0]["secret"] == "***"
    assert redacted["server"]["token"] == "***"


def test_unset_secrets_show_as_not_set(env: dict[str, str]) -> None:
    assert load_settings(None, env=env).redacted_dict()["server"]["token"] == "(not set)"


def test_an_invalid_secret_is_reported_by_key_only(tmp_path: Path, env: dict[str, str]) -> None:
    path = write(tmp_path, '[strava]\nclient_id = 1\nclient_secret = 8675309\n'
                           '[server]\ntoken = ["S3-server"]\n')
    found = problems(path, env)
    assert [p.split(":", 1)[0] for p in found] == ["strava.client_secret", "server.token"]
    assert "8675309" not in "".join(found) and "S3-server" not in "".join(found)


# -- durations ------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    (90, timedelta(seconds=90)), ("90", timedelta(seconds=90)), ("90s", timedelta(seconds=90)),
    ("15m", timedelta(minutes=15)), ("1h", timedelta(hours=1)),
    ("1h30m", timedelta(minutes=90)), ("1h 30m", timedelta(minutes=90)),
    ("7d", timedelta(days=7)), ("1.5s", timedelta(seconds=1.5)),
])
def test_parse_duration(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize("value", ["15x", "", "m", "1h-5m", "-5m", True, None, [5], 0, "0s"])
def test_not_a_duration(value: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration|must be longer than zero"):
        parse_duration(value)


@given(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3650)))
def test_format_duration_round_trips(duration: timedelta) -> None:
    assert parse_duration(format_duration(duration)) == duration


@given(st.integers(0, 400), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_written_durations_parse(days: int, hours: int, minutes: int, seconds: int) -> None:
    parts = zip((days, hours, minutes, seconds), "dhms", strict=True)
    text = "".join(f"{count}{unit}" for count, unit in parts if count)
    expected = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not text:
        return  # zero is not a duration syncd accepts (tested above)
    assert parse_duration(text) == expected
    assert format_duration(expected) == text


# -- the example file -----------------------------------------------------------------------


def test_the_example_file_loads_without_a_problem(env: dict[str, str]) -> None:
    settings = load_settings(EXAMPLE, env=env)
    assert settings.enabled_sources() == ["strava", "garmin", "files"]


def _documented_keys(text: str) -> set[tuple[str, str]]:
    """(section, key) of every key shown in the example, commented out or not."""
    found: set[tuple[str, str]] = set()
    section = ""
    for line in text.splitlines():
        body = line.strip().lstrip("#").strip()
        if header := re.match(r"\[\[?([a-z_]+)\]\]?$", body.split("#")[0].strip()):
            section = header.group(1)
            found.add(("", section))
        elif key := re.match(r"([a-z_]+)\s*=", body):
            found.add((section, key.group(1)))
    return found


def test_every_setting_is_documented_in_the_example_file() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    tomllib.loads(text)  # and it is valid TOML as shipped
    documented = _documented_keys(text)
    missing = []
    for section, field in Settings.model_fields.items():
        if ("", section) not in documented:
            missing.append(f"[{section}]")
        model = _model_of(field.annotation)
        for key in model.model_fields if model else ():
            if not {(section, key), (section, f"{key}_file")} & documented:
                missing.append(f"{section}.{key}")
    assert missing == []


def _model_of(annotation: object) -> type | None:
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if found := _model_of(arg):
            return found
    return None


def test_webhook_rules_must_be_rule_ids(tmp_path: Path) -> None:
    """A misspelt rule in a webhook filter would silently drop alerts: it is a problem."""
    config = tmp_path / "syncd.toml"
    config.write_text('[webhook]\nurl = "https://example.org/h"\n'
                      'rules = ["pain_stop", "pain_stpo"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(config, env={})
    (problem,) = err.value.problems
    assert problem.startswith("webhook.rules: ") and "'pain_stpo'" in problem
    assert "'pain_stop'" not in problem.split(";")[0]
