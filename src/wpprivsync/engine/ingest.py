"""Move events from a site's outbox into the store (at least once, never lost).

The plugin returns only unacknowledged events. We read after the last acknowledged id, record
the plans of a page of events in one store transaction (which also moves the ingest cursor and
ignores an event already recorded; an event that retries dead steps closes the transaction
before its retries run, so they keep their place in the order), and only then acknowledge the
page, sending our keyed hash of each
event's email so the plugin's scrubbed copy holds the same hash as our audit log. A crash
between recording and acknowledging only means the events are read and skipped again.

The acknowledgement of a recorded page rides on a later request for the next one
(``POST /events/pull``: acknowledge, then read), so a backlog costs one request per page, sent
while the page before is being recorded; the last acknowledged id is kept only once the plugin
answered the request that acknowledged it. A plugin without the
route (older than issue 17.6) is read with ``GET /events`` and acknowledged with
``POST /events/ack``, pages of 500, as before.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from .. import errors
from ..clients.protocols import Event, WordPressApi
from ..identity import email_hash, is_email
from ..store.api import PlannedEvent, Store
from .plan import Planner

log = logging.getLogger(__name__)

ACKED_KEY = "acked:{site}"
PAGE = 500  # events per request: a page and the next in flight bound the memory (at 10,000 events pages of 5,000 held 112 MB, 1,000 90 MB, 500 87 MB); the plugin allows 5,000
LEGACY_PAGE = 500  # the most a plugin before issue 17.6 answers
MAX_EVENTS = 20_000  # read by one call at most; the rest waits for the next


@dataclass
class IngestStats:
    events: int = 0
    requests: int = 0
    acked: int = 0
    pending: int = 0
    lookups: list[tuple[str, str]] = field(default_factory=list)  # (lookup id, email) to answer now


def pull_events(site: str, wordpress: WordPressApi, store: Store, planner: Planner, secret: str,
                clock: Callable[[], datetime], *, batch: int | None = None, max_events: int = MAX_EVENTS) -> IngestStats:
    """Ingest until the outbox has nothing more (or ``max_events`` were read: the rest waits
    for the next call); every page read is recorded and acknowledged before this returns.

    While a page is recorded, the request for the next one (acknowledging the page recorded
    before) is already on its way, from one helper thread: the plugin works while the daemon
    does. Only that thread talks to WordPress until the last page is recorded."""
    stats = IngestStats()
    key = ACKED_KEY.format(site=site)
    read = _Reader(wordpress, PAGE if batch is None else batch)
    owed: list[int] = []  # recorded, not yet sent to be acknowledged
    owed_hashes: dict[int, str] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="wpprivsync-pull") as pool:
        asked = pool.submit(read, int(store.get_state(key) or 0), [], {})
        sent: list[int] = []  # what the request in flight acknowledges
        while True:
            events, pending, acked = asked.result()
            if sent:
                stats.acked += acked
                store.set_state(key, str(max(sent)))  # the plugin has acknowledged up to here
            stats.pending = pending
            if not events:
                break
            more = stats.events + len(events) < max_events
            if more:
                sent = owed
                asked = pool.submit(read, max(e.id for e in events), owed, owed_hashes)
                owed, owed_hashes = [], {}
            hashes = _record(site, events, store, planner, secret, clock, stats)  # on error: the pool waits
            stats.events += len(events)
            owed, owed_hashes = owed + [e.id for e in events], owed_hashes | hashes
            log.info("events ingested", extra={"site": site, "events": len(events), "pending": pending})
            if not more:
                break
    # the last page (and, when max_events stopped the loop, the one before it), a page at a time
    for i in range(0, len(owed), PAGE):
        chunk = owed[i:i + PAGE]
        stats.acked += wordpress.ack(chunk, {n: owed_hashes[n] for n in chunk if n in owed_hashes})
        store.set_state(key, str(max(chunk)))
    return stats


class _Reader:
    """One request of the loop: acknowledge a recorded page, then read the next, with
    ``POST /events/pull``; on a plugin without that route, ``POST /events/ack`` then
    ``GET /events`` (pages of 500)."""

    def __init__(self, wordpress: WordPressApi, batch: int):
        self._wp = wordpress
        self._batch = batch
        self._legacy = False

    def __call__(self, after: int, ack: list[int], hashes: dict[int, str]) -> tuple[list[Event], int, int]:
        if not self._legacy:
            try:
                return self._wp.pull(after, self._batch, ack, hashes)
            except errors.NotFound as exc:
                if exc.code != "rest_no_route":
                    raise
                self._legacy = True  # a plugin before issue 17.6: nothing was acknowledged
        acked = self._wp.ack(ack, hashes) if ack else 0
        events, pending = self._wp.events(after, min(self._batch, LEGACY_PAGE))
        return events, pending, acked


def _record(site: str, events: list[Event], store: Store, planner: Planner, secret: str,
            clock: Callable[[], datetime], stats: IngestStats) -> dict[int, str]:
    """Plan a page of events and record the plans; the keyed hash of each event's email."""
    hashes: dict[int, str] = {}
    cursor = store.get_cursor(site)
    planned: list[PlannedEvent] = []
    for event in events:
        # the planner hashes the email once for the acknowledgement and the event's plan
        digest = planner.event_hash(event) if secret == planner.secret else _event_hash(event, secret)
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
    planner.forget()
    stats.requests += len(store.ingest_many(site, planned))
    return hashes


def _event_hash(event: Event, secret: str) -> str | None:
    value = event.payload.get("email") if isinstance(event.payload, dict) else None
    return email_hash(secret, value) if isinstance(value, str) and is_email(value) else None


def _redact(note: str) -> str:
    """A person's note may name someone: no plain email reaches the audit log."""
    import re

    from ..identity import redact_email

    return re.sub(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+", lambda m: redact_email(m.group(0)), note)
