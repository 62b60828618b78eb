"""The data of one fake ActiveCampaign account and the rules that change it.

Everything is kept in plain dicts under one lock; ``render_*`` functions shape records the way
the contract's responses do (ids and numbers as strings, ISO dates with an offset). Changes that
ActiveCampaign reports through webhooks call ``emit(event)``; bulk imports never do.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SOURCES = ("public", "admin", "api", "system")


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


class FakeError(Exception):
    """An error answer: HTTP status and JSON body."""

    def __init__(self, status: int, body: dict[str, Any]):
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}")


def not_found(kind: str, ident: Any) -> FakeError:
    return FakeError(404, {"message": f"No Result found for {kind} with id {ident}"})


@dataclass
class Event:
    type: str               # subscribe | unsubscribe | update
    source: str             # public | admin | api | system
    contact_id: int
    list_id: int = 0
    date_time: str = field(default_factory=now_iso)
    extra: dict[str, str] = field(default_factory=dict)


class RateWindow:
    """Sliding one-second log of accepted requests: a request is accepted when fewer than
    ``rate`` were accepted in the second before it."""

    def __init__(self, rate: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self._clock = clock
        self._log: deque[float] = deque()
        self._lock = threading.Lock()
        self.accepted: deque[float] = deque(maxlen=100_000)  # recent accepted arrivals, for stats

    def admit(self) -> tuple[bool, float, int]:
        """(accepted, seconds until a slot frees, remaining slots)."""
        with self._lock:
            now = self._clock()
            while self._log and self._log[0] <= now - 1.0:
                self._log.popleft()
            if self.rate > 0 and len(self._log) >= self.rate:
                return False, self._log[0] + 1.0 - now, 0
            self._log.append(now)
            self.accepted.append(now)
            return True, 0.0, max(0, self.rate - len(self._log))

    def max_in_any_second(self) -> int:
        with self._lock:
            times = list(self.accepted)
        best, j = 0, 0
        for i, t in enumerate(times):
            while times[j] <= t - 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best

    def reset(self) -> None:
        with self._lock:
            self._log.clear()
            self.accepted.clear()


class AccountState:
    """One account: lists, contacts, list memberships, fields, tags, webhooks, imports."""

    def __init__(self, name: str, token: str, *, rate: int = 5,
                 emit: Callable[["AccountState", Event], None] | None = None):
        self.name = name
        self.token = token
        self.lock = threading.RLock()
        self.window = RateWindow(rate)
        self.emit = emit or (lambda account, event: None)
        self.requests: Counter = Counter()
        self.http429 = 0
        self.http429_injected = 0
        self.contacts_deleted = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._ids = {k: itertools.count(1) for k in
                         ("list", "contact", "contactList", "field", "fieldValue", "tag", "contactTag", "webhook")}
            self.lists: dict[int, dict[str, Any]] = {}
            self.contacts: dict[int, dict[str, Any]] = {}
            self.by_email: dict[str, int] = {}
            self.contact_lists: dict[tuple[int, int], dict[str, Any]] = {}
            self.fields: dict[int, dict[str, Any]] = {}
            self.field_values: dict[tuple[int, int], dict[str, Any]] = {}
            self.tags: dict[int, dict[str, Any]] = {}
            self.contact_tags: dict[int, dict[str, Any]] = {}
            self.webhooks: dict[int, dict[str, Any]] = {}
            self.imports: dict[str, dict[str, Any]] = {}
            self.requests.clear()
            self.http429 = 0
            self.http429_injected = 0
            self.contacts_deleted = 0
        self.window.reset()

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    # -- lists ----------------------------------------------------------------------------
    def add_list(self, name: str, stringid: str | None = None) -> int:
        with self.lock:
            lid = self.next_id("list")
            self.lists[lid] = {"id": lid, "name": name,
                               "stringid": stringid or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
                               "cdate": now_iso(), "udate": now_iso()}
            return lid

    def get_list(self, lid: int) -> dict[str, Any]:
        if lid not in self.lists:
            raise FakeError(404, {"message": f"No Result found for List with id {lid}"})
        return self.lists[lid]

    # -- contacts -------------------------------------------------------------------------
    def contact(self, cid: int) -> dict[str, Any]:
        c = self.contacts.get(cid)
        if c is None:
            raise not_found("Subscriber", cid)
        return c

    def find_email(self, email: str) -> dict[str, Any] | None:
        cid = self.by_email.get(email.strip().lower())
        return self.contacts.get(cid) if cid else None

    def upsert_contact(self, email: str, values: dict[str, Any], *, source: str | None,
                       create_only: bool = False) -> tuple[dict[str, Any], bool]:
        """(contact, created). Emits ``update`` (from ``source``) when an existing contact's
        details change; ``source=None`` emits nothing (imports)."""
        email = email.strip()
        if not _EMAIL.match(email):
            raise FakeError(422, {"errors": [{"title": "Email address is invalid", "detail": "",
                                              "code": "email_invalid", "source": {"pointer": "/data/attributes/email"}}]})
        with self.lock:
            existing = self.find_email(email)
            if existing and create_only:
                raise FakeError(422, {"errors": [{"title": "Email address already exists in the system", "detail": "",
                                                  "code": "duplicate", "source": {"pointer": "/data/attributes/email"}}]})
            if existing is None:
                cid = self.next_id("contact")
                c = {"id": cid, "email": email, "firstName": "", "lastName": "", "phone": "",
                     "cdate": now_iso(), "udate": now_iso()}
                self.contacts[cid] = c
                self.by_email[email.lower()] = cid
                created = True
            else:
                c, created = existing, False
            changed = False
            for key in ("firstName", "lastName", "phone"):
                if key in values and values[key] is not None and str(values[key]) != c[key]:
                    c[key] = str(values[key])
                    changed = True
            for fv in values.get("fieldValues") or []:
                changed |= self.set_field_value(c["id"], int(fv["field"]), fv.get("value"))
            if changed:
                c["udate"] = now_iso()
            if changed and not created and source:
                self.emit(self, Event("update", source, c["id"]))
            return c, created

    def update_contact(self, cid: int, values: dict[str, Any], *, source: str | None) -> dict[str, Any]:
        """Change an existing contact's email and/or details (PUT /contacts/{id}, or an edit in
        ActiveCampaign's own screens with ``source="admin"``). Emits ``update`` when anything
        changed. 404 for an unknown contact; 422 when the email is invalid or another contact's."""
        with self.lock:
            c = self.contact(cid)
            changed = False
            if values.get("email") is not None:
                email = str(values["email"]).strip()
                if not _EMAIL.match(email):
                    raise FakeError(422, {"errors": [{"title": "Email address is invalid", "detail": "",
                                                      "code": "email_invalid",
                                                      "source": {"pointer": "/data/attributes/email"}}]})
                other = self.find_email(email)
                if other is not None and other["id"] != cid:
                    raise FakeError(422, {"errors": [{"title": "Email address already exists in the system",
                                                      "detail": "", "code": "duplicate",
                                                      "source": {"pointer": "/data/attributes/email"}}]})
                if email != c["email"]:
                    self.by_email.pop(c["email"].lower(), None)
                    c["email"] = email
                    self.by_email[email.lower()] = cid
                    changed = True
            for key in ("firstName", "lastName", "phone"):
                if key in values and values[key] is not None and str(values[key]) != c[key]:
                    c[key] = str(values[key])
                    changed = True
            for fv in values.get("fieldValues") or []:
                changed |= self.set_field_value(cid, int(fv["field"]), fv.get("value"))
            if changed:
                c["udate"] = now_iso()
                if source:
                    self.emit(self, Event("update", source, cid))
            return c

    def delete_contact(self, cid: int) -> None:
        with self.lock:
            c = self.contacts.pop(cid, None)
            if c is None:
                raise FakeError(404, {"message": f"No result found for contact with id {cid}"})
            self.by_email.pop(c["email"].lower(), None)
            self.contacts_deleted += 1
            for key in [k for k in self.contact_lists if k[0] == cid]:
                del self.contact_lists[key]
            for key in [k for k in self.field_values if k[0] == cid]:
                del self.field_values[key]
            for key in [k for k, ct in self.contact_tags.items() if ct["contact"] == cid]:
                del self.contact_tags[key]

    # -- list membership ------------------------------------------------------------------
    def set_list_status(self, cid: int, lid: int, status: int, *, source: str | None,
                        reason: str | None = None) -> dict[str, Any]:
        """Set a contact's status on a list. Emits subscribe/unsubscribe from ``source`` when the
        status changes; ``source=None`` (imports) emits nothing."""
        if status not in (1, 2):
            raise FakeError(400, {"message": "status must be 1 (active) or 2 (unsubscribed)"})
        with self.lock:
            self.contact(cid)
            self.get_list(lid)
            cl = self.contact_lists.get((cid, lid))
            before = cl["status"] if cl else None
            if cl is None:
                cl = {"id": self.next_id("contactList"), "contact": cid, "list": lid, "status": status,
                      "sdate": now_iso(), "udate": now_iso(), "sourceid": 0, "unsubreason": ""}
                self.contact_lists[(cid, lid)] = cl
            cl["status"] = status
            cl["udate"] = now_iso()
            if status == 2 and reason:
                cl["unsubreason"] = reason
            if before != status and source:
                extra = {"unsubscribe[reason]": reason} if (status == 2 and reason) else {}
                self.emit(self, Event("subscribe" if status == 1 else "unsubscribe", source, cid, lid, extra=extra))
            return cl

    # -- fields and tags ------------------------------------------------------------------
    def add_field(self, title: str, perstag: str | None = None) -> int:
        with self.lock:
            fid = self.next_id("field")
            self.fields[fid] = {"id": fid, "title": title, "type": "text",
                                "perstag": perstag or re.sub(r"[^A-Z0-9]+", "_", title.upper()).strip("_"),
                                "cdate": now_iso(), "udate": now_iso()}
            return fid

    def set_field_value(self, cid: int, fid: int, value: Any) -> bool:
        """True when the stored value changed."""
        with self.lock:
            self.contact(cid)
            if fid not in self.fields:
                raise FakeError(422, {"errors": [{"title": f"Field {fid} does not exist", "detail": "",
                                                  "code": "field_missing", "source": {"pointer": "/data/attributes/field"}}]})
            value = "" if value is None else str(value)
            fv = self.field_values.get((cid, fid))
            if fv is None:
                self.field_values[(cid, fid)] = {"id": self.next_id("fieldValue"), "contact": cid, "field": fid,
                                                 "value": value, "cdate": now_iso(), "udate": now_iso()}
                return value != ""
            if fv["value"] == value:
                return False
            fv["value"], fv["udate"] = value, now_iso()
            return True

    def tag_id(self, name: str) -> int:
        with self.lock:
            for tid, t in self.tags.items():
                if t["tag"].lower() == name.lower():
                    return tid
            tid = self.next_id("tag")
            self.tags[tid] = {"id": tid, "tag": name, "tagType": "contact", "description": "",
                              "cdate": now_iso()}
            return tid

    def add_contact_tag(self, cid: int, tid: int) -> dict[str, Any]:
        with self.lock:
            self.contact(cid)
            if tid not in self.tags:
                raise not_found("Tag", tid)
            for ct in self.contact_tags.values():
                if ct["contact"] == cid and ct["tag"] == tid:
                    return ct
            ctid = self.next_id("contactTag")
            ct = {"id": ctid, "contact": cid, "tag": tid, "cdate": now_iso()}
            self.contact_tags[ctid] = ct
            return ct

    def remove_contact_tag(self, ctid: int) -> None:
        with self.lock:
            if self.contact_tags.pop(ctid, None) is None:
                raise not_found("SubscriberTag", ctid)

    # -- bulk import ----------------------------------------------------------------------
    def queue_import(self, rows: list[dict[str, Any]]) -> str:
        batch = str(uuid.uuid4())
        with self.lock:
            self.imports[batch] = {"status": "pending", "rows": rows, "success": [], "failure": [],
                                   "date": datetime.now(timezone.utc).date().isoformat()}
        return batch

    def run_import(self, batch: str) -> None:
        """Apply one queued import. Fires no webhooks; never re-subscribes a contact to a list it
        unsubscribed from."""
        with self.lock:
            job = self.imports[batch]
            for row in job["rows"]:
                try:
                    values = {"firstName": row.get("first_name"), "lastName": row.get("last_name"),
                              "phone": row.get("phone")}
                    c, _ = self.upsert_contact(row["email"], values, source=None)
                    for f in row.get("fields") or []:
                        self.set_field_value(c["id"], int(f["id"]), f.get("value"))
                    for name in row.get("tags") or []:
                        self.add_contact_tag(c["id"], self.tag_id(str(name)))
                    for sub in row.get("subscribe") or []:
                        lid = int(sub["listid"])
                        cl = self.contact_lists.get((c["id"], lid))
                        if cl is not None and cl["status"] == 2:
                            continue  # unsubscribed people are not re-subscribed by an import
                        self.set_list_status(c["id"], lid, 1, source=None)
                    for unsub in row.get("unsubscribe") or []:
                        self.set_list_status(c["id"], int(unsub["listid"]), 2, source=None)
                    job["success"].append(str(c["id"]))
                except (FakeError, KeyError, ValueError, TypeError):
                    job["failure"].append(str(row.get("email", "")))
            job["status"] = "completed"
            job["rows"] = []


