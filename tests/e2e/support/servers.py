"""The servers a scenario talks to, all on 127.0.0.1, reused from the suites that built them:
the fake Strava (``tests/strava/fake_strava.py``), the fake Garmin Connect
(``tests/garmin/fake_garmin.py``), the webhook receiver that checks every request with the
``standardwebhooks`` library and the aiosmtpd server with STARTTLS and AUTH LOGIN
(``tests/alerts/support.py``).

They are imported by their package path, so that a full run holds one copy of each.
"""

from __future__ import annotations

from tests.alerts.support import SECRET, SMTP_PASSWORD, SMTP_USER, Received, Receiver, SmtpServer
from tests.garmin.fake_garmin import FakeGarmin, make_entry, make_gear, make_typed_splits
from tests.strava.fake_strava import CLIENT_ID, CLIENT_SECRET, FakeStrava, bouts_laps, summary

__all__ = [
    "CLIENT_ID", "CLIENT_SECRET", "SECRET", "SMTP_PASSWORD", "SMTP_USER", "FakeGarmin",
    "FakeStrava", "Received", "Receiver", "SmtpServer", "bouts_laps", "make_entry",
    "make_gear", "make_typed_splits", "summary",
]
