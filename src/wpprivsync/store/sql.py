"""``SqlStore``: the one implementation of ``api.Store``, for SQLite and PostgreSQL.

One code path for both backends (SQLAlchemy Core). What differs is set up once in
``_engine_for``:

* SQLite (``sqlite:///PATH``): WAL journal, a busy timeout, foreign keys on. pysqlite's own
  transaction handling is switched off and every transaction is begun here: ``BEGIN
  IMMEDIATE`` for a write (one writer at a time across threads and processes, so
  select-then-update is atomic), plain ``BEGIN`` for a read (WAL readers never wait).
* PostgreSQL (``postgresql://USER:PASSWORD@HOST:PORT/DB``, psycopg 3 driver): claims use
  ``SELECT ... FOR UPDATE SKIP LOCKED`` (rendered to nothing on SQLite); migrations take an
  advisory lock.

Every public method is one transaction. SQLAlchemy and driver exceptions become ``StoreError``
in ``_operation`` (one boundary); messages name the store (password masked) and the reason,
never SQL parameters (they could hold an email).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from ..errors import StoreError
from . import migrations, schema
from .api import (
    CANCELLED,
    PRIORITY_ACTIONS,
    DEAD,
    DONE,
    FAILED,
    OPEN,
    PENDING,
    RUNNING,
    STEP_DONE,
    TASK_DONE,
    TASK_OPEN,
    TASK_WAIVED,
    Audit,
    AuditEntry,
    FinishedStep,
    NewRequest,
    PlannedEvent,
    Request,
    Step,
    Task,
    NewTask,
)

T = TypeVar("T")
log = logging.getLogger(__name__)
_R, _S, _A, _T = schema.requests, schema.steps, schema.audit, schema.tasks
_LIVE = (OPEN, FAILED)  # requests whose steps may still run
_MAX_ERROR = 2000
_ATTEMPTS = 3  # a unique-key race or a PostgreSQL deadlock is retried this many times


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _operation(fn: Callable[..., T]) -> Callable[..., T]:
    """The error boundary: runs one store method (one transaction), retries it after a
    unique-key race or a deadlock, converts everything else to StoreError."""

    @functools.wraps(fn)
    def wrapper(self: "SqlStore", *args: Any, **kwargs: Any) -> T:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return fn(self, *args, **kwargs)
            except StoreError:
                raise
            except sa_exc.StatementError as exc:
                if isinstance(exc.orig, StoreError):  # raised by a bind processor (naive datetime)
                    raise exc.orig from None
                if attempt < _ATTEMPTS and _is_race(exc):
                    continue
                raise self._store_error(exc, fn.__name__) from None
            except (sa_exc.SQLAlchemyError, OSError) as exc:
                raise self._store_error(exc, fn.__name__) from None
        raise AssertionError("unreachable")

    return wrapper


def _is_race(exc: sa_exc.StatementError) -> bool:
    if isinstance(exc, sa_exc.IntegrityError):
        return True
    code = getattr(exc.orig, "sqlstate", None)  # psycopg: deadlock, serialization failure
    return code in {"40P01", "40001"}


_EXPIRED_EVERY = timedelta(seconds=1)

# The statements of the hot path (claiming, recording), built once: building one costs about as
# much CPU as running it.
_IDS = sa.bindparam("ids", expanding=True)
_MARK_DONE = sa.update(_S).where(_S.c.id == sa.bindparam("sid")).values(  # one executemany for a batch
    status=STEP_DONE, result=sa.bindparam("res"), lease_owner=None, lease_until=None, updated_at=sa.bindparam("now"))
_REQUEST_OF_STEPS = sa.select(_S.c.id, _S.c.request_id).where(_S.c.id.in_(_IDS))
_HELD_STEPS = sa.select(_S.c.id).where(
    _S.c.id.in_(_IDS), _S.c.lease_owner == sa.bindparam("worker"), _S.c.status == RUNNING).with_for_update()
_CLOSE_FINISHED = sa.update(_R).where(
    _R.c.id.in_(_IDS), _R.c.status == OPEN,
    ~sa.select(_S.c.id).where(_S.c.request_id == _R.c.id, _S.c.status != STEP_DONE).exists(),
    ~sa.select(_T.c.id).where(_T.c.request_id == _R.c.id, _T.c.status == TASK_OPEN).exists(),
).values(status=DONE, completed_at=sa.bindparam("now"), email=None)
_LEASE_STEPS = sa.update(_S).where(_S.c.id.in_(_IDS)).values(
    status=RUNNING, lease_owner=sa.bindparam("worker"), lease_until=sa.bindparam("until"),
    updated_at=sa.bindparam("now"))
_STEPS_BY_ID = sa.select(_S).where(_S.c.id.in_(_IDS))
_REQUESTS_BY_ID = sa.select(_R).where(_R.c.id.in_(_IDS))


@functools.lru_cache(maxsize=32)
def _claimable_cached(systems: tuple[str, ...] | None) -> sa.Select[Any]:
    """The claim query is built once per set of systems: its table aliases are costly to
    construct (most of a claim's CPU time when built on every call)."""
    return SqlStore._claimable(systems)


class SqlStore:
    """The store on SQLite (default) or PostgreSQL. ``clock`` fills audit times the caller left
    empty and state timestamps."""

    def __init__(self, url: str, *, busy_timeout_s: float = 30.0, connect_timeout_s: float = 10.0,
                 clock: Callable[[], datetime] = _utcnow):
        self._url = _parse_url(url)
        self.backend = self._url.get_backend_name()
        self.clock = clock
        self.busy_timeout_s = busy_timeout_s
        self.path: Path | None = None
        if self.backend == "sqlite":
            self.path = _prepare_sqlite_path(self._url)
        self.where = self._describe_location()
        try:
            self.engine = _engine_for(self._url, busy_timeout_s=busy_timeout_s, connect_timeout_s=connect_timeout_s)
        except ImportError:
            raise StoreError(f"{self.where}: the PostgreSQL driver is not installed; install wpprivsync with "
                             "the postgres extra (pip install 'wpprivsync[postgres]')") from None
        self._expired_checked_at: datetime | None = None

    def __repr__(self) -> str:
        return f"SqlStore({self.where})"

    # -- plumbing -------------------------------------------------------------------------
    def _describe_location(self) -> str:
        if self.path is not None:
            return f"SQLite database {self.path}"
        u = self._url
        where = f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"
        return f"PostgreSQL {where} as {u.username or 'default user'}"

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[sa.Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(wpprivsync_write=write)
            with conn.begin():
                yield conn

    def _store_error(self, exc: BaseException, operation: str) -> StoreError:
        orig = getattr(exc, "orig", None) or exc
        lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
        text = " ".join(lines[:2]) if lines else type(orig).__name__
        low = text.lower()
        if self.backend == "sqlite":
            if "unable to open database file" in low:
                reason = "cannot open the file (does its directory exist, and is it writable?)"
            elif "readonly database" in low or "read-only" in low:
                reason = "the file or its directory is read-only"
            elif "database is locked" in low or "database is busy" in low:
                reason = f"another process kept the database locked for more than {self.busy_timeout_s:g} s"
            elif "file is not a database" in low:
                reason = "the file is not an SQLite database"
            else:
                reason = text
        elif isinstance(exc, sa_exc.OperationalError) and ("connect" in low or "connection" in low):
            reason = f"cannot connect: {text}"
        else:
            reason = text
        message = f"{self.where}: {operation} failed: {reason}"
        if self._url.password:
            message = message.replace(str(self._url.password), "********")
        return StoreError(message)

    # -- lifecycle ------------------------------------------------------------------------
    @_operation
    def migrate(self) -> int:
        with self._tx(write=True) as conn:
            found = migrations.current_version(conn)
            if found > migrations.LATEST:
                raise StoreError(f"{self.where}: schema version {found} is newer than this wpprivsync "
                                 f"knows (up to {migrations.LATEST}); upgrade wpprivsync")
            return migrations.apply(conn)

    @_operation
    def migrate_to(self, version: int) -> int:
        """Apply migrations up to ``version`` only (for tests of the migrations themselves)."""
        with self._tx(write=True) as conn:
            return migrations.apply(conn, target=version)

    @_operation
    def schema_version(self) -> int:
        with self._tx(write=False) as conn:
            return migrations.current_version(conn)

    def close(self) -> None:
        self.checkpoint()
        self.engine.dispose()

    def checkpoint(self) -> bool:
        """SQLite: copy the write-ahead log into the database and truncate it to zero bytes, so
        the emails of finished requests it still held are gone from disk (the database pages
        themselves are zeroed by ``secure_delete``). True when the log was emptied; False when
        another connection was still reading it (the next checkpoint does it). PostgreSQL:
        nothing to do, True. Never raises: a missed checkpoint is retried later."""
        if self.backend != "sqlite":
            return True
        try:
            raw = self.engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
            try:
                cur = raw.cursor()
                busy, _log, _done = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                cur.close()
            finally:
                raw.close()
            return not busy
        except (sa_exc.SQLAlchemyError, sqlite3.Error) as exc:
            log.debug("checkpoint skipped", extra={"error": str(exc)})
            return False

    @_operation
    def check_writable(self) -> None:
        if self.path is not None:
            folder = self.path.parent
            if not folder.is_dir():
                raise StoreError(f"{self.where}: directory {folder} does not exist")
            if not os.access(folder, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
                raise StoreError(f"{self.where}: not writable by this user")
        with self.engine.connect() as conn:
            conn.execution_options(wpprivsync_write=True)
            trans = conn.begin()
            try:
                conn.execute(sa.insert(schema.state).values(
                    key="wpprivsync.writable-check", value="", updated_at=self.clock()))
            finally:
                trans.rollback()

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
            conn.execute(sa.insert(ev), [dict(site=site, event_id=e.event_id, ingested_at=now) for e in fresh])
        ids = self._add_requests(conn, [(r, e.event_id) for e in fresh for r in e.requests])
        self._insert_audit_rows(conn, [(a, None, None) for e in fresh for a in e.audit], now)
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
            rows = []
            for i in new:
                req, event_id = items[i]
                done = not req.steps  # nothing to do: answered at once
                rows.append(dict(
                    site=req.site, action=req.action, email=None if done else req.email, email_hash=req.email_hash,
                    source=req.source, status=DONE if done else OPEN, received_at=req.received_at,
                    due_at=req.due_at, completed_at=req.received_at if done else None,
                    event_id=req.event_id if req.event_id is not None else event_id, dedupe_key=req.dedupe_key))
            inserted = conn.execute(sa.insert(_R).returning(_R.c.id, sort_by_parameter_order=True), rows).scalars()
            for i, rid in zip(new, inserted):
                ids[i] = int(rid)
            steps = [dict(request_id=ids[i], site=items[i][0].site, system=s.system, action=s.action,
                          params=dict(s.params), position=s.position, status=PENDING, attempts=0,
                          next_attempt_at=items[i][0].received_at, last_error=None, result=None,
                          lease_owner=None, lease_until=None, updated_at=items[i][0].received_at,
                          priority=0 if items[i][0].action in PRIORITY_ACTIONS else 1)
                     for i in new for s in items[i][0].steps]
            if steps:
                conn.execute(sa.insert(_S), steps)
        for i, j in merged_into.items():
            ids[i] = ids[j]
        return [int(rid) for rid in ids]  # type: ignore[arg-type]

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
    def _pick(conn: sa.Connection, claimable: sa.Select[Any], status: str, when: sa.Column[Any], now: datetime,
              limit: int, systems: Iterable[str] | None) -> list[int]:
        """Lock up to ``limit`` claimable steps with ``status`` and ``when <= now``, oldest
        first. Reads candidates a page at a time in index order (status, when, id) and checks
        only that page, so a claim costs the same with ten or a hundred thousand steps queued,
        whatever the planner's statistics say."""
        page = max(2 * limit, 16)
        picked: list[int] = []
        # pending steps: one pass per priority, urgent first (index (status, priority, due, id));
        # expired leases: one pass over all, they are rare
        for priority in ((0, 1) if status == PENDING else (None,)):
            after: tuple[datetime, int] | None = None
            while len(picked) < limit:
                cand = sa.select(_S.c.id, when).where(_S.c.status == status, when <= now)
                if priority is not None:
                    cand = cand.where(_S.c.priority == priority)
                if systems is not None:
                    cand = cand.where(_S.c.system.in_(list(systems)))
                if after is not None:
                    cand = cand.where(sa.or_(when > after[0], sa.and_(when == after[0], _S.c.id > after[1])))
                rows = conn.execute(cand.order_by(when, _S.c.id).limit(page)).all()
                if not rows:
                    break
                chosen_q = claimable.where(_S.c.id.in_([r[0] for r in rows]), _S.c.status == status, when <= now)
                if priority is not None:
                    chosen_q = chosen_q.where(_S.c.priority == priority)
                chosen = conn.execute(
                    chosen_q.order_by(when, _S.c.id).limit(limit - len(picked)).with_for_update(skip_locked=True, of=_S))
                picked += chosen.scalars()
                if len(rows) < page:
                    break
                after = (rows[-1][1], rows[-1][0])
        return picked

    @_operation
    def claim_steps(self, worker: str, now: datetime, *, limit: int = 10, lease_s: float = 60,
                    systems: Iterable[str] | None = None) -> list[Step]:
        claimable = _claimable_cached(None if systems is None else tuple(sorted(systems)))
        # Expired leases (a worker died) are rare: look for them at most once a second of the
        # callers' clock, not on every claim of a busy worker.
        look_for_expired = self._expired_checked_at is None or now - self._expired_checked_at >= _EXPIRED_EVERY \
            or now < self._expired_checked_at
        with self._tx(write=True) as conn:
            ids: list[int] = []
            if look_for_expired:
                ids = self._pick(conn, claimable, RUNNING, _S.c.lease_until, now, limit, systems)
                if len(ids) < limit:  # all found; with a full page there may be more: look again
                    self._expired_checked_at = now
            if len(ids) < limit:
                ids += self._pick(conn, claimable, PENDING, _S.c.next_attempt_at, now, limit - len(ids), systems)
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

    # -- audit and suppression ------------------------------------------------------------
    @staticmethod
    def _insert_audit_rows(conn: sa.Connection, entries: Sequence[tuple[AuditEntry, int | None, int | None]],
                           now: datetime) -> None:
        """Audit entries with the request and step each belongs to (unless it names its own)."""
        if not entries:
            return
        rows = []
        for e, request_id, step_id in entries:
            try:
                json.dumps(e.detail)
            except (TypeError, ValueError):
                raise StoreError(f"detail of the audit entry {e.system}.{e.action} is not JSON data") from None
            rows.append(dict(
                at=e.at or now, site=e.site, email_hash=e.email_hash, system=e.system, action=e.action,
                items_removed=e.items_removed, items_retained=e.items_retained, retained_until=e.retained_until,
                reason=e.reason, request_id=e.request_id if e.request_id is not None else request_id,
                step_id=e.step_id if e.step_id is not None else step_id, detail=dict(e.detail)))
        conn.execute(sa.insert(_A), rows)

    @_operation
    def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        with self._tx(write=True) as conn:
            self._insert_audit_rows(conn, [(e, None, None) for e in entries], self.clock())

    @_operation
    def audit(self, *, email_hash: str | None = None, site: str | None = None,
              request_id: int | None = None, limit: int = 200) -> list[Audit]:
        """The newest ``limit`` entries matching, in the order they were written."""
        q = sa.select(_A)
        if email_hash is not None:
            q = q.where(_A.c.email_hash == email_hash)
        if site is not None:
            q = q.where(_A.c.site == site)
        if request_id is not None:
            q = q.where(_A.c.request_id == request_id)
        with self._tx(write=False) as conn:
            rows = list(conn.execute(q.order_by(_A.c.id.desc()).limit(limit)))
        return [_audit(r) for r in reversed(rows)]

    @_operation
    def suppress(self, site: str, email_hash: str, reason: str, now: datetime) -> bool:
        with self._tx(write=True) as conn:
            return self._suppress(conn, site, email_hash, reason, now)

    @staticmethod
    def _suppress(conn: sa.Connection, site: str, email_hash: str, reason: str, now: datetime) -> bool:
        return bool(SqlStore._suppress_many(conn, [(site, email_hash, reason)], now))

    @staticmethod
    def _suppress_many(conn: sa.Connection, entries: Sequence[tuple[str, str, str]],
                       now: datetime) -> set[tuple[str, str]]:
        """Add (site, hash, reason) entries not yet listed; returns the (site, hash) pairs added."""
        sup = schema.suppression
        added: dict[tuple[str, str], str] = {}
        by_site: dict[str, list[str]] = {}
        for site, digest, _ in entries:
            by_site.setdefault(site, []).append(digest)
        listed: set[tuple[str, str]] = set()
        for site, digests in by_site.items():
            listed |= {(site, d) for d in conn.execute(sa.select(sup.c.email_hash).where(
                sup.c.site == site, sup.c.email_hash.in_(sorted(set(digests))))).scalars()}
        for site, digest, reason in entries:
            if (site, digest) not in listed:
                added.setdefault((site, digest), reason)
        if added:
            conn.execute(sa.insert(sup), [dict(site=site, email_hash=digest, reason=reason, at=now)
                                          for (site, digest), reason in added.items()])
        return set(added)

    @_operation
    def unsuppress(self, site: str, email_hash: str) -> bool:
        sup = schema.suppression
        with self._tx(write=True) as conn:
            return conn.execute(sa.delete(sup).where(sup.c.site == site, sup.c.email_hash == email_hash)).rowcount > 0

    @_operation
    def is_suppressed(self, site: str, email_hash: str) -> bool:
        sup = schema.suppression
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(sup.c.site).where(sup.c.site == site, sup.c.email_hash == email_hash)).first() is not None

    @_operation
    def suppressed(self, site: str) -> set[str]:
        sup = schema.suppression
        with self._tx(write=False) as conn:
            return set(conn.execute(sa.select(sup.c.email_hash).where(sup.c.site == site)).scalars())

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

    # -- key/value state ------------------------------------------------------------------
    @_operation
    def get_state(self, key: str) -> str | None:
        st = schema.state
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(st.c.value).where(st.c.key == key)).scalar()

    @_operation
    def set_state(self, key: str, value: str) -> None:
        st = schema.state
        with self._tx(write=True) as conn:
            now = self.clock()
            if conn.execute(sa.update(st).where(st.c.key == key).values(value=value, updated_at=now)).rowcount == 0:
                conn.execute(sa.insert(st).values(key=key, value=value, updated_at=now))


# -- rows to records ----------------------------------------------------------------------
def _request(r: sa.Row[Any]) -> Request:
    return Request(id=r.id, site=r.site, action=r.action, email=r.email, email_hash=r.email_hash, source=r.source,
                   status=r.status, received_at=r.received_at, due_at=r.due_at, completed_at=r.completed_at,
                   event_id=r.event_id)


def _step(r: sa.Row[Any]) -> Step:
    return Step(id=r.id, request_id=r.request_id, site=r.site, system=r.system, action=r.action,
                params=dict(r.params or {}), position=r.position, status=r.status, attempts=r.attempts,
                next_attempt_at=r.next_attempt_at, last_error=r.last_error,
                result=None if r.result is None else dict(r.result), lease_owner=r.lease_owner,
                lease_until=r.lease_until, updated_at=r.updated_at)


def _audit(r: sa.Row[Any]) -> Audit:
    return Audit(id=r.id, at=r.at, site=r.site, email_hash=r.email_hash, system=r.system, action=r.action,
                 items_removed=r.items_removed, items_retained=r.items_retained, retained_until=r.retained_until,
                 reason=r.reason, request_id=r.request_id, step_id=r.step_id, detail=dict(r.detail or {}))


def _parse_sqlite_time(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


# -- URLs and engines ---------------------------------------------------------------------
_URL_HELP = "use sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


def _parse_url(url: str) -> sa.URL:
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError, TypeError):
        raise StoreError(f"not a valid store URL ({_URL_HELP})") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite"):
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError("an in-memory SQLite store would lose everything at exit; give a file path "
                             f"({_URL_HELP})")
        return parsed.set(drivername="sqlite+pysqlite")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        if not parsed.database:
            raise StoreError(f"the PostgreSQL store URL names no database ({_URL_HELP})")
        return parsed.set(drivername="postgresql+psycopg")
    raise StoreError(f"unsupported store URL scheme {parsed.drivername!r} ({_URL_HELP})")


def _prepare_sqlite_path(url: sa.URL) -> Path:
    path = Path(str(url.database)).expanduser()
    if path.is_dir():
        raise StoreError(f"SQLite database {path}: is a directory; give the path of a file inside it")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"SQLite database {path}: cannot create its directory {folder}: "
                         f"{exc.strerror or exc}") from None
    _create_private(path)
    return path.resolve()