# -- rendering (contract shapes) ----------------------------------------------------------
def _links(base: str, kind: str, ident: int, names: tuple[str, ...]) -> dict[str, str]:
    return {n: f"{base}/{kind}/{ident}/{n}" for n in names}


_CONTACT_LINKS = ("bounceLogs", "contactAutomations", "contactData", "contactGoals", "contactLists",
                  "contactLogs", "contactTags", "contactDeals", "deals", "fieldValues", "geoIps", "notes",
                  "organization", "plusAppend", "trackingLogs", "scoreValues")


def render_contact(c: dict[str, Any], base: str) -> dict[str, Any]:
    local, _, domain = c["email"].partition("@")
    return {
        "cdate": c["cdate"], "email": c["email"], "phone": c["phone"], "firstName": c["firstName"],
        "lastName": c["lastName"], "orgid": "0", "segmentio_id": "", "bounced_hard": "0", "bounced_soft": "0",
        "bounced_date": "0000-00-00", "ip": "0", "ua": "", "hash": uuid.uuid5(uuid.NAMESPACE_URL, c["email"]).hex,
        "socialdata_lastcheck": "0000-00-00 00:00:00", "email_local": local, "email_domain": domain,
        "sentcnt": "0", "rating_tstamp": "0000-00-00", "gravatar": "0", "deleted": "0",
        "adate": c["udate"], "udate": c["udate"], "edate": c["udate"], "scoreValues": [],
        "links": _links(base, "contacts", c["id"], _CONTACT_LINKS), "id": str(c["id"]), "organization": "",
    }


