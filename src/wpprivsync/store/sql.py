"""``SqlStore``: the one implementation of ``api.Store``, for SQLite and PostgreSQL, assembled
from rooms, one module per concern, in the order data travels through the store:

* ``ingest``: outbox events in (cursors, events recorded once, requests and steps planned);
* ``requests``: requests and their steps read back;
* ``queue``: due steps claimed with leases, finished, failed, retried (the job queue);
* ``audit``: the audit log and the suppression list;
* ``tasks``: manual tasks; ``state``: key-value state; ``reporting``: counts for status
  and metrics; ``residues``: what residue scans found after erasures; ``people``: linked
  records (a person's user id, emails old and new, ActiveCampaign contact ids); ``consents``:
  proof of consent and restrictions;
* ``base``: what every room shares (engine, transactions, the error boundary, migrations),
  ``engines``: URLs and the per-backend engine set-up.

One code path for both backends (SQLAlchemy Core). What differs is set up once in
``_engine_for``:

* SQLite (``sqlite:///PATH``): WAL journal, a busy timeout, foreign keys on. pysqlite's own
  transaction handling is switched off and every transaction is begun here: ``BEGIN
  IMMEDIATE`` for a write (one writer at a time across threads and processes, so
  select-then-update is atomic), plain ``BEGIN`` for a read (WAL readers never wait).
* PostgreSQL (``postgresql://USER:PASSWORD@HOST:PORT/DB``, psycopg 3 driver): claims use
  ``SELECT ... FOR UPDATE SKIP LOCKED`` (rendered to nothing on SQLite); migrations take an
  advisory lock.

Every public method is one transaction. SQLAlchemy and driver exceptions become ``StoreError``
in ``_operation`` (one boundary); messages name the store (password masked) and the reason,
never SQL parameters (they could hold an email).
"""

from __future__ import annotations

from .audit import AuditRoom
from .base import SqlBase
from .consents import ConsentRoom
from .engines import PRIVATE_MODE, SIDE_FILES, _engine_for
from .ingest import IngestRoom
from .people import PeopleRoom
from .queue import QueueRoom
from .reporting import ReportingRoom
from .requests import RequestsRoom
from .residues import ResidueRoom
from .state import StateRoom
from .tasks import TasksRoom

__all__ = ["PRIVATE_MODE", "SIDE_FILES", "SqlStore", "_engine_for"]


class SqlStore(IngestRoom, RequestsRoom, QueueRoom, ReportingRoom, TasksRoom, StateRoom, PeopleRoom, ConsentRoom,
               AuditRoom, ResidueRoom, SqlBase):
    """The store on SQLite (default) or PostgreSQL. ``clock`` fills audit times the caller left
    empty and state timestamps."""
