"""The store's plumbing, shared by every room: engine set-up, one transaction per public
method (``_operation``, the error boundary), migrations, and rows turned into records."""

from __future__ import annotations

import functools
import logging
import operator
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from ..errors import StoreError
from . import migrations, schema
from .api import (
    DONE,
    FAILED,
    OPEN,
    RUNNING,
    STEP_DONE,
    TASK_OPEN,
    Audit,
    Request,
    Step,
)
from .engines import _engine_for, _parse_url, _prepare_sqlite_path

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
    def wrapper(self: "SqlBase", *args: Any, **kwargs: Any) -> T:
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
_IDS: sa.BindParameter[Any] = sa.bindparam("ids", expanding=True)
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


def _insert_rows(conn: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """``conn.execute(sa.insert(table), rows)``; every row has the same columns. On SQLite the
    values are bound here, by the columns' own bind processors (the same text for a timestamp,
    the same JSON), and the rows go to the driver's ``executemany`` as tuples: SQLAlchemy's own
    per-row parameter processing was most of the time of a page's ingest (issue 17.6). A
    timestamp repeats across the rows of a batch (a page's clock, its events' times) and is
    bound once per value. Elsewhere: SQLAlchemy's ``executemany``, as before."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(sa.insert(table), list(rows))
        return
    sql, order, binders = _insert_plan(conn.dialect, table, tuple(rows[0]))
    get = operator.itemgetter(*order) if len(order) > 1 else (lambda row: (row[order[0]],))
    convert = [(i, _converter(kind, bind)) for i, (kind, bind) in enumerate(binders) if bind is not None]
    out: list[tuple[Any, ...]] = []
    for row in rows:
        if len(row) != len(order):
            raise StoreError(f"rows for {table.name} differ in their columns")
        values = get(row)
        if convert:
            listed = list(values)
            for i, conv in convert:
                listed[i] = conv(listed[i])
            values = tuple(listed)
        out.append(values)
    conn.exec_driver_sql(sql, out)


def _converter(kind: str, bind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``bind``; None bound once; for JSON, an empty object too (most steps' params); for a
    value repeating across a batch (a timestamp), once per distinct value."""
    null = bind(None)
    if kind == "json":
        empty = bind({})
        return lambda value: null if value is None else empty if value == {} else bind(value)
    if kind != "once":
        return lambda value: null if value is None else bind(value)
    memo: dict[Any, Any] = {None: null}

    def conv(value: Any) -> Any:
        try:
            return memo[value]
        except KeyError:
            found = memo[value] = bind(value)
            return found

    return conv


_Binder = tuple[str, Callable[[Any], Any] | None]  # ("once" per value, "json" or "plain"; the bind processor)
_InsertPlan = tuple[str, tuple[str, ...], list[_Binder]]
_INSERT_PLANS: dict[tuple[str, str, tuple[str, ...]], _InsertPlan] = {}


def _insert_plan(dialect: sa.Dialect, table: sa.Table, keys: tuple[str, ...]) -> _InsertPlan:
    """The INSERT of these columns as the dialect writes it (positional parameters), the
    columns in the order of its parameters and each one's bind processor; built once per table
    and set of columns."""
    cache_key = (dialect.name, table.name, keys)
    found = _INSERT_PLANS.get(cache_key)
    if found is None:
        compiled = sa.insert(table).compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ())
        if sorted(order) != sorted(keys):
            raise StoreError(f"unexpected parameters in the insert of {table.name}")
        binders: list[_Binder] = []
        for key in order:
            typ = table.c[key].type
            kind = "once" if isinstance(typ, (schema.UtcDateTime, sa.Date)) else "json" if isinstance(typ, sa.JSON) else "plain"
            binders.append((kind, typ.dialect_impl(dialect).bind_processor(dialect)))
        found = _INSERT_PLANS[cache_key] = (str(compiled), order, binders)
    return found


class SqlBase:
    """What every room of the store shares: the engine, transactions, the error
    boundary, migrations. ``clock`` fills audit times the caller left
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
        return f"{type(self).__name__}({self.where})"

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

    def _insert_ids(self, conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows (in a write transaction); their ids, in order. On SQLite the ids are
        given here, one above the highest as SQLite itself gives them (the write transaction
        holds the database's lock), so the rows go in one ``executemany``: SQLAlchemy's
        ordered RETURNING runs one statement per row there (issue 17.6). Elsewhere: ordered
        RETURNING, as before."""
        if not rows:
            return []
        if self.backend == "sqlite":
            top = int(conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0)
            ids = list(range(top + 1, top + 1 + len(rows)))
            _insert_rows(conn, table, [dict(row, id=i) for row, i in zip(rows, ids)])
            return ids
        found = conn.execute(sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows).scalars()
        return [int(i) for i in found]

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
