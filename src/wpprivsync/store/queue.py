"""The job queue: due steps claimed with leases, finished, failed, retried, released;
requests cancelled."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from .api import (
    CANCELLED,
    DEAD,
    FAILED,
    OPEN,
    PENDING,
    RUNNING,
    STEP_DONE,
    AuditEntry,
    FinishedStep,
    Step,
)
from .audit import AuditRoom
from .base import (
    _CLOSE_FINISHED,
    _EXPIRED_EVERY,
    _HELD_STEPS,
    _LEASE_STEPS,
    _LIVE,
    _MARK_DONE,
    _MAX_ERROR,
    _R,
    _REQUEST_OF_STEPS,
    _S,
    _STEPS_BY_ID,
    _operation,
    _step,
)


@functools.lru_cache(maxsize=32)
def _claimable_cached(systems: tuple[str, ...] | None) -> sa.Select[Any]:
    """The claim query is built once per set of systems: its table aliases are costly to
    construct (most of a claim's CPU time when built on every call)."""
    return QueueRoom._claimable(systems)


@functools.lru_cache(maxsize=32)
def _pick_statements(status: str, priority: int | None, systems: tuple[str, ...] | None
                     ) -> tuple[sa.Select[Any], sa.Select[Any], sa.Select[Any]]:
    """The three statements of a claim's pick, built once per (status, priority, systems):
    the first page of candidates, the pages after it (from ``after_when``, ``after_id``), and
    the lock of the claimable ones among a page's ``ids``. Building them on every claim was a
    fifth of the worker's CPU time in the footprint profile; values are bound parameters."""
    when = _S.c.next_attempt_at if status == PENDING else _S.c.lease_until
    now = sa.bindparam("now", type_=when.type)
    cand = sa.select(_S.c.id, when).where(_S.c.status == status, when <= now)
    if priority is not None:
        cand = cand.where(_S.c.priority == priority)
    if systems is not None:
        cand = cand.where(_S.c.system.in_(list(systems)))
    after_when, after_id = sa.bindparam("after_when", type_=when.type), sa.bindparam("after_id", type_=sa.Integer)
    page = sa.bindparam("page", type_=sa.Integer)
    first = cand.order_by(when, _S.c.id).limit(page)
    following = cand.where(sa.or_(when > after_when, sa.and_(when == after_when, _S.c.id > after_id))
                           ).order_by(when, _S.c.id).limit(page)
    chosen = _claimable_cached(systems).where(
        _S.c.id.in_(sa.bindparam("ids", expanding=True)), _S.c.status == status, when <= now)
    if priority is not None:
        chosen = chosen.where(_S.c.priority == priority)
    chosen = chosen.order_by(when, _S.c.id).limit(sa.bindparam("n", type_=sa.Integer)).with_for_update(
        skip_locked=True, of=_S)
    return first, following, chosen


class QueueRoom(AuditRoom):
    """The job queue: due steps claimed with leases, finished, failed, retried, released;
    requests cancelled."""

    # -- work -----------------------------------------------------------------------------
    @staticmethod
    def _claimable(systems: Iterable[str] | None) -> sa.Select[Any]:
        """Steps that may run now, status and due time aside: their request is open or failed,
        every lower-position step of the request is done, and no earlier request of the same
        person still has work queued or running (one person's requests run in the order they
        were received, then recorded: an erasure is never overtaken by the subscribe before
        it). Dead steps block neither."""
        earlier = _S.alias("earlier")
        blocked = sa.select(earlier.c.id).where(
            earlier.c.request_id == _S.c.request_id, earlier.c.position < _S.c.position,
            earlier.c.status != STEP_DONE).exists()
        prior_req, prior_step = _R.alias("prior_req"), _S.alias("prior_step")
        prior_work = sa.select(prior_step.c.id).where(
            prior_step.c.request_id == prior_req.c.id, prior_step.c.status.in_((PENDING, RUNNING))).exists()
        # Driven from the person's requests (index on email_hash), not from all queued steps.
        person_busy = sa.select(prior_req.c.id).where(
            prior_req.c.email_hash == _R.c.email_hash, prior_req.c.site == _R.c.site,
            sa.or_(prior_req.c.received_at < _R.c.received_at,
                   sa.and_(prior_req.c.received_at == _R.c.received_at, prior_req.c.id < _R.c.id)),
            prior_req.c.status.in_(_LIVE), prior_work).exists()
        q = (sa.select(_S.c.id).join(_R, _R.c.id == _S.c.request_id)
             .where(_R.c.status.in_(_LIVE), ~blocked, ~person_busy))
        if systems is not None:
            q = q.where(_S.c.system.in_(list(systems)))
        return q

    @staticmethod
    def _pick(conn: sa.Connection, status: str, now: datetime, limit: int, systems: tuple[str, ...] | None,
              priorities: tuple[int, ...] = (0, 1)) -> list[int]:
        """Lock up to ``limit`` claimable steps with ``status`` and their time (next attempt,
        or lease end) ``<= now``, oldest first. Reads candidates a page at a time in index order
        (status, time, id) and checks only that page, so a claim costs the same with ten or a
        hundred thousand steps queued, whatever the planner's statistics say."""
        page = max(2 * limit, 16)
        picked: list[int] = []
        # pending steps: one pass per priority, urgent first (index (status, priority, due, id));
        # expired leases: one pass over all, they are rare
        for priority in (priorities if status == PENDING else (None,)):
            first, following, chosen_q = _pick_statements(status, priority, systems)
            params: dict[str, Any] = {"now": now, "page": page}
            statement = first
            while len(picked) < limit:
                rows = conn.execute(statement, params).all()
                if not rows:
                    break
                chosen = conn.execute(chosen_q, {"ids": [r[0] for r in rows], "now": now, "n": limit - len(picked)})
                picked += chosen.scalars()
                if len(rows) < page:
                    break
                statement = following
                params = {"now": now, "page": page, "after_when": rows[-1][1], "after_id": rows[-1][0]}
        return picked

    @_operation
    def claim_steps(self, worker: str, now: datetime, *, limit: int = 10, lease_s: float = 60,
                    systems: Iterable[str] | None = None, urgent_only: bool = False) -> list[Step]:
        # Expired leases (a worker died) are rare: look for them at most once a second of the
        # callers' clock, not on every claim of a busy worker.
        look_for_expired = self._expired_checked_at is None or now - self._expired_checked_at >= _EXPIRED_EVERY \
            or now < self._expired_checked_at
        wanted = None if systems is None else tuple(sorted(set(systems)))  # read once, the statements' key
        with self._tx(write=True) as conn:
            ids: list[int] = []
            if look_for_expired and not urgent_only:
                ids = self._pick(conn, RUNNING, now, limit, wanted)
                if len(ids) < limit:  # all found; with a full page there may be more: look again
                    self._expired_checked_at = now
            if len(ids) < limit:
                ids += self._pick(conn, PENDING, now, limit - len(ids), wanted,
                                  priorities=(0,) if urgent_only else (0, 1))
            if not ids:
                return []
            conn.execute(_LEASE_STEPS, {"ids": ids, "worker": worker, "until": now + timedelta(seconds=lease_s),
                                        "now": now})
            rows = {r.id: _step(r) for r in conn.execute(_STEPS_BY_ID, {"ids": ids})}
            return [rows[i] for i in ids]

    @_operation
    def finish_step(self, step_id: int, worker: str, now: datetime, *, result: dict[str, Any],
                    audit: Sequence[AuditEntry] = (), suppress: tuple[str, str, str] | None = None) -> bool:
        with self._tx(write=True) as conn:
            return self._finish(conn, worker, now, [FinishedStep(step_id, result, audit, suppress)])[0]

    @_operation
    def finish_steps(self, worker: str, now: datetime, finished: Sequence[FinishedStep]) -> list[bool]:
        if not finished:
            return []
        with self._tx(write=True) as conn:
            return self._finish(conn, worker, now, finished)

    def _finish(self, conn: sa.Connection, worker: str, now: datetime,
                finished: Sequence[FinishedStep]) -> list[bool]:
        """Mark the steps done (those whose lease ``worker`` still holds), write their audit
        entries, then close every request of theirs that has no unfinished step left."""
        ids = [f.step_id for f in finished]
        request_of = dict(conn.execute(_REQUEST_OF_STEPS, {"ids": ids}).all())
        if self.backend != "sqlite":  # SQLite's write transaction already holds the whole database
            self._lock_requests(conn, request_of.values())
        # the steps whose lease this worker still holds (locked: nobody takes them from here on)
        held_ids = set(conn.execute(_HELD_STEPS, {"ids": ids, "worker": worker}).scalars())
        mine = [f for f in finished if f.step_id in held_ids]
        new_hashes = self._suppress_many(conn, [f.suppress for f in mine if f.suppress is not None], now)
        rows = []
        for f in mine:
            result = dict(f.result)
            if f.suppress is not None:
                result["new"] = (f.suppress[0], f.suppress[1]) in new_hashes
            rows.append({"sid": f.step_id, "res": result, "now": now})
        if rows:
            conn.execute(_MARK_DONE, rows)
        held = [f.step_id in held_ids for f in finished]
        closing = {request_of[f.step_id] for f in mine}
        audit_rows = [(e, request_of[f.step_id], f.step_id) for f in mine for e in f.audit]
        if audit_rows:
            self._insert_audit_rows(conn, audit_rows, now)
        if closing:
            conn.execute(_CLOSE_FINISHED, {"ids": sorted(closing), "now": now})
        return held

    @_operation
    def release_steps(self, worker: str, step_ids: Sequence[int], now: datetime) -> int:
        if not step_ids:
            return 0
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(_S).where(
                _S.c.id.in_(list(step_ids)), _S.c.lease_owner == worker, _S.c.status == RUNNING,
            ).values(status=PENDING, next_attempt_at=now, lease_owner=None, lease_until=None, updated_at=now))
            return int(done.rowcount)

    @_operation
    def fail_step(self, step_id: int, worker: str, now: datetime, *, error: str,
                  retry_at: datetime | None) -> bool:
        values: dict[str, Any] = dict(attempts=_S.c.attempts + 1, last_error=error[:_MAX_ERROR],
                                      lease_owner=None, lease_until=None, updated_at=now)
        if retry_at is None:
            values["status"] = DEAD
        else:
            values.update(status=PENDING, next_attempt_at=retry_at)
        with self._tx(write=True) as conn:
            request_id = self._lock_request_of(conn, step_id)
            if request_id is None:
                return False
            held = conn.execute(sa.update(_S).where(
                _S.c.id == step_id, _S.c.lease_owner == worker, _S.c.status == RUNNING).values(**values))
            if held.rowcount != 1:
                return False
            if retry_at is None:
                conn.execute(sa.update(_R).where(_R.c.id == request_id, _R.c.status == OPEN).values(status=FAILED))
            return True

    @_operation
    def defer_step(self, step_id: int, worker: str, now: datetime, *, retry_at: datetime, note: str) -> bool:
        """Give a running step back to run again at ``retry_at``, without counting an attempt."""
        with self._tx(write=True) as conn:
            held = conn.execute(sa.update(_S).where(
                _S.c.id == step_id, _S.c.lease_owner == worker, _S.c.status == RUNNING).values(
                status=PENDING, next_attempt_at=retry_at, last_error=note[:_MAX_ERROR], lease_owner=None,
                lease_until=None, updated_at=now))
            return held.rowcount == 1

    @_operation
    def renew_leases(self, worker: str, step_ids: Sequence[int], now: datetime, lease_s: float) -> int:
        if not step_ids:
            return 0
        with self._tx(write=True) as conn:
            done = conn.execute(sa.update(_S).where(
                _S.c.id.in_(list(step_ids)), _S.c.lease_owner == worker, _S.c.status == RUNNING,
                _S.c.lease_until > now).values(lease_until=now + timedelta(seconds=lease_s)))
            return int(done.rowcount)

    @staticmethod
    def _lock_requests(conn: sa.Connection, request_ids: Iterable[int]) -> None:
        """Lock request rows (in id order) before touching their steps. Every writer that
        changes a request and its steps takes the request first, so on PostgreSQL two workers
        finishing the last two steps of a request see each other's step (the second one closes
        the request) and never deadlock. On SQLite the write transaction already serialises."""
        ids = sorted(set(request_ids))
        if ids:
            conn.execute(sa.select(_R.c.id).where(_R.c.id.in_(ids)).order_by(_R.c.id).with_for_update())

    @staticmethod
    def _lock_request_of(conn: sa.Connection, step_id: int) -> int | None:
        """Lock the request of step ``step_id`` (see ``_lock_requests``); returns its id."""
        return conn.execute(sa.select(_R.c.id).join(_S, _S.c.request_id == _R.c.id).where(_S.c.id == step_id)
                            .with_for_update(of=_R)).scalar()

    def _revive(self, conn: sa.Connection, step_ids: list[int], now: datetime) -> int:
        if not step_ids:
            return 0
        self._lock_requests(conn, conn.execute(sa.select(_S.c.request_id).where(_S.c.id.in_(step_ids))).scalars())
        revived = conn.execute(sa.update(_S).where(_S.c.id.in_(step_ids), _S.c.status == DEAD).values(
            status=PENDING, attempts=0, next_attempt_at=now, lease_owner=None, lease_until=None,
            updated_at=now)).rowcount
        request_ids = set(conn.execute(sa.select(_S.c.request_id).where(_S.c.id.in_(step_ids))).scalars())
        for rid in sorted(request_ids):
            still_dead = conn.execute(sa.select(sa.func.count()).select_from(_S).where(
                _S.c.request_id == rid, _S.c.status == DEAD)).scalar_one()
            req = conn.execute(sa.select(_R.c.status, _R.c.site, _R.c.dedupe_key).where(_R.c.id == rid)).one()
            if still_dead or req.status != FAILED:
                continue
            if req.dedupe_key is not None:
                # A newer open request took the key while this one was failed: both run
                # (steps are idempotent), and this one gives the key up.
                taken = conn.execute(sa.select(_R.c.id).where(
                    _R.c.site == req.site, _R.c.dedupe_key == req.dedupe_key, _R.c.status == OPEN)).first()
                if taken is not None:
                    conn.execute(sa.update(_R).where(_R.c.id == rid).values(dedupe_key=None))
            conn.execute(sa.update(_R).where(_R.c.id == rid).values(status=OPEN))
        return int(revived)

    @_operation
    def retry_step(self, step_id: int, now: datetime) -> bool:
        with self._tx(write=True) as conn:
            ok = conn.execute(sa.select(_S.c.id).join(_R, _R.c.id == _S.c.request_id).where(
                _S.c.id == step_id, _S.c.status == DEAD, _R.c.status.in_(_LIVE))).first()
            return ok is not None and self._revive(conn, [step_id], now) == 1

    @_operation
    def retry_all_dead(self, now: datetime) -> int:
        with self._tx(write=True) as conn:
            ids = list(conn.execute(sa.select(_S.c.id).join(_R, _R.c.id == _S.c.request_id).where(
                _S.c.status == DEAD, _R.c.status.in_(_LIVE)).order_by(_S.c.id)).scalars())
            return self._revive(conn, ids, now)

    @_operation
    def cancel_request(self, request_id: int, now: datetime) -> bool:
        with self._tx(write=True) as conn:
            res = conn.execute(sa.update(_R).where(_R.c.id == request_id, _R.c.status.in_(_LIVE)).values(
                status=CANCELLED, completed_at=now, email=None))
            if res.rowcount != 1:
                return False
            conn.execute(sa.update(_S).where(_S.c.request_id == request_id, _S.c.status == RUNNING).values(
                status=PENDING, lease_owner=None, lease_until=None, updated_at=now))
            return True
