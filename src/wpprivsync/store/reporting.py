"""Reporting: queue depth, dead steps, counts, overdue requests."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from . import schema
from .api import (
    CANCELLED,
    DEAD,
    DONE,
    FAILED,
    OPEN,
    PENDING,
    RESIDUE_OPEN,
    RUNNING,
    STEP_DONE,
    Request,
    Step,
)
from .base import _A, _LIVE, _R, _S, SqlBase, _operation, _parse_sqlite_time, _request, _step


class ReportingRoom(SqlBase):
    """Reporting: queue depth, dead steps, counts, overdue requests."""

    # -- reporting ------------------------------------------------------------------------
    @_operation
    def queue_depth(self, site: str | None = None) -> int:
        q = (sa.select(sa.func.count()).select_from(_S.join(_R, _R.c.id == _S.c.request_id))
             .where(_S.c.status.in_((PENDING, RUNNING)), _R.c.status.in_(_LIVE)))
        if site is not None:
            q = q.where(_S.c.site == site)
        with self._tx(write=False) as conn:
            return int(conn.execute(q).scalar_one())

    @_operation
    def dead_steps(self, site: str | None = None, limit: int = 100) -> list[Step]:
        q = (sa.select(_S).join(_R, _R.c.id == _S.c.request_id)
             .where(_S.c.status == DEAD, _R.c.status.in_(_LIVE)))
        if site is not None:
            q = q.where(_S.c.site == site)
        with self._tx(write=False) as conn:
            return [_step(r) for r in conn.execute(q.order_by(_S.c.updated_at.desc(), _S.c.id.desc()).limit(limit))]

    @_operation
    def counts(self) -> dict[str, int]:
        """Requests by status (``requests_open`` ...), steps by status (``steps_pending`` ...;
        steps of cancelled or finished requests excluded from pending/running), plus
        ``suppressed`` and ``audit_entries``. Every key is present."""
        out = {f"requests_{s}": 0 for s in (OPEN, DONE, FAILED, CANCELLED)}
        out.update({f"steps_{s}": 0 for s in (PENDING, RUNNING, STEP_DONE, DEAD)})
        with self._tx(write=False) as conn:
            for status, n in conn.execute(sa.select(_R.c.status, sa.func.count()).group_by(_R.c.status)):
                out[f"requests_{status}"] = int(n)
            q = (sa.select(_S.c.status, sa.func.count()).select_from(_S.join(_R, _R.c.id == _S.c.request_id))
                 .where(sa.or_(_R.c.status.in_(_LIVE), _S.c.status == STEP_DONE)).group_by(_S.c.status))
            for status, n in conn.execute(q):
                out[f"steps_{status}"] = int(n)
            out["suppressed"] = int(conn.execute(sa.select(sa.func.count()).select_from(schema.suppression)).scalar_one())
            out["audit_entries"] = int(conn.execute(sa.select(sa.func.count()).select_from(_A)).scalar_one())
            out["residues_open"] = int(conn.execute(sa.select(sa.func.count()).select_from(schema.residues).where(
                schema.residues.c.status == RESIDUE_OPEN)).scalar_one())
        return out

    @_operation
    def count_requests(self, *, site: str | None = None, status: str | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(_R)
        if site is not None:
            q = q.where(_R.c.site == site)
        if status is not None:
            q = q.where(_R.c.status == status)
        with self._tx(write=False) as conn:
            return int(conn.execute(q).scalar_one())

    @_operation
    def oldest_open_request_age(self, now: datetime, site: str | None = None) -> timedelta | None:
        """Age of the oldest request not yet answered (open or failed), None if there is none."""
        q = sa.select(sa.func.min(_R.c.received_at)).where(_R.c.status.in_(_LIVE))
        if site is not None:
            q = q.where(_R.c.site == site)
        with self._tx(write=False) as conn:
            oldest = conn.execute(q).scalar()
        if oldest is None:
            return None
        if not isinstance(oldest, datetime) or oldest.tzinfo is None:
            oldest = _parse_sqlite_time(oldest)  # in case a backend hands back min() untyped
        return now - oldest

    @_operation
    def overdue_requests(self, now: datetime, limit: int = 100) -> list[Request]:
        """Requests not yet answered whose due date has passed, most overdue first."""
        q = (sa.select(_R).where(_R.c.status.in_(_LIVE), _R.c.due_at < now)
             .order_by(_R.c.due_at, _R.c.id).limit(limit))
        with self._tx(write=False) as conn:
            return [_request(r) for r in conn.execute(q)]
