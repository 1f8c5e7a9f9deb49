"""The ``[mqtt]`` section: the broker Home Assistant listens on, and the topics syncd uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import AfterValidator, Field, SecretStr, field_validator, model_validator

from syncd.config.durations import Duration
from syncd.config.sections import _Section

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def _topic(value: str) -> str:
    # MQTT wildcards cannot be published to; empty levels make topics nobody subscribes to.
    if not value or any(c in value for c in "+#\x00") or "//" in value \
            or value.startswith("/") or value.endswith("/"):
        raise ValueError("must be a topic like \"syncd\" or \"home/syncd\" (no +, #, empty "
                         "levels or leading and trailing /)")
    return value


Topic = Annotated[str, Field(max_length=100), AfterValidator(_topic)]


class MqttSection(_Section):
    """The MQTT broker syncd publishes Home Assistant discovery configs and state to."""

    url: str
    username: str | None = Field(None, min_length=1, max_length=200)
    password: SecretStr | None = None
    discovery_prefix: Topic = "homeassistant"
    base_topic: Topic = "syncd"
    # In a clinic, topics and device names carry an opaque number per athlete unless this
    # is true (a single athlete's topics carry the name's slug either way).
    names_in_topics: bool = False
    # How often the figures are read again for changes made outside a sync pass (a pain
    # report, an alert resolved from the command line, a new week); a sync pass publishes at
    # once.
    publish_interval: Duration = timedelta(seconds=30)

    @model_validator(mode="before")
    @classmethod
    def _credentials_out_of_sight(cls, data: Any) -> Any:
        # The error message shows the URL: a password written into it must not be shown.
        if isinstance(data, dict) and isinstance(data.get("url"), str):
            parts = urlsplit(data["url"])
            if "@" in parts.netloc:
                hidden = parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2])
                return {**data, "url": urlunsplit(hidden)}
        return data

    @field_validator("url")
    @classmethod
    def _broker(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("is not a broker URL; use mqtt://HOST:PORT or mqtts://HOST:PORT")
        if "@" in parts.netloc:
            raise ValueError("must not hold a user name or password; use username and "
                             "password_file")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be mqtt://HOST:PORT or mqtts://HOST:PORT, nothing after it")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("must have a port from 1 to 65535, e.g. mqtt://HOST:1883") from None
        return value

    @property
    def host(self) -> str:
        """The broker's host name or address."""
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        """The broker's port (1883 for mqtt://, 8883 for mqtts:// unless given)."""
        parts = urlsplit(self.url)
        return parts.port or DEFAULT_PORTS[parts.scheme]

    @property
    def tls(self) -> bool:
        """True for ``mqtts://`` (TLS, checked against the system's certificate authorities)."""
        return urlsplit(self.url).scheme == "mqtts"
