"""Measures the store's work queue on SQLite and on a private PostgreSQL: how many steps per
second workers claim and finish (each step: claim in a batch, then finish with one audit
entry), with 1 and with several worker threads, the cost of ingesting one event, and how long
one claim takes with a long queue (--queue requests of 3 steps waiting).

    .venv/bin/python bench/store_claim.py [--requests N] [--workers W] [--batch B] [--queue Q] [--no-postgres]

Prints the figures, then one line ``key=value ...`` (steps/s and ms).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from wpprivsync_devkit.devstack.postgres import PostgresServer, find_bin_dir
from wpprivsync.store import AuditEntry, NewRequest, NewStep, open_store

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _request(i: int) -> NewRequest:
    return NewRequest(site="bench", action="erase", email=f"person{i}@example.com", email_hash=f"{i:064x}",
                      source="event", received_at=T0, due_at=T0 + timedelta(days=30), dedupe_key=f"erase:{i}",
                      steps=[NewStep("wordpress", "erase", {}, 0), NewStep("activecampaign", "delete_contact", {}, 0),
                             NewStep("suppression", "add", {"reason": "erasure"}, 1)])


def _fill(url: str, n: int) -> float:
    """Ingest n events (one request of 3 steps each); returns ms per event."""
    store = open_store(url)
    started = time.perf_counter()
    for i in range(n):
        store.ingest("bench", i + 1, [_request(i)])
    elapsed = time.perf_counter() - started
    store.close()
    return 1000 * elapsed / n


def _drain(url: str, workers: int, batch: int) -> tuple[int, float]:
    store = open_store(url)
    done = [0] * workers
    gate = threading.Barrier(workers + 1)

    def work(k: int) -> None:
        name = f"w{k}"
        gate.wait()
        while True:
            steps = store.claim_steps(name, T0, limit=batch, lease_s=600)
            if not steps:
                if store.queue_depth() == 0:
                    return
                continue
            for s in steps:
                audit = [AuditEntry(site="bench", email_hash=None, system=s.system, action=s.action, items_removed=1)]
                if store.finish_step(s.id, name, T0, result={"ok": True}, audit=audit):
                    done[k] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    gate.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    store.close()
    return sum(done), elapsed


def _claim_latency(url: str, batch: int, rounds: int = 40) -> float:
    """Median ms of one claim of ``batch`` steps from the queue ``url`` holds."""
    store = open_store(url)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        assert store.claim_steps("latency", T0, limit=batch, lease_s=600)
        times.append(1000 * (time.perf_counter() - started))
    store.close()
    return statistics.median(times)


def _measure(label: str, make_url, n: int, workers: int, batch: int, queue: int,
             figures: dict[str, float]) -> None:
    if queue:
        url = make_url(f"{label}_queue")
        _fill(url, queue)
        figures[f"{label}_claim_ms_{queue}_queued"] = round(_claim_latency(url, batch), 2)
    for w in (1, workers):
        url = make_url(f"{label}_{w}")
        ingest_ms = _fill(url, n)
        steps, elapsed = _drain(url, w, batch)
        assert steps == 3 * n, (steps, n)
        figures.setdefault(f"{label}_ingest_ms", round(ingest_ms, 3))
        figures[f"{label}_steps_per_s_{w}w"] = round(steps / elapsed, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--queue", type=int, default=2000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-") as tmp:
        _measure("sqlite", lambda name: f"sqlite:///{Path(tmp) / name}.sqlite3", args.requests, args.workers,
                 args.batch, args.queue, figures)
        if not args.no_postgres and find_bin_dir() is not None:
            with PostgresServer(Path(tmp) / "pg") as server:
                _measure("postgres", server.create_database, args.requests, args.workers, args.batch, args.queue,
                         figures)
    for key, value in figures.items():
        print(f"{key:28} {value}")
    print(" ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
