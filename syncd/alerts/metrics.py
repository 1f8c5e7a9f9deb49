"""Delivery metrics for Prometheus: attempts by channel and outcome, their latency, and the
pending and failed deliveries as the database has them (read at scrape time, so that every
process and replica reports the same truth). No label names a patient: the athletes' own
mail channels (``email:<athlete>``) are counted together as ``email:own``.

The HTTP API exposes :attr:`DeliveryMetrics.registry` (or its own registry, passed in) at
``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from syncd.alerts.channel import metric_label
from syncd.errors import SyncdError
from syncd.store.outbox import DISABLED, FAILED, PENDING, status_counts

if TYPE_CHECKING:
    from syncd.store.database import Store

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0)


class DeliveryMetrics:
    """The dispatcher's counters and histogram, in ``registry`` (a new one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 store: Store | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.deliveries = Counter(
            "syncd_alert_deliveries", "Delivery attempts and decisions, by channel and outcome "
            "(delivered, retry, failed, gone, skipped, disabled).", ["channel", "outcome"],
            registry=self.registry)
        self.latency = Histogram(
            "syncd_alert_delivery_seconds", "Time one delivery attempt took, by channel and "
            "outcome.", ["channel", "outcome"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self._watching = False
        if store is not None:
            self.watch(store)

    def observe(self, channel: str, outcome: str, seconds: float | None = None) -> None:
        """Count one outcome; ``seconds`` (for real attempts) goes to the latency histogram."""
        label = metric_label(channel)
        self.deliveries.labels(channel=label, outcome=outcome).inc()
        if seconds is not None:
            self.latency.labels(channel=label, outcome=outcome).observe(seconds)

    def watch(self, store: Store) -> None:
        """Also report the outbox's pending, failed and disabled deliveries from ``store``."""
        if not self._watching:
            self.registry.register(OutboxCollector(store))
            self._watching = True


def by_label(counts: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    """``(channel, status)`` counts summed per metrics label (:func:`metric_label`), so that
    the athletes' own mail channels, which bear their names, count as one."""
    out: dict[tuple[str, str], int] = {}
    for (channel, status), count in counts.items():
        key = (metric_label(channel), status)
        out[key] = out.get(key, 0) + count
    return out


class OutboxCollector(Collector):
    """Gauges of the deliveries waiting, given up and disabled, per channel."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Read the counts now; a database that cannot be read yields no sample rather than
        failing the whole scrape."""
        families = {
            PENDING: GaugeMetricFamily("syncd_alert_deliveries_pending",
                                       "Deliveries waiting for an attempt.", labels=["channel"]),
            FAILED: GaugeMetricFamily("syncd_alert_deliveries_failed",
                                      "Deliveries given up after the last retry.",
                                      labels=["channel"]),
            DISABLED: GaugeMetricFamily("syncd_alert_deliveries_disabled",
                                        "Deliveries not sent because the endpoint answered "
                                        "410 Gone.", labels=["channel"]),
        }
        try:
            with self.store.read() as tx:
                counts = by_label(status_counts(tx))
        except SyncdError:
            counts = {}
        channels = sorted({channel for channel, _ in counts})
        for status, family in families.items():
            for channel in channels:
                family.add_metric([channel], counts.get((channel, status), 0))
            yield family
