"""One request budget per ActiveCampaign account, shared by every thread and process.

ActiveCampaign allows 5 requests per second per *account*, whatever key or integration makes
them, and counts them in a sliding one-second window. ``rate_budget(account_key, store_url=...)``
returns the budget for an account; ``acquire()`` blocks until a request may be sent.

    in one process   one limiter per account key (module registry, thread-safe)
    SQLite store     a SQLite file beside the store file (one IMMEDIATE transaction per
                     slot), so several processes on the host share the bucket
    PostgreSQL store a table in the same database, guarded by an advisory lock

The window is a little longer than one second (``margin_ms``): a slot is taken just before the
request is sent, and the server counts arrivals, so two requests leaving ``1000 ms`` apart may
arrive closer together. The margin absorbs that jitter so the server never answers 429 in normal
operation. pyrate-limiter does the bookkeeping and the waiting.

Every slot is stamped with the time it is granted, read inside the bucket's lock. pyrate-limiter
stamps an item once, before it queues, and after each wait adds the *planned* delay; a sleep that
overshoots (a loaded machine), or a wait for another process's lock, would record the slot
earlier than the request really leaves, and the window would free too soon for the server.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrate_limiter import Duration, Limiter, Rate, RateItem, TimeClock
from pyrate_limiter.buckets.in_memory_bucket import InMemoryBucket
from pyrate_limiter.buckets.sqlite_bucket import SQLiteBucket
from pyrate_limiter.buckets.sqlite_bucket import Queries as _SqliteQueries
from pyrate_limiter.buckets.postgres import PostgresBucket, Queries as _PgQueries

from .. import errors

DEFAULT_RATE = 5
DEFAULT_MARGIN_MS = 100
_MAX_WAIT_MS = int(Duration.MINUTE)


@dataclass
class BudgetStats:
    acquired: int = 0
    waited_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, waited: float) -> None:
        with self._lock:
            self.acquired += 1
            self.waited_s += waited


class RateBudget:
    """A blocking gate: ``acquire()`` returns once one more request fits in the window."""

    def __init__(self, limiter: Limiter, *, name: str, backend: str, rate: int, window_ms: int):
        self._limiter = limiter
        self._name = name
        self.backend = backend
        self.rate = rate
        self.window_ms = window_ms
        self.stats = BudgetStats()

    def acquire(self) -> None:
        started = time.monotonic()
        try:
            while not self._limiter.try_acquire(self._name):
                pass  # the limiter already slept up to its max delay; keep queueing
        except Exception as exc:  # noqa: BLE001 — the backing store (SQLite file, PostgreSQL) failed
            raise errors.StoreError(f"rate budget ({self.backend}) failed: {type(exc).__name__}") from None
        self.stats.add(time.monotonic() - started)

    def __repr__(self) -> str:
        return f"RateBudget({self.backend}, {self.rate} per {self.window_ms} ms)"


def _now_ms() -> int:
    return int(TimeClock().now())  # type: ignore[no-untyped-call]  # pyrate-limiter leaves now() unannotated


class _StampedInMemoryBucket(InMemoryBucket):
    """Stamps each slot when it is granted (see the module's note)."""

    def put(self, item: RateItem) -> bool:
        item.timestamp = max(_now_ms(), self.items[-1].timestamp if self.items else 0)  # stays sorted
        return super().put(item)


class _SharedSQLiteBucket(SQLiteBucket):
    """The budget in a SQLite file, shared by the processes of one host. Each ``put`` is one
    ``BEGIN IMMEDIATE`` transaction, so SQLite's own write lock makes count-then-insert atomic
    across processes (as the advisory lock does on PostgreSQL), and the slot is stamped inside
    it, when it is granted. pyrate-limiter's optional file lock did the same job with extra
    system calls on every request, most of the budget's CPU time."""

    @classmethod
    def open(cls, rates: list[Rate], table: str, path: str) -> "_SharedSQLiteBucket":
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(_SqliteQueries.CREATE_BUCKET_TABLE.format(table=table))
        conn.execute(_SqliteQueries.CREATE_INDEX_ON_TIMESTAMP.format(
            index_name=f"idx_{table}_rate_item_timestamp", table_name=table))
        return cls(rates, conn, table=table)

    def put(self, item: RateItem) -> bool:
        if item.weight == 0:
            return True
        with self.lock:  # threads of this process share the connection
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                item.timestamp = _now_ms()
                query, params = self._build_full_count_query(item.timestamp)
                for (_, count), rate in zip(self.conn.execute(query, params).fetchall(), self.rates):
                    if rate.limit - count < item.weight:
                        self.failing_rate = rate
                        self.conn.execute("ROLLBACK")
                        return False
                self.failing_rate = None
                self.conn.executemany(f"INSERT INTO '{self.table}' (name, item_timestamp) VALUES (?, ?)",
                                      [(item.name, item.timestamp)] * item.weight)
                self.conn.execute("COMMIT")
                return True
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    def leak(self, current_timestamp: int | None = None) -> int:
        """Delete the slots that left the window. One statement by time: pyrate-limiter's own
        leak counts the old slots, then deletes that many of the oldest, which, with another
        process leaking between the two, would delete slots still in the window."""
        assert current_timestamp is not None
        with self.lock:
            cur = self.conn.execute(f"DELETE FROM '{self.table}' WHERE item_timestamp < ?",
                                    (current_timestamp - self.rates[-1].interval,))
            return cur.rowcount


class _LockedPostgresBucket(PostgresBucket):
    """pyrate-limiter's PostgresBucket counts and inserts without a lock, so two processes can
    both see a free slot. This one serialises ``put`` with a transaction-scoped advisory lock and
    stamps the slot once it holds the lock."""

    def __init__(self, pool: Any, table: str, rates: list[Rate]):
        self._lock_key = int.from_bytes(hashlib.sha256(table.lower().encode()).digest()[:7], "big")
        super().__init__(pool, table, rates)

    def _create_table(self) -> None:
        # CREATE TABLE IF NOT EXISTS races between processes starting together (UniqueViolation)
        with self._get_conn() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            conn.execute(_PgQueries.CREATE_BUCKET_TABLE.format(table=self._full_tbl))
            conn.execute(_PgQueries.CREATE_INDEX_ON_TIMESTAMP.format(table=self._full_tbl,
                                                                     index=f"timestampIndex_{self.table}"))

    def put(self, item: RateItem) -> bool:
        if item.weight == 0:
            return True
        with self._get_conn() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            item.timestamp = _now_ms()  # granted now, after any wait for the lock
            for rate in self.rates:
                cur = conn.execute(
                    f"SELECT COUNT(*) FROM {self._full_tbl} "
                    "WHERE item_timestamp >= TO_TIMESTAMP(%s) - make_interval(secs => %s)",
                    (item.timestamp / 1000, rate.interval / 1000),
                )
                count = int(cur.fetchone()[0])
                if rate.limit - count < item.weight:
                    self.failing_rate = rate
                    return False
            self.failing_rate = None
            for _ in range(item.weight):
                conn.execute(_PgQueries.PUT.format(table=self._full_tbl), (item.name, item.weight, item.timestamp / 1000))
        return True


_registry: dict[tuple[str, str], RateBudget] = {}
_registry_lock = threading.Lock()


def _table_for(account_key: str) -> str:
    return "ac_" + hashlib.sha256(account_key.encode()).hexdigest()[:16]


def _backend_for(store_url: str | None) -> tuple[str, Any]:
    """("memory", None) | ("sqlite", path of the bucket file) | ("postgresql", libpq URL)."""
    if not store_url:
        return "memory", None
    from sqlalchemy.engine import make_url

    try:
        url = make_url(store_url)
    except Exception:  # noqa: BLE001 — SQLAlchemy raises several kinds for a malformed URL
        raise errors.ConfigError("not a database URL", field="store_url") from None
    driver = url.drivername.split("+", 1)[0]
    if driver == "sqlite":
        if not url.database or url.database == ":memory:":
            return "memory", None
        store = Path(url.database)
        return "sqlite", str(store.with_name(store.name + ".ratebudget.sqlite"))
    if driver in ("postgresql", "postgres"):
        return "postgresql", url.set(drivername="postgresql").render_as_string(hide_password=False)
    raise errors.ConfigError(f"unsupported database for the rate budget: {driver}", field="store_url")


def _build(account_key: str, backend: str, where: Any, rate: int, window_ms: int) -> RateBudget:
    rates = [Rate(rate, window_ms)]
    table = _table_for(account_key)
    if backend == "memory":
        bucket: Any = _StampedInMemoryBucket(rates)
    elif backend == "sqlite":
        Path(where).parent.mkdir(parents=True, exist_ok=True)
        bucket = _SharedSQLiteBucket.open(rates, table, where)
    else:
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(where, min_size=1, max_size=4, open=True)
        bucket = _LockedPostgresBucket(pool, table, rates)
    # buffer_ms: the limiter's extra wait on top of the computed one; 1 ms is enough, since a slot
    # granted too early is simply refused (the bucket checks the window when it stamps the slot)
    limiter = Limiter(bucket, clock=TimeClock(), raise_when_fail=False, max_delay=_MAX_WAIT_MS,
                      retry_until_max_delay=True, buffer_ms=1)
    return RateBudget(limiter, name=table, backend=backend, rate=rate, window_ms=window_ms)


def rate_budget(account_key: str, *, store_url: str | None = None, rate: int = DEFAULT_RATE,
                margin_ms: int = DEFAULT_MARGIN_MS) -> RateBudget:
    """The budget for one ActiveCampaign account (key: its base URL). Every call with the same
    key and store returns the same object, so all threads of a process share it; processes
    share it through the store's database."""
    if rate < 1:
        raise errors.ConfigError("must be at least 1", field="rate")
    backend, where = _backend_for(store_url)
    key = (account_key.rstrip("/"), f"{backend}:{where}:{rate}:{margin_ms}")
    with _registry_lock:
        budget = _registry.get(key)
        if budget is None:
            try:
                budget = _build(key[0], backend, where, rate, int(Duration.SECOND) + margin_ms)
            except errors.WpprivsyncError:
                raise
            except Exception as exc:  # noqa: BLE001 — sqlite3, psycopg: the backing store is unusable
                raise errors.StoreError(f"cannot set up the rate budget ({backend}): {type(exc).__name__}") from None
            _registry[key] = budget
        return budget
