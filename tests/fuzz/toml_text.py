"""A small TOML writer for the fuzz targets (the standard library only reads TOML), and
strategies for values of every TOML type."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, time
from typing import Any

from hypothesis import strategies as st


def value_text(value: Any) -> str:
    """One TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML's basic-string escapes
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {value_text(v)}"
                               for k, v in value.items()) + "}"
    raise TypeError(type(value))


def document(tables: dict[str, Any]) -> str:
    """A TOML document: top-level keys first, then ``[table]`` and ``[[array]]`` sections."""
    lines = [f"{json.dumps(k)} = {value_text(v)}" for k, v in tables.items()
             if not isinstance(v, dict) and not _is_table_list(v)]
    for name, table in tables.items():
        if isinstance(table, dict):
            lines.append(f"[{json.dumps(name)}]")
            lines += [f"{json.dumps(k)} = {value_text(v)}" for k, v in table.items()]
        elif _is_table_list(table):
            for item in table:
                lines.append(f"[[{json.dumps(name)}]]")
                lines += [f"{json.dumps(k)} = {value_text(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


SCALARS = st.one_of(
    st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=16),
    st.dates(), st.sampled_from([0, -1, 1, 10**6, "", "0", "15m", "-5m", "1h30m", "7d", "0s",
                                 "90", "abc", "Europe/Berlin", "Europe", "UTC", "../plan.toml",
                                 "http://127.0.0.1:9", "ftp://x", "127.0.0.1:8765", "[::1]:0",
                                 "sqlite:///", "info", "digest", "calendar", "gated"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=2), max_leaves=5)
