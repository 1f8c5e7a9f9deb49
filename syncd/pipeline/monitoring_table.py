"""The monthly monitoring report (:mod:`syncd.pipeline.monitoring`) as a table: one CSV row
per athlete and 30-day period (one row with empty period columns for an athlete without any
in the month), the month's figures repeated on each of the athlete's rows."""

from __future__ import annotations

import csv
import io
from typing import Any

COLUMNS = (
    "athlete", "month", "timezone", "monitoring_start", "covered_from", "covered_to",
    "sharing_withdrawn_at", "month_days_with_data", "period", "period_from", "period_to",
    "period_counted_to", "period_days_with_data", "period_band", "sessions_done",
    "sessions_prescribed", "pain_reports", "pain_first", "pain_last", "pain_mean", "pain_min",
    "pain_max", "pain_trend", "alerts_raised", "alerts_acknowledged", "acknowledgements",
)


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the report's table, in :data:`COLUMNS`' terms."""
    rows: list[dict[str, Any]] = []
    for athlete in report["athletes"]:
        common = _common(report["month"], athlete)
        for period in athlete["periods"] or [None]:
            rows.append({**common, **_period(period)})
    return rows


def _common(month: str, athlete: dict[str, Any]) -> dict[str, Any]:
    covered = athlete["covered"] or {}
    pain, alerts, sessions = athlete["pain"], athlete["alerts"], athlete["sessions"]
    return {
        "athlete": athlete["athlete"], "month": month, "timezone": athlete["timezone"],
        "monitoring_start": athlete["monitoring_start"], "covered_from": covered.get("from"),
        "covered_to": covered.get("to"),
        "sharing_withdrawn_at": covered.get("sharing_withdrawn_at"),
        "month_days_with_data": athlete["days_with_data"]["month"],
        "sessions_done": sessions["done"], "sessions_prescribed": sessions["prescribed"],
        "pain_reports": pain["reports"], "pain_first": pain["first"], "pain_last": pain["last"],
        "pain_mean": pain["mean"], "pain_min": pain["min"], "pain_max": pain["max"],
        "pain_trend": pain["trend"], "alerts_raised": alerts["raised"],
        "alerts_acknowledged": alerts["acknowledged"],
        "acknowledgements": "; ".join(_ack_text(item) for item in alerts["items"]
                                      if item["acknowledged"]),
    }


def _ack_text(item: dict[str, Any]) -> str:
    """``rule (severity): by at "note"`` for each ack of an alert, joined by `` | ``."""
    acks = " | ".join(f"{a['by']} {a['at']}" + (f" \"{a['note']}\"" if a["note"] else "")
                      for a in item["acks"])
    return f"{item['rule']} ({item['severity']}): {acks}"


def _period(period: dict[str, Any] | None) -> dict[str, Any]:
    if period is None:
        return dict.fromkeys(("period", "period_from", "period_to", "period_counted_to",
                              "period_days_with_data", "period_band"))
    return {"period": period["period"], "period_from": period["from"],
            "period_to": period["to"], "period_counted_to": period["counted_to"],
            "period_days_with_data": period["days_with_data"], "period_band": period["band"]}


def report_csv(report: dict[str, Any]) -> str:
    """The report as CSV text with a header row. A cell that a spreadsheet would run as a
    formula (a note starting with ``=``, ``+``, ``-`` or ``@``) is prefixed with ``'``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in report_rows(report):
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
