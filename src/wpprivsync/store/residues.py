"""Residues: the findings of residue scans per person (keyed hash), their status over time
(open, retained, resolved)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa

from . import schema
from .api import RESIDUE_OPEN, RESIDUE_RESOLVED, RESIDUE_RETAINED, Finding, Residue
from .base import SqlBase, _operation

_X = schema.residues


class ResidueRoom(SqlBase):
    """Residues: ``record_scan`` and ``residues`` of the Store protocol."""

    @_operation
    def record_scan(self, site: str, email_hash: str, findings: Sequence[Finding], now: datetime, *,
                     request_id: int | None = None) -> dict[str, int]:
        counts = {RESIDUE_OPEN: 0, RESIDUE_RETAINED: 0, RESIDUE_RESOLVED: 0}
        wanted: dict[tuple[str, str, str, str], Finding] = {}
        for f in findings:
            wanted[(f.table, f.column, f.row_key, f.kind)] = f
        with self._tx(write=True) as conn:
            rows = conn.execute(sa.select(_X).where(_X.c.site == site, _X.c.email_hash == email_hash)).all()
            known = {(r.table_name, r.column_name, r.row_key, r.kind): r for r in rows}
            for place, row in known.items():
                if place not in wanted and row.status != RESIDUE_RESOLVED:
                    conn.execute(sa.update(_X).where(_X.c.id == row.id).values(
                        status=RESIDUE_RESOLVED, resolved_at=now))
                    counts[RESIDUE_RESOLVED] += 1
            for place, f in wanted.items():
                status = RESIDUE_RETAINED if f.retained else RESIDUE_OPEN
                counts[status] += 1
                values: dict[str, Any] = dict(status=status, clause=f.clause, retained_until=f.retained_until,
                                              seen_at=now, resolved_at=None)
                if request_id is not None:
                    values["request_id"] = request_id
                found = known.get(place)
                if found is None:
                    conn.execute(sa.insert(_X).values(
                        site=site, email_hash=email_hash, table_name=f.table[:200], column_name=f.column[:200],
                        row_key=f.row_key[:300], kind=f.kind[:32], found_at=now, **values))
                else:
                    conn.execute(sa.update(_X).where(_X.c.id == found.id).values(**values))
        return {"open": counts[RESIDUE_OPEN], "retained": counts[RESIDUE_RETAINED],
                "resolved": counts[RESIDUE_RESOLVED]}

    @_operation
    def residues(self, *, site: str | None = None, email_hash: str | None = None, status: str | None = None,
                  limit: int = 200) -> list[Residue]:
        q = sa.select(_X)
        if site is not None:
            q = q.where(_X.c.site == site)
        if email_hash is not None:
            q = q.where(_X.c.email_hash == email_hash)
        if status is not None:
            q = q.where(_X.c.status == status)
        q = q.order_by(_X.c.id.desc()).limit(limit)
        with self._tx(write=False) as conn:
            return [Residue(table=r.table_name, column=r.column_name, row_key=r.row_key, kind=r.kind,
                            clause=r.clause, retained_until=r.retained_until, id=r.id, site=r.site,
                            email_hash=r.email_hash, request_id=r.request_id, status=r.status,
                            found_at=r.found_at, seen_at=r.seen_at, resolved_at=r.resolved_at)
                    for r in conn.execute(q)]
