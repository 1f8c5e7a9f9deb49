"""A small plan-vs-actual bar chart as a PNG, drawn without any imaging library.

The weekly summary mail embeds it; a mail client shows images far more reliably than inline
SVG. PNG needs only a zlib stream of filtered scanlines wrapped in CRC-checked chunks, which
the standard library does in a few lines.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

Color = tuple[int, int, int]
BACKGROUND: Color = (255, 255, 255)
AXIS: Color = (120, 120, 120)
PLAN: Color = (200, 200, 200)
ACTUAL: Color = (46, 112, 184)
OVER: Color = (204, 68, 51)
HIGHLIGHT: Color = (255, 240, 200)


@dataclass(frozen=True, slots=True)
class Bar:
    """One week: prescribed and actual running minutes (``None``: nothing prescribed)."""

    prescribed: float | None
    actual: float
    over: bool = False
    current: bool = False


def encode_png(width: int, height: int, pixels: bytes | bytearray) -> bytes:
    """Encode 8-bit RGB ``pixels`` (``width * height * 3`` bytes, rows top to bottom)."""
    if len(pixels) != width * height * 3:
        raise ValueError("pixel buffer does not match the image size")
    stride = width * 3
    # Filter type 0 (none) in front of every scanline.
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


class Canvas:
    """An RGB pixel buffer with rectangle filling, enough for a bar chart."""

    def __init__(self, width: int, height: int, background: Color = BACKGROUND) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: Color) -> None:
        """Fill the rectangle [x0, x1) x [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        y0, y1 = max(0, y0), min(self.height, y1)
        if x0 >= x1 or y0 >= y1:
            return
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            start = (y * self.width + x0) * 3
            self.pixels[start:start + len(row)] = row

    def png(self) -> bytes:
        """The canvas as PNG bytes."""
        return encode_png(self.width, self.height, self.pixels)


def weekly_chart(bars: Sequence[Bar], width: int = 480, height: int = 160) -> bytes:
    """Grey bars for the prescribed minutes, blue (red when over the limit) for the actual
    ones, week by week from left to right; the summarised week has a pale background."""
    canvas = Canvas(width, height)
    margin, base = 8, height - 12
    top = max([b.actual for b in bars] + [b.prescribed or 0 for b in bars] + [1.0])
    scale = (base - margin) / top
    slot = (width - 2 * margin) / max(1, len(bars))
    for i, bar in enumerate(bars):
        left = int(margin + i * slot)
        if bar.current:
            canvas.rect(left, margin, int(left + slot), base, HIGHLIGHT)
        half = max(1, int(slot * 0.35))
        if bar.prescribed:
            canvas.rect(left + 2, base - round(bar.prescribed * scale), left + 2 + half, base,
                        PLAN)
        if bar.actual > 0:
            canvas.rect(left + 2 + half, base - round(bar.actual * scale),
                        left + 2 + 2 * half, base, OVER if bar.over else ACTUAL)
    canvas.rect(margin, base, width - margin, base + 1, AXIS)
    return canvas.png()
