"""Prometheus metrics of the daemon (optional: served only when ``metrics_port`` is set).

Queue depth, steps done/failed per system, ActiveCampaign calls and 429s, and the age of the
oldest open request — what an operator alerts on (a growing queue, a request near its
one-month deadline, a budget that keeps hitting 429)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.steps = Counter("wpprivsync_steps_total", "Steps finished, by system and outcome",
                             ["system", "outcome"], registry=r)
        self.queue = Gauge("wpprivsync_queue_depth", "Steps pending or running", registry=r)
        self.dead = Gauge("wpprivsync_dead_steps", "Steps in the dead-letter list", registry=r)
        self.oldest = Gauge("wpprivsync_oldest_open_request_age_seconds", "Age of the oldest open request",
                            registry=r)
        self.ac_calls = Gauge("wpprivsync_activecampaign_calls", "ActiveCampaign API calls made by this process",
                              registry=r)
        self.ac_429 = Gauge("wpprivsync_activecampaign_429", "ActiveCampaign 429 answers seen by this process",
                            registry=r)
        self.events = Counter("wpprivsync_events_total", "Outbox events ingested", ["site"], registry=r)

    def step(self, system: str, outcome: str) -> None:
        self.steps.labels(system=system, outcome=outcome).inc()

    def observe(self, status: dict[str, Any], ac_clients: list[Any]) -> None:
        self.queue.set(status.get("queue", 0))
        self.dead.set(status.get("counts", {}).get("steps_dead", len(status.get("failed", []))))
        self.oldest.set(status.get("oldest_open_age_s", 0.0))
        calls = sum(getattr(getattr(c, "stats", None), "calls", 0) for c in ac_clients)
        limited = sum(getattr(getattr(c, "stats", None), "http429", 0) for c in ac_clients)
        self.ac_calls.set(calls)
        self.ac_429.set(limited)

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
