"""Prometheus metrics of the endpoint (prometheus-client), in a registry per app.

Per text, observed as answers leave: ``greentune_request_energy_joules``,
``greentune_request_latency_seconds``, ``greentune_request_batch_size``
(histograms); per HTTP request: ``greentune_requests_total{status}``. Read
from the engine's totals at each scrape, one series per replica so that the
replicas add up: ``greentune_energy_joules_total{replica,component,source,state}``
(state ``active`` inside batch windows, ``idle`` between them),
``greentune_emissions_gco2eq_total{replica,state}``, ``greentune_cost_usd_total``
(when priced), ``greentune_tokens_total{replica,direction}``,
``greentune_batches_total``, ``greentune_queue_depth``, ``greentune_in_flight``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from greentune.serve.batcher import RequestResult
from greentune.serve.snapshot import Snapshot

ENERGY_BUCKETS_J = (0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0)
LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class _TotalsCollector(Collector):
    """Series built from the replicas' snapshots at scrape time."""

    def __init__(self, snapshots: Callable[[], Sequence[Snapshot]]) -> None:
        self._snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        energy = CounterMetricFamily(
            "greentune_energy_joules",
            "Energy metered, joules; active inside batch windows, idle between them",
            labels=["replica", "component", "source", "state"],
        )
        emissions = CounterMetricFamily(
            "greentune_emissions_gco2eq", "Operational emissions, grams CO2eq", labels=["replica", "state"]
        )
        cost = CounterMetricFamily("greentune_cost_usd", "Price of the metered time, USD", labels=["replica", "state"])
        tokens = CounterMetricFamily("greentune_tokens", "Tokens of answered texts", labels=["replica", "direction"])
        batches = CounterMetricFamily("greentune_batches", "Batches run", labels=["replica"])
        queue = GaugeMetricFamily("greentune_queue_depth", "Texts waiting for a batch", labels=["replica"])
        in_flight = GaugeMetricFamily("greentune_in_flight", "Texts in the running batch", labels=["replica"])
        for index, snapshot in enumerate(self._snapshots()):
            replica = str(index)
            for state, by_component in (("active", snapshot.active_energy_j), ("idle", snapshot.idle_energy_j)):
                for component, joules in sorted(by_component.items()):
                    source = snapshot.component_sources.get(component, "estimated")
                    energy.add_metric([replica, component, source, state], joules)
            emissions.add_metric([replica, "active"], snapshot.active_gco2eq)
            emissions.add_metric([replica, "idle"], snapshot.idle_gco2eq)
            if snapshot.active_usd is not None and snapshot.idle_usd is not None:
                cost.add_metric([replica, "active"], snapshot.active_usd)
                cost.add_metric([replica, "idle"], snapshot.idle_usd)
            tokens.add_metric([replica, "input"], snapshot.input_tokens)
            tokens.add_metric([replica, "output"], snapshot.output_tokens)
            batches.add_metric([replica], snapshot.batches)
            queue.add_metric([replica], snapshot.queue_depth)
            in_flight.add_metric([replica], snapshot.in_flight)
        yield from (energy, emissions, cost, tokens, batches, queue, in_flight)


class ServeMetrics:
    """The app's registry: request histograms observed here, totals collected from the engine."""

    def __init__(self, snapshots: Callable[[], Sequence[Snapshot]]) -> None:
        """`snapshots` gives one snapshot per replica at each scrape."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "greentune_requests", "POST /summarize requests by HTTP status", ["status"], registry=self.registry
        )
        self.energy = Histogram(
            "greentune_request_energy_joules",
            "Energy attributed to each text, joules",
            buckets=ENERGY_BUCKETS_J,
            registry=self.registry,
        )
        self.latency = Histogram(
            "greentune_request_latency_seconds",
            "Admission to answer, per text, seconds",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "greentune_request_batch_size",
            "Size of the batch each text ran in",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_TotalsCollector(snapshots))

    def observe(self, results: Sequence[RequestResult]) -> None:
        """Count answered texts."""
        for result in results:
            self.energy.observe(result.energy_j)
            self.latency.observe(result.latency_ms / 1000.0)
            self.batch_size.observe(result.batch_size)

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
