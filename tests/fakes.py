"""In-memory stand-ins for the WordPress plugin and ActiveCampaign at the Protocol level, for
unit tests of the engine (end-to-end tests use the real WordPress and the local
ActiveCampaign server instead). Failures can be scripted per method."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterator

from wpprivsync import errors
from wpprivsync.clients.protocols import Contact, Event, ListMember


class Scripted:
    """``fail["erase"] = [errors.ServerError(...), ...]`` makes the next calls raise those."""

    def __init__(self) -> None:
        self.fail: dict[str, list[BaseException]] = defaultdict(list)
        self.calls: list[tuple[str, Any]] = []

    def _call(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        if self.fail[name]:
            raise self.fail[name].pop(0)


class FakeWordPress(Scripted):
    def __init__(self) -> None:
        super().__init__()
        self.outbox: list[Event] = []
        self.acked: dict[int, str | None] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, int] = defaultdict(int)
        self.order_rows: list[dict[str, Any]] = []
        self.anonymized: list[int] = []
        self.heartbeats: list[dict] = []
        self.mirrored: list[dict] = []
        self.lookup_answers: dict[str, dict] = {}
        self.retention: tuple[int, int] | None = None
        self.erased: list[str] = []
        self.exports: list[bytes] = []
        # residue scan: places per email (the plugin's answer items, without "email"), pages
        # each scan takes, and tables it cannot read
        self.residue: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.scan_pages = 1
        self.unreadable: list[str] = []

    def add_event(self, type_: str, payload: dict, created: str = "2026-11-20T10:00:00Z") -> int:
        eid = len(self.outbox) + 1
        self.outbox.append(Event(eid, type_, payload, created))
        return eid

    def events(self, after: int, limit: int = 100):
        self._call("events", after)
        pending = [e for e in self.outbox if e.id > after and e.id not in self.acked]
        return pending[:limit], len(pending)

    def ack(self, ids, hashes=None):
        self._call("ack", list(ids))
        n = 0
        for i in ids:
            if i not in self.acked:
                n += 1
            self.acked[i] = (hashes or {}).get(i)
        return n

    def pull(self, after, limit, ack=(), hashes=None):
        acked = self.ack(ack, hashes) if ack else 0  # a failing ack answers no page
        events, pending = self.events(after, limit)
        return events, pending, acked

    def erase(self, email, *, dry_run=False, exclude=()):
        self._call("erase", email)
        retained = [{"kind": "order", "id": o["id"], "until": o["retained_until"]}
                    for o in self.order_rows if o["email"] == email]
        if dry_run:
            return {"erasers": [{"id": "core"}], "would_touch": {"comments": self.comments[email]},
                    "retained": retained}
        self.erased.append(email)
        had = email in self.users
        self.users.pop(email, None)
        return {"request_id": 50 + len(self.erased), "erasers": [
            {"id": "core-user", "items_removed": had, "items_retained": False},
            {"id": "woocommerce-orders", "items_removed": False, "items_retained": bool(retained)}],
            "retained": retained}

    def scan(self, emails, *, cursor="", evidence_days=30, budget_ms=2000, hashes=()):
        """Pages like the plugin's route: the findings of every email on the last page."""
        self._call("scan", (list(emails), cursor))
        page = int(cursor or 0) + 1
        if page < self.scan_pages:
            return {"done": False, "cursor": str(page), "found": [], "unscanned": [], "rows_scanned": 10,
                    "tables_scanned": 1}
        found = [{"email": i, **place} for i, e in enumerate(emails) for place in self.residue[e]]
        retained = [{"email": i, "table": "wp_wc_orders", "column": "billing_email", "key": str(o["id"]),
                     "kind": "email", "retained": {"until": o["retained_until"], "clause": "orders"}}
                    for i, e in enumerate(emails) for o in self.order_rows if o["email"] == e]
        return {"done": True, "cursor": None, "found": found + retained, "rows_scanned": 10, "tables_scanned": 1,
                "unscanned": [{"table": t, "reason": "could not read"} for t in self.unreadable]}

    def erase_batch(self, emails, *, exclude=()):
        self._call("erase_batch", list(emails))
        return [self.erase(e, exclude=exclude) for e in emails]

    def export(self, email):
        self._call("export", email)
        groups = {}
        if email in self.users:
            groups["user"] = {"label": "User", "items": [{"item_id": "user-1", "data": [{"name": "Email", "value": email}]}]}
        return {"groups": groups}

    def remove_comments(self, email, *, dry_run=False):
        self._call("remove_comments", email)
        n = self.comments.pop(email, 0)
        return {"comments_deleted": n, "meta_deleted": n}

    def set_consent(self, email, subscribed):
        self._call("set_consent", email)
        if email not in self.users:
            raise errors.NotFound("no user", system="wordpress", status=404, code="wpprivsync_no_user")
        changed = self.users[email].get("subscribed") != subscribed
        self.users[email]["subscribed"] = subscribed
        return {"user_id": self.users[email]["id"], "changed": changed}

    def restrict(self, email, restricted):
        self._call("restrict", email)
        if email not in self.users:
            raise errors.NotFound("no user", system="wordpress", status=404, code="wpprivsync_no_user")
        changed = bool(self.users[email].get("restricted")) != restricted
        self.users[email]["restricted"] = restricted
        return {"user_id": self.users[email]["id"], "changed": changed}

    def consents(self) -> Iterator[dict]:
        self._call("consents")
        for email, u in self.users.items():
            yield {"id": u["id"], "email": email, "subscribed": u.get("subscribed")}

    def orders(self, *, email=None, before=None):
        self._call("orders", before)
        for o in self.order_rows:
            if o["id"] in self.anonymized:
                continue
            if email and o["email"] != email:
                continue
            if before and o["created"] >= before:
                continue
            yield {"id": o["id"], "created": o["created"], "status": "completed"}

    def scrub_requests(self, older_than_days):
        self._call("scrub_requests", older_than_days)
        return {"scrubbed": 0}

    def anonymize_orders(self, order_ids):
        self._call("anonymize_orders", list(order_ids))
        self.anonymized.extend(order_ids)
        return {"anonymized": list(order_ids), "skipped": []}

    def set_retention(self, order_years, tax_year_start_month):
        self._call("set_retention")
        self.retention = (order_years, tax_year_start_month)
        return {"order_years": order_years}

    def store_export(self, archive):
        self._call("store_export", len(archive))
        self.exports.append(archive)
        return {"url": f"http://shop.test/exports/{len(self.exports)}.zip", "expires_at": "2026-12-02T00:00:00Z"}

    def heartbeat(self, body):
        self._call("heartbeat")
        self.heartbeats.append(body)

    def lookup_answer(self, lookup_id, body):
        self._call("lookup_answer")
        self.lookup_answers[lookup_id] = body

    def mirror_requests(self, rows):
        self._call("mirror_requests")
        self.mirrored.extend(rows)
        return len(rows)


