"""Prometheus metrics of the event pipeline, shared by ``mailmind serve`` (``/metrics``) and
``mailmind worker`` (``--metrics-port``).

* ``mailmind_events_handled_total{outcome}``: deliveries handled, retried or dead-lettered;
* ``mailmind_event_latency_seconds``: publish → handled, per successfully handled event;
* ``mailmind_events_lag`` / ``_pending`` / ``_delayed`` / ``_dead`` and
  ``mailmind_events_oldest_pending_seconds``: read from the bus at scrape time, so every process
  that exposes metrics reports the same queue (an unreachable bus exports nothing then, rather
  than failing the scrape).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from retrieval.events.base import BusStats, Event

log = logging.getLogger(__name__)

_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_GAUGES = {
    "lag": "Events published but not yet delivered to any worker.",
    "pending": "Events delivered to a worker and not acked (in progress or orphaned).",
    "delayed": "Failed events waiting for their retry.",
    "dead": "Events in the dead-letter stream.",
}


class _BusCollector(Collector):
    def __init__(self, stats: Callable[[], BusStats | None]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            s = self.stats()
        except Exception:
            log.debug("event bus stats unavailable", exc_info=True)
            return
        if s is None:
            return
        for name, doc in _GAUGES.items():
            yield GaugeMetricFamily(f"mailmind_events_{name}", doc, value=getattr(s, name))
        yield GaugeMetricFamily(
            "mailmind_events_oldest_pending_seconds",
            "Seconds since the oldest unacked event was delivered.",
            value=s.oldest_pending_s,
        )


class EventMetrics:
    """Counters fed by :meth:`observe` (a worker's ``observe`` hook) and the bus gauges."""

    def __init__(
        self, registry: CollectorRegistry, stats: Callable[[], BusStats | None] | None = None
    ) -> None:
        self.handled = Counter(
            "mailmind_events_handled", "Event deliveries, by outcome (handled, retried, dead).",
            ["outcome"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "mailmind_event_latency_seconds",
            "Seconds from an event's publication to the end of its successful handling.",
            buckets=_BUCKETS, registry=registry,
        )  # fmt: skip
        for outcome in ("handled", "retried", "dead"):
            self.handled.labels(outcome=outcome)
        if stats is not None:
            registry.register(_BusCollector(stats))

    def observe(self, event: Event, outcome: str, seconds: float) -> None:
        """Count one delivery; handled ones add their end-to-end latency."""
        self.handled.labels(outcome=outcome).inc()
        if outcome == "handled":
            self.latency.observe(seconds)
