"""The optional Prometheus endpoint: what an operator alerts on is exported and scrapeable."""

from __future__ import annotations

import socket

import requests

from wpprivsync.clients.activecampaign import ClientStats
from wpprivsync.metrics import Metrics


class _Client:
    def __init__(self, calls: int, limited: int):
        self.stats = ClientStats(calls=calls, http429=limited)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_metrics_are_served_with_queue_failures_budget_and_oldest_request():
    m = Metrics()
    m.step("activecampaign", "done")
    m.step("activecampaign", "done")
    m.step("wordpress", "dead")
    m.observe({"queue": 7, "counts": {"steps_dead": 1}, "oldest_open_age_s": 3600.0},
              [_Client(40, 0), _Client(2, 1)])
    port = _free_port()
    m.serve(port)
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'wpprivsync_steps_total{outcome="done",system="activecampaign"} 2.0' in text
    assert 'wpprivsync_steps_total{outcome="dead",system="wordpress"} 1.0' in text
    assert "wpprivsync_queue_depth 7.0" in text
    assert "wpprivsync_dead_steps 1.0" in text
    assert "wpprivsync_oldest_open_request_age_seconds 3600.0" in text
    assert "wpprivsync_activecampaign_calls 42.0" in text
    assert "wpprivsync_activecampaign_429 1.0" in text


def test_worker_counts_steps_into_metrics(system):
    from wpprivsync import services
    from wpprivsync.engine import plan

    system.app.metrics = Metrics()
    rid = services.queue_request(system.app, "test", plan.ERASE, "metrics.person@example.com")
    services.run_request(system.app, rid)
    samples = {(s.labels["system"], s.labels["outcome"]): s.value
               for metric in system.app.metrics.registry.collect() if metric.name == "wpprivsync_steps"
               for s in metric.samples if s.name == "wpprivsync_steps_total"}
    # wordpress: the erasure and the residue scan after it
    assert samples[("wordpress", "done")] == 2 and samples[("suppression", "done")] == 1
