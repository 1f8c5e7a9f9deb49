"""Fault injection over the whole service. The fake Strava and Garmin servers live beside
their own tests (``tests/strava``, ``tests/garmin``); their folders are put on the import path
here, once, before any module of this package imports them."""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[1]
for _folder in ("strava", "garmin"):
    if str(_TESTS / _folder) not in sys.path:
        sys.path.insert(0, str(_TESTS / _folder))
