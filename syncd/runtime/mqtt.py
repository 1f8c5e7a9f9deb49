"""Home Assistant over MQTT: the leader replica keeps each athlete's discovery configs and state
on the broker (retained), and ``<base_topic>/status`` at ``online`` with a last will of
``offline``, so that Home Assistant shows syncd offline once it dies.

paho's network loop runs in its own thread and reconnects by itself; a publisher thread of
ours reads the figures (after every sync pass, and every ``publish_interval`` for changes made
elsewhere) and sends only what changed. A broker that is down is logged once and retried;
nothing here ever waits on the broker in the scheduler's threads. After each (re)connection
every message is sent again, for a broker that restarted without its retained messages.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import paho.mqtt.client as paho
import structlog
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from syncd.alerts import ha
from syncd.alerts.ha_figures import clinic_figures
from syncd.app import App
from syncd.config import Settings
from syncd.config.mqtt import MqttSection

log = structlog.get_logger("syncd.runtime.mqtt")

KEEPALIVE_S = 30
# How often the publisher thread looks at the scheduler's pass counter (a cheap read).
LOOK_EVERY_S = 1.0
# On a clean stop, how long to wait for the broker to take the "offline" message.
GOODBYE_TIMEOUT_S = 2.0


class Schedule(Protocol):
    """What the publisher reads of the scheduler: whether this replica leads, and a counter
    of finished passes that moves whenever one may have changed the figures."""

    leader: bool
    generation: int


class MqttPublisher:
    """Keeps Home Assistant's view of every athlete on the broker while this replica leads.
    ``start()`` once, ``stop()`` on the way out."""

    def __init__(self, settings: Settings, apps: Callable[[], list[App]],
                 schedule: Schedule) -> None:
        assert settings.mqtt is not None
        self.section: MqttSection = settings.mqtt
        # A single athlete's own name may show in topics; a clinic's patients' only if asked.
        self._own = None if settings.clinic else settings.roster()[0].name
        self._apps = apps
        self._schedule = schedule
        self._version = _syncd_version()
        self._client: paho.Client | None = None
        # What the broker holds (as far as this connection knows), by topic: only the
        # publisher thread touches it. paho's thread sets _resend after each (re)connection.
        self._published: dict[str, str] = {}
        self._resend = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._down_logged = False
        self._thread = threading.Thread(target=self._run, name="mqtt publisher", daemon=True)

    @property
    def broker(self) -> str:
        """The broker as log lines name it (host and port: the URL holds no secret)."""
        return f"{self.section.host}:{self.section.port}"

    def start(self) -> None:
        """Start publishing (connecting once this replica leads)."""
        self._thread.start()

    def poke(self) -> None:
        """Read the figures now rather than at the next look (something changed)."""
        self._wake.set()

    def stop(self) -> None:
        """Say ``offline`` (when connected) and disconnect; waits a few seconds at most."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(GOODBYE_TIMEOUT_S + 5)
        self._disconnect(goodbye=True)

    # -- the publisher thread -------------------------------------------------------------------

    def _run(self) -> None:
        seen, next_full, failing = -1, 0.0, False
        while not self._stopping.is_set():
            self._wake.wait(LOOK_EVERY_S)
            self._wake.clear()
            if self._stopping.is_set():
                return
            generation = self._schedule.generation
            due = generation != seen or time.monotonic() >= next_full
            try:
                if self._step(due):
                    seen = generation
                    next_full = time.monotonic() + self.section.publish_interval.total_seconds()
                failing = False
            except Exception:  # the next look tries again; syncd goes on either way
                if not failing:  # (a database that is down would fail every second)
                    log.exception("publishing to the MQTT broker failed", broker=self.broker)
                failing = True

    def _step(self, due: bool) -> bool:
        """Connect or disconnect as the leadership says; publish the figures when ``due`` or
        when the connection is new. True when the figures went out."""
        if not self._schedule.leader:
            self._disconnect(goodbye=False)  # the new leader says online itself
            return False
        client = self._client or self._connect()
        if not client.is_connected():
            return False
        if self._resend.is_set():  # a new connection: the broker may have lost everything
            self._resend.clear()
            self._published.clear()
        elif not due:
            return False
        self._publish(self._messages())
        return True

    def _messages(self) -> dict[str, str]:
        """Every retained message for the athletes now watched, by topic."""
        apps = self._apps()
        names = [(app.athlete_id, app.athlete.name) for app in apps]
        named = {i for i, name in names if self.section.names_in_topics or name == self._own}
        devices = ha.devices(names, named)
        figures = clinic_figures(apps)
        return ha.messages({devices[i]: figures[i] for i, _ in names},
                           base_topic=self.section.base_topic,
                           discovery_prefix=self.section.discovery_prefix, version=self._version)

    def _publish(self, messages: dict[str, str]) -> None:
        """Send what the broker does not hold yet; clear what is no longer wanted (an athlete
        who left: Home Assistant removes an entity whose config is emptied)."""
        client = self._client
        if client is None:
            return
        changed = {t: p for t, p in messages.items() if self._published.get(t) != p}
        gone = {t: "" for t in self._published if t not in messages}
        for topic, payload in {**gone, **changed}.items():
            info = client.publish(topic, payload, qos=1, retain=True)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return  # disconnected: everything goes out again on reconnection
            if payload:
                self._published[topic] = payload
            else:
                self._published.pop(topic, None)

    # -- the connection -------------------------------------------------------------------------

    def _connect(self) -> paho.Client:
        """A client connecting in paho's own thread, with the last will set."""
        client = paho.Client(CallbackAPIVersion.VERSION2,
                             client_id=f"syncd-{os.getpid()}-{secrets.token_hex(3)}")
        if self.section.username is not None:
            password = self.section.password
            client.username_pw_set(self.section.username,
                                   password.get_secret_value() if password else None)
        if self.section.tls:
            client.tls_set()
        client.will_set(self._availability, ha.OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.connect_async(self.section.host, self.section.port, keepalive=KEEPALIVE_S)
        client.loop_start()
        self._client = client
        return client

    @property
    def _availability(self) -> str:
        return ha.availability_topic(self.section.base_topic)

    def _disconnect(self, *, goodbye: bool) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        if goodbye and client.is_connected():
            info = client.publish(self._availability, ha.OFFLINE, qos=1, retain=True)
            # Gone meanwhile (RuntimeError, ValueError): then the last will says it.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(GOODBYE_TIMEOUT_S)
        client.disconnect()
        client.loop_stop()
        self._published.clear()

    # -- paho's callbacks (in paho's network thread: quick, no database) ------------------------

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:
            self._log_down("the MQTT broker refused the connection; check [mqtt] username "
                           "and password", reason=str(reason))
            return
        log.info("connected to the MQTT broker" if not self._down_logged
                 else "connected to the MQTT broker again", broker=self.broker)
        self._down_logged = False
        client.publish(self._availability, ha.ONLINE, qos=1, retain=True)
        self._resend.set()
        self._wake.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._log_down("cannot reach the MQTT broker; retrying")

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if reason.is_failure and not self._stopping.is_set():
            self._log_down("lost the MQTT broker; reconnecting", reason=str(reason))

    def _log_down(self, message: str, **details: str) -> None:
        """Warn once per outage (paho retries every few seconds; one line says it all)."""
        if not self._down_logged:
            self._down_logged = True
            log.warning(message, broker=self.broker, **details)


def mqtt_publisher(settings: Settings, apps: Callable[[], list[App]],
                   schedule: Schedule) -> MqttPublisher | None:
    """A started publisher when ``[mqtt]`` is configured, else ``None``."""
    if settings.mqtt is None:
        return None
    publisher = MqttPublisher(settings, apps, schedule)
    publisher.start()
    return publisher


def _syncd_version() -> str:
    try:
        return version("syncd")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"
