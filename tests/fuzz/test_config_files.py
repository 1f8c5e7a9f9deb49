"""Fuzz targets for the files a user writes: the configuration and plan files. Any TOML (or
not-TOML) text either loads, or raises one ``ConfigError`` (``PlanError`` for a plan) that
names the file; a loaded configuration shows no secret in its ``repr`` or redacted form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from syncd.config import Settings, load_settings
from syncd.errors import ConfigError
from syncd.plan import Plan, load_plan

from .support import FUZZ, survives
from .toml_text import SCALARS, VALUES, document

SECTIONS: dict[str, list[str]] = {
    "database": ["url"],
    "athlete": ["name", "timezone", "plan", "plan_start"],
    "strava": ["client_id", "client_secret", "client_secret_file", "api_url", "poll_interval",
               "webhook_verify_token", "lookback", "run_speed_threshold", "history",
               "on_revoke"],
    "garmin": ["token_store", "api_url", "poll_interval", "lookback", "backoff", "fetch_feel"],
    "files": ["watch", "poll_interval", "run_threshold_mps"],
    "webhook": ["url", "secret", "secret_file", "min_severity", "rules", "timeout"],
    "email": ["host", "port", "starttls", "implicit_tls", "username", "password", "sender",
              "recipients", "min_severity", "timeout"],
    "server": ["listen", "token", "public_url", "allowed_hosts"],
    "sources": ["canonical_order"],
    "alerts": ["email_mode", "digest_interval", "weekly_summary"],
    "log": ["level", "format"],
}
SECRET_VALUE = "hunter2-fuzz-secret"


@st.composite
def config_documents(draw: st.DrawFn) -> str:
    """A configuration file made of syncd's own sections and keys (and a few unknown ones),
    each with a value of any TOML type; now and then a secret set to a known value."""
    tables: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from([*SECTIONS, "webhooks", "bogus"]),
                                 max_size=5, unique=True)):
        keys = SECTIONS.get(section, SECTIONS["webhook"] if section == "webhooks" else ["x"])
        table = {key: draw(st.one_of(SCALARS, VALUES))
                 for key in draw(st.lists(st.sampled_from([*keys, "unknwon"]), max_size=4,
                                          unique=True))}
        for key in ("secret", "password", "client_secret", "token"):
            if key in table and draw(st.booleans()):
                table[key] = SECRET_VALUE
        tables[section] = [table] if section == "webhooks" else table
    return document(tables)


def _check_loaded(settings: Settings) -> None:
    assert SECRET_VALUE not in repr(settings)
    assert SECRET_VALUE not in str(settings.redacted_dict())


@FUZZ
@given(text=config_documents())
def test_any_configuration_loads_or_is_refused_naming_the_file(tmp_path_factory: Any,
                                                               text: str) -> None:
    path = tmp_path_factory.mktemp("config") / "syncd.toml"
    path.write_text(text, encoding="utf-8")
    loaded = survives(lambda: load_settings(path, env={"STATE_DIRECTORY": str(path.parent)}),
                      str(path))
    if isinstance(loaded, Settings):
        _check_loaded(loaded)
    else:
        assert isinstance(loaded, ConfigError) and loaded.problems
        assert SECRET_VALUE not in str(loaded)


@FUZZ
@given(data=st.binary(max_size=200))
def test_a_configuration_that_is_not_toml_is_refused_naming_the_file(tmp_path_factory: Any,
                                                                     data: bytes) -> None:
    path = tmp_path_factory.mktemp("config") / "syncd.toml"
    path.write_bytes(data)
    survives(lambda: load_settings(path, env={"STATE_DIRECTORY": str(path.parent)}), str(path))


WEEK_KEYS = ["sessions", "run_min", "walk_min", "session_min", "run_interval_s", "note"]
LIMIT_KEYS = ["max_weekly_increase", "session_tolerance", "rest_days_between_runs", "pain_stop",
              "pain_persist_hours", "spike_vs_longest_30d", "load_ratio_max", "shoe_warn_km",
              "shoe_replace_km", "progression"]
_NUMBERS = st.one_of(st.integers(-5, 700), st.floats(), st.sampled_from([0, 1, 2, 15, 0.5]))


@st.composite
def plan_documents(draw: st.DrawFn) -> str:
    """A plan file: a name, limits and weeks with values of any type (numbers most often)."""
    tables: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        tables["name"] = draw(st.one_of(st.text(max_size=10), SCALARS))
    if draw(st.booleans()):
        tables["limits"] = {key: draw(st.one_of(_NUMBERS, SCALARS)) for key in draw(
            st.lists(st.sampled_from([*LIMIT_KEYS, "bogus"]), max_size=4, unique=True))}
    weeks = []
    for _ in range(draw(st.integers(0, 4))):
        weeks.append({key: draw(st.one_of(_NUMBERS, _NUMBERS, SCALARS)) for key in draw(
            st.lists(st.sampled_from(WEEK_KEYS), min_size=1, max_size=5, unique=True))})
    if weeks:
        tables["weeks"] = weeks
    elif draw(st.booleans()):
        tables["weeks"] = draw(VALUES)
    return document(tables)


def _check_plan(plan: Plan) -> None:
    for week in plan.weeks:
        assert week.session_min >= 0 and week.prescribed_run_s >= 0, week


@FUZZ
@given(text=plan_documents())
def test_any_plan_file_loads_or_is_refused_naming_the_file(tmp_path_factory: Any,
                                                           text: str) -> None:
    path: Path = tmp_path_factory.mktemp("plan") / "plan.toml"
    path.write_text(text, encoding="utf-8")
    loaded = survives(lambda: load_plan(path), str(path))
    if isinstance(loaded, Plan):
        _check_plan(loaded)
