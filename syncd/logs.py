"""structlog set-up: JSON lines under systemd (journald keeps them), readable lines on a
terminal, library logs through the same pipeline, and secrets redacted before anything is
written."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

SECRET_KEYS = {"token", "access_token", "refresh_token", "password", "secret", "authorization",
               "client_secret", "code", "cookie", "set-cookie", "api_key", "webhook_secret",
               "verify_token", "hub.verify_token", "mfa_code"}
REDACTED = "[redacted]"
_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1" + REDACTED),
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_" + REDACTED),
    (re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+(\s+[^'\",}\s]+)?"),
     r"\1" + REDACTED),
    (re.compile(r"(?i)((?:access_token|refresh_token|client_secret|password|code|"
                r"verify_token)['\"]?\s*[=:]\s*['\"]?)[^&'\",}\s]+"), r"\1" + REDACTED),
]
NOISY = {"alembic": logging.WARNING, "garminconnect": logging.INFO, "garth": logging.INFO,
         "urllib3": logging.WARNING, "httpx": logging.WARNING, "httpcore": logging.WARNING,
         "stravalib": logging.INFO,
         "apscheduler": logging.INFO, "uvicorn.access": logging.WARNING}


def redact_text(text: str) -> str:
    """Mask bearer tokens, webhook secrets and ``key=value`` secrets inside a string."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in SECRET_KEYS and value not in (None, ""):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secrets in keys or inside strings never reach the output."""
    for key in list(event):
        event[key] = _redact(event[key], key if key != "event" else None)
    return event


def _wants_json(fmt: str, stream: IO[str]) -> bool:
    if fmt != "auto":
        return fmt == "json"
    under_systemd = bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))
    return under_systemd or not stream.isatty()


def configure_logging(
    level: str = "info", fmt: str = "auto", stream: IO[str] | None = None
) -> None:
    """Set up structlog and route the standard library's logging through it."""
    stream = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    # Tracebacks are rendered here, before the redaction at the end of this chain, and without
    # local variables (they may hold tokens); structlog's dict_tracebacks would include them.
    if _wants_json(fmt, stream):
        renderer: Any = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)))
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback)
        shared.append(structlog.processors.format_exc_info)
    # Last, so that it sees rendered tracebacks too; once per line, for structlog's events and
    # the standard library's records alike.
    shared.append(redact_processor)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    for name, minimum in NOISY.items():
        logging.getLogger(name).setLevel(max(minimum, root.level))
