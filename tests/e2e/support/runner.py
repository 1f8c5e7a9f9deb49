"""Runs one scenario with the real ``syncd`` command, each step a subprocess.

The scenario's days lie before today, so syncd runs on the real clock and needs no clock
override: a *pass* is what a day's cron job would do (``syncd sync`` of every source, which
evaluates and delivers), then the pain reports the runner typed in that day. At the end
``syncd deliver`` sends what the pain reports raised, and ``syncd alerts --json --all`` and
``syncd status --json`` say what syncd concluded. Each command costs about a second of CPU
(mostly imports), so a step that would prove nothing in a scenario is left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.support.config import write_config

from .servers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SECRET,
    SMTP_PASSWORD,
    SMTP_USER,
    FakeGarmin,
    FakeStrava,
    Received,
    Receiver,
    SmtpServer,
)
from .sources import Publisher
from .spec import Scenario

REPO = Path(__file__).resolve().parents[3]
COMMAND_TIMEOUT_S = 60
# Variables of the developer's or CI's session that must not leak into syncd's behaviour.
_DROPPED = ("SYNCD_CONFIG", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "INVOCATION_ID",
            "JOURNAL_STREAM", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY")


def syncd_command() -> list[str]:
    """The installed console script beside this Python, else the module."""
    script = Path(sys.executable).with_name("syncd")
    return [str(script)] if script.exists() else [sys.executable, "-m", "syncd.cli"]


@dataclass
class Step:
    """One ``syncd`` invocation and what it printed."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        """The command and its output, for a failure message."""
        return (f"$ syncd {' '.join(self.args)}  -> exit {self.returncode}\n"
                f"{self.stdout}{self.stderr}")


@dataclass
class Outcome:
    """What a scenario run left behind, for the assertions."""

    alerts: list[dict[str, Any]]
    status: dict[str, Any]
    steps: list[Step]
    webhooks: list[Received]
    mails: list[EmailMessage]
    publisher: Publisher
    secrets: list[str] = field(default_factory=list)


class SyncdFailed(AssertionError):
    """A ``syncd`` step exited with an error."""


@dataclass
class Runner:
    """Drives one scenario in its own folder with its own servers."""

    scenario: Scenario
    folder: Path
    ca_file: Path
    steps: list[Step] = field(default_factory=list)

    def run(self, smtp_ca: Any) -> Outcome:
        """Every pass, then the final delivery and the read-outs."""
        with self._servers(smtp_ca) as (strava, garmin, receiver, smtp):
            publisher = Publisher(self.scenario, strava, garmin, self.folder / "inbox")
            config = self._write_config(strava, garmin, receiver, smtp)
            if strava is not None:
                tokens = strava.issue_tokens()
                self.syncd(config, "auth", "strava", "--refresh-token", tokens["refresh_token"])
            if garmin is not None:
                garmin.write_token_store(self.folder / "garmin-tokens")
            for at_pass in range(1, self.scenario.passes + 1):
                publisher.publish(at_pass)
                self.syncd(config, "sync")
                for report in (p for p in self.scenario.pain if p.at_pass == at_pass):
                    extra = ["--note", report.note] if report.note else []
                    self.syncd(config, "pain", str(report.score), "--at",
                               report.local_at.isoformat(timespec="minutes"), *extra)
            if self.scenario.pain:
                # `syncd pain` records and evaluates; the pain alerts go out with the next
                # delivery (the syncs delivered everything else already).
                self.syncd(config, "deliver")
            alerts = json.loads(self.syncd(config, "alerts", "--json", "--all").stdout)
            status = (json.loads(self.syncd(config, "status", "--json").stdout)
                      if self.scenario.week is not None else {})
            secrets = [CLIENT_SECRET, SECRET, SMTP_PASSWORD]
            if strava is not None:
                secrets += [*strava.refresh_tokens, *strava.access_tokens, *strava.refreshes]
            if garmin is not None:
                secrets += [*garmin.refresh_tokens, *garmin.access_tokens]
            return Outcome(alerts, status, self.steps, list(receiver.requests),
                           list(smtp.mailbox.messages), publisher, secrets)

    @contextmanager
    def _servers(self, smtp_ca: Any) -> Iterator[tuple[FakeStrava | None, FakeGarmin | None,
                                                        Receiver, SmtpServer]]:
        sources = self.scenario.sources()
        with ExitStack() as stack:
            strava = garmin = None
            if "strava" in sources:
                strava = FakeStrava().start()
                stack.callback(strava.stop)
            if "garmin" in sources:
                garmin = stack.enter_context(FakeGarmin().running())
            receiver = Receiver(SECRET)
            stack.callback(receiver.close)
            smtp = SmtpServer(smtp_ca)
            stack.callback(smtp.close)
            yield strava, garmin, receiver, smtp

    def syncd(self, config: Path, *args: str) -> Step:
        """Run ``syncd --config CONFIG ARGS`` and keep its output; fail on a non-zero exit."""
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED}
        # The machine's zone is far from UTC and from every athlete: nothing may lean on it.
        env.update(HOME=str(self.folder), STATE_DIRECTORY=str(self.folder / "state"),
                   SSL_CERT_FILE=str(self.ca_file), SYNCD_EMAIL_PASSWORD=SMTP_PASSWORD,
                   TZ="Pacific/Auckland")
        done = subprocess.run([*syncd_command(), "--config", str(config), *args], cwd=REPO,
                              env=env, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False)
        step = Step(list(args), done.returncode, done.stdout, done.stderr)
        self.steps.append(step)
        if done.returncode != 0:
            raise SyncdFailed(f"scenario {self.scenario.name}: a step failed\n"
                              + "\n".join(s.describe() for s in self.steps))
        return step

    def _write_config(self, strava: FakeStrava | None, garmin: FakeGarmin | None,
                      receiver: Receiver, smtp: SmtpServer) -> Path:
        """The configuration file: the scenario's athlete and sources, the servers' addresses,
        secrets in files or the environment as a careful operator keeps them."""
        scenario, folder = self.scenario, self.folder
        (folder / "webhook.secret").write_text(SECRET + "\n", encoding="utf-8")
        plan = scenario.folder / scenario.plan
        sections: dict[str, dict[str, Any]] = {
            "database": {"url": f"sqlite:///{folder / 'syncd.db'}"},
            "athlete": {"name": "ana", "timezone": scenario.timezone,
                        "plan": str(plan) if plan.is_file() else scenario.plan,
                        "plan_start": scenario.plan_start},
            "webhook": {"url": receiver.url, "secret_file": str(folder / "webhook.secret")},
            "email": {"host": "127.0.0.1", "port": smtp.port, "starttls": True,
                      "username": SMTP_USER, "sender": "syncd <syncd@example.org>",
                      "recipients": ["ana@example.org"]},
            "log": {"format": "json"},
        }
        if strava is not None:
            (folder / "strava.secret").write_text(CLIENT_SECRET, encoding="utf-8")
            # A history long enough for scenarios dated in the past (the DST week).
            sections["strava"] = {"client_id": CLIENT_ID, "api_url": strava.url,
                                  "client_secret_file": str(folder / "strava.secret"),
                                  "history": "3650d"}
        if garmin is not None:
            sections["garmin"] = {"api_url": garmin.url,
                                  "token_store": str(folder / "garmin-tokens")}
        if "file" in scenario.sources():
            sections["files"] = {"watch": [str(folder / "inbox")]}
            (folder / "inbox").mkdir(exist_ok=True)
        for name, values in scenario.settings.items():
            sections.setdefault(name, {}).update(values)
        athlete, database = sections.pop("athlete"), sections.pop("database")
        return write_config(folder, athlete=athlete, database=database, **sections)
