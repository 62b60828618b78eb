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
from .audit import AuditRoom
from .base import SqlBase, _insert_rows, _operation
from .consents import _ERASE_CONSENTS

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
# the person's rows by the (person_id, email_hash) index: ``site || ''`` keeps SQLite from
# taking the (site, email_hash) index instead, which walks every email of the site
_FORGET_EMAILS = sa.update(_PE).where(
    _PE.c.person_id == sa.bindparam("w_pid"), _PE.c.site.concat("") == sa.bindparam("w_site"),
    sa.or_(_PE.c.email.is_not(None), _PE.c.contact_id.is_not(None))
).values(email=None, contact_id=None, current=False, updated_at=sa.bindparam("w_now"))
_MARK_ERASED = sa.update(_P).where(
    _P.c.site == sa.bindparam("w_site"), _P.c.id == sa.bindparam("w_pid"), _P.c.erased_at.is_(None)
).values(erased_at=sa.bindparam("w_now"), first_name=None, last_name=None)

# The statements of a batch of links (``_link_many``), built once too: every erasure's look-up
# links one contact through them, and building them was most of that link's CPU time.
_LINKABLE_BY_USER = sa.select(_P.c.id).where(
    _P.c.site == sa.bindparam("site"), _P.c.wp_user_id.in_(sa.bindparam("values", expanding=True)),
    _P.c.erased_at.is_(None))


def _linkable_by(column: sa.Column[Any]) -> sa.Select[Any]:
    return sa.select(_P.c.id).select_from(_P.join(_PE, _PE.c.person_id == _P.c.id)).where(
        _PE.c.site == sa.bindparam("site"), _P.c.site == sa.bindparam("site"), _P.c.erased_at.is_(None),
        column.in_(sa.bindparam("values", expanding=True)))


_LINKABLE_BY = {"email_hash": _linkable_by(_PE.c.email_hash), "contact_id": _linkable_by(_PE.c.contact_id)}
_PEOPLE_IN = sa.select(_P).where(_P.c.id.in_(sa.bindparam("pids", expanding=True)))
_EMAILS_OF_PEOPLE = sa.select(_PE).where(_PE.c.person_id.in_(sa.bindparam("pids", expanding=True))).order_by(_PE.c.id)
_UPDATE_PERSON = sa.update(_P).where(_P.c.id == sa.bindparam("b_id")).values(
    wp_user_id=sa.bindparam("b_uid"), first_name=sa.bindparam("b_first"), last_name=sa.bindparam("b_last"))
_UPDATE_EMAIL = sa.update(_PE).where(_PE.c.id == sa.bindparam("b_id")).values(
    email=sa.bindparam("b_email"), contact_id=sa.bindparam("b_contact"), proof=sa.bindparam("b_proof"),
    updated_at=sa.bindparam("b_updated"), current=sa.bindparam("b_current"))