PRIVATE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def _create_private(path: Path) -> None:
    """Create the database file 0600 whatever the umask (SQLite gives its ``-wal`` and ``-shm``
    files the database file's mode), and take group/other access away from an existing one
    and its side files: they hold the emails of open requests."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_MODE)
        os.close(fd)
    except OSError as exc:
        if not path.exists():
            raise StoreError(f"SQLite database {path}: cannot create it: {exc.strerror or exc}") from None
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SIDE_FILES)):
        try:
            if candidate.exists() and candidate.stat().st_mode & 0o077:
                os.chmod(candidate, PRIVATE_MODE)
        except OSError:
            pass  # not ours to change (read-only use); opening reports what matters


def _set_wal(cur: Any, timeout_s: float) -> None:
    """Switch a SQLite connection to WAL. Several processes opening a new database at once
    race for that switch, and SQLite answers "database is locked" at once (the busy timeout
    does not cover it), so it is retried until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _engine_for(url: sa.URL, *, busy_timeout_s: float, connect_timeout_s: float) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(
            url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False},
            pool_size=8, max_overflow=24, pool_timeout=busy_timeout_s)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are begun below, not by pysqlite
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            _set_wal(cur, busy_timeout_s)
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
            # deleted and overwritten content (a finished request's email) is zeroed on disk
            cur.execute("PRAGMA secure_delete = ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            write = conn.get_execution_options().get("wpprivsync_write", True)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=24,
                            connect_args={"connect_timeout": max(1, int(connect_timeout_s))})
