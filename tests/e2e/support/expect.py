"""What a scenario expects, compared with what syncd did: the alerts it lists, the events the
webhook receiver verified, the mails the SMTP server took, the current week's numbers.

Each check returns a list of problems in words (empty: all is well), so that one failing
scenario says everything that is off at once.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .runner import Outcome
from .spec import ExpectedAlert, Scenario, day_of

ALERT_EVENTS = ("alert.raised", "alert.resolved")
UPDATED = re.compile(r"^\[syncd\] Week (\d+) \(.*\): updated summary$")


def subject_of(expected: ExpectedAlert, scenario: Scenario, outcome: Outcome) -> dict[str, Any]:
    """The ``subject`` object syncd must show for an expected alert."""
    raw, keys = expected.subject, outcome.publisher.keys
    if "activity" in raw:
        spec = scenario.activity(raw["activity"])
        return {"kind": "activity", "activity_id": keys[spec.name],
                "date": spec.local_start.date().isoformat()}
    if "week" in raw:
        assert scenario.plan_start is not None, "a week subject needs athlete.plan_start"
        start = scenario.plan_start + timedelta(weeks=int(raw["week"]) - 1)
        plan_week = raw.get("plan_week", raw["week"])
        return {"kind": "week", "plan_week": plan_week or None, "week_start": start.isoformat()}
    if "silence" in raw:
        return {"kind": "silence", "since": day_of(raw["silence"], scenario.today).isoformat()}
    if "pain" in raw:
        report = next(p for p in scenario.pain if p.name == raw["pain"])
        at = report.local_at.replace(tzinfo=ZoneInfo(scenario.timezone)).astimezone(UTC)
        return {"kind": "pain", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"kind": "gear", "gear_id": outcome.publisher.gear_ids[raw["gear"]],
            "band": raw["band"]}


def _comparable(subject: dict[str, Any]) -> dict[str, Any]:
    """A subject without the id syncd gives a pain report (not known in advance)."""
    return {k: v for k, v in subject.items() if k != "pain_report_id"}


def check_alerts(scenario: Scenario, outcome: Outcome) -> list[str]:
    """Exactly the expected alerts, with their numbers, status and activities."""
    problems: list[str] = []
    # Only the rules the scenario declared it is not about are left out (see declared.py).
    unmatched = [a for a in outcome.alerts if a["rule"] not in scenario.not_concerned]
    for expected in scenario.alerts:
        subject = subject_of(expected, scenario, outcome)
        found = [a for a in unmatched if a["rule"] == expected.rule
                 and _comparable(a["subject"]) == subject]
        if not found:
            problems.append(f"missing: {expected.rule} {subject}")
            continue
        actual = found[0]
        unmatched.remove(actual)
        problems += _numbers(expected, actual, scenario, outcome)
    problems += [f"unexpected: {a['rule']} {a['severity']} {a['status']} {a['subject']} "
                 f"observed {a['observed']} limit {a['limit']}: {a['message']}"
                 for a in unmatched]
    return problems


def _numbers(expected: ExpectedAlert, actual: dict[str, Any], scenario: Scenario,
             outcome: Outcome) -> list[str]:
    label = f"{expected.rule} {actual['subject']}"
    wanted = {"severity": expected.severity, "observed": expected.observed,
              "limit": expected.limit, "status": expected.status}
    if expected.unit is not None:
        wanted["unit"] = expected.unit
    if expected.activities is not None:
        wanted["activity_ids"] = [outcome.publisher.keys[n] for n in expected.activities]
    return [f"{label}: {key} is {actual[key]!r}, expected {value!r} ({actual['message']})"
            for key, value in wanted.items() if actual[key] != value]


def check_webhooks(outcome: Outcome) -> list[str]:
    """Every request verified; one ``webhook-id`` per event; each alert's events alternate
    raised, resolved, raised... and end in its final status."""
    problems = [f"webhook {r.webhook_id} failed verification: {r.error}"
                for r in outcome.webhooks if not r.verified]
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for request in outcome.webhooks:
        bodies[request.webhook_id].add(request.body)
    problems += [f"webhook-id {wid} carried {len(b)} different bodies"
                 for wid, b in bodies.items() if len(b) > 1]
    history = alert_events(outcome)
    for alert in outcome.alerts:
        types = [t for t, _ in history.pop(alert["id"], [])]
        final = "alert.raised" if alert["status"] == "open" else "alert.resolved"
        alternating = all(t == ALERT_EVENTS[i % 2] for i, t in enumerate(types))
        if not types or not alternating or types[-1] != final:
            problems.append(f"{alert['rule']} {alert['subject']} ({alert['status']}): the "
                            f"webhook received {types or 'nothing'}")
    problems += [f"webhook events for an alert syncd does not list: {alert_id} {events}"
                 for alert_id, events in history.items()]
    return problems


def alert_events(outcome: Outcome) -> dict[str, list[tuple[str, str]]]:
    """Alert id -> [(event type, webhook-id)] in arrival order, each event once."""
    events: dict[str, list[tuple[str, str]]] = defaultdict(list)
    seen: set[str] = set()
    for request in outcome.webhooks:
        if not request.verified or request.webhook_id in seen:
            continue
        seen.add(request.webhook_id)
        payload = request.payload
        if payload["type"] in ALERT_EVENTS:
            events[payload["data"]["id"]].append((payload["type"], request.webhook_id))
    return events


def check_mails(scenario: Scenario, outcome: Outcome) -> list[str]:
    """One mail per alert event, its ``Message-ID`` the event's webhook-id, its subject and
    body naming the rule and the alert; an "updated summary" mail for exactly the plan weeks
    the scenario expects one for."""
    problems: list[str] = []
    by_id: dict[str, list[Any]] = defaultdict(list)
    for mail in outcome.mails:
        by_id[str(mail["Message-ID"])].append(mail)
    alerts = {a["id"]: a for a in outcome.alerts}
    expected_ids = set()
    for alert_id, events in alert_events(outcome).items():
        alert = alerts.get(alert_id, {"rule": "?"})
        for event_type, webhook_id in events:
            message_id = f"<{webhook_id}@syncd>"
            expected_ids.add(message_id)
            mails = by_id.get(message_id, [])
            if len(mails) != 1:
                problems.append(f"{event_type} of {alert['rule']}: {len(mails)} mails with "
                                f"Message-ID {message_id}")
                continue
            text = mails[0].get_body(("plain",)).get_content()
            prefix = "[syncd] resolved: " if event_type == "alert.resolved" else "[syncd] "
            if not str(mails[0]["Subject"]).startswith(prefix) or alert["rule"] not in str(
                    mails[0]["Subject"]) or f"Alert id: {alert_id}" not in text:
                problems.append(f"{event_type} of {alert['rule']}: mail {mails[0]['Subject']!r} "
                                "does not name the rule and the alert")
    extra = [m["Subject"] for m in outcome.mails if str(m["Message-ID"]) not in expected_ids
             and not str(m["Subject"]).endswith((": summary", ": updated summary"))]
    problems += [f"a mail for no alert event: {subject}" for subject in extra]
    return problems + _check_updated_summaries(scenario, outcome)


def _check_updated_summaries(scenario: Scenario, outcome: Outcome) -> list[str]:
    """The plan weeks with an "updated summary" mail are exactly the expected ones."""
    updated = sorted({int(m.group(1)) for m in (
        UPDATED.match(str(mail["Subject"])) for mail in outcome.mails) if m})
    if updated == list(scenario.updated_summaries):
        return []
    return [f"updated summaries for plan weeks {updated}, expected "
            f"{list(scenario.updated_summaries)}"]


def check_week(scenario: Scenario, outcome: Outcome) -> list[str]:
    """The current week in ``syncd status --json``: plan week, sessions, running minutes,
    and which activities were counted."""
    expected = scenario.week
    if expected is None:
        return []
    week = outcome.status["week"]
    actual = {"plan_week": week["plan_week"], "sessions": week["actual"]["sessions"],
              "run_min": week["actual"]["run_min"]}
    wanted: dict[str, Any] = {"plan_week": expected.plan_week, "sessions": expected.sessions,
                              "run_min": expected.run_min}
    if expected.activities is not None:
        actual["activity_ids"] = week["actual"]["activity_ids"]
        wanted["activity_ids"] = [outcome.publisher.keys[n] for n in expected.activities]
    return [f"status week: {key} is {actual[key]!r}, expected {value!r}"
            for key, value in wanted.items() if actual[key] != value]


def check_secrets(outcome: Outcome) -> list[str]:
    """No token, password or webhook secret in anything syncd printed."""
    printed = "\n".join(s.stdout + s.stderr for s in outcome.steps)
    return [f"a secret ({secret[:4]}...) appears in syncd's output"
            for secret in outcome.secrets if secret and secret in printed]


def check_all(scenario: Scenario, outcome: Outcome) -> list[str]:
    """Every check above."""
    return (check_alerts(scenario, outcome) + check_webhooks(outcome)
            + check_mails(scenario, outcome) + check_week(scenario, outcome)
            + check_secrets(outcome))
