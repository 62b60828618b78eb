"""Outbox events in: each site's cursor, events recorded once, the requests and steps
they plan added (with their audit entries) in the same transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..errors import StoreError
from . import schema
from .api import (
    DONE,
    OPEN,
    PENDING,
    PRIORITY_ACTIONS,
    AuditEntry,
    NewRequest,
    PlannedEvent,
)
from .audit import AuditRoom
from .base import _R, _S, _insert_rows, _operation
from .consents import ConsentRoom
from .people import PeopleRoom


class IngestRoom(PeopleRoom, ConsentRoom, AuditRoom):
    """Outbox events in: each site's cursor, events recorded once, the requests and steps
    they plan added (with their audit entries) in the same transaction."""

    # -- events and cursors ---------------------------------------------------------------
    @_operation
    def get_cursor(self, site: str) -> int:
        with self._tx(write=False) as conn:
            found = conn.execute(sa.select(schema.cursors.c.event_id).where(schema.cursors.c.site == site)).scalar()
            return int(found or 0)

    @_operation
    def ingest(self, site: str, event_id: int, requests: Sequence[NewRequest],
               audit: Sequence[AuditEntry] = ()) -> list[int]:
        with self._tx(write=True) as conn:
            return self._ingest(conn, site, [PlannedEvent(event_id, requests, audit)])

    @_operation
    def ingest_many(self, site: str, events: Sequence[PlannedEvent]) -> list[int]:
        if not events:
            return []
        with self._tx(write=True) as conn:
            return self._ingest(conn, site, events)

    def _ingest(self, conn: sa.Connection, site: str, events: Sequence[PlannedEvent]) -> list[int]:
        ev = schema.events
        wanted = [e.event_id for e in events]
        seen = set(conn.execute(sa.select(ev.c.event_id).where(ev.c.site == site, ev.c.event_id.in_(wanted)))
                   .scalars())
        fresh = [e for e in events if e.event_id not in seen]
        now = self.clock()
        if fresh:
            _insert_rows(conn, ev, [dict(site=site, event_id=e.event_id, ingested_at=now) for e in fresh])
        ids = self._add_requests(conn, [(r, e.event_id) for e in fresh for r in e.requests])
        self._insert_audit_rows(conn, [(a, None, None) for e in fresh for a in e.audit], now)
        self._link_many(conn, [link for e in fresh for link in e.links], now)
        self._insert_consents(conn, [c for e in fresh for c in e.consents])
        if fresh:
            last = max(e.event_id for e in fresh)
            cur = schema.cursors
            old = conn.execute(sa.select(cur.c.event_id).where(cur.c.site == site)).scalar()
            if old is None:
                conn.execute(sa.insert(cur).values(site=site, event_id=last, updated_at=now))
            elif last > old:
                conn.execute(sa.update(cur).where(cur.c.site == site).values(event_id=last, updated_at=now))
        return ids

    @_operation
    def add_request(self, request: NewRequest) -> int:
        with self._tx(write=True) as conn:
            return self._add_request(conn, request)

    def _add_request(self, conn: sa.Connection, req: NewRequest, event_id: int | None = None) -> int:
        return self._add_requests(conn, [(req, event_id)])[0]

    def _add_requests(self, conn: sa.Connection, items: Sequence[tuple[NewRequest, int | None]]) -> list[int]:
        """Add requests (each with the event it came from), in order, with a few statements for
        the lot: one look for open requests holding their keys, one insert of the requests,
        one of their steps. A request whose key an open request holds (one already stored, or
        one earlier in ``items``) is merged into it: its id is returned and nothing added."""
        for req, _ in items:
            for s in req.steps:
                if not s.params:
                    continue
                try:
                    json.dumps(s.params)
                except (TypeError, ValueError):
                    raise StoreError(f"params of step {s.system}.{s.action} are not JSON data") from None
        holder: dict[tuple[str, str], int] = {}  # (site, key) -> id of the open request holding it
        keyed: dict[str, set[str]] = {}
        for req, _ in items:
            if req.dedupe_key is not None:
                keyed.setdefault(req.site, set()).add(req.dedupe_key)
        for site, keys in keyed.items():
            wanted = sorted(keys)
            for i in range(0, len(wanted), 500):
                rows = conn.execute(sa.select(_R.c.id, _R.c.dedupe_key).where(
                    _R.c.site == site, _R.c.dedupe_key.in_(wanted[i:i + 500]), _R.c.status == OPEN))
                holder.update({(site, key): rid for rid, key in rows})
        ids: list[int | None] = [None] * len(items)
        merged_into: dict[int, int] = {}  # index in items -> index of the new request it joins
        new: list[int] = []  # indexes of the requests to insert
        first_new: dict[tuple[str, str], int] = {}
        for i, (req, _) in enumerate(items):
            key = None if req.dedupe_key is None else (req.site, req.dedupe_key)
            if key is not None and key in holder:
                ids[i] = holder[key]
            elif key is not None and key in first_new:
                merged_into[i] = first_new[key]
            else:
                new.append(i)
                if key is not None and req.steps:  # a request without steps is done at once, never open
                    first_new[key] = i
        if new:
            new_rows: list[dict[str, Any]] = []
            for i in new:
                req, event_id = items[i]
                done = not req.steps  # nothing to do: answered at once
                new_rows.append(dict(
                    site=req.site, action=req.action, email=None if done else req.email, email_hash=req.email_hash,
                    source=req.source, status=DONE if done else OPEN, received_at=req.received_at,
                    due_at=req.due_at, completed_at=req.received_at if done else None,
                    event_id=req.event_id if req.event_id is not None else event_id, dedupe_key=req.dedupe_key))
            for i, rid in zip(new, self._insert_ids(conn, _R, new_rows)):
                ids[i] = int(rid)
            steps: list[dict[str, Any]] = []
            for i in new:
                req = items[i][0]
                owner, at, priority = ids[i], req.received_at, 0 if req.action in PRIORITY_ACTIONS else 1
                steps.extend(dict(request_id=owner, site=req.site, system=s.system, action=s.action,
                                  params=dict(s.params), position=s.position, status=PENDING, attempts=0,
                                  next_attempt_at=at, last_error=None, result=None, lease_owner=None,
                                  lease_until=None, updated_at=at, priority=priority) for s in req.steps)
            if steps:
                _insert_rows(conn, _S, steps)
        for i, j in merged_into.items():
            ids[i] = ids[j]
        return [int(rid) for rid in ids]  # type: ignore[arg-type]
