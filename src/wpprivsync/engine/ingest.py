"""Move events from a site's outbox into the store (at least once, never lost).

The plugin returns only unacknowledged events. We read after the last acknowledged id, record
the plans of a page of events in one store transaction (which also moves the ingest cursor and
ignores an event already recorded; an event that retries dead steps closes the transaction
before its retries run, so they keep their place in the order), and only then acknowledge the
page, sending our keyed hash of each
event's email so the plugin's scrubbed copy holds the same hash as our audit log. A crash
between recording and acknowledging only means the events are read and skipped again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from ..clients.protocols import Event, WordPressApi
from ..identity import email_hash, is_email
from ..store.api import PlannedEvent, Store
from .plan import Planner

log = logging.getLogger(__name__)

ACKED_KEY = "acked:{site}"


@dataclass
class IngestStats:
    events: int = 0
    requests: int = 0
    acked: int = 0
    pending: int = 0
    lookups: list[tuple[str, str]] = field(default_factory=list)  # (lookup id, email) to answer now


def pull_events(site: str, wordpress: WordPressApi, store: Store, planner: Planner, secret: str,
                clock: Callable[[], datetime], *, batch: int = 500, max_batches: int = 20) -> IngestStats:
    stats = IngestStats()
    key = ACKED_KEY.format(site=site)
    for _ in range(max_batches):
        after = int(store.get_state(key) or 0)
        events, pending = wordpress.events(after, batch)
        stats.pending = pending
        if not events:
            break
        hashes: dict[int, str] = {}
        cursor = store.get_cursor(site)
        planned: list[PlannedEvent] = []
        for event in events:
            digest = _event_hash(event, secret)
            if digest:
                hashes[event.id] = digest
            if event.id <= cursor:
                continue  # recorded before a crash, not yet acknowledged
            plan = planner.plan(event, clock())
            planned.append(PlannedEvent(event.id, plan.requests, plan.audit, links=plan.links,
                                        consents=plan.consents))
            stats.lookups.extend(plan.lookups)
            if plan.close_tasks:
                stats.requests += len(store.ingest_many(site, planned))
                planned = []
                for task_id, status, note in plan.close_tasks:
                    task = store.get_task(task_id)
                    if task is not None and task.site == site:  # another site's task is not this page's
                        store.close_task(task_id, clock(), status=status, note=_redact(note))
            if plan.retry_step_ids or plan.retry_all:
                stats.requests += len(store.ingest_many(site, planned))
                planned = []
                for step_id in plan.retry_step_ids:
                    store.retry_step(step_id, clock())
                if plan.retry_all:
                    store.retry_all_dead(clock())
        stats.requests += len(store.ingest_many(site, planned))
        stats.events += len(events)
        stats.acked += wordpress.ack([e.id for e in events], hashes)
        store.set_state(key, str(max(e.id for e in events)))
        log.info("events ingested", extra={"site": site, "events": len(events), "pending": pending})
        if len(events) < batch and not pending:  # a page may be short because of its size
            break
    return stats


def _event_hash(event: Event, secret: str) -> str | None:
    value = event.payload.get("email") if isinstance(event.payload, dict) else None
    return email_hash(secret, value) if isinstance(value, str) and is_email(value) else None


def _redact(note: str) -> str:
    """A person's note may name someone: no plain email reaches the audit log."""
    import re

    from ..identity import redact_email

    return re.sub(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+", lambda m: redact_email(m.group(0)), note)
