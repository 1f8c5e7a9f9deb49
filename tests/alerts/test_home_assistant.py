"""Home Assistant over MQTT, against a real Mosquitto broker: what a Home Assistant
subscribed to the broker sees of syncd (discovery configs, state, availability) as runs are
ingested, the broker restarts and the replica gains or loses the lead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from syncd.app import App
from syncd.clinic import Clinic, open_app
from syncd.config import load_settings
from syncd.runtime.mqtt import MqttPublisher
from tests.support.clock import Clock
from tests.support.config import write_config
from tests.support.mosquitto import (
    Listener,
    Mosquitto,
    broker_or_skip,
    mosquitto_binary,
    settle,
)
from tests.support.waiting import wait_until
from tests.web.clinic_support import run

HA_REQUIRED = {"name", "unique_id", "state_topic", "availability", "device"}
SENSORS = {"plan_week", "running", "prescribed", "open_alerts", "worst_severity", "last_sync"}


@dataclass
class Schedule:
    """The scheduler as the publisher reads it: the lead, and the count of finished passes."""

    leader: bool = True
    generation: int = 0


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    yield from broker_or_skip(tmp_path / "broker")


@pytest.fixture
def listener(broker: Mosquitto) -> Iterator[Listener]:
    found = Listener(broker)
    yield found
    found.close()


def single(tmp_path: Path, broker: Mosquitto, clock: Clock, **mqtt: object) -> App:
    """Ana on her own (the test suite's default athlete), publishing to ``broker``."""
    config = write_config(tmp_path, mqtt={"url": broker.url, "publish_interval": "1s", **mqtt})
    return open_app(load_settings(config, env={}), clock)


@pytest.fixture
def publish() -> Iterator[list[MqttPublisher]]:
    """Starts publishers (``publish.append``) and stops each at the end."""
    started: list[MqttPublisher] = []
    yield started
    for publisher in started:
        publisher.stop()


def start(publish: list[MqttPublisher], app: App, schedule: Schedule) -> MqttPublisher:
    publisher = MqttPublisher(app.settings, app.clinic.apps, schedule)
    publisher.start()
    publish.append(publisher)
    return publisher


def test_discovery_configs_are_retained_and_carry_what_home_assistant_requires(
        tmp_path: Path, broker: Mosquitto, clock: Clock, publish: list[MqttPublisher]) -> None:
    app = single(tmp_path, broker, clock)
    start(publish, app, Schedule())
    first = Listener(broker)
    first.wait_for("syncd/status", "online")
    first.wait_for("syncd/ana/state")
    first.close()
    # Home Assistant starting later gets all of it from the broker's retained messages.
    late = Listener(broker)
    late.wait_for("syncd/ana/state")
    wait_until(lambda: len(late.topics("homeassistant/")) == len(SENSORS), 5, "six configs")
    configs = late.topics("homeassistant/")
    late.close()
    assert set(configs) == {f"homeassistant/sensor/syncd_ana/{s}/config" for s in SENSORS}
    assert all(m.retained for m in configs.values())
    parsed = [json.loads(m.payload) for m in configs.values()]
    for config in parsed:
        assert set(config) >= HA_REQUIRED
        assert config["state_topic"] == "syncd/ana/state"
        assert config["availability"] == [{"topic": "syncd/status", "payload_available":
                                           "online", "payload_not_available": "offline"}]
        assert config["device"]["identifiers"] == ["syncd_ana"]
        assert config["device"]["name"] == "syncd ana"
        assert "{{ value_json." in config["value_template"]
    assert len({c["unique_id"] for c in parsed}) == len(SENSORS)
    by_id = {c["unique_id"]: c for c in parsed}
    assert by_id["syncd_ana_last_sync"]["device_class"] == "timestamp"
    assert by_id["syncd_ana_running"]["unit_of_measurement"] == "min"
    assert by_id["syncd_ana_worst_severity"]["options"] == ["none", "info", "warning",
                                                             "critical"]


def test_state_shows_this_weeks_running_after_a_run_is_ingested(
        tmp_path: Path, broker: Mosquitto, listener: Listener, clock: Clock,
        publish: list[MqttPublisher]) -> None:
    app = single(tmp_path, broker, clock)  # Monday 16 November 2026, in plan week 11
    schedule = Schedule()
    start(publish, app, schedule)
    before = json.loads(listener.wait_for("syncd/ana/state"))
    assert app.plan is not None
    week_11 = app.plan.weeks[10]
    assert (date(2026, 11, 16) - date(2026, 9, 7)).days // 7 + 1 == 11
    assert before == {"plan_week": 11, "running_min": 0.0, "sessions": 0,
                      "prescribed_min": week_11.sessions * week_11.run_min,
                      "prescribed_sessions": week_11.sessions, "open_alerts": 0,
                      "worst_severity": "none", "last_sync": None}

    app.ingest([run(app, "2026-11-16T07:30:00", run_min=12.5, walk_min=4)])
    schedule.generation += 1  # a sync pass finished
    after = listener.wait_json("syncd/ana/state", lambda state: state["sessions"] == 1)
    assert after["running_min"] == 12.5
    assert after["plan_week"] == 11
    # The alerts as `syncd alerts` lists them (whatever the rules found of the weeks before).
    severities = [a.finding.severity for a in app.alerts() if a.status.value == "open"]
    worst = max(severities, key=["info", "warning", "critical"].index, default="none")
    assert (after["open_alerts"], after["worst_severity"]) == (len(severities), worst)


def test_a_pain_report_made_outside_a_sync_pass_shows_within_the_publish_interval(
        tmp_path: Path, broker: Mosquitto, listener: Listener, clock: Clock,
        publish: list[MqttPublisher]) -> None:
    app = single(tmp_path, broker, clock)
    start(publish, app, Schedule())
    before = listener.wait_json("syncd/ana/state")
    app.record_pain(7, note="sharp pain in the hip")  # no sync pass: the interval finds it
    after = listener.wait_json("syncd/ana/state",
                               lambda state: state["worst_severity"] == "critical")
    assert after["open_alerts"] > before["open_alerts"]
    assert "hip" not in json.dumps(listener.topics(""), default=str)  # figures only


def test_everything_is_sent_again_after_the_broker_restarts_empty(
        tmp_path: Path, broker: Mosquitto, clock: Clock, publish: list[MqttPublisher]) -> None:
    app = single(tmp_path, broker, clock)
    start(publish, app, Schedule())
    before = Listener(broker)
    state = before.wait_json("syncd/ana/state")
    before.close()
    broker.kill()
    broker.start()  # the same port, and no retained message left
    after = Listener(broker)
    assert after.wait_json("syncd/ana/state", timeout=30) == state
    after.wait_for("syncd/status", "online")
    wait_until(lambda: len(after.topics("homeassistant/")) == len(SENSORS), 5, "the configs")
    after.close()


def test_a_standby_replica_publishes_nothing_until_it_leads(
        tmp_path: Path, broker: Mosquitto, listener: Listener, clock: Clock,
        publish: list[MqttPublisher]) -> None:
    app = single(tmp_path, broker, clock)
    schedule = Schedule(leader=False)
    start(publish, app, schedule)
    settle(2.5)
    assert listener.received() == []
    schedule.leader = True
    listener.wait_for("syncd/status", "online")
    assert listener.wait_json("syncd/ana/state")["plan_week"] == 11


PATIENTS = ("Maria Lopez", "Jonas Weber")


def clinic_of_two(tmp_path: Path, broker: Mosquitto, clock: Clock, **mqtt: object) -> Clinic:
    athletes = [{"name": name, "timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
                 "plan_start": date(2026, 10, 5)} for name in PATIENTS]
    config = write_config(tmp_path, athletes=athletes,
                          mqtt={"url": broker.url, "publish_interval": "1s", **mqtt})
    return Clinic(load_settings(config, env={}), clock)


def test_a_clinics_topics_and_devices_carry_no_patient_name(
        tmp_path: Path, broker: Mosquitto, listener: Listener, clock: Clock,
        publish: list[MqttPublisher]) -> None:
    clinic = clinic_of_two(tmp_path, broker, clock)
    apps = clinic.apps()
    start(publish, apps[0], Schedule())
    numbers = [app.athlete_id for app in apps]
    for number in numbers:
        assert listener.wait_json(f"syncd/athlete_{number}/state")["plan_week"] == 7
    wait_until(lambda: len(listener.topics("homeassistant/")) == 2 * len(SENSORS), 5,
               "both athletes' configs")
    seen = json.dumps([(m.topic, m.payload) for m in listener.received()]).lower()
    for word in ("maria", "lopez", "jonas", "weber"):
        assert word not in seen
    devices = {json.loads(m.payload)["device"]["name"]
               for m in listener.topics("homeassistant/").values()}
    assert devices == {f"syncd athlete {number}" for number in numbers}
    clinic.close()


def test_a_clinic_may_name_its_athletes_in_topics(
        tmp_path: Path, broker: Mosquitto, listener: Listener, clock: Clock,
        publish: list[MqttPublisher]) -> None:
    clinic = clinic_of_two(tmp_path, broker, clock, names_in_topics=True)
    start(publish, clinic.apps()[0], Schedule())
    listener.wait_json("syncd/maria_lopez/state")
    config = listener.wait_json("homeassistant/sensor/syncd_jonas_weber/plan_week/config")
    assert config["device"]["name"] == "syncd Jonas Weber"
    clinic.close()


def test_a_broker_that_is_down_is_one_log_line_and_publishing_starts_when_it_comes(
        tmp_path: Path, clock: Clock, publish: list[MqttPublisher]) -> None:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto (Debian's package) is not installed; .ci/run installs it")
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")  # not started yet: nothing listens on its port
    app = single(tmp_path, broker, clock)
    with capture_logs() as logs:
        start(publish, app, Schedule())
        settle(4)  # paho tries again after 1 s, 2 s...
        broker.start()
        listener = Listener(broker)
        try:
            listener.wait_for("syncd/status", "online", timeout=60)
            assert listener.wait_json("syncd/ana/state")["plan_week"] == 11
        finally:
            listener.close()
            broker.kill()
    events = [entry["event"] for entry in logs]
    assert events.count("cannot reach the MQTT broker; retrying") == 1
    assert "connected to the MQTT broker again" in events


def test_an_athlete_who_leaves_is_removed_from_home_assistant(
        tmp_path: Path, broker: Mosquitto, listener: Listener, clock: Clock,
        publish: list[MqttPublisher]) -> None:
    clinic = clinic_of_two(tmp_path, broker, clock)
    watched = clinic.apps()
    schedule = Schedule()
    publisher = MqttPublisher(clinic.settings, lambda: list(watched), schedule)
    publisher.start()
    publish.append(publisher)
    gone = watched[1].athlete_id
    config = f"homeassistant/sensor/syncd_athlete_{gone}/plan_week/config"
    listener.wait_for(config)
    watched.pop()  # the roster changed (a reload, or athletes removed from the command line)
    schedule.generation += 1
    # An empty retained config is how Home Assistant is told to drop the entity.
    listener.wait_for(config, "")
    listener.wait_for(f"syncd/athlete_{gone}/state", "")
    clinic.close()
