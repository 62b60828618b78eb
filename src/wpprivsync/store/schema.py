"""The store's tables (SQLAlchemy Core), the same for SQLite and PostgreSQL.

This module describes the newest schema, every column and every index. Changing it means
adding a migration in ``migrations.py`` that brings an existing database to it (migrations never
build tables from this module: see ``baseline.py``); ``tests/test_store_schema_upgrade.py``
checks that a fresh install and an install upgraded from every earlier version have exactly the
tables, columns, keys and indexes declared here.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from ..errors import StoreError


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text in one fixed format, so
    comparisons between stored values and bound parameters stay correct. A naive datetime is
    refused: the store cannot guess its zone."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise StoreError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise StoreError("timestamps given to the store must be timezone-aware (UTC)")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise StoreError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)

cursors = sa.Table(
    "cursors", metadata,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Outbox events already turned into requests (per site), for idempotent ingestion.
events = sa.Table(
    "ingested_events", metadata,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ingested_at", UtcDateTime, nullable=False),
)

requests = sa.Table(
    "requests", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),  # only while open
    sa.Column("email_hash", sa.String(128), nullable=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("completed_at", UtcDateTime, nullable=True),
    sa.Column("event_id", sa.BigInteger, nullable=True),
    sa.Column("dedupe_key", sa.String(300), nullable=True),
    sa.Index("ix_requests_status_due", "status", "due_at"),
    sa.Index("ix_requests_email_hash", "email_hash"),
    # One open request per (site, dedupe_key): a partial unique index on both backends.
    sa.Index("ux_requests_open_dedupe", "site", "dedupe_key", unique=True,
             sqlite_where=sa.text("status = 'open' AND dedupe_key IS NOT NULL"),
             postgresql_where=sa.text("status = 'open' AND dedupe_key IS NOT NULL")),
)

steps = sa.Table(
    "steps", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", UtcDateTime, nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # 0: a step of an erasure, export or comment removal; 1: a consent change. Due steps are
    # claimed in (priority, next_attempt_at, id) order, so no flood of consent changes can
    # starve a request with a legal deadline (migration 5).
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default=sa.text("1")),
    sa.Index("ix_steps_request_position", "request_id", "position"),
    sa.Index("ix_steps_site_updated", "site", "updated_at"),  # the admin page's mirror (migration 11)
    # claims: due steps in (priority, due time, id) order, expired leases in (lease end, id)
    # order, a page at a time (migrations 4 and 6)
    sa.Index("ix_steps_due", "status", "priority", "next_attempt_at", "id"),
    sa.Index("ix_steps_lease", "status", "lease_until", "id"),
)

audit = sa.Table(
    "audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("email_hash", sa.String(128), nullable=True),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("items_removed", sa.Integer, nullable=False),
    sa.Column("items_retained", sa.Integer, nullable=False),
    sa.Column("retained_until", sa.Date, nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("request_id", sa.Integer, nullable=True),
    sa.Column("step_id", sa.Integer, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    # reporting by person and by site (migration 2)
    sa.Index("ix_audit_email_hash", "email_hash"),
    sa.Index("ix_audit_site_at", "site", "at"),
)

suppression = sa.Table(
    "suppression", metadata,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("email_hash", sa.String(128), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)

state = sa.Table(
    "state", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Manual tasks (migration 5): what a person must do in a system without an API (WebinarJam
# deletion, invoices at the accounting office, correspondence). An open task of a request
# keeps the request open. No plain email: the person is the request's hash.
tasks = sa.Table(
    "tasks", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=True),
    sa.Column("email_hash", sa.String(128), nullable=True),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | done | waived
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("dedupe_key", sa.String(300), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("site", "dedupe_key", name="uq_tasks_site_dedupe"),
    sa.Index("ix_tasks_status_due", "status", "due_at"),
    sa.Index("ix_tasks_request", "request_id"),
)

# Residue scans (migration 10): where a scan of the WordPress database found a person, by keyed
# hash, never the value. open: a residue; retained: kept on purpose by the policy (clause and
# end date); resolved: found once, gone at a later scan.
residues = sa.Table(
    "residues", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("email_hash", sa.String(128), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=True),
    sa.Column("table_name", sa.String(200), nullable=False),
    sa.Column("column_name", sa.String(200), nullable=False),
    sa.Column("row_key", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("clause", sa.String(64), nullable=True),
    sa.Column("retained_until", sa.Date, nullable=True),
    sa.Column("found_at", UtcDateTime, nullable=False),
    sa.Column("seen_at", UtcDateTime, nullable=False),
    sa.Column("resolved_at", UtcDateTime, nullable=True),
    sa.UniqueConstraint("site", "email_hash", "table_name", "column_name", "row_key", "kind",
                        name="uq_residues_place"),
    sa.Index("ix_residues_status", "status", "site"),
)

# Linked records (migration 7, docs/IDENTITY.md "Linked records"): one row per person known to
# the tool on a site, with the WordPress user id when there is an account, and every email the
# person has had with the ActiveCampaign contact id known for it. The plain email is the
# person's own data, kept while the person exists and cleared by ``forget_person`` (erasure):
# from then on only the keyed hash remains.
people = sa.Table(
    "people", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("wp_user_id", sa.BigInteger, nullable=True),
    # the names WordPress last sent for rectification; cleared with the emails on erasure
    sa.Column("first_name", sa.String(255), nullable=True),
    sa.Column("last_name", sa.String(255), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("erased_at", UtcDateTime, nullable=True),
    sa.Index("ix_people_site_user", "site", "wp_user_id"),
)

person_emails = sa.Table(
    "person_emails", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),  # NULL once the person is erased
    sa.Column("email_hash", sa.String(128), nullable=False),
    sa.Column("contact_id", sa.BigInteger, nullable=True),  # ActiveCampaign contact known under it
    sa.Column("current", sa.Boolean, nullable=False),
    sa.Column("proof", sa.String(32), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("first_seen_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("person_id", "email_hash", name="uq_person_emails_person_hash"),
    sa.Index("ix_person_emails_site_hash", "site", "email_hash"),
    sa.Index("ix_person_emails_site_contact", "site", "contact_id"),
)

# Proof of consent (migration 8, GDPR art. 7(1)): every newsletter consent given or withdrawn,
# with where it came from, the version of the wording shown and how the email was proven. No
# plain email: the person is the keyed hash. An erasure empties source, wording and proof
# (``erased_at``), leaving the hash and the times, enough to show that a consent existed.
consents = sa.Table(
    "consents", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("email_hash", sa.String(128), nullable=False),
    sa.Column("given", sa.Boolean, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(64), nullable=True),
    sa.Column("wording", sa.String(64), nullable=True),
    sa.Column("proof", sa.String(64), nullable=True),
    sa.Column("event_id", sa.Integer, nullable=True),
    sa.Column("erased_at", UtcDateTime, nullable=True),
    sa.Index("ix_consents_site_hash", "site", "email_hash", "at"),
)

# Restriction of processing (migration 8, GDPR art. 18): while a hash is listed, marketing
# stays stopped and no consent re-subscribes the person.
restrictions = sa.Table(
    "restrictions", metadata,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("email_hash", sa.String(128), primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
)
