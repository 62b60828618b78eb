"""Durable state: SQLite by default, PostgreSQL by URL (see ``api.Store``)."""

from .api import Audit, AuditEntry, NewRequest, NewStep, Request, Step, Store

__all__ = ["Audit", "AuditEntry", "NewRequest", "NewStep", "Request", "Step", "Store", "open_store"]


def open_store(url: str) -> Store:
    from .sql import SqlStore

    store = SqlStore(url)
    store.migrate()
    return store