def render_contact_list(cl: dict[str, Any], c: dict[str, Any], base: str) -> dict[str, Any]:
    return {
        "contact": str(cl["contact"]), "list": str(cl["list"]), "form": None, "seriesid": "0",
        "sdate": cl["sdate"], "udate": cl["udate"], "status": str(cl["status"]), "responder": "1", "sync": "0",
        "unsubreason": cl["unsubreason"], "campaign": None, "message": None, "first_name": c["firstName"],
        "last_name": c["lastName"], "ip4Sub": "0", "sourceid": str(cl["sourceid"]), "autosyncLog": None,
        "ip4_last": "0", "ip4Unsub": "0", "unsubscribeAutomation": None,
        "links": _links(base, "contactLists", cl["id"], ("automation", "list", "contact", "form", "autosyncLog",
                                                          "campaign", "unsubscribeAutomation", "message")),
        "id": str(cl["id"]), "automation": None,
    }


def render_field_value(fv: dict[str, Any], base: str) -> dict[str, Any]:
    return {"contact": str(fv["contact"]), "field": str(fv["field"]), "value": fv["value"], "cdate": fv["cdate"],
            "udate": fv["udate"], "created_by": "0", "updated_by": "0",
            "links": _links(base, "fieldValues", fv["id"], ("owner", "field")),
            "id": str(fv["id"]), "owner": str(fv["contact"])}


