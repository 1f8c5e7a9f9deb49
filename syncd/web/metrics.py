"""``GET /metrics``: Prometheus text, collected at scrape time.

Counters of this process (sync passes, errors, dispatcher crashes) come from the scheduler;
gauges of what is stored (activities, alerts by rule and severity, deliveries by channel and
status, the API quota a source reported) come from the database, so a restart loses nothing
that matters.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from syncd.alerts.metrics import by_label
from syncd.runtime.passes import SourceStats
from syncd.store import dashboard as queries

if TYPE_CHECKING:
    from syncd.app import App
    from syncd.runtime.scheduler import Scheduler

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class SyncdCollector(Collector):
    """Reads the store and the scheduler each time Prometheus scrapes."""

    def __init__(self, app: App, scheduler: Scheduler | None) -> None:
        self.app = app
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        """Yield every syncd metric family."""
        yield from self._scheduler_metrics()
        # A clinic's figures cover every athlete, and name none (patients' names stay out of
        # the monitoring system); per-source states are then counted, not listed.
        clinic = self.app.settings.clinic
        athlete_id = None if clinic else self.app.athlete_id
        with self.app.store.read() as tx:
            activities = queries.activity_counts(tx, athlete_id)
            alerts = queries.alert_counts(tx, athlete_id)
            deliveries = queries.delivery_counts(tx, athlete_id)
            states = {} if clinic else queries.source_states(tx, self.app.athlete_id)
            failing = queries.failing_athletes(tx) if clinic else {}
        if clinic:
            yield _gauge("syncd_athletes", "Athletes watched", [],
                         {(): float(len(self.app.clinic.apps()))})
            yield _gauge("syncd_athletes_failing", "Athletes whose source is failing now",
                         ["source"], {(k,): float(v) for k, v in failing.items()})
        yield _gauge("syncd_activities", "Stored activities (not deleted)",
                     ["source", "sport"], {k: float(v) for k, v in activities.items()})
        yield _gauge("syncd_alerts", "Alerts by rule, severity and status",
                     ["rule", "severity", "status"], {k: float(v) for k, v in alerts.items()})
        # The athletes' own mail channels (email:<name>) are summed as email:own.
        rows = by_label({k: v[0] for k, v in deliveries.items()})
        tries = by_label({k: v[1] for k, v in deliveries.items()})
        yield _gauge("syncd_deliveries", "Alert deliveries by channel and status",
                     ["channel", "status"], {k: float(v) for k, v in rows.items()})
        yield _gauge("syncd_delivery_attempts", "Delivery attempts by channel and status",
                     ["channel", "status"], {k: float(v) for k, v in tries.items()})
        yield from _state_metrics(states)

    def _scheduler_metrics(self) -> Iterator[Metric]:
        scheduler = self.scheduler
        if scheduler is None:
            return
        runs = CounterMetricFamily("syncd_sync_runs", "Scheduled sync passes by outcome",
                                   labels=["source", "outcome"])
        errors = CounterMetricFamily("syncd_sync_errors", "Sync passes that failed",
                                     labels=["source"])
        fetched = CounterMetricFamily("syncd_sync_records_fetched",
                                      "Records fetched by scheduled passes", labels=["source"])
        duration = GaugeMetricFamily("syncd_sync_last_duration_seconds",
                                     "Duration of the last pass", labels=["source"])
        running = GaugeMetricFamily("syncd_sync_running", "1 while a pass is under way",
                                    labels=["source"])
        under_way = scheduler.running()
        for name, stats in sorted(_per_source(scheduler.stats).items()):
            busy = sum(1 for key in under_way if key.rpartition("/")[2] == name)
            ok = stats.runs - stats.errors - stats.skipped - busy
            for outcome, count in (("ok", max(ok, 0)), ("error", stats.errors - stats.crashes),
                                   ("crashed", stats.crashes), ("backoff", stats.skipped)):
                runs.add_metric([name, outcome], count)
            errors.add_metric([name], stats.errors)
            fetched.add_metric([name], stats.fetched)
            if stats.last_duration_s is not None:
                duration.add_metric([name], stats.last_duration_s)
            running.add_metric([name], float(busy))
        yield from (runs, errors, fetched, duration, running)
        yield CounterMetricFamily("syncd_dispatcher_crashes", "Dispatcher passes that crashed",
                                  value=scheduler.dispatch_errors)
        yield GaugeMetricFamily("syncd_scheduler_heartbeat_age_seconds",
                                "Seconds since the scheduler's heartbeat job ran",
                                value=scheduler.heartbeat_age())


def _per_source(stats: dict[str, SourceStats]) -> dict[str, SourceStats]:
    """A clinic's passes (``athlete/source``) summed per source: no athlete named."""
    out: dict[str, SourceStats] = {}
    for key, one in stats.items():
        name = key.rpartition("/")[2]
        total = out.setdefault(name, SourceStats())
        total.runs += one.runs
        total.errors += one.errors
        total.skipped += one.skipped
        total.crashes += one.crashes
        total.fetched += one.fetched
        if one.last_duration_s is not None:
            total.last_duration_s = max(total.last_duration_s or 0.0, one.last_duration_s)
    return out


def _state_metrics(states: dict[str, dict[str, object]]) -> Iterator[Metric]:
    success = GaugeMetricFamily("syncd_source_last_success_timestamp_seconds",
                                "Unix time of the last successful pass", labels=["source"])
    failing = GaugeMetricFamily("syncd_source_consecutive_errors",
                                "Passes failed in a row", labels=["source"])
    quota = GaugeMetricFamily("syncd_api_quota_remaining",
                              "Requests left in the source's rate-limit window",
                              labels=["source", "limit", "window"])
    for name, state in sorted(states.items()):
        last = state.get("last_success_at")
        if last is not None and hasattr(last, "timestamp"):
            success.add_metric([name], last.timestamp())
        count = state.get("error_count")
        failing.add_metric([name], float(count) if isinstance(count, int) else 0.0)
        details = state.get("details")
        left = details.get("quota") if isinstance(details, dict) else None
        for limit, window, value in _quota_samples(left):
            quota.add_metric([name, limit, window], value)
    yield from (success, failing, quota)


def _quota_samples(left: object) -> Iterator[tuple[str, str, float]]:
    """(limit, window, requests left) from a connector's ``quota`` detail: nested like
    Strava's ``{"overall": {"15min": 180, "day": 1900}, "read": {...}}``, or flat
    ``{"15min": 180}`` (then the limit is ``overall``)."""
    if not isinstance(left, dict):
        return
    for key, value in sorted(left.items()):
        if isinstance(value, dict):
            for window, count in sorted(value.items()):
                if _number(count):
                    yield str(key), str(window), float(count)
        elif _number(value):
            yield "overall", str(key), float(value)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _gauge(name: str, documentation: str, labels: list[str],
           values: Mapping[tuple[str, ...], float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def render_metrics(app: App, scheduler: Scheduler | None) -> bytes:
    """The Prometheus exposition of syncd's metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncdCollector(app, scheduler))
    text = generate_latest(registry)
    dispatcher = scheduler.dispatcher if scheduler is not None else None
    delivery = getattr(getattr(dispatcher, "metrics", None), "registry", None)
    if isinstance(delivery, CollectorRegistry):
        text += generate_latest(delivery)  # the dispatcher's attempts, latency and backlog
    return text
