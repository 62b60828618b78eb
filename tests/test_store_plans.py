"""The linked records' hot statements are driven by an index that names the row, not by one
that matches every person (or every email) of a site: SQLite's plans, read with EXPLAIN QUERY
PLAN on a migrated store (no statistics, as a fresh daemon has)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from wpprivsync.store import consents, people
from wpprivsync.store.sql import SqlStore


def _plan(store: SqlStore, stmt: Any, params: dict[str, Any]) -> list[str]:
    compiled = stmt.compile(store.engine)
    with store.engine.connect() as conn:
        values = compiled.construct_params(params)
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled),
                                    tuple(values[name] for name in compiled.positiontup or ()))
        return [str(r[3]) for r in rows]


@pytest.fixture()
def store(tmp_path: Path) -> SqlStore:
    s = SqlStore(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    s.migrate()
    return s


@pytest.mark.parametrize(("column", "index"), [("email_hash", "ix_person_emails_site_hash (site=? AND email_hash=?)"),
                                               ("contact_id", "ix_person_emails_site_contact (site=? AND contact_id=?)")])
def test_live_person_look_up_starts_from_the_email_row(store: SqlStore, column: str, index: str) -> None:
    plan = _plan(store, people._LIVE_BY[column], {"site": "a", "value": "x" if column == "email_hash" else 5})
    assert any(index in step for step in plan), plan
    assert not any("ix_people_site_user (site=?)" in step for step in plan), plan


def test_forgetting_a_person_walks_only_their_emails(store: SqlStore) -> None:
    plan = _plan(store, people._FORGET_EMAILS, {"w_site": "a", "w_pid": 1, "w_now": None})
    assert plan and all("(person_id=?)" in step for step in plan), plan


def test_erasing_consents_uses_the_hash_index(store: SqlStore) -> None:
    plan = _plan(store, consents._ERASE_CONSENTS, {"w_site": "a", "w_hash": "h", "w_now": None})
    assert any("ix_consents_site_hash (site=? AND email_hash=?)" in step for step in plan), plan


def test_the_look_up_still_finds_only_live_people_of_the_site(store: SqlStore) -> None:
    from datetime import datetime, timezone

    from wpprivsync.store.api import PersonLink

    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    store.link_people([PersonLink("a", "p@example.test", "h1", contact_id=7, source="lookup"),
                       PersonLink("b", "p@example.test", "h1", contact_id=7, source="lookup")], now)
    found_a = store.person("a", email_hash="h1")
    found_b = store.person("b", contact_id=7)
    assert found_a is not None and found_b is not None and found_a.id != found_b.id
    assert store.forget_person("a", found_a.id, now)
    assert store.person("a", email_hash="h1") is None
    still = store.person("b", email_hash="h1")
    assert still is not None and still.emails[0].email == "p@example.test" and still.contact_ids == [7]
    with store.engine.connect() as conn:  # the other site's email row was left alone
        assert conn.execute(sa.text("SELECT count(*) FROM person_emails WHERE email IS NOT NULL")).scalar() == 1
