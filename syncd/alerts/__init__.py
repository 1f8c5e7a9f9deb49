"""Alert delivery: the outbox dispatcher, the webhook and email channels, the weekly summary
and the delivery metrics."""

from __future__ import annotations

from syncd.alerts.dispatcher import Dispatcher, build_channels, deliver_pending
from syncd.alerts.metrics import DeliveryMetrics
from syncd.alerts.reports import ChannelReport, DispatchReport

__all__ = ["ChannelReport", "DeliveryMetrics", "DispatchReport", "Dispatcher", "build_channels",
           "deliver_pending"]
