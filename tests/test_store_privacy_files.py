"""No plain email lingers in the store's own files (issue 13, point 4).

The SQLite database and its ``-wal``/``-shm`` files are 0600 whatever the umask; once requests
finish (their email cleared) and the worker checkpoints, no byte of the emails is left in any
of the files, though the database was never closed.
"""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wpprivsync.store import NewRequest, NewStep, open_store
from wpprivsync.store.api import DONE

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
EMAILS = [f"person{i}.private@example.org" for i in range(40)]


@pytest.fixture
def loose_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def files_of(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def raw(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in files_of(path))


def request(email: str, i: int) -> NewRequest:
    return NewRequest(site="shop", action="erase", email=email, email_hash=f"h{i}", source="cli",
                      received_at=T0, due_at=T0 + timedelta(days=30),
                      steps=[NewStep("wordpress", "erase", {}, 0)], dedupe_key=f"erase:h{i}")


def test_store_files_are_private_whatever_the_umask(tmp_path, loose_umask):
    path = tmp_path / "store.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        store.migrate()
        store.add_request(request(EMAILS[0], 0))
        found = files_of(path)
        assert {p.name for p in found} >= {"store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm"}
        for p in found:
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    finally:
        store.close()


def test_an_existing_store_readable_by_others_is_made_private(tmp_path, loose_umask):
    path = tmp_path / "store.sqlite3"
    open_store(f"sqlite:///{path}").close()
    os.chmod(path, 0o644)
    store = open_store(f"sqlite:///{path}")
    try:
        store.migrate()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        store.close()


def test_finished_requests_leave_no_email_in_the_database_wal_or_shm(tmp_path):
    path = tmp_path / "store.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        store.migrate()
        ids = [store.add_request(request(e, i)) for i, e in enumerate(EMAILS)]
        assert EMAILS[0].encode() in raw(path)  # open requests hold the email, as they must
        steps = store.claim_steps("w1", T0, limit=100, lease_s=600)
        assert len(steps) == len(EMAILS)
        for step in steps:
            assert store.finish_step(step.id, "w1", T0, result={})
        assert all(store.get_request(i).status == DONE for i in ids)
        assert store.checkpoint() is True
        data = raw(path)
        leftovers = [e for e in EMAILS if e.encode() in data or e.upper().encode() in data]
        assert leftovers == []
        assert Path(f"{path}-wal").stat().st_size == 0  # truncated, not just rewound
    finally:
        store.close()


def test_without_the_checkpoint_the_wal_would_still_hold_them(tmp_path):
    """The attack the checkpoint defends against: the WAL keeps old page images."""
    path = tmp_path / "store.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        store.migrate()
        store.add_request(request(EMAILS[0], 0))
        step, = store.claim_steps("w1", T0, limit=10, lease_s=600)
        store.finish_step(step.id, "w1", T0, result={})
        assert EMAILS[0].encode() in Path(f"{path}-wal").read_bytes()
        store.checkpoint()
        assert EMAILS[0].encode() not in raw(path)
    finally:
        store.close()


def test_secure_delete_is_on(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        store.close()