class PeopleRoom(SqlBase):
    """Linked records: ``link_people``, ``person``, ``unlink_contact``, ``forget_person``."""

    # -- linked records -------------------------------------------------------------------
    @_operation
    def link_people(self, links: Sequence[PersonLink], now: datetime) -> list[int]:
        with self._tx(write=True) as conn:
            return self._link_many(conn, links, now)

    @staticmethod
    def _live_person_by(conn: sa.Connection, site: str, column: sa.Column[Any], value: Any) -> int | None:
        found = conn.execute(_LIVE_BY[column.name], {"site": site, "value": value}).scalar()
        return None if found is None else int(found)

    def _link_many(self, conn: sa.Connection, links: Sequence[PersonLink], now: datetime) -> list[int]:
        """Apply links in order, as one link after the other would be, with a few statements
        for the lot (issue 17.6: a page of 500 events was 3,000 statements): read every person
        and email the links can reach, apply the links to that copy in memory, write back what
        changed (one insert of new people, one of new emails, one update each of changed rows).
        The copy holds every row a link's look-ups can match, before and after the earlier
        links of the batch: the look-ups are by the batch's own keys (user id, email hash,
        contact id), loaded first, and every row a link writes belongs to a person it found or
        made, whose rows are all loaded. Returns each link's person id."""
        for link in links:
            if not link.email_hash:
                raise StoreError("a person link needs an email hash")
        if not links:
            return []
        mem = _Copy()
        by_site: dict[str, tuple[set[int], set[str], set[int]]] = {}
        for link in links:
            uids, hashes, cids = by_site.setdefault(link.site, (set(), set(), set()))
            if link.wp_user_id:
                uids.add(int(link.wp_user_id))
            hashes.update(h for h in (link.email_hash, link.replaces_hash) if h)
            if link.contact_id:
                cids.add(int(link.contact_id))
        pids: set[int] = set()
        for site, (uids, hashes, cids) in by_site.items():
            for statement, values in ((_LINKABLE_BY_USER, uids), (_LINKABLE_BY["email_hash"], hashes),
                                      (_LINKABLE_BY["contact_id"], cids)):
                for chunk in _chunks(sorted(values)):
                    pids.update(conn.execute(statement, {"site": site, "values": list(chunk)}).scalars())
        for chunk in _chunks(sorted(pids)):
            for row in conn.execute(_PEOPLE_IN, {"pids": list(chunk)}):
                mem.add_person(dict(row._mapping))
            for row in conn.execute(_EMAILS_OF_PEOPLE, {"pids": list(chunk)}):
                mem.add_email(dict(row._mapping))
        found = [mem.apply(link, now) for link in links]
        # -- write back: new people first (their ids), then emails, then changed rows
        new_people = [p for p in mem.people.values() if p["id"] >= _NEW]
        real: dict[int, int] = {}
        if new_people:
            rows = [{k: v for k, v in p.items() if k != "id"} for p in new_people]
            real = {p["id"]: rid for p, rid in zip(new_people, self._insert_ids(conn, _P, rows))}
        changed = [p for p in mem.people.values() if p["id"] < _NEW and p["id"] in mem.dirty_people]
        if changed:
            conn.execute(_UPDATE_PERSON, [{"b_id": p["id"], "b_uid": p["wp_user_id"], "b_first": p["first_name"],
                  "b_last": p["last_name"]} for p in changed])
        new_emails = [e for e in mem.emails if e["id"] is None]
        if new_emails:
            email_rows: list[dict[str, Any]] = []
            for e in new_emails:
                fields = dict(e)
                del fields["id"]
                fields["person_id"] = real.get(fields["person_id"], fields["person_id"])
                email_rows.append(fields)
            _insert_rows(conn, _PE, email_rows)
        touched = [e for e in mem.emails if e["id"] is not None and e["id"] in mem.dirty_emails]
        if touched:
            conn.execute(_UPDATE_EMAIL, [{"b_id": e["id"], "b_email": e["email"], "b_contact": e["contact_id"], "b_proof": e["proof"],
                  "b_updated": e["updated_at"], "b_current": e["current"]} for e in touched])
        return [real.get(pid, pid) for pid in found]

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
    def forget_person(self, site: str, person_id: int, now: datetime, *, consents_of: str | None = None,
                      suppress: Sequence[str] = (), reason: str = "erasure") -> bool:
        with self._tx(write=True) as conn:
            if consents_of is not None:
                conn.execute(_ERASE_CONSENTS, {"w_site": site, "w_hash": consents_of, "w_now": now})
            if suppress:
                AuditRoom._suppress_many(conn, [(site, digest, reason) for digest in suppress], now)
            cleared = conn.execute(_FORGET_EMAILS, {"w_site": site, "w_pid": person_id, "w_now": now}).rowcount
            marked = conn.execute(_MARK_ERASED, {"w_site": site, "w_pid": person_id, "w_now": now}).rowcount
            return bool(cleared or marked)


_NEW = 1 << 62  # ids of people a batch of links made, before the insert gives them theirs
_CHUNK = 500  # values in one IN list


def _chunks(values: Sequence[Any]) -> list[Sequence[Any]]:
    return [values[i:i + _CHUNK] for i in range(0, len(values), _CHUNK)]


