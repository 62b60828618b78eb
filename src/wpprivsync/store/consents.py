"""Proof of consent and restriction: every newsletter consent given or withdrawn (keyed hash,
time, source, wording version, proof; details emptied on erasure) and the people whose
processing is restricted (GDPR art. 7(1), 18; docs/CONSENT.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import sqlalchemy as sa

from . import schema
from .api import ConsentRecord
from .base import SqlBase, _insert_rows, _operation

_C = schema.consents
# every erasure runs it (most find nothing): built once
_ERASE_CONSENTS = sa.update(_C).where(
    _C.c.site == sa.bindparam("w_site"), _C.c.email_hash == sa.bindparam("w_hash"), _C.c.erased_at.is_(None)
).values(source=None, wording=None, proof=None, erased_at=sa.bindparam("w_now"))


class ConsentRoom(SqlBase):
    """Consents and restrictions."""

    # -- proof of consent and restriction --------------------------------------------------
    @staticmethod
    def _insert_consents(conn: sa.Connection, records: Sequence[ConsentRecord]) -> None:
        if records:
            _insert_rows(conn, schema.consents, [
                dict(site=r.site, email_hash=r.email_hash, given=r.given, at=r.at, source=r.source,
                     wording=r.wording, proof=r.proof, event_id=r.event_id, erased_at=r.erased_at)
                for r in records])

    @_operation
    def add_consents(self, records: Sequence[ConsentRecord]) -> None:
        with self._tx(write=True) as conn:
            self._insert_consents(conn, records)

    @_operation
    def consents(self, site: str, email_hash: str) -> list[ConsentRecord]:
        t = schema.consents
        with self._tx(write=False) as conn:
            rows = conn.execute(sa.select(t).where(t.c.site == site, t.c.email_hash == email_hash)
                                .order_by(t.c.at, t.c.id)).all()
        return [ConsentRecord(site=r.site, email_hash=r.email_hash, given=bool(r.given), at=r.at, source=r.source,
                              wording=r.wording, proof=r.proof, event_id=r.event_id, erased_at=r.erased_at)
                for r in rows]

    @_operation
    def erase_consents(self, site: str, email_hash: str, now: datetime) -> int:
        with self._tx(write=True) as conn:
            return int(conn.execute(_ERASE_CONSENTS, {"w_site": site, "w_hash": email_hash, "w_now": now}).rowcount)

    @_operation
    def restrict(self, site: str, email_hash: str, source: str, now: datetime) -> bool:
        t = schema.restrictions
        with self._tx(write=True) as conn:
            if conn.execute(sa.select(t.c.site).where(t.c.site == site, t.c.email_hash == email_hash)).first():
                return False
            conn.execute(sa.insert(t).values(site=site, email_hash=email_hash, source=source[:64], at=now))
            return True

    @_operation
    def lift_restriction(self, site: str, email_hash: str) -> bool:
        t = schema.restrictions
        with self._tx(write=True) as conn:
            return conn.execute(sa.delete(t).where(t.c.site == site, t.c.email_hash == email_hash)).rowcount > 0

    @_operation
    def restricted_since(self, site: str, email_hash: str) -> datetime | None:
        t = schema.restrictions
        with self._tx(write=False) as conn:
            found = conn.execute(sa.select(t.c.at).where(t.c.site == site, t.c.email_hash == email_hash)).scalar()
        return found if isinstance(found, datetime) else None

    @_operation
    def restricted(self, site: str) -> set[str]:
        t = schema.restrictions
        with self._tx(write=False) as conn:
            return set(conn.execute(sa.select(t.c.email_hash).where(t.c.site == site)).scalars())
