"""The store's bulk insert (``store.base._insert_rows``), which binds the values itself on SQLite
and hands tuples to the driver: every row it writes is the row SQLAlchemy's own insert writes
(the same timestamp text, JSON text, booleans, dates), on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from wpprivsync.errors import StoreError
from wpprivsync.store import schema
from wpprivsync.store.base import _insert_rows
from wpprivsync.store.sql import SqlStore

UTC = timezone.utc
CEST = timezone(timedelta(hours=2))
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bulk.sqlite3'}", f"sqlite:///{tmp_path / 'plain.sqlite3'}"
    server = request.getfixturevalue("pg_server")
    tag = uuid.uuid4().hex[:12]
    return server.create_database(f"bulk_{tag}"), server.create_database(f"plain_{tag}")


def _rows() -> dict[str, list[dict[str, object]]]:
    """Rows for each table the ingest writes, with the values the bind processors turn into
    something else: timestamps in another zone and repeating, dates, JSON (empty, nested, null,
    non-ASCII), booleans, NULLs."""
    later = T0.astimezone(CEST) + timedelta(microseconds=1)
    step = dict(request_id=1, site="shop", system="wordpress", action="erase", position=0, status="pending",
                attempts=0, last_error=None, lease_owner=None, lease_until=None, priority=0)
    return {
        "requests": [dict(id=i, site="shop", action="erase", email=f"p{i}@example.org", email_hash=f"h{i}",
                          source="event", status="open", received_at=T0 if i % 2 else later,
                          due_at=T0 + timedelta(days=31), completed_at=None if i % 2 else later, event_id=i,
                          dedupe_key=f"erase:h{i}") for i in (1, 2, 3)],
        "steps": [dict(step, params={}, result=None, next_attempt_at=T0, updated_at=T0),
                  dict(step, params={"reason": "erasure", "n": [1, 2.5, None]}, result={"ok": True},
                       next_attempt_at=later, updated_at=T0, lease_until=later),
                  dict(step, params={"note": "Zoë – ✓"}, result=[], next_attempt_at=T0, updated_at=later)],
        "audit": [dict(at=T0, site="shop", email_hash="h1", system="woocommerce", action="erase", items_removed=2,
                       items_retained=3, retained_until=date(2031, 12, 31), reason="orders kept", request_id=None,
                       step_id=None, detail={"orders": [11, 12]}),
                  dict(at=later, site="shop", email_hash=None, system="wordpress", action="comment_deleted",
                       items_removed=1, items_retained=0, retained_until=None, reason="", request_id=1,
                       step_id=2, detail={})],
        "people": [dict(id=1, site="shop", wp_user_id=7, first_name="Ann", last_name=None, created_at=T0,
                        erased_at=None),
                   dict(id=2, site="shop", wp_user_id=None, first_name=None, last_name=None, created_at=later,
                        erased_at=later)],
        "person_emails": [dict(person_id=p, site="shop", email=None if p == 2 else "ann@example.org",
                               email_hash=f"h{p}", contact_id=None if p == 1 else 90, current=p == 1, proof="",
                               source="account-deleted", first_seen_at=T0, updated_at=later) for p in (1, 2)],
        "consents": [dict(site="shop", email_hash="h1", given=g, at=T0, source="profile", wording=None,
                          proof="registration", event_id=4, erased_at=None if g else later) for g in (True, False)],
        "ingested_events": [dict(site="shop", event_id=i, ingested_at=T0) for i in (1, 2)],
    }


def _raw(store: SqlStore) -> dict[str, list[tuple[object, ...]]]:
    """Every row as the database holds it (no result processing)."""
    out = {}
    with store.engine.connect() as conn:
        for name in _rows():
            out[name] = [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1, 2")]
    return out


def test_bulk_insert_writes_the_rows_sqlalchemy_writes(urls: tuple[str, str]) -> None:
    bulk, plain = SqlStore(urls[0]), SqlStore(urls[1])
    try:
        for store in (bulk, plain):
            store.migrate()
        for store, insert in ((bulk, _insert_rows), (plain, None)):
            with store.engine.begin() as conn:
                for name, rows in _rows().items():
                    table = schema.metadata.tables[name]
                    if insert is None:
                        conn.execute(sa.insert(table), rows)
                    else:
                        insert(conn, table, rows)
        got, want = _raw(bulk), _raw(plain)
        assert {name: len(rows) for name, rows in got.items()} == {name: len(rows) for name, rows in _rows().items()}
        assert got == want
        # and they read back as the store's records
        (first,) = [r for r in bulk.audit(site="shop") if r.system == "woocommerce"]
        assert (first.at, first.retained_until, first.detail) == (T0, date(2031, 12, 31), {"orders": [11, 12]})
        assert bulk.get_request(2).received_at == T0 + timedelta(microseconds=1)
    finally:
        bulk.close()
        plain.close()


def test_bulk_insert_refuses_a_naive_timestamp_and_rows_that_differ(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.migrate()
    try:
        events = schema.events
        with store.engine.begin() as conn:
            with pytest.raises(StoreError, match="timezone-aware"):
                _insert_rows(conn, events, [dict(site="shop", event_id=1, ingested_at=datetime(2026, 1, 1))])
            with pytest.raises(StoreError, match="differ"):
                _insert_rows(conn, events, [dict(site="shop", event_id=1, ingested_at=T0), dict(site="shop")])
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT COUNT(*) FROM ingested_events").scalar() == 0
    finally:
        store.close()
