"""Key-value state (sweeps' bookkeeping, seen WebinarJam sessions)."""

from __future__ import annotations

import sqlalchemy as sa

from . import schema
from .base import SqlBase, _operation


class StateRoom(SqlBase):
    """Key-value state (sweeps' bookkeeping, seen WebinarJam sessions)."""

    # -- key/value state ------------------------------------------------------------------
    @_operation
    def get_state(self, key: str) -> str | None:
        st = schema.state
        with self._tx(write=False) as conn:
            return conn.execute(sa.select(st.c.value).where(st.c.key == key)).scalar()

    @_operation
    def set_state(self, key: str, value: str) -> None:
        st = schema.state
        with self._tx(write=True) as conn:
            now = self.clock()
            if conn.execute(sa.update(st).where(st.c.key == key).values(value=value, updated_at=now)).rowcount == 0:
                conn.execute(sa.insert(st).values(key=key, value=value, updated_at=now))
