"""URLs and engines: parsing a store URL, the SQLite file made private before first use, and
the engine set-up that differs per backend (see ``sql.py``)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from ..errors import StoreError

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
