"""The audit log (one entry per step, keyed hashes only) and the suppression list."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from ..errors import StoreError
from . import schema
from .api import (
    Audit,
    AuditEntry,
)
from .base import _A, SqlBase, _audit, _insert_rows, _operation


# built once: every recorded batch of erasure steps runs them
_LISTED = sa.select(schema.suppression.c.email_hash).where(
    schema.suppression.c.site == sa.bindparam("site"),
    schema.suppression.c.email_hash.in_(sa.bindparam("hashes", expanding=True)))
_INSERT_SUPPRESSION = sa.insert(schema.suppression)


class AuditRoom(SqlBase):
    """The audit log (one entry per step, keyed hashes only) and the suppression list."""

    # -- audit and suppression ------------------------------------------------------------
    @staticmethod
    def _insert_audit_rows(conn: sa.Connection, entries: Sequence[tuple[AuditEntry, int | None, int | None]],
                           now: datetime) -> None:
        """Audit entries with the request and step each belongs to (unless it names its own)."""
        if not entries:
            return
        rows = []
        for e, request_id, step_id in entries:
            try:
                json.dumps(e.detail)
            except (TypeError, ValueError):
                raise StoreError(f"detail of the audit entry {e.system}.{e.action} is not JSON data") from None
            rows.append(dict(
                at=e.at or now, site=e.site, email_hash=e.email_hash, system=e.system, action=e.action,
                items_removed=e.items_removed, items_retained=e.items_retained, retained_until=e.retained_until,
                reason=e.reason, request_id=e.request_id if e.request_id is not None else request_id,
                step_id=e.step_id if e.step_id is not None else step_id, detail=dict(e.detail)))
        _insert_rows(conn, _A, rows)

    @_operation
    def add_audit(self, entries: Sequence[AuditEntry]) -> None:
        with self._tx(write=True) as conn:
            self._insert_audit_rows(conn, [(e, None, None) for e in entries], self.clock())

    @_operation
    def audit(self, *, email_hash: str | None = None, site: str | None = None,
              request_id: int | None = None, limit: int = 200) -> list[Audit]:
        """The newest ``limit`` entries matching, in the order they were written."""
        q = sa.select(_A)
        if email_hash is not None:
            q = q.where(_A.c.email_hash == email_hash)
        if site is not None:
            q = q.where(_A.c.site == site)
        if request_id is not None:
            q = q.where(_A.c.request_id == request_id)
        with self._tx(write=False) as conn:
            rows = list(conn.execute(q.order_by(_A.c.id.desc()).limit(limit)))
        return [_audit(r) for r in reversed(rows)]

    @_operation
    def suppress(self, site: str, email_hash: str, reason: str, now: datetime) -> bool:
        with self._tx(write=True) as conn:
            return self._suppress(conn, site, email_hash, reason, now)

    @staticmethod
    def _suppress(conn: sa.Connection, site: str, email_hash: str, reason: str, now: datetime) -> bool:
        return bool(AuditRoom._suppress_many(conn, [(site, email_hash, reason)], now))

    @staticmethod
    def _suppress_many(conn: sa.Connection, entries: Sequence[tuple[str, str, str]],
                       now: datetime) -> set[tuple[str, str]]:
        """Add (site, hash, reason) entries not yet listed; returns the (site, hash) pairs added."""
        added: dict[tuple[str, str], str] = {}
        by_site: dict[str, list[str]] = {}
        for site, digest, _ in entries:
            by_site.setdefault(site, []).append(digest)
        listed: set[tuple[str, str]] = set()
        for site, digests in by_site.items():
            listed |= {(site, d) for d in conn.execute(
                _LISTED, {"site": site, "hashes": sorted(set(digests))}).scalars()}
        for site, digest, reason in entries:
            if (site, digest) not in listed:
                added.setdefault((site, digest), reason)
        if added:
            conn.execute(_INSERT_SUPPRESSION, [dict(site=site, email_hash=digest, reason=reason, at=now)
                                          for (site, digest), reason in added.items()])
        return set(added)

    @_operation
    def unsuppress(self, site: str, email_hash: str) -> bool:
        sup = schema.suppression
        with self._tx(write=True) as conn:
            return conn.execute(sa.delete(sup).where(sup.c.site == site, sup.c.email_hash == email_hash)).rowcount > 0

    @_operation
    def is_suppressed(self, site: str, email_hash: str) -> bool:
        sup = schema.suppression
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(sup.c.site).where(sup.c.site == site, sup.c.email_hash == email_hash)).first() is not None

    @_operation
    def suppressed(self, site: str) -> set[str]:
        sup = schema.suppression
        with self._tx(write=False) as conn:
            return set(conn.execute(sa.select(sup.c.email_hash).where(sup.c.site == site)).scalars())
