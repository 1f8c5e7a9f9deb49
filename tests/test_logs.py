"""Logging: JSON lines or console lines, library logs through the same pipeline, and no token
ever reaching the output, whether it was passed to structlog or to the standard library."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from syncd.logs import NOISY, configure_logging

TOKEN = "tok_9f8e7d6c5b4a3f2e1d0c"
Configure = Callable[..., io.StringIO]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Configure]:
    """``configure(level, fmt, stream)`` sets logging up and returns the stream written to;
    the previous logging set-up is restored afterwards."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    monkeypatch.delenv("INVOCATION_ID", raising=False)
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in NOISY}

    def set_up(level: str = "info", fmt: str = "json",
               stream: io.StringIO | None = None) -> io.StringIO:
        stream = io.StringIO() if stream is None else stream
        configure_logging(level, fmt, stream=stream)
        return stream

    yield set_up
    root.handlers[:], level, noisy = saved
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)
    structlog.reset_defaults()


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("key", ["token", "access_token", "refresh_token", "password", "secret",
                                 "authorization", "client_secret", "code", "cookie",
                                 "Authorization"])
def test_secret_keys_are_redacted_in_structlog_calls(configure: Configure, key: str) -> None:
    stream = configure()
    structlog.get_logger("syncd.pipeline.sync").info("token refreshed", athlete="ana",
                                                     **{key: TOKEN})
    assert TOKEN not in stream.getvalue()
    (record,) = records(stream)
    assert record[key] == "[redacted]"
    assert (record["event"], record["athlete"], record["level"]) == (
        "token refreshed", "ana", "info")


def test_other_keys_are_kept(configure: Configure) -> None:
    stream = configure()
    structlog.get_logger().info("fetched", status_code=200, source="strava", count=3)
    (record,) = records(stream)
    assert (record["status_code"], record["source"], record["count"]) == (200, "strava", 3)


@pytest.mark.parametrize("text", [
    f"POST https://www.strava.com/oauth/token?client_id=1&client_secret={TOKEN}"
    "&grant_type=refresh_token",
    f"headers: {{'Authorization': 'Bearer {TOKEN}'}}",
    f"Authorization: Bearer {TOKEN}",
    f'{{"access_token": "{TOKEN}", "expires_at": 1}}',
    f"signing with whsec_{TOKEN}",
])
def test_secrets_inside_strings_are_masked(configure: Configure, text: str) -> None:
    stream = configure()
    structlog.get_logger().warning(text)
    logging.getLogger("stravalib.protocol").warning("request: %s", text)
    output = stream.getvalue()
    assert TOKEN not in output
    assert len(records(stream)) == 2
    assert "[redacted]" in output


def test_stdlib_loggers_go_through_the_same_pipeline(configure: Configure) -> None:
    stream = configure()
    logging.getLogger("apscheduler.scheduler").info("job %s added", "strava",
                                                    extra={"refresh_token": TOKEN})
    (record,) = records(stream)
    assert TOKEN not in stream.getvalue()
    assert record["event"] == "job strava added"
    assert record["logger"] == "apscheduler.scheduler"
    assert record["refresh_token"] == "[redacted]"
    assert "timestamp" in record


def test_nested_headers_are_redacted(configure: Configure) -> None:
    stream = configure()
    structlog.get_logger().info("request", headers={"Authorization": f"Bearer {TOKEN}",
                                                    "Accept": "application/json"})
    (record,) = records(stream)
    assert record["headers"] == {"Authorization": "[redacted]", "Accept": "application/json"}


def _fail_with_a_token_in_a_local() -> None:
    credentials = {"refresh": TOKEN}  # a local variable a traceback with locals would show
    raise RuntimeError(f"refresh failed for {len(credentials)} credential")


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tracebacks_have_no_local_variables(configure: Configure, fmt: str) -> None:
    stream = configure(fmt=fmt)
    try:
        _fail_with_a_token_in_a_local()
    except RuntimeError:
        structlog.get_logger().exception("sync failed")
        logging.getLogger("garminconnect").exception("login failed")
    output = stream.getvalue()
    assert TOKEN not in output
    assert output.count("refresh failed for 1 credential") == 2
    assert "_fail_with_a_token_in_a_local" in output


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_tokens_in_exception_messages_are_masked(configure: Configure, fmt: str) -> None:
    stream = configure(fmt=fmt)
    try:
        raise PermissionError(f"401 for request with Authorization: Bearer {TOKEN}")
    except PermissionError:
        structlog.get_logger().exception("fetch failed")
    assert TOKEN not in stream.getvalue()
    assert "401 for request" in stream.getvalue()


def test_console_lines_on_a_terminal_json_when_piped(configure: Configure) -> None:
    terminal = configure(fmt="auto", stream=Terminal())
    structlog.get_logger().info("hello", athlete="ana")
    line = terminal.getvalue()
    assert "hello" in line and "athlete=ana" in line and not line.startswith("{")
    piped = configure(fmt="auto")
    structlog.get_logger().info("hello", athlete="ana")
    assert records(piped)[0]["athlete"] == "ana"


@pytest.mark.parametrize("variable", ["JOURNAL_STREAM", "INVOCATION_ID"])
def test_json_under_systemd_even_on_a_terminal(configure: Configure,
                                               monkeypatch: pytest.MonkeyPatch,
                                               variable: str) -> None:
    monkeypatch.setenv(variable, "8:12345")
    stream = configure(fmt="auto", stream=Terminal())
    structlog.get_logger().info("hello")
    assert records(stream)[0]["event"] == "hello"


def test_levels_and_garminconnect_kept_at_info(configure: Configure) -> None:
    stream = configure(level="debug")
    structlog.get_logger("syncd.runtime.scheduler").debug("next run computed")
    logging.getLogger("garminconnect").debug("oauth exchange %s", "details")
    logging.getLogger("garminconnect").info("logged in")
    assert [r["event"] for r in records(stream)] == ["next run computed", "logged in"]
    quiet = configure(level="warning")
    structlog.get_logger().info("routine")
    structlog.get_logger().warning("unusual")
    assert [r["event"] for r in records(quiet)] == ["unusual"]
