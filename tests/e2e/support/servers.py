"""The servers a scenario talks to, all on 127.0.0.1, reused from the suites that built them:
the fake Strava (``tests/strava/fake_strava.py``), the fake Garmin Connect
(``tests/garmin/fake_garmin.py``), the webhook receiver that checks every request with the
``standardwebhooks`` library and the aiosmtpd server with STARTTLS and AUTH LOGIN
(``tests/alerts/support.py``).

The two fakes are plain modules in folders without ``__init__.py``; pytest imports them
under their own names by putting those folders on ``sys.path``, and so does this module, so
that a full run holds one copy of each.
"""

from __future__ import annotations

import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
for _folder in ("strava", "garmin"):
    if str(TESTS / _folder) not in sys.path:
        sys.path.append(str(TESTS / _folder))

from alerts.support import (  # noqa: E402
    SECRET,
    SMTP_PASSWORD,
    SMTP_USER,
    Received,
    Receiver,
    SmtpServer,
)
from fake_garmin import FakeGarmin, make_entry, make_gear, make_typed_splits  # noqa: E402
from fake_strava import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    FakeStrava,
    bouts_laps,
    summary,
)

__all__ = [
    "CLIENT_ID", "CLIENT_SECRET", "SECRET", "SMTP_PASSWORD", "SMTP_USER", "FakeGarmin",
    "FakeStrava", "Received", "Receiver", "SmtpServer", "bouts_laps", "make_entry",
    "make_gear", "make_typed_splits", "summary",
]
