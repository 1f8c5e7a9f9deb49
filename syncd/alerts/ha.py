"""Home Assistant's MQTT discovery for syncd: the topics, the discovery configs and the state
payload of each athlete. Pure: figures in, topics and JSON text out.

Each athlete is one Home Assistant device with six sensors (plan week, this week's running
and prescribed minutes, open alerts, the worst open severity, the last sync), all read from
one retained JSON state topic. Every sensor names the availability topic, which holds
``online`` while syncd runs and ``offline`` (its last will) once it is gone.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from syncd.models import utc_iso

ONLINE, OFFLINE = "online", "offline"
# The worst open severity when nothing is open, then the severities from mild to worst.
SEVERITY_STATES = ("none", "info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class Figures:
    """What Home Assistant shows of one athlete: aggregate figures only, no health detail."""

    plan_week: int | None
    # ``None`` where a clinic may not see it (a week with a Strava session; see ha_figures).
    running_min: float | None
    prescribed_min: float | None
    sessions: int
    prescribed_sessions: int | None
    open_alerts: int
    worst_severity: str
    last_sync: datetime | None

    def payload(self) -> str:
        """The state topic's JSON text (keys sorted, so that equal figures are equal text)."""
        body: dict[str, Any] = asdict(self)
        if self.running_min is not None:
            body["running_min"] = round(self.running_min, 1)
        if self.prescribed_min is not None:
            body["prescribed_min"] = round(self.prescribed_min, 1)
        body["last_sync"] = utc_iso(self.last_sync) if self.last_sync else None
        return json.dumps(body, sort_keys=True)


@dataclass(frozen=True, slots=True)
class Device:
    """One athlete as Home Assistant's device: the topic level (``key``) and its name."""

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class Sensor:
    """One entity of an athlete's device."""

    object_id: str
    name: str
    value: str
    extra: tuple[tuple[str, Any], ...] = ()


SENSORS = (
    Sensor("plan_week", "Plan week", "plan_week", (("icon", "mdi:calendar-week"),)),
    Sensor("running", "Running this week", "running_min", (
        ("unit_of_measurement", "min"), ("device_class", "duration"),
        ("state_class", "measurement"), ("icon", "mdi:run"))),
    Sensor("prescribed", "Prescribed this week", "prescribed_min", (
        ("unit_of_measurement", "min"), ("device_class", "duration"),
        ("icon", "mdi:clipboard-text-clock"))),
    Sensor("open_alerts", "Open alerts", "open_alerts", (
        ("state_class", "measurement"), ("icon", "mdi:alert-circle-outline"))),
    Sensor("worst_severity", "Worst open severity", "worst_severity", (
        ("device_class", "enum"), ("options", list(SEVERITY_STATES)))),
    Sensor("last_sync", "Last sync", "last_sync", (("device_class", "timestamp"),)),
)


def slug(text: str) -> str:
    """``text`` as a topic level and id part: lower-case letters, digits and ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].rstrip("_")


def devices(athletes: list[tuple[int, str]], named: set[int]) -> dict[int, Device]:
    """The device of each athlete (stored id, name). The athletes in ``named`` get topics
    carrying their name's slug; the others only their number, so that the broker learns no
    patient's name."""
    slugs = [slug(name) for athlete_id, name in athletes if athlete_id in named]
    return {athlete_id: Device(_named_key(slug(name), athlete_id, slugs), name)
            if athlete_id in named else Device(f"athlete_{athlete_id}", f"athlete {athlete_id}")
            for athlete_id, name in athletes}


def _named_key(name_slug: str, athlete_id: int, slugs: list[str]) -> str:
    """The slug, with the athlete's number when it is empty, shared or ends in digits: every
    key ending in ``_<digits>`` then ends in its own athlete's number, so none can clash."""
    if not name_slug:
        return f"athlete_{athlete_id}"
    if slugs.count(name_slug) > 1 or re.search(r"(^|_)\d+$", name_slug):
        return f"{name_slug}_{athlete_id}"
    return name_slug


def availability_topic(base_topic: str) -> str:
    """Where syncd says ``online`` and its last will says ``offline`` (retained)."""
    return f"{base_topic}/status"


def state_topic(base_topic: str, device: Device) -> str:
    """The athlete's retained state: the JSON of :meth:`Figures.payload`."""
    return f"{base_topic}/{device.key}/state"


def discovery_configs(device: Device, *, base_topic: str, discovery_prefix: str,
                      version: str) -> dict[str, str]:
    """Each sensor's discovery topic and its config (JSON text), for one athlete."""
    node = f"{slug(base_topic) or 'syncd'}_{device.key}"
    device_info = {"identifiers": [node], "name": f"syncd {device.name}",
                   "manufacturer": "syncd", "model": "run/walk plan", "sw_version": version}
    common = {
        "state_topic": state_topic(base_topic, device),
        "availability": [{"topic": availability_topic(base_topic),
                          "payload_available": ONLINE, "payload_not_available": OFFLINE}],
        "device": device_info,
        "origin": {"name": "syncd", "sw_version": version},
    }
    return {f"{discovery_prefix}/sensor/{node}/{sensor.object_id}/config":
            json.dumps(_config(sensor, node, common), sort_keys=True) for sensor in SENSORS}


def _config(sensor: Sensor, node: str, common: dict[str, Any]) -> dict[str, Any]:
    config = {"name": sensor.name, "unique_id": f"{node}_{sensor.object_id}",
              "value_template": f"{{{{ value_json.{sensor.value} }}}}", **common}
    if sensor.object_id == "running":  # the week's terms beside the minutes
        config["json_attributes_topic"] = common["state_topic"]
        config["json_attributes_template"] = (
            "{{ {'prescribed_min': value_json.prescribed_min, 'sessions': value_json.sessions,"
            " 'prescribed_sessions': value_json.prescribed_sessions} | tojson }}")
    config.update(sensor.extra)
    return config


def messages(figures: dict[Device, Figures], *, base_topic: str, discovery_prefix: str,
             version: str) -> dict[str, str]:
    """Every retained message syncd keeps on the broker for these athletes: each one's
    discovery configs and state, by topic."""
    out: dict[str, str] = {}
    for device, athlete_figures in figures.items():
        out.update(discovery_configs(device, base_topic=base_topic,
                                     discovery_prefix=discovery_prefix, version=version))
        out[state_topic(base_topic, device)] = athlete_figures.payload()
    return out
