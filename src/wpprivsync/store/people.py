"""Linked records: the people the tool knows on a site (WordPress user id, names), every email
each has had (plain while the person exists, keyed hash only once erased) and the ActiveCampaign
contact id known under each (docs/IDENTITY.md, "Linked records")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa

from ..errors import StoreError
from . import schema
from .api import Person, PersonEmail, PersonLink
from .base import SqlBase, _operation

_P, _PE = schema.people, schema.person_emails


def _live_by(column: sa.Column[Any]) -> sa.Select[Any]:
    # driven from the email's row (index (site, email_hash) or (site, contact_id)): filtered on
    # the person's site alone, SQLite walks every person of the site for each look-up
    return sa.select(_P.c.id).select_from(_P.join(_PE, _PE.c.person_id == _P.c.id)).where(
        _PE.c.site == sa.bindparam("site"), column == sa.bindparam("value"), _P.c.site == sa.bindparam("site"),
        _P.c.erased_at.is_(None)).order_by(_P.c.id.desc()).limit(1)


# The statements of an erasure's steps (a look-up, a link, the forgetting), built once: building
# one costs about as much CPU as running it.
_LIVE_BY = {"email_hash": _live_by(_PE.c.email_hash), "contact_id": _live_by(_PE.c.contact_id)}
_LIVE_BY_USER = sa.select(_P.c.id).where(
    _P.c.site == sa.bindparam("site"), _P.c.wp_user_id == sa.bindparam("user"), _P.c.erased_at.is_(None)
).order_by(_P.c.id.desc()).limit(1)
_PERSON = sa.select(_P).where(_P.c.id == sa.bindparam("pid"))
_PERSON_EMAILS = sa.select(_PE).where(_PE.c.person_id == sa.bindparam("pid")).order_by(
    _PE.c.current.desc(), _PE.c.updated_at.desc(), _PE.c.id.desc())
_EMAIL_ROW = sa.select(_PE.c.id).where(_PE.c.person_id == sa.bindparam("pid"),
                                       _PE.c.email_hash == sa.bindparam("hash"))
# the person's rows by the (person_id, email_hash) index: ``site || ''`` keeps SQLite from
# taking the (site, email_hash) index instead, which walks every email of the site
_FORGET_EMAILS = sa.update(_PE).where(
    _PE.c.person_id == sa.bindparam("w_pid"), _PE.c.site.concat("") == sa.bindparam("w_site"),
    sa.or_(_PE.c.email.is_not(None), _PE.c.contact_id.is_not(None))
).values(email=None, contact_id=None, current=False, updated_at=sa.bindparam("w_now"))
_MARK_ERASED = sa.update(_P).where(
    _P.c.site == sa.bindparam("w_site"), _P.c.id == sa.bindparam("w_pid"), _P.c.erased_at.is_(None)
).values(erased_at=sa.bindparam("w_now"), first_name=None, last_name=None)


class PeopleRoom(SqlBase):
    """Linked records: ``link_people``, ``person``, ``unlink_contact``, ``forget_person``."""

    # -- linked records -------------------------------------------------------------------
    @_operation
    def link_people(self, links: Sequence[PersonLink], now: datetime) -> list[int]:
        with self._tx(write=True) as conn:
            return [self._link(conn, link, now) for link in links]

    @staticmethod
    def _live_person_by(conn: sa.Connection, site: str, column: sa.Column[Any], value: Any) -> int | None:
        found = conn.execute(_LIVE_BY[column.name], {"site": site, "value": value}).scalar()
        return None if found is None else int(found)

    def _link(self, conn: sa.Connection, link: PersonLink, now: datetime) -> int:
        if not link.email_hash:
            raise StoreError("a person link needs an email hash")
        site = link.site
        pid: int | None = None
        if link.wp_user_id:
            found = conn.execute(_LIVE_BY_USER, {"site": site, "user": link.wp_user_id}).scalar()
            pid = None if found is None else int(found)
        if pid is None and link.replaces_hash:
            pid = self._live_person_by(conn, site, _PE.c.email_hash, link.replaces_hash)
        if pid is None and link.contact_id:
            pid = self._live_person_by(conn, site, _PE.c.contact_id, int(link.contact_id))
        if pid is None:
            pid = self._live_person_by(conn, site, _PE.c.email_hash, link.email_hash)
        if pid is not None and link.wp_user_id:
            # an email another account had before is not that account's person
            owner = conn.execute(sa.select(_P.c.wp_user_id).where(_P.c.id == pid)).scalar()
            if owner is None:
                conn.execute(sa.update(_P).where(_P.c.id == pid).values(wp_user_id=link.wp_user_id))
            elif int(owner) != int(link.wp_user_id):
                pid = None
        if pid is None:
            pid = int(conn.execute(sa.insert(_P).values(site=site, wp_user_id=link.wp_user_id or None,
                                                        created_at=now, erased_at=None)
                                   .returning(_P.c.id)).scalar_one())
        names = {k: v[:255] for k, v in (("first_name", link.first_name), ("last_name", link.last_name))
                 if v is not None}
        if names:
            conn.execute(sa.update(_P).where(_P.c.id == pid).values(**names))
        row = conn.execute(_EMAIL_ROW, {"pid": pid, "hash": link.email_hash}).first()
        values: dict[str, Any] = {"updated_at": now}
        if link.email:
            values["email"] = link.email
        if link.contact_id:
            values["contact_id"] = int(link.contact_id)
        if link.proof:
            values["proof"] = link.proof[:32]
        if row is None:
            conn.execute(sa.insert(_PE).values(
                person_id=pid, site=site, email=link.email or None, email_hash=link.email_hash,
                contact_id=int(link.contact_id) if link.contact_id else None, current=False,
                proof=link.proof[:32], source=link.source[:64], first_seen_at=now, updated_at=now))
        else:
            conn.execute(sa.update(_PE).where(_PE.c.id == row.id).values(**values))
        if link.current:
            conn.execute(sa.update(_PE).where(_PE.c.person_id == pid).values(
                current=_PE.c.email_hash == link.email_hash))
        return pid

    @_operation
    def person(self, site: str, *, email_hash: str | None = None, wp_user_id: int | None = None,
               contact_id: int | None = None) -> Person | None:
        with self._tx(write=False) as conn:
            pid: int | None = None
            if wp_user_id:
                found = conn.execute(_LIVE_BY_USER, {"site": site, "user": wp_user_id}).scalar()
                pid = None if found is None else int(found)
            if pid is None and contact_id:
                pid = self._live_person_by(conn, site, _PE.c.contact_id, int(contact_id))
            if pid is None and email_hash:
                pid = self._live_person_by(conn, site, _PE.c.email_hash, email_hash)
            if pid is None:
                return None
            return self._person(conn, pid)

    @staticmethod
    def _person(conn: sa.Connection, pid: int) -> Person:
        p = conn.execute(_PERSON, {"pid": pid}).one()
        rows = conn.execute(_PERSON_EMAILS, {"pid": pid})
        emails = tuple(PersonEmail(email=r.email, email_hash=r.email_hash,
                                   contact_id=None if r.contact_id is None else int(r.contact_id),
                                   current=bool(r.current), proof=r.proof, source=r.source,
                                   first_seen_at=r.first_seen_at, updated_at=r.updated_at) for r in rows)
        return Person(id=int(p.id), site=p.site, wp_user_id=None if p.wp_user_id is None else int(p.wp_user_id),
                      created_at=p.created_at, erased_at=p.erased_at, emails=emails, first_name=p.first_name,
                      last_name=p.last_name)

    @_operation
    def unlink_contact(self, site: str, contact_id: int, now: datetime) -> int:
        with self._tx(write=True) as conn:
            return int(conn.execute(sa.update(_PE).where(_PE.c.site == site, _PE.c.contact_id == int(contact_id))
                                    .values(contact_id=None, updated_at=now)).rowcount)

    @_operation
    def forget_person(self, site: str, person_id: int, now: datetime) -> bool:
        with self._tx(write=True) as conn:
            cleared = conn.execute(_FORGET_EMAILS, {"w_site": site, "w_pid": person_id, "w_now": now}).rowcount
            marked = conn.execute(_MARK_ERASED, {"w_site": site, "w_pid": person_id, "w_now": now}).rowcount
            return bool(cleared or marked)
