"""Requests and their steps, read back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from .api import (
    Request,
    Step,
)
from .base import _R, _REQUESTS_BY_ID, _S, SqlBase, _operation, _request, _step


class RequestsRoom(SqlBase):
    """Requests and their steps, read back."""

    # -- requests -------------------------------------------------------------------------
    @_operation
    def get_request(self, request_id: int) -> Request | None:
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(_R).where(_R.c.id == request_id)).first()
            return None if row is None else _request(row)

    @_operation
    def get_requests(self, request_ids: Iterable[int]) -> dict[int, Request]:
        ids = sorted(set(request_ids))
        out: dict[int, Request] = {}
        with self._tx(write=False) as conn:
            for i in range(0, len(ids), 500):
                for row in conn.execute(_REQUESTS_BY_ID, {"ids": ids[i:i + 500]}):
                    out[row.id] = _request(row)
        return out

    @_operation
    def list_requests(self, *, site: str | None = None, status: str | None = None,
                      due_before: datetime | None = None, action: str | None = None,
                      email_hash: str | None = None, source: str | None = None,
                      limit: int = 100, offset: int = 0) -> list[Request]:
        q = sa.select(_R)
        if site is not None:
            q = q.where(_R.c.site == site)
        if status is not None:
            q = q.where(_R.c.status == status)
        if due_before is not None:
            q = q.where(_R.c.due_at < due_before)
        if action is not None:
            q = q.where(_R.c.action == action)
        if email_hash is not None:
            q = q.where(_R.c.email_hash == email_hash)
        if source is not None:
            q = q.where(_R.c.source == source)
        q = q.order_by(_R.c.received_at.desc(), _R.c.id.desc()).limit(limit).offset(offset)
        with self._tx(write=False) as conn:
            return [_request(r) for r in conn.execute(q)]

    def recent_requests(self, limit: int = 20) -> list[Request]:
        return self.list_requests(limit=limit)

    @_operation
    def requests_for_hash(self, email_hash: str, site: str | None = None) -> list[Request]:
        q = sa.select(_R).where(_R.c.email_hash == email_hash)
        if site is not None:
            q = q.where(_R.c.site == site)
        with self._tx(write=False) as conn:
            return [_request(r) for r in conn.execute(q.order_by(_R.c.received_at, _R.c.id))]

    @_operation
    def steps_of(self, request_id: int) -> list[Step]:
        with self._tx(write=False) as conn:
            rows = conn.execute(sa.select(_S).where(_S.c.request_id == request_id).order_by(_S.c.position, _S.c.id))
            return [_step(r) for r in rows]

    @_operation
    def steps_of_many(self, request_ids: Iterable[int]) -> dict[int, list[Step]]:
        ids = sorted(set(int(i) for i in request_ids))
        out: dict[int, list[Step]] = {i: [] for i in ids}
        with self._tx(write=False) as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(sa.select(_S).where(_S.c.request_id.in_(ids[i:i + 500]))
                                    .order_by(_S.c.request_id, _S.c.position, _S.c.id))
                for r in rows:
                    out[r.request_id].append(_step(r))
        return out

    @_operation
    def requests_changed(self, site: str, since: datetime | None, after_id: int = 0,
                         limit: int = 500) -> list[Request]:
        q = sa.select(_R).where(_R.c.site == site, _R.c.id > int(after_id))
        if since is not None:
            touched = sa.select(_S.c.request_id).where(_S.c.site == site, _S.c.updated_at >= since)
            q = q.where(sa.or_(_R.c.received_at >= since, _R.c.completed_at >= since, _R.c.id.in_(touched)))
        with self._tx(write=False) as conn:
            return [_request(r) for r in conn.execute(q.order_by(_R.c.id).limit(int(limit)))]
