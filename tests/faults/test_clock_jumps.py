"""The clock jumping forward a day, then back an hour, under both sources and both channels
(the service's own clock, in-process: every pass reads it). Runs published around each jump
are stored once, the alerts they raise reach the webhook and the mail server once the
dispatcher's schedule allows, none is raised twice, and the tokens still work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from syncd.alerts.dispatcher import Dispatcher
from syncd.app import App
from syncd.clinic import open_app
from syncd.config import load_settings
from syncd.pipeline.sync import sync_source
from syncd.store import outbox
from syncd.store.tables import AlertRow
from tests.support.clock import Clock

from .support import World, check_invariants


def _pass(app: App, dispatcher: Dispatcher) -> list[str]:
    """One pass of each source and one of the dispatcher, as the scheduler runs them; the
    sources' errors."""
    errors = []
    for source in ("strava", "garmin"):
        result = sync_source(app, source, force=True)
        if result.error is not None:
            errors.append(f"{source}: {result.error}")
    dispatcher.run_once()
    return errors


def _settle(app: App, dispatcher: Dispatcher, clock: Clock,
            waited: Callable[[timedelta], None]) -> None:
    """Dispatcher passes until nothing is pending, letting the clock run to each due time."""
    for _ in range(10):
        with app.store.read() as tx:
            due = outbox.next_due(tx)
        if due is None:
            return
        if due > clock():
            waited(due - clock())
            clock.now = due
        dispatcher.run_once()
    raise AssertionError("deliveries still pending")


def test_a_day_forward_then_an_hour_back_loses_and_doubles_nothing(world: World) -> None:
    clock = Clock(datetime.now(UTC), running=True)
    app = open_app(load_settings(world.config, env={"STATE_DIRECTORY": str(world.folder)}),
              clock=clock)
    dispatcher = Dispatcher(app, clock=clock, jitter=0.0)
    waits: list[timedelta] = []
    try:
        world.add_runs(2)
        assert _pass(app, dispatcher) == []
        clock.advance(days=1)  # forward a day
        world.add_runs(2)
        assert _pass(app, dispatcher) == []
        clock.advance(hours=-1)  # back an hour
        world.add_runs(2)
        assert _pass(app, dispatcher) == []
        assert _pass(app, dispatcher) == []  # and again, nothing new
        _settle(app, dispatcher, clock, waits.append)
        with app.store.read() as tx:
            alerts = list(tx.scalars(select(AlertRow)))
    finally:
        dispatcher.close()
        app.close()
    checked = check_invariants(world)
    assert checked.activities == 12 and len(alerts) == len({(a.rule, a.subject_key)
                                                            for a in alerts})
    # A delivery that failed is never due more than its schedule step late, jumps or not.
    assert all(w <= timedelta(minutes=5, hours=1) for w in waits), waits
    print(f"{checked}; waited {waits} for due retries")
