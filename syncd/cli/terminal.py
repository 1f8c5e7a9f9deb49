"""What the commands print reaches a terminal: no escape sequence or control character from the
data may ride along (a gear name could otherwise clear the screen, retitle the window or hide
a line). Stored text is cleaned on its way in (:mod:`syncd.text`); this is the guard at the way
out, for rows written before that and for anything a future command prints."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from syncd.text import terminal_safe


class SafeWriter:
    """A text stream that passes everything on to ``stream`` but escape sequences and control
    characters (line feeds and tabs stay)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        """Write ``text``, cleaned; returns the length given (what callers expect)."""
        self.stream.write(terminal_safe(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each line, cleaned."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        # flush, isatty, fileno, encoding...: the stream's own.
        return getattr(self.stream, name)


@contextmanager
def safe_output() -> Iterator[None]:
    """Clean what is printed to stdout and stderr while the block runs."""
    saved = sys.stdout, sys.stderr
    sys.stdout = SafeWriter(saved[0])
    sys.stderr = SafeWriter(saved[1])
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
