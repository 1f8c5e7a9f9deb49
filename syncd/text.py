"""Text from outside, made safe once on its way in: no control characters, bounded lengths.

Activity names, gear names and ids, pain notes, notice texts and strings from the sources'
APIs can hold anything: a CR/LF that splits a mail header, an ANSI escape that repaints the
operator's terminal, a bidi override that shows a line backwards, a megabyte of name. The store
passes every such string through :func:`clean_line` (one line) or :func:`clean_text` (notes,
which keep their line breaks) before it is written, so every source, the CLI and the HTTP API
are covered by one rule; readers may then trust what they read.

What is removed: C0 and C1 control characters and DEL (category Cc), format characters (Cf:
bidi embeddings, overrides and isolates, zero-width spaces, invisible tags), surrogates, and
whole ANSI/VT escape sequences. Line and paragraph separators and tabs become a space (a line
break in notes). Ordinary letters, accents, emoji (with their zero-width joiners) stay as
they are. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: Activity and gear names (a Strava name is at most 255 bytes; nobody reads 200 characters).
NAME_MAX = 200
#: Ids that sources give (gear ids, external ids): the width of their columns.
ID_MAX = 200
#: The raw sport type of an activity (its column is 64 wide).
SPORT_MAX = 64
#: Pain notes.
NOTE_MAX = 2000
#: Operator notices and error texts from a source.
MESSAGE_MAX = 2000
#: How deep a JSON document from outside may nest (real records nest 3 or 4 levels).
JSON_MAX_DEPTH = 32

ELLIPSIS = "\u2026"
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
# Zero-width (non-)joiners are format characters that emoji and several scripts need.
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"})
_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u2029")
# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and two-character ESC sequences.
_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]"
                     r"|\x9b[0-?]*[ -/]*[@-~]")


def is_unsafe(char: str) -> bool:
    """True for a character cleaned text never holds (a control, format or surrogate
    character, or a line or paragraph separator)."""
    if char in _KEPT_FORMAT:
        return False
    return unicodedata.category(char) in _REMOVED_CATEGORIES or char in "\u2028\u2029"


def clean_line(value: str, limit: int = NAME_MAX) -> str:
    """``value`` as one safe line of at most ``limit`` characters: escape sequences and
    control characters gone, line breaks and tabs turned into spaces, ends stripped, and a
    longer text cut with an ellipsis."""
    return _bound(_map(value, multiline=False), limit)


def clean_text(value: str, limit: int = NOTE_MAX) -> str:
    """Like :func:`clean_line`, but line breaks stay (as ``\\n``): for notes."""
    return _bound(_map(value.replace("\r\n", "\n"), multiline=True), limit)


def clean_optional(value: str | None, limit: int = NAME_MAX) -> str | None:
    """:func:`clean_line` for an optional value; nothing left means ``None``."""
    if value is None:
        return None
    cleaned = clean_line(str(value), limit)
    return cleaned or None


def terminal_safe(text: str) -> str:
    """``text`` fit for a terminal: escape sequences and control characters removed, line
    feeds and tabs kept (for output that syncd itself lays out in lines)."""
    if text.isprintable():
        return text
    text = _ESCAPE.sub("", text).replace("\r\n", "\n")
    return "".join(c for c in text if c in "\n\t" or not is_unsafe(c))


def bound_depth(value: Any, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """A JSON-like ``value`` with every list or object nested deeper than ``max_depth``
    replaced by ``None``: deep nesting costs recursion in every reader, and no real record
    has it."""
    if not isinstance(value, dict | list | tuple):
        return value
    if max_depth <= 0:
        return None
    if isinstance(value, dict):
        return {key: bound_depth(item, max_depth - 1) for key, item in value.items()}
    return [bound_depth(item, max_depth - 1) for item in value]


def _map(value: str, *, multiline: bool) -> str:
    """Escape sequences removed; each other character kept, dropped or made a space/break."""
    if value.isprintable():
        return value
    value = _ESCAPE.sub("", value)
    newline = "\n" if multiline else " "
    out = []
    for char in value:
        if char in _BREAKS:
            out.append(newline)
        elif char == "\t":
            out.append(" ")
        elif not is_unsafe(char):
            out.append(char)
    return "".join(out)


def _bound(value: str, limit: int) -> str:
    """``value`` stripped and, when longer than ``limit``, cut to fit with an ellipsis."""
    value = value.strip()
    if len(value) <= limit:
        return value
    return value[:max(limit - 1, 0)].rstrip() + ELLIPSIS if limit > 0 else ""