def render_list(l: dict[str, Any], base: str) -> dict[str, Any]:
    return {"stringid": l["stringid"], "userid": "1", "name": l["name"], "cdate": l["cdate"],
            "p_use_tracking": "1", "p_use_analytics_read": "0", "p_use_analytics_link": "0", "p_use_twitter": "0",
            "p_use_facebook": "0", "p_embed_image": "1", "p_use_captcha": "1", "send_last_broadcast": "0",
            "private": "0", "analytics_domains": None, "analytics_source": "", "analytics_ua": "",
            "twitter_token": "", "twitter_token_secret": "", "facebook_session": None, "carboncopy": None,
            "subscription_notify": None, "unsubscription_notify": None, "require_name": "0",
            "get_unsubscribe_reason": "0", "to_name": "Subscriber", "optinoptout": "1", "sender_name": "",
            "sender_addr1": "", "sender_addr2": "", "sender_city": "", "sender_state": "", "sender_zip": "",
            "sender_country": "", "sender_phone": "", "sender_url": "", "sender_reminder": "",
            "fulladdress": "", "optinmessageid": "0", "optoutconf": "0", "deletestamp": None, "udate": l["udate"],
            "links": _links(base, "lists", l["id"], ("contactGoalLists", "user", "addressLists")),
            "id": str(l["id"]), "user": "1"}


def render_webhook(w: dict[str, Any], base: str) -> dict[str, Any]:
    return {"cdate": w["cdate"], "listid": str(w["listid"]), "name": w["name"], "url": w["url"],
            "events": list(w["events"]), "sources": list(w["sources"]), "links": [], "id": str(w["id"])}


def render_contact_tag(ct: dict[str, Any], base: str) -> dict[str, Any]:
    return {"contact": str(ct["contact"]), "tag": str(ct["tag"]), "cdate": ct["cdate"],
            "links": _links(base, "contactTags", ct["id"], ("contact", "tag")), "id": str(ct["id"])}
