"""What syncd shows to whom: the display policy of each source, the Strava-safe form of what
a clinic sees, and the consent a patient gives (the exact words).

Strava's API agreement lets Strava data be shown only to the athlete it belongs to. In a
clinic the therapist (every view reached with the server token, every channel that is not the
athlete's own) sees, for a Strava-sourced session, syncd's own findings only: the compliance
band against the prescription, the rule and severity of an alert, the date. Never Strava's
fields: the activity's name, distance, pace, route, device, time of day, its id or its
durations. The patient (their own page, their own mail and channels) sees everything, and a
single athlete (no ``[[athletes]]``) is the only viewer there is.

Pure: data in, data out, no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

# Who looks: ``own`` is the athlete (or a single athlete's runner), ``clinic`` the therapist.
Audience = Literal["own", "clinic"]
OWN: Audience = "own"
CLINIC: Audience = "clinic"

# Sources whose data only their athlete may see (by the activity key's prefix, the
# connector's source name). Garmin and files: shown as they are.
FINDINGS_ONLY = frozenset({"strava"})

BANDS = ("under plan", "on plan", "over plan", "outside the plan")
# Within this share of the prescription either way a figure is "on plan".
BAND_TOLERANCE = 0.10

# The exact words a patient agrees to, per source, as recorded with their consent.
CONSENT_TEXTS: dict[str, str] = {
    "strava": (
        "I agree that my clinic sees syncd's findings about the runs syncd reads from my "
        "Strava account: for each run its date and whether it kept to my plan (under, on or "
        "over plan), and the alerts syncd raises (which rule, how serious, when). My clinic "
        "does not see Strava's own details (names, distances, pace, routes, devices, times "
        "of day); only I see those, on my own page. I can withdraw this on my page at any "
        "time; from then on my clinic sees nothing new of me."),
    "garmin": (
        "I agree that my clinic sees the runs syncd reads from my Garmin Connect account "
        "(date, time, duration, distance, the run/walk split), how they compare with my "
        "plan, and the alerts syncd raises. I can withdraw this on my page at any time; "
        "from then on my clinic sees nothing new of me."),
    "file": (
        "I agree that my clinic sees the runs syncd reads from the files I hand in (date, "
        "time, duration, distance, the run/walk split), how they compare with my plan, and "
        "the alerts syncd raises. I can withdraw this on my page at any time; from then on "
        "my clinic sees nothing new of me."),
}
WITHDRAWAL_TEXT = ("I withdraw my consent: my clinic sees nothing new of me from now on "
                   "(what it saw before stays in its records).")


def consent_text(source: str) -> str:
    """The words a patient agrees to for ``source`` (``files`` and ``file`` alike)."""
    return CONSENT_TEXTS["file" if source == "files" else source]


def source_of(key: str) -> str:
    """The source of an activity key (``strava:123`` -> ``strava``)."""
    return key.partition(":")[0]


def findings_only(keys: Iterable[str]) -> bool:
    """True when any of the activity ``keys`` comes from a source only its athlete may see."""
    return any(source_of(str(key)) in FINDINGS_ONLY for key in keys)


def band(actual: float | None, prescribed: float | None) -> str:
    """The compliance band of ``actual`` against ``prescribed`` (syncd's own finding)."""
    if actual is None or not prescribed:
        return BANDS[3]
    if actual < prescribed * (1 - BAND_TOLERANCE):
        return BANDS[0]
    return BANDS[1] if actual <= prescribed * (1 + BAND_TOLERANCE) else BANDS[2]


def safe_alert(data: dict[str, Any]) -> dict[str, Any]:
    """An alert's ``data`` as a clinic may see it when it rests on a Strava session: rule,
    severity, date and band, without Strava's figures or ids (unchanged otherwise)."""
    if not findings_only(data.get("activity_ids") or ()):
        return data
    subject = data.get("subject") or {}
    when = subject.get("date") or subject.get("week_start") or str(data.get("created_at", ""))[:10]
    where = band(data.get("observed"), data.get("limit"))
    kept = {k: v for k, v in subject.items() if k in ("kind", "plan_week", "week_start", "date")}
    safe = {**data, "subject": kept, "observed": None, "limit": None, "unit": None,
            "band": where, "activity_ids": [k for k in data.get("activity_ids") or ()
                                            if not findings_only([k])]}
    safe["message"] = f"{data.get('rule')} ({data.get('severity')}) on {when}: {where}."
    return safe


def safe_week(week: dict[str, Any] | None) -> dict[str, Any] | None:
    """A week's figures (:meth:`syncd.progress.WeekSummary.as_dict`) as a clinic may see
    them: with a Strava session in it, the sessions' count and the band of the running
    against the prescription instead of minutes and ids."""
    if week is None or not findings_only(week["actual"].get("activity_ids") or ()):
        return week
    volume = (week.get("prescribed") or {}).get("volume_min")
    actual = {"sessions": week["actual"]["sessions"], "run_min": None,
              "longest_session_min": None, "activity_ids": [],
              "band": band(week["actual"].get("run_min"), volume)}
    return {**week, "actual": actual, "cross_training": []}
