"""The weekly summary mail for a known week of the hip plan."""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import trustme
from sqlalchemy import func, select

from syncd.alerts import Dispatcher
from syncd.alerts.chart import ACTUAL, OVER, PLAN
from syncd.alerts.messages import message_id
from syncd.app import App
from syncd.clinic import open_app
from syncd.models import Activity, Segment
from syncd.store.tables import AlertEventRow
from tests.support.clock import Clock

from .support import SmtpServer, client_tls, email_section, settings

PLAN_START = date(2026, 9, 7)  # plan week 5 starts 2026-10-05, week 6 on 2026-10-12
# Monday of plan week 7, 06:00 in Berlin: week 6 has just ended.
MONDAY_AFTER = datetime(2026, 10, 19, 4, 0, tzinfo=UTC)


def _session(day: date, jog_s: float) -> Activity:
    """A 17-minute run/walk at 07:00 Berlin time (05:00 UTC) with two jogs of ``jog_s``."""
    walk = (17 * 60 - 2 * jog_s) / 3
    bouts = [("walk", walk), ("run", jog_s), ("walk", walk), ("run", jog_s), ("walk", walk)]
    segments, offset = [], 0.0
    for kind, seconds in bouts:
        segments.append(Segment(kind, offset, seconds))  # type: ignore[arg-type]
        offset += seconds
    local = datetime(day.year, day.month, day.day, 7, 0)
    return Activity(source="file", source_id=f"{day.isoformat()}-run", sport="run",
                    sport_type="running", start_utc=local.replace(tzinfo=UTC) - timedelta(hours=2),
                    local_start=local, elapsed_s=17 * 60, timezone="Europe/Berlin",
                    moving_s=17 * 60, distance_m=1900, run_s=2 * jog_s, walk_s=3 * walk,
                    segments=tuple(segments))


def _history() -> list[Activity]:
    week5 = [date(2026, 10, d) for d in (6, 8, 10)]  # 3 x 4 min running, as prescribed
    week6 = [date(2026, 10, d) for d in (12, 14, 16, 18)]  # 4 x 6 min: one session too many
    return [_session(d, 120) for d in week5] + [_session(d, 180) for d in week6]


def _app(tmp_path: Path, smtp: SmtpServer, clock: Clock) -> App:
    config = settings(tmp_path, email=email_section(smtp),
                      athlete={"timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
                               "plan_start": PLAN_START.isoformat()})
    app = open_app(config, clock)
    app.ingest(_history())
    return app


EXPECTED_TEXT = """\
Week 6 (2026-10-12 to 2026-10-18), Hip: return to running (run/walk)

                    prescribed  actual
Sessions                     3  4
Run minutes             18 min  24 min
Session length          17 min  17 min (longest)

Sessions:
  Mon 2026-10-12: 17 min, 6 min running: within plan
  Wed 2026-10-14: 17 min, 6 min running: within plan
  Fri 2026-10-16: 17 min, 6 min running: within plan
  Sun 2026-10-18: 17 min, 6 min running: session 4 of 3 prescribed

Alerts this week:
  WARNING sessions_per_week: Week 6: 4 run sessions, 3 prescribed.
  WARNING weekly_increase: Week 6: 24 min of running, above the 19.8 min limit (+10%).

Next week (week 7, from 2026-10-19): 3 sessions of 8 min running + 9 min walking (17 min).
"""


def test_the_weekly_summary_has_the_weeks_numbers(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA) -> None:
    clock = Clock(MONDAY_AFTER)
    app = _app(tmp_path, smtp, clock)
    assert sorted(a.finding.rule for a in app.alerts()) == ["sessions_per_week",
                                                            "weekly_increase"]
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        report = dispatcher.run_once()

    athlete_id = app.athlete_id
    assert report.summaries == [f"summary_{athlete_id}_2026-10-12"]
    [mail] = smtp.mailbox.by_id(message_id(f"summary_{athlete_id}_2026-10-12"))
    assert mail["Subject"] == "[syncd] Week 6 (2026-10-12 to 2026-10-18): summary"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == EXPECTED_TEXT
    html = mail.get_body(("html",))
    assert "<tr><th align='left'>Run minutes</th><td>18 min</td><td>24 min</td></tr>" in (
        html.get_content())
    [chart] = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    assert f"cid:{chart['Content-ID'][1:-1]}" in html.get_content()
    width, height, pixels = _decode_png(chart.get_content())
    assert (width, height) == (480, 160)
    # Six plan weeks: 1-4 empty, 5 on the plan (blue), 6 over it (red); plan bars in grey.
    assert {PLAN, ACTUAL, OVER} <= pixels
    assert len(smtp.mailbox.messages) == 3  # the summary and the two alerts


def test_one_summary_per_week_whatever_runs(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA) -> None:
    clock = Clock(MONDAY_AFTER)
    app = _app(tmp_path, smtp, clock)
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as first:
        first.run_once()
        clock.advance(hours=30)
        assert first.run_once().summaries == []
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as second:
        assert second.run_once().summaries == []
        clock.now = MONDAY_AFTER + timedelta(days=7)
        assert second.run_once().summaries == [f"summary_{app.athlete_id}_2026-10-19"]
    with app.store.read() as tx:
        count = tx.execute(select(func.count()).select_from(AlertEventRow)
                           .where(AlertEventRow.type == "summary.weekly")).scalar()
    assert count == 2
    subjects = [m["Subject"] for m in smtp.mailbox.messages if "summary" in m["Subject"]]
    assert subjects == ["[syncd] Week 6 (2026-10-12 to 2026-10-18): summary",
                        "[syncd] Week 7 (2026-10-19 to 2026-10-25): summary"]


def test_no_summary_without_email_or_when_turned_off(
        tmp_path: Path, smtp: SmtpServer, ca: trustme.CA) -> None:
    clock = Clock(MONDAY_AFTER)
    config = settings(tmp_path, email=email_section(smtp), alerts={"weekly_summary": False},
                      athlete={"timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
                               "plan_start": PLAN_START.isoformat()})
    app = open_app(config, clock)
    app.ingest(_history())
    with Dispatcher(app, clock=clock, tls_context=client_tls(ca)) as dispatcher:
        assert dispatcher.run_once().summaries == []


def _decode_png(data: bytes) -> tuple[int, int, set[tuple[int, int, int]]]:
    """Width, height and the set of colours of an 8-bit RGB PNG with unfiltered rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x02"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 3 + 1
    assert len(raw) == stride * height
    colours = set()
    for y in range(height):
        row = raw[y * stride:(y + 1) * stride]
        assert row[0] == 0
        colours.update(zip(row[1::3], row[2::3], row[3::3], strict=True))
    return width, height, colours
