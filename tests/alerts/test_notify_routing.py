"""Which alerts a notify channel carries: ``min_severity`` and ``rules`` as for a webhook, and
``athletes``: a channel kept to some athletes carries theirs alone, and never the operator's
notices; the configuration refuses what cannot route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from syncd.alerts import Dispatcher
from syncd.clinic import Clinic, open_app
from syncd.config import Settings, load_settings
from syncd.errors import ConfigError
from syncd.store.alerts import add_operator_notice
from syncd.store.outbox import SKIPPED, list_deliveries
from tests.support.clock import Clock
from tests.support.config import write_config
from tests.support.ntfy import NtfyServer

from .support import finding, raise_alerts, settings


def test_min_severity_and_rules_pick_the_alerts(
        tmp_path: Path, db_url: str, ntfy: NtfyServer, clock: Clock) -> None:
    app = open_app(settings(tmp_path, db_url, notify=[
        {"name": "urgent", "url": ntfy.url("urgent"), "min_severity": "critical"},
        {"name": "pain", "url": ntfy.url("pain"), "rules": ["pain_stop", "pain_rising"]},
        {"name": "all", "url": ntfy.url("all")}]), clock)
    raise_alerts(app, [finding(1, "load_ratio", "info"), finding(2, "session_length"),
                       finding(3, "pain_stop", "critical"), finding(4, "pain_rising")],
                 clock.now)
    with Dispatcher(app, clock=clock, jitter=0) as dispatcher:
        report = dispatcher.run_once()

    assert [m.title for m in ntfy.on("urgent")] == ["Critical: pain stop"]
    assert sorted(m.title for m in ntfy.on("pain")) == ["Critical: pain stop",
                                                        "Warning: pain rising"]
    assert len(ntfy.on("all")) == 4
    assert report.channels["notify:urgent"].skipped == 3
    with app.store.read() as tx:
        skipped = [v for v in list_deliveries(tx, statuses=[SKIPPED])]
    assert sorted(v.channel for v in skipped) == ["notify:pain"] * 2 + ["notify:urgent"] * 3


def _clinic(tmp_path: Path, ntfy: NtfyServer, **extra: Any) -> Settings:
    athletes = [{"name": "ana", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk"},
                {"name": "bob", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
                 "channels": ["notify:desk"]},
                {"name": "cy", "timezone": "Europe/Berlin", "plan": "hip-return-run-walk",
                 "channels": []}]
    notify = [{"name": "ana-phone", "url": ntfy.url("ana"), "athletes": ["ana"]},
              {"name": "desk", "url": ntfy.url("desk")}]
    return load_settings(write_config(tmp_path, athletes=athletes, notify=notify, **extra))


def test_athletes_keep_a_channel_to_their_own_alerts(
        tmp_path: Path, ntfy: NtfyServer, clock: Clock) -> None:
    clinic = Clinic(_clinic(tmp_path, ntfy), clock)
    try:
        ana, bob, cy = clinic.apps()
        assert ana.channels() == ["notify:ana-phone", "notify:desk"]
        assert bob.channels() == ["notify:desk"]
        assert cy.channels() == []
        for n, app in enumerate((ana, bob, cy)):
            raise_alerts(app, [finding(n)], clock.now)
        with clinic.store.write() as tx:
            add_operator_notice(tx, None, "test", "A source keeps failing.", clock.now,
                                ["notify:ana-phone", "notify:desk"])
        with Dispatcher(ana, clock=clock, jitter=0) as dispatcher:
            dispatcher.run_once()
    finally:
        clinic.close()

    # Ana's phone: her alert alone, without her name (it is hers), and no operator notice.
    [own] = ntfy.on("ana")
    assert (own.title, own.message.split(":")[0]) == ("Warning: session length", "Session 0")
    # The desk sees every athlete routed to it, named; and the operator's notice.
    desk = sorted((m.title, m.message) for m in ntfy.on("desk"))
    assert [title for title, _ in desk] == ["Warning (ana): session length",
                                            "Warning (bob): session length", "syncd notice"]
    assert desk[2][1] == "A source keeps failing."


@pytest.mark.parametrize(("notify", "athletes", "problem"), [
    ([{"name": "a"}, {"name": "a"}], None, "notify name 'a' is used twice in [[notify]]"),
    ([{"name": "p", "athletes": ["ana"]}], [{"name": "bob", "channels": ["notify:p"]}],
     "athlete 'bob': channels ['notify:p'] carry only the athletes"),
    ([{"name": "p"}], [{"name": "bob", "channels": ["notify:nope"]}],
     "athlete 'bob': channels ['notify:nope'] are not configured; known channels: notify:p"),
    ([{"name": "p", "rules": ["no_such_rule"]}], None, "unknown rule 'no_such_rule'"),
    ([{"name": "has space"}], None, "notify[1].name"),
])
def test_the_configuration_refuses_what_cannot_route(
        tmp_path: Path, notify: list[dict[str, Any]], athletes: list[dict[str, Any]] | None,
        problem: str) -> None:
    entries = [{"url": "ntfy://127.0.0.1:9/topic", **entry} for entry in notify]
    config = write_config(tmp_path, notify=entries, athletes=athletes)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    assert problem in str(caught.value)