class FakeActiveCampaign(Scripted):
    def __init__(self) -> None:
        super().__init__()
        self.contacts: dict[int, dict[str, Any]] = {}
        self.deletes: list[int] = []
        self.imports: list[list] = []
        self._next = 100

    def add(self, email: str, lists: dict[int, int] | None = None, tags: list[str] = ()) -> int:
        self._next += 1
        self.contacts[self._next] = {"email": email, "lists": dict(lists or {}),
                                     "tags": {self._next * 10 + i: t for i, t in enumerate(tags)}, "fields": {}}
        return self._next

    def by_email(self, email):
        return next((i for i, c in self.contacts.items() if c["email"] == email), None)

    def find_contact(self, email):
        self._call("find_contact", email)
        cid = self.by_email(email)
        return Contact(cid, email) if cid else None

    def contact_details(self, contact_id):
        self._call("contact_details", contact_id)
        c = self.contacts[contact_id]
        return {"contact": {"id": contact_id, "email": c["email"]},
                "lists": [{"list": l, "name": f"List {l}", "status": s} for l, s in c["lists"].items()],
                "fields": [{"field": f, "title": f"F{f}", "value": v} for f, v in c["fields"].items()],
                "tags": [{"id": i, "tag": t} for i, t in c["tags"].items()]}

    def contact_lists(self, contact_id):
        self._call("contact_lists", contact_id)
        c = self.contacts.get(contact_id)
        return None if c is None else [{"list": l, "status": s} for l, s in c["lists"].items()]

    def contact_comment_data(self, contact_id, *, tags, fields):
        self._call("contact_comment_data", contact_id)
        c = self.contacts.get(contact_id)
        if c is None:
            return None
        return {"tags": [{"id": i, "tag": t} for i, t in c["tags"].items()] if tags else [],
                "fields": [{"field": f, "value": v} for f, v in c["fields"].items()] if fields else []}

    def update_contact(self, contact_id, *, email=None, first_name=None, last_name=None):
        self._call("update_contact", contact_id)
        c = self.contacts.get(contact_id)
        if c is None:
            return None
        if email is not None:
            c["email"] = email
        return Contact(contact_id, c["email"])

    def delete_contact(self, contact_id):
        self._call("delete_contact", contact_id)
        self.deletes.append(contact_id)
        return self.contacts.pop(contact_id, None) is not None

    def set_list_status(self, contact_id, list_id, status):
        self._call("set_list_status", (contact_id, list_id, status))
        self.contacts[contact_id]["lists"][list_id] = status

    def sync_contact(self, email, **fields):
        self._call("sync_contact", email)
        cid = self.by_email(email) or self.add(email)
        return Contact(cid, email)

    def remove_contact_tag(self, contact_tag_id):
        self._call("remove_contact_tag", contact_tag_id)
        for c in self.contacts.values():
            if c["tags"].pop(contact_tag_id, None) is not None:
                return True
        return False

    def clear_field_value(self, contact_id, field_id):
        self.contacts[contact_id]["fields"].pop(field_id, None)

    def bulk_import(self, contacts):
        batch = list(contacts)
        ids = []
        for start in range(0, len(batch), 250):
            chunk = batch[start:start + 250]
            self._call("bulk_import", len(chunk))
            self.imports.append(chunk)
            for bc in chunk:
                cid = self.by_email(bc.email) or self.add(bc.email)
                for l in bc.subscribe:
                    if self.contacts[cid]["lists"].get(l) != 2:
                        self.contacts[cid]["lists"][l] = 1
                for l in bc.unsubscribe:
                    self.contacts[cid]["lists"][l] = 2
            ids.append(f"batch-{len(self.imports)}")
        return ids

    def list_ids(self):
        self._call("list_ids", None)
        return sorted({l for c in self.contacts.values() for l in c["lists"]})

    def subscribed_among(self, list_id, contact_ids):
        self._call("subscribed_among", list_id)
        return {i for i in contact_ids if self.contacts.get(i, {}).get("lists", {}).get(list_id) == 1}

    def list_members(self, list_id):
        self._call("list_members", list_id)
        for cid, c in sorted(self.contacts.items()):
            if list_id in c["lists"]:
                yield ListMember(cid, c["email"], c["lists"][list_id])
