"""The frozen tables migrations create: the v1 baseline and the tables added later, each as it
was in the version that added it.

Never import ``schema.py`` into a migration: it describes the newest schema, so a migration that
built tables from it would create columns a later migration then adds again (the first
``ADD COLUMN`` would fail on every fresh install). A migration creates the tables defined here,
with the columns and indexes they had in its version, and later migrations change them; the
test ``tests/test_store_schema_upgrade.py`` proves that the result is ``schema.py`` exactly,
from a fresh install and from every earlier version.

To add a table in migration N: copy its definition from ``schema.py`` into a new ``vN``
section below (its own ``sa.MetaData()``), and never edit it afterwards.
"""

from __future__ import annotations

import sqlalchemy as sa

# The store's timestamps: ``schema.UtcDateTime`` binds through this type, whose DDL is
# frozen here (timestamptz on PostgreSQL, DATETIME on SQLite).
_TS = sa.DateTime(timezone=True)

# -- v1: requests, steps, audit, suppression, cursors, state ------------------------------------

V1 = sa.MetaData()

sa.Table(
    "schema_version", V1,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", _TS, nullable=False),
)

sa.Table(
    "cursors", V1,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

sa.Table(
    "ingested_events", V1,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ingested_at", _TS, nullable=False),
)

sa.Table(
    "requests", V1,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("email_hash", sa.String(128), nullable=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("received_at", _TS, nullable=False),
    sa.Column("due_at", _TS, nullable=False),
    sa.Column("completed_at", _TS, nullable=True),
    sa.Column("event_id", sa.BigInteger, nullable=True),
    sa.Column("dedupe_key", sa.String(300), nullable=True),
    sa.Index("ix_requests_status_due", "status", "due_at"),
    sa.Index("ix_requests_email_hash", "email_hash"),
    sa.Index("ux_requests_open_dedupe", "site", "dedupe_key", unique=True,
             sqlite_where=sa.text("status = 'open' AND dedupe_key IS NOT NULL"),
             postgresql_where=sa.text("status = 'open' AND dedupe_key IS NOT NULL")),
)

sa.Table(
    "steps", V1,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id", ondelete="CASCADE"), nullable=False),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", _TS, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("lease_owner", sa.String(200), nullable=True),
    sa.Column("lease_until", _TS, nullable=True),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Index("ix_steps_request_position", "request_id", "position"),
    sa.Index("ix_steps_status_next", "status", "next_attempt_at"),
)

sa.Table(
    "audit", V1,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", _TS, nullable=False),
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
)

sa.Table(
    "suppression", V1,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("email_hash", sa.String(128), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", _TS, nullable=False),
)

sa.Table(
    "state", V1,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

# -- v5: manual tasks ---------------------------------------------------------------------------

V5 = sa.MetaData()

sa.Table(
    "tasks", V5,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("request_id", sa.Integer, nullable=True),
    sa.Column("email_hash", sa.String(128), nullable=True),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("why", sa.Text, nullable=False),
    sa.Column("due_at", _TS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("detail", sa.JSON, nullable=False),
    sa.Column("dedupe_key", sa.String(300), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("closed_at", _TS, nullable=True),
    sa.UniqueConstraint("site", "dedupe_key", name="uq_tasks_site_dedupe"),
    sa.Index("ix_tasks_status_due", "status", "due_at"),
    sa.Index("ix_tasks_request", "request_id"),
)

# -- v6: which requests' steps are claimed first (the backfill of steps.priority) -------------

V6_PRIORITY_ACTIONS = ("core_export", "erase", "export", "remove_comments")

# -- v7: linked records ---------------------------------------------------------------------------

V7 = sa.MetaData()

sa.Table(
    "people", V7,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("wp_user_id", sa.BigInteger, nullable=True),
    # the names WordPress last sent for rectification; cleared with the emails on erasure
    sa.Column("first_name", sa.String(255), nullable=True),
    sa.Column("last_name", sa.String(255), nullable=True),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("erased_at", _TS, nullable=True),
    sa.Index("ix_people_site_user", "site", "wp_user_id"),
)

sa.Table(
    "person_emails", V7,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),  # NULL once the person is erased
    sa.Column("email_hash", sa.String(128), nullable=False),
    sa.Column("contact_id", sa.BigInteger, nullable=True),  # ActiveCampaign contact known under it
    sa.Column("current", sa.Boolean, nullable=False),
    sa.Column("proof", sa.String(32), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("first_seen_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.UniqueConstraint("person_id", "email_hash", name="uq_person_emails_person_hash"),
    sa.Index("ix_person_emails_site_hash", "site", "email_hash"),
    sa.Index("ix_person_emails_site_contact", "site", "contact_id"),
)

# -- v8: consent history and restrictions --------------------------------------------------------

V8 = sa.MetaData()

sa.Table(
    "consents", V8,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("site", sa.String(200), nullable=False),
    sa.Column("email_hash", sa.String(128), nullable=False),
    sa.Column("given", sa.Boolean, nullable=False),
    sa.Column("at", _TS, nullable=False),
    sa.Column("source", sa.String(64), nullable=True),
    sa.Column("wording", sa.String(64), nullable=True),
    sa.Column("proof", sa.String(64), nullable=True),
    sa.Column("event_id", sa.Integer, nullable=True),
    sa.Column("erased_at", _TS, nullable=True),
    sa.Index("ix_consents_site_hash", "site", "email_hash", "at"),
)

sa.Table(
    "restrictions", V8,
    sa.Column("site", sa.String(200), primary_key=True),
    sa.Column("email_hash", sa.String(128), primary_key=True),
    sa.Column("at", _TS, nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
)

# -- v10: residue scans ---------------------------------------------------------------------------

V10 = sa.MetaData()

sa.Table(
    "residues", V10,
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
    sa.Column("found_at", _TS, nullable=False),
    sa.Column("seen_at", _TS, nullable=False),
    sa.Column("resolved_at", _TS, nullable=True),
    sa.UniqueConstraint("site", "email_hash", "table_name", "column_name", "row_key", "kind",
                        name="uq_residues_place"),
    sa.Index("ix_residues_status", "status", "site"),
)
