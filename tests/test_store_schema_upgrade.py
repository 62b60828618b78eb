"""Migrations that survive their second column: a fresh install and an install upgraded from
every earlier version end up with exactly the schema ``schema.py`` declares — the same tables,
columns (type, nullability, default), primary and foreign keys, unique constraints and indexes
(columns, uniqueness, partial-index condition) — compared through SQLAlchemy's inspection, on
SQLite and on PostgreSQL. Rows written at the older version survive the upgrade."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from wpprivsync.store import baseline, migrations, schema
from wpprivsync.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


_names = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """A factory of empty databases of one backend."""
    if request.param == "sqlite":
        return lambda: f"sqlite:///{tmp_path / f'db{next(_names)}.sqlite3'}"
    server = request.getfixturevalue("pg_server")
    return lambda: server.create_database(f"upgrade_{next(_names)}")


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def _default(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    text = re.sub(r"::[a-z ]+$", "", text)  # PostgreSQL's casts
    return text.strip("'")


def snapshot(url: str) -> dict[str, Any]:
    """Everything about the schema that can differ between two ways of building it."""
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            dialect = conn.dialect
            out: dict[str, Any] = {}
            for table in sorted(inspector.get_table_names()):
                columns = {c["name"]: (c["type"].compile(dialect=dialect), c["nullable"], _default(c.get("default")))
                           for c in inspector.get_columns(table)}
                pk = tuple(inspector.get_pk_constraint(table)["constrained_columns"])
                fks = sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                              (f.get("options") or {}).get("ondelete")) for f in inspector.get_foreign_keys(table))
                indexes = {i["name"]: (tuple(i["column_names"]), bool(i["unique"]),
                                       sorted((k, re.sub(r"\W+", " ", str(v)).strip())
                                              for k, v in (i.get("dialect_options") or {}).items()))
                           for i in inspector.get_indexes(table)}
                uniques = sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table))
                out[table] = {"columns": columns, "pk": pk, "fks": fks, "indexes": indexes, "uniques": uniques}
            return out
    finally:
        engine.dispose()


def declared(url: str) -> dict[str, Any]:
    engine = _engine(url)
    schema.metadata.create_all(engine)
    engine.dispose()
    return snapshot(url)


def _seed_v1(url: str) -> None:
    """A request with a step and an audit entry, written with the frozen v1 tables."""
    t = baseline.V1.tables
    engine = _engine(url)
    with engine.begin() as conn:
        rid = conn.execute(sa.insert(t["requests"]).values(
            site="shop", action="erase", email=None, email_hash="h1", source="cli", status="open",
            received_at=T0, due_at=T0, dedupe_key="erase:h1").returning(t["requests"].c.id)).scalar_one()
        conn.execute(sa.insert(t["steps"]).values(
            request_id=rid, site="shop", system="activecampaign", action="delete_contact", params={},
            position=0, status="pending", attempts=0, next_attempt_at=T0, updated_at=T0))
        conn.execute(sa.insert(t["audit"]).values(
            at=T0, site="shop", email_hash="h1", system="wordpress", action="erase", items_removed=1,
            items_retained=0, reason="policy", detail={}))
    engine.dispose()


def test_every_index_is_declared_in_schema_py():
    names = {i.name for t in schema.metadata.tables.values() for i in t.indexes}
    assert {"ix_audit_email_hash", "ix_audit_site_at", "ix_steps_due", "ix_steps_lease",
            "ix_steps_request_position", "ix_requests_status_due", "ix_requests_email_hash",
            "ux_requests_open_dedupe", "ix_tasks_status_due", "ix_tasks_request"} <= names


def test_fresh_install_has_exactly_the_declared_schema(new_url):
    want = declared(new_url())
    fresh = new_url()
    store = SqlStore(fresh)
    assert store.migrate() == migrations.LATEST
    store.close()
    assert snapshot(fresh) == want


def test_upgrade_from_every_earlier_version_reaches_the_declared_schema(new_url):
    want = declared(new_url())
    for version in [m.version for m in migrations.MIGRATIONS][:-1]:
        url = new_url()
        old = SqlStore(url)
        assert old.migrate_to(version) == version
        _seed_v1(url)
        old.close()
        upgraded = SqlStore(url)
        assert upgraded.migrate() == migrations.LATEST
        got = snapshot(url)
        assert got == want, f"upgraded from version {version}"
        steps = upgraded.steps_of(1)
        assert len(steps) == 1 and steps[0].action == "delete_contact"
        upgraded.close()
        engine = _engine(url)
        with engine.connect() as conn:
            # migration 6 backfills the priority of an erasure's steps (seeded before it ran)
            if version < 6:
                assert conn.execute(sa.text("SELECT priority FROM steps")).scalar_one() == 0
        engine.dispose()


def test_the_v1_baseline_is_frozen_not_the_live_schema(new_url):
    """Version 1 has the columns it had at v1: the later ones come from their migrations."""
    url = new_url()
    store = SqlStore(url)
    store.migrate_to(1)
    store.close()
    got = snapshot(url)
    assert "priority" not in got["steps"]["columns"]
    assert "tasks" not in got
    assert "ix_steps_status_next" in got["steps"]["indexes"]
