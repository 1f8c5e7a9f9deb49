"""Build a ``syncd.toml`` from keyword sections, with the athlete every test starts from.

``write_config(folder, files={"watch": [inbox]})`` writes ``folder/syncd.toml`` with a SQLite
database in ``folder`` and the default ``[athlete]``; ``athlete={...}`` is merged over the
default (a key given as ``None`` is left out, so syncd's own default applies), a section given
as ``None`` is left out (``database=None``: the database under ``STATE_DIRECTORY``). Sections
are written in the order given, so bare keys in ``extra`` (appended as written, for text TOML
cannot build) continue the last one. A clinic passes ``athletes=[{...}, ...]`` instead: one
table each, and no ``[athlete]``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import tomli_w

# The database in the config's own folder (write_config's default; ``None`` leaves it out).
IN_FOLDER: dict[str, Any] = {}
# A table, or a list of them (``[[webhooks]]``); None leaves the section out.
Section = dict[str, Any] | list[dict[str, Any]] | None
ATHLETE: dict[str, Any] = {
    "name": "ana",
    "timezone": "Europe/Berlin",
    "plan": "hip-return-run-walk",
    "plan_start": date(2026, 9, 7),
}


def config_text(*, athlete: dict[str, Any] | None = None,
                athletes: list[dict[str, Any]] | None = None, extra: str = "",
                **sections: Section) -> str:
    """The TOML text: ``[athlete]`` (the default with ``athlete`` over it) or the clinic's
    ``athletes``, then ``sections``."""
    document: dict[str, Any] = (
        {"athlete": _without_none({**ATHLETE, **(athlete or {})})} if athletes is None
        else {"athletes": [_without_none(entry) for entry in athletes]})
    document.update({name: body for name, body in sections.items() if body is not None})
    return tomli_w.dumps(_plain(document)) + (f"\n{extra}" if extra else "")


def write_config(folder: Path, *, athlete: dict[str, Any] | None = None,
                 athletes: list[dict[str, Any]] | None = None,
                 database: dict[str, Any] | None = IN_FOLDER, extra: str = "",
                 **sections: Section) -> Path:
    """Write ``folder/syncd.toml`` (a SQLite file in ``folder`` unless ``database`` says
    otherwise) and return its path."""
    path = folder / "syncd.toml"
    if database is IN_FOLDER:
        database = {"url": f"sqlite:///{folder / 'syncd.db'}"}
    path.write_text(config_text(athlete=athlete, athletes=athletes, database=database,
                                extra=extra, **sections), encoding="utf-8")
    return path


def _without_none(table: dict[str, Any]) -> dict[str, Any]:
    """``table`` without the keys set to ``None`` (left to syncd's defaults)."""
    return {key: value for key, value in table.items() if value is not None}


def _plain(value: Any) -> Any:
    """``value`` with paths as strings, the one type tests pass that TOML has no word for."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value
