"""When to try a delivery again: the Standard Webhooks retry schedule, jitter and Retry-After.

After the first attempt fails, the next ones come 5 s, 5 min, 30 min, 2 h, 5 h and 10 h later,
then every 24 h for three days: ten attempts over about four and a half days, after which the
delivery is marked failed. Jitter only ever lengthens a delay, so that a receiver asking for
``Retry-After`` is never called earlier than it asked, and many alerts failing together (a
receiver that was down) do not all come back in the same second.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=24),
    timedelta(hours=24),
    timedelta(hours=24),
)
MAX_ATTEMPTS = 1 + len(RETRY_DELAYS)
# A receiver may ask for a longer pause, but not for one longer than the schedule's longest.
MAX_RETRY_AFTER = max(RETRY_DELAYS)


def retry_delay(
    attempts: int,
    *,
    jitter: float = 0.0,
    retry_after: timedelta | None = None,
    rng: random.Random | None = None,
) -> timedelta | None:
    """The pause before the next attempt, after ``attempts`` failed ones; ``None`` when the
    schedule is used up (the delivery has failed for good).

    ``jitter`` (a fraction, e.g. 0.1) adds up to that share of the step at random;
    ``retry_after`` (from the receiver) replaces a shorter step, capped at 24 h.
    """
    if attempts < 1 or attempts >= MAX_ATTEMPTS:
        return None
    delay = RETRY_DELAYS[attempts - 1]
    if jitter > 0:
        delay += delay * (rng or random).uniform(0, jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, wall_now: datetime | None = None) -> timedelta | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as a pause; ``None`` when absent or
    unreadable. An HTTP date is compared with the wall clock, which is what the receiver
    meant."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    pause = moment - (wall_now or datetime.now(UTC))
    return max(pause, timedelta(0))
