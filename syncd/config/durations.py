"""Durations in the configuration: ``90``, ``"15m"``, ``"1h30m"``, ``"7d"``, read and written."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

MAX_DURATION_S = 100 * 365.25 * 86400
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
                       r"(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(value: Any) -> timedelta:
    """``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"7d"`` -> timedelta (positive)."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("is not a duration")
    elif isinstance(value, int | float) or (
        isinstance(value, str) and value.strip().replace(".", "", 1).isdigit()
    ):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)) and any(match.groups()):
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    else:
        raise ValueError("is not a duration")
    if not math.isfinite(seconds):
        raise ValueError("is not a duration")
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    if seconds > MAX_DURATION_S:  # timedelta itself stops at a billion days
        raise ValueError("is longer than 100 years")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest string :func:`parse_duration` reads back to ``value``."""
    seconds = value.total_seconds()
    if seconds != int(seconds):
        return f"{seconds:.6f}".rstrip("0") + "s"
    seconds_int, out = int(seconds), ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds_int = divmod(seconds_int, size)
        if count:
            out += f"{count}{unit}"
    return out


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
