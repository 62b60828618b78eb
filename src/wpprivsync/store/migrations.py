"""Versioned schema migrations: an ordered list, applied once each, recorded in
``schema_version``.

``apply(conn)`` runs inside the caller's transaction. The caller serialises concurrent
starts: on SQLite the transaction is ``BEGIN IMMEDIATE`` (one writer at a time), on
PostgreSQL it takes a transaction-scoped advisory lock first. Both backends have
transactional DDL, so a migration that fails leaves the database at the previous version.

To change the schema: edit ``schema.py`` and append a migration here that brings an existing
database to it (never edit an applied migration). A migration never builds tables from
``schema.py`` (it describes the newest schema, not the one of the migration's version): a new
table's definition is frozen in ``baseline.py``; columns and indexes are added with plain DDL.
``tests/test_store_schema_upgrade.py`` checks that a fresh install and an install upgraded from
every earlier version both end up with exactly the schema ``schema.py`` declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import sqlalchemy as sa

from . import baseline, schema

# Any fixed 64-bit number; identifies wpprivsync's migration lock among advisory locks.
ADVISORY_LOCK_ID = 0x77707072_69760001


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    run: Callable[[sa.Connection], None]


def _v1_tables(conn: sa.Connection) -> None:
    # the frozen v1 baseline (schema_version exists already: apply() creates it)
    baseline.V1.create_all(conn, tables=[t for t in baseline.V1.sorted_tables if t.name != "schema_version"])


def _v2_reporting_indexes(conn: sa.Connection) -> None:
    conn.exec_driver_sql("CREATE INDEX ix_audit_email_hash ON audit (email_hash)")
    conn.exec_driver_sql("CREATE INDEX ix_audit_site_at ON audit (site, at)")


def _v3_lease_index(conn: sa.Connection) -> None:
    conn.exec_driver_sql("CREATE INDEX ix_steps_status_lease ON steps (status, lease_until)")


def _v4_claim_indexes(conn: sa.Connection) -> None:
    # Claims read due steps in (next_attempt_at, id) order and stop after a page: the index
    # must give that whole order (PostgreSQL otherwise sorts every due step first).
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_steps_status_next")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_steps_status_lease")
    conn.exec_driver_sql("CREATE INDEX ix_steps_due ON steps (status, next_attempt_at, id)")
    conn.exec_driver_sql("CREATE INDEX ix_steps_lease ON steps (status, lease_until, id)")


def _v5_tasks(conn: sa.Connection) -> None:
    baseline.V5.create_all(conn)


def _v6_step_priority(conn: sa.Connection) -> None:
    # A database created at version 1 while v1 was built from the live schema.py already has
    # the column; every other one gets it here.
    if "priority" not in {c["name"] for c in sa.inspect(conn).get_columns("steps")}:
        conn.exec_driver_sql("ALTER TABLE steps ADD COLUMN priority SMALLINT NOT NULL DEFAULT 1")
    urgent = ", ".join(f"'{a}'" for a in baseline.V6_PRIORITY_ACTIONS)
    conn.exec_driver_sql(f"UPDATE steps SET priority = 0 WHERE request_id IN "
                         f"(SELECT id FROM requests WHERE action IN ({urgent}))")
    conn.exec_driver_sql("DROP INDEX IF EXISTS ix_steps_due")
    conn.exec_driver_sql("CREATE INDEX ix_steps_due ON steps (status, priority, next_attempt_at, id)")


def _v7_linked_records(conn: sa.Connection) -> None:
    baseline.V7.create_all(conn)


def _v8_consents_restrictions(conn: sa.Connection) -> None:
    baseline.V8.create_all(conn)


def _v10_residues(conn: sa.Connection) -> None:
    baseline.V10.create_all(conn)


def _v11_steps_updated_index(conn: sa.Connection) -> None:
    # The admin page's requests mirror (issue 16) asks for requests whose steps changed since
    # its last push; without this index every heartbeat would read the whole steps table.
    conn.exec_driver_sql("CREATE INDEX ix_steps_site_updated ON steps (site, updated_at)")


MIGRATIONS: list[Migration] = [
    Migration(1, "requests, steps, audit, suppression, cursors, state", _v1_tables),
    Migration(2, "audit indexes for reporting by person and by site", _v2_reporting_indexes),
    Migration(3, "steps index for claiming expired leases in order", _v3_lease_index),
    Migration(4, "claim indexes ordered by due time and id", _v4_claim_indexes),
    Migration(5, "manual tasks for systems without an API", _v5_tasks),
    Migration(6, "step priority: erasures, exports and comment removals before consent changes",
              _v6_step_priority),
    Migration(7, "linked records: people, their emails old and new, ActiveCampaign contact ids",
              _v7_linked_records),
    Migration(8, "consent history (proof of consent) and restrictions of processing", _v8_consents_restrictions),
    Migration(10, "residue scans: where an erasure left a person behind", _v10_residues),
    Migration(11, "steps index by site and update time, for the admin page's requests mirror",
              _v11_steps_updated_index),
]
LATEST = MIGRATIONS[-1].version


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table(schema.schema_version.name):
        return 0
    found = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return int(found or 0)


def apply(conn: sa.Connection, *, target: int | None = None) -> int:
    """Apply every migration above the database's version (up to ``target``); returns the
    version reached. Idempotent."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID})
    baseline.V1.tables["schema_version"].create(conn, checkfirst=True)
    version = current_version(conn)
    for migration in MIGRATIONS:
        if migration.version <= version or (target is not None and migration.version > target):
            continue
        migration.run(conn)
        conn.execute(sa.insert(schema.schema_version).values(
            version=migration.version, description=migration.description,
            applied_at=datetime.now(timezone.utc)))
        version = migration.version
    return version
