"""Manual tasks for systems without an API (an open task keeps its request open)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..errors import StoreError
from .api import (
    TASK_DONE,
    TASK_OPEN,
    TASK_WAIVED,
    AuditEntry,
    NewTask,
    Task,
)
from .audit import AuditRoom
from .base import _CLOSE_FINISHED, _T, _operation


class TasksRoom(AuditRoom):
    """Manual tasks for systems without an API (an open task keeps its request open)."""

    # -- manual tasks ---------------------------------------------------------------------
    @_operation
    def add_task(self, task: NewTask, now: datetime) -> tuple[int, bool]:
        if not task.what.strip() or not task.dedupe_key:
            raise StoreError("a task needs what to do and a dedupe key")
        with self._tx(write=True) as conn:
            found = conn.execute(sa.select(_T.c.id).where(_T.c.site == task.site,
                                                          _T.c.dedupe_key == task.dedupe_key)).scalar()
            if found is not None:
                return int(found), False
            new_id = conn.execute(sa.insert(_T).values(
                site=task.site, request_id=task.request_id, email_hash=task.email_hash, system=task.system,
                rule=task.rule, what=task.what, why=task.why, due_at=task.due_at, status=TASK_OPEN, note=None,
                detail=dict(task.detail), dedupe_key=task.dedupe_key, created_at=now,
                closed_at=None).returning(_T.c.id)).scalar_one()
            return int(new_id), True

    @staticmethod
    def _task(row: Any) -> Task:
        return Task(id=row.id, site=row.site, request_id=row.request_id, email_hash=row.email_hash,
                    system=row.system, rule=row.rule, what=row.what, why=row.why, due_at=row.due_at,
                    status=row.status, note=row.note, detail=dict(row.detail or {}), created_at=row.created_at,
                    closed_at=row.closed_at)

    @_operation
    def tasks(self, *, site: str | None = None, status: str | None = None, request_id: int | None = None,
              limit: int = 200) -> list[Task]:
        q = sa.select(_T)
        if site is not None:
            q = q.where(_T.c.site == site)
        if status is not None:
            q = q.where(_T.c.status == status)
        if request_id is not None:
            q = q.where(_T.c.request_id == request_id)
        with self._tx(write=False) as conn:
            return [self._task(r) for r in conn.execute(q.order_by(_T.c.due_at, _T.c.id).limit(limit))]

    @_operation
    def get_task(self, task_id: int) -> Task | None:
        with self._tx(write=False) as conn:
            row = conn.execute(sa.select(_T).where(_T.c.id == int(task_id))).first()
            return self._task(row) if row else None

    @_operation
    def close_task(self, task_id: int, now: datetime, *, status: str, note: str) -> bool:
        if status not in (TASK_DONE, TASK_WAIVED):
            raise StoreError(f"a task is closed as {TASK_DONE!r} or {TASK_WAIVED!r}, not {status!r}")
        if not note.strip():
            raise StoreError("closing a task needs a note (what was done, or why it is waived)")
        with self._tx(write=True) as conn:
            row = conn.execute(sa.select(_T).where(_T.c.id == int(task_id)).with_for_update()).first()
            if row is None or row.status != TASK_OPEN:
                return False
            conn.execute(sa.update(_T).where(_T.c.id == row.id).values(status=status, note=note[:2000],
                                                                       closed_at=now))
            self._insert_audit_rows(conn, [(AuditEntry(
                site=row.site, email_hash=row.email_hash, system=row.system, action=f"task_{status}",
                reason=row.why, request_id=row.request_id,
                detail={"task_id": row.id, "what": row.what, "note": note[:2000]}, at=now), None, None)], now)
            if row.request_id is not None:
                conn.execute(_CLOSE_FINISHED, {"ids": [row.request_id], "now": now})
            return True

    @_operation
    def overdue_tasks(self, now: datetime, site: str | None = None) -> list[Task]:
        q = sa.select(_T).where(_T.c.status == TASK_OPEN, _T.c.due_at < now)
        if site is not None:
            q = q.where(_T.c.site == site)
        with self._tx(write=False) as conn:
            return [self._task(r) for r in conn.execute(q.order_by(_T.c.due_at, _T.c.id).limit(500))]
