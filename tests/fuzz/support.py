"""Shared pieces of the fuzz targets: the example budget, the rule every target checks, and
mutators that keep a FIT file's checksums right so that the fuzzing reaches the decoder's
logic instead of stopping at the CRC check.

``SYNCD_FUZZ_EXAMPLES`` sets how many examples each target tries (default: a small number,
so that the whole folder stays well under 30 s in CI); run longer on demand with
``SYNCD_FUZZ_EXAMPLES=100000 ./dev test tests/fuzz``.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fitdecode.utils import compute_crc
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from syncd.app import App
from syncd.errors import SyncdError
from syncd.sources.strava.inbox import inbox_events

REPO = Path(__file__).resolve().parents[2]
HISTORY = REPO / "examples" / "history"
DEFAULT_EXAMPLES = 40
SUBSCRIPTION_ID = 120475  # the Strava webhook subscription and athlete of the fuzz app
ATHLETE_ID = 134815


def examples() -> int:
    """How many examples each target runs: ``$SYNCD_FUZZ_EXAMPLES`` or the CI default."""
    value = os.environ.get("SYNCD_FUZZ_EXAMPLES", "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_EXAMPLES


# No deadline: the first example of a run pays for imports and warm-up. The shrinker is kept
# (a failure shows its smallest input), and the database of failures stays in .hypothesis/.
FUZZ = settings(
    max_examples=examples(),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)


def survives[T](call: Callable[[], T], *names: str) -> T | SyncdError:
    """Run ``call``: it may return, or raise a :class:`SyncdError` whose message names every
    one of ``names`` (the file, the key...) so that the user knows what to fix. Anything else
    is a crash and fails the test."""
    try:
        return call()
    except SyncdError as err:
        text = str(err)
        assert text.strip(), f"{type(err).__name__} with an empty message"
        for name in names:
            assert name in text, f"{type(err).__name__} does not name {name!r}: {text}"
        return err


def inbox(app: App) -> list[dict[str, Any]]:
    """The Strava webhook events stored and not yet processed."""
    with app.store.read() as tx:
        return inbox_events(tx, app.athlete_id)


# -- FIT files ------------------------------------------------------------------------------


def fit_examples() -> list[bytes]:
    """The bundled FIT files (a fresh clone has them), the smallest first."""
    files = sorted(HISTORY.glob("*.fit"), key=lambda p: p.stat().st_size)
    return [p.read_bytes() for p in files[:3]]


def fix_fit(data: bytes) -> bytes:
    """Rewrite the header's data size and the file checksum (and the header checksum of a
    14-byte header) to match ``data``, as a device writing these bytes would."""
    if len(data) < 14 or data[0] not in (12, 14):
        return data
    header_size = data[0]
    body = bytearray(data[:-2]) if len(data) >= header_size + 2 else bytearray(data)
    body[4:8] = struct.pack("<I", max(0, len(body) - header_size))
    if header_size == 14:
        body[12:14] = struct.pack("<H", compute_crc(body, start=0, end=12))
    return bytes(body) + struct.pack("<H", compute_crc(body))


@st.composite
def mutated_fit(draw: st.DrawFn) -> bytes:
    """A bundled FIT file with some bytes changed, cut, or inserted after the header, then
    its checksums made right again (most of the time)."""
    original = bytearray(draw(st.sampled_from(fit_examples())))
    header = original[0]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["set", "set", "set", "cut", "insert", "truncate"]))
        end = max(header + 1, len(original) - 2)
        at = draw(st.integers(header, end))
        if kind == "set" and at < len(original):
            original[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del original[at:at + draw(st.integers(1, 16))]
        elif kind == "insert":
            original[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "truncate":
            del original[at:]
    data = bytes(original)
    return fix_fit(data) if draw(st.integers(0, 9)) > 0 else data