class _Copy:
    """The people and emails a batch of links can reach, as rows (dicts with the table's
    columns), and ``apply``: one link's look-ups and writes on them. A new person gets an id
    from ``_NEW`` up, above every stored one, so "the newest person" stays the highest id."""

    def __init__(self) -> None:
        self.people: dict[int, dict[str, Any]] = {}
        self.emails: list[dict[str, Any]] = []  # in id order, new ones (id None) last, in order made
        self._of_person: dict[int, list[dict[str, Any]]] = {}
        self._users: dict[tuple[str, int], set[int]] = {}  # (site, user id) -> people that had it
        self._keyed: dict[tuple[str, str, Any], list[dict[str, Any]]] = {}  # (site, column, value) -> emails
        self.dirty_people: set[int] = set()
        self.dirty_emails: set[int] = set()
        self._next = _NEW

    def add_person(self, row: dict[str, Any]) -> None:
        self.people[int(row["id"])] = row
        self._of_person.setdefault(int(row["id"]), [])
        self._index_user(row)

    def add_email(self, row: dict[str, Any]) -> None:
        self.emails.append(row)
        self._of_person.setdefault(int(row["person_id"]), []).append(row)
        self._index_email(row, "email_hash")
        self._index_email(row, "contact_id")

    def _index_user(self, row: dict[str, Any]) -> None:
        if row["wp_user_id"] is not None:
            self._users.setdefault((row["site"], int(row["wp_user_id"])), set()).add(int(row["id"]))

    def _index_email(self, row: dict[str, Any], column: str) -> None:
        if row[column] is not None:
            self._keyed.setdefault((row["site"], column, row[column]), []).append(row)

    def _live(self, pid: int, site: str) -> bool:
        p = self.people.get(pid)
        return p is not None and p["site"] == site and p["erased_at"] is None

    def _by_user(self, site: str, uid: int) -> int | None:
        found = [pid for pid in self._users.get((site, uid), ())
                 if self.people[pid]["wp_user_id"] == uid and self._live(pid, site)]
        return max(found) if found else None

    def _by_email(self, site: str, column: str, value: Any) -> int | None:
        # an index entry whose row changed since is checked again (a contact id is overwritten)
        found = [int(e["person_id"]) for e in self._keyed.get((site, column, value), ())
                 if e[column] == value and self._live(int(e["person_id"]), site)]
        return max(found) if found else None

    def apply(self, link: PersonLink, now: datetime) -> int:
        site = link.site
        pid: int | None = None
        if link.wp_user_id:
            pid = self._by_user(site, int(link.wp_user_id))
        if pid is None and link.replaces_hash:
            pid = self._by_email(site, "email_hash", link.replaces_hash)
        if pid is None and link.contact_id:
            pid = self._by_email(site, "contact_id", int(link.contact_id))
        if pid is None:
            pid = self._by_email(site, "email_hash", link.email_hash)
        if pid is not None and link.wp_user_id:
            # an email another account had before is not that account's person
            owner = self.people[pid]["wp_user_id"]
            if owner is None:
                self.people[pid]["wp_user_id"] = int(link.wp_user_id)
                self._index_user(self.people[pid])
                self.dirty_people.add(pid)
            elif int(owner) != int(link.wp_user_id):
                pid = None
        if pid is None:
            pid = self._next
            self._next += 1
            self.add_person(dict(id=pid, site=site, wp_user_id=link.wp_user_id or None, first_name=None,
                                 last_name=None, created_at=now, erased_at=None))
        person = self.people[pid]
        for key, value in (("first_name", link.first_name), ("last_name", link.last_name)):
            if value is not None:
                person[key] = value[:255]
                self.dirty_people.add(pid)
        mine = self._of_person[pid]
        row = next((e for e in mine if e["email_hash"] == link.email_hash), None)
        if row is None:
            self.add_email(dict(
                id=None, person_id=pid, site=site, email=link.email or None, email_hash=link.email_hash,
                contact_id=int(link.contact_id) if link.contact_id else None, current=False,
                proof=link.proof[:32], source=link.source[:64], first_seen_at=now, updated_at=now))
        else:
            row["updated_at"] = now
            if link.email:
                row["email"] = link.email
            if link.contact_id:
                row["contact_id"] = int(link.contact_id)
                self._index_email(row, "contact_id")
            if link.proof:
                row["proof"] = link.proof[:32]
            self._touch(row)
        if link.current:
            for e in mine:
                now_current = e["email_hash"] == link.email_hash
                if bool(e["current"]) != now_current:
                    e["current"] = now_current
                    self._touch(e)
        return pid

    def _touch(self, row: dict[str, Any]) -> None:
        if row["id"] is not None:
            self.dirty_emails.add(int(row["id"]))
