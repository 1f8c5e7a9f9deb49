"""What Home Assistant is sent, without a broker: the ``[mqtt]`` section (its checks name the
key and never show the password), the topics of each athlete (no patient's name unless asked,
unique whatever the names) and the state payload."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.alerts.ha import Device, Figures, devices, discovery_configs, messages
from syncd.config import load_settings
from syncd.errors import ConfigError
from tests.support.config import write_config

SECRET = "mqtt-secret-4471"
LEVEL = re.compile(r"[a-z0-9_]+")


def load(tmp_path: Path, env: dict[str, str] | None = None, **mqtt: object) -> object:
    return load_settings(write_config(tmp_path, mqtt=mqtt), env=env or {}).mqtt


def problems(tmp_path: Path, **mqtt: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, **mqtt)
    return caught.value.problems


# -- the [mqtt] section -------------------------------------------------------------------------


def test_defaults_and_the_port_of_each_scheme(tmp_path: Path) -> None:
    plain = load_settings(write_config(tmp_path, mqtt={"url": "mqtt://ha.local"}), env={}).mqtt
    assert plain is not None
    assert (plain.host, plain.port, plain.tls) == ("ha.local", 1883, False)
    assert (plain.discovery_prefix, plain.base_topic) == ("homeassistant", "syncd")
    assert plain.names_in_topics is False and plain.password is None
    tls = load_settings(write_config(tmp_path, mqtt={"url": "mqtts://ha.local"}), env={}).mqtt
    assert tls is not None and (tls.port, tls.tls) == (8883, True)


def test_the_password_comes_from_a_file_or_the_environment_and_is_never_shown(
        tmp_path: Path) -> None:
    (tmp_path / "mqtt_password").write_text(SECRET + "\n", encoding="utf-8")
    config = write_config(tmp_path, mqtt={"url": "mqtt://ha.local:1884", "username": "syncd",
                                          "password_file": "mqtt_password"})
    settings = load_settings(config, env={})
    assert settings.mqtt is not None and settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in json.dumps(settings.redacted_dict())
    from_env = load_settings(config, env={"SYNCD_MQTT_PASSWORD": "from-env"}).mqtt
    assert from_env is not None and from_env.password is not None
    assert from_env.password.get_secret_value() == "from-env"


@pytest.mark.parametrize(("mqtt", "expected"), [
    ({"url": "http://ha.local"}, 'mqtt.url: "http://ha.local" is not a broker URL; use '
                                 "mqtt://HOST:PORT or mqtts://HOST:PORT"),
    ({"url": "mqtt://ha.local:99999"}, 'mqtt.url: "mqtt://ha.local:99999" must have a port '
                                       "from 1 to 65535, e.g. mqtt://HOST:1883"),
    ({"url": "mqtt://ha.local", "base_topic": "syncd/#"}, "mqtt.base_topic: "),
    ({"url": "mqtt://ha.local", "discovery_prefix": "/homeassistant"},
     "mqtt.discovery_prefix: "),
    ({"url": "mqtt://ha.local", "publish_interval": "soon"}, "mqtt.publish_interval: "),
    ({"url": "mqtt://ha.local", "pasword": "x"}, "mqtt.pasword: unknown key; did you mean "),
    ({}, "mqtt.url: required"),
])
def test_each_problem_names_its_key(tmp_path: Path, mqtt: dict[str, object],
                                    expected: str) -> None:
    (found,) = problems(tmp_path, **mqtt)
    assert found.startswith(expected)


def test_a_password_written_into_the_url_is_refused_unshown(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, url=f"mqtt://syncd:{SECRET}@ha.local:1883")
    assert SECRET not in found
    assert found == ('mqtt.url: "mqtt://***@ha.local:1883" must not hold a user name or '
                     "password; use username and password_file")


# -- topics and payloads ------------------------------------------------------------------------


def test_topics_carry_numbers_unless_the_name_is_allowed() -> None:
    roster = [(3, "Maria López"), (4, "Jonas Weber"), (5, "maria lópez"), (6, "   ")]
    assert devices(roster, set()) == {
        3: Device("athlete_3", "athlete 3"), 4: Device("athlete_4", "athlete 4"),
        5: Device("athlete_5", "athlete 5"), 6: Device("athlete_6", "athlete 6")}
    named = devices(roster, {3, 4, 5, 6})
    assert [named[i].key for i in (3, 4, 5, 6)] == ["maria_l_pez_3", "jonas_weber",
                                                   "maria_l_pez_5", "athlete_6"]
    assert named[4].name == "Jonas Weber"


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=8),
       st.sets(st.integers(0, 7)))
def test_every_athlete_gets_a_distinct_topic_level(names: list[str], allowed: set[int]) -> None:
    roster = [(i + 1, name) for i, name in enumerate(names)]
    named = {i + 1 for i in allowed}
    found = devices(roster, named)
    keys = [found[i].key for i, _ in roster]
    assert len(set(keys)) == len(keys)
    assert all(LEVEL.fullmatch(key) for key in keys)
    for athlete_id, _ in roster:
        if athlete_id not in named:  # nothing of the name, only the number
            assert found[athlete_id] == Device(f"athlete_{athlete_id}", f"athlete {athlete_id}")


def test_the_state_payload_holds_the_figures_only() -> None:
    figures = Figures(plan_week=4, running_min=23.456, prescribed_min=24.0, sessions=2,
                      prescribed_sessions=4, open_alerts=1, worst_severity="warning",
                      last_sync=datetime(2026, 11, 21, 7, 12, 3, tzinfo=UTC))
    assert json.loads(figures.payload()) == {
        "plan_week": 4, "running_min": 23.5, "prescribed_min": 24.0, "sessions": 2,
        "prescribed_sessions": 4, "open_alerts": 1, "worst_severity": "warning",
        "last_sync": "2026-11-21T07:12:03Z"}


def test_configs_sit_under_the_discovery_prefix_and_a_base_topic_with_levels() -> None:
    device = Device("athlete_3", "athlete 3")
    configs = discovery_configs(device, base_topic="home/syncd", discovery_prefix="ha",
                                version="1.0")
    assert sorted(configs) == sorted(
        f"ha/sensor/home_syncd_athlete_3/{s}/config" for s in (
            "plan_week", "running", "prescribed", "open_alerts", "worst_severity",
            "last_sync"))
    running = json.loads(configs["ha/sensor/home_syncd_athlete_3/running/config"])
    assert running["state_topic"] == "home/syncd/athlete_3/state"
    assert running["json_attributes_topic"] == "home/syncd/athlete_3/state"
    assert running["availability"][0]["topic"] == "home/syncd/status"
    assert running["unique_id"] == "home_syncd_athlete_3_running"
    every = messages({device: Figures(None, 0, None, 0, None, 0, "none", None)},
                     base_topic="home/syncd", discovery_prefix="ha", version="1.0")
    assert json.loads(every["home/syncd/athlete_3/state"])["plan_week"] is None
