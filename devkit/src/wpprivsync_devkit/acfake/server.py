"""A local ActiveCampaign API v3 server that keeps the contract in
shared/contracts/activecampaign: the endpoints wpprivsync uses, ``Api-Token`` auth (403 when
wrong), 5 requests per second per account in a sliding window (429 + ``Retry-After`` beyond),
asynchronous bulk imports that fire no webhooks, and webhook delivery.

    server = ActiveCampaignServer(port=0, token="T")
    server.start(); server.url  # http://127.0.0.1:PORT/api/3
    lid = server.add_list("Newsletter")
    server.add_contact("a@example.com", lists={lid: 1}, tags=["comment"], fields={fid: "x"})
    server.unsubscribe_click("a@example.com", lid)   # a person clicking "unsubscribe" (source public)
    server.set_faults(error_rate=0.2); server.counters(); server.reset(); server.stop()

More accounts: ``accounts={"other": "token2"}`` serves ``/other/api/3`` with its own data,
token and rate window (``server.url_for("other")``).

Control plane (not rate-limited, not part of the contract), ``?account=NAME`` picks an account:

    GET  /__fake/stats                 counters, faults, max requests seen in any second
    POST /__fake/reset                 data, counters, faults and deliveries
    POST /__fake/faults                {"error_rate": 0.2, "latency_s": 0, "timeout_rate": 0,
                                        "hang_s": 2, "burst_429": 0, "retry_after": 1, "seed": 1}
    POST /__fake/lists                 {"name": "Newsletter"}                  → {"id": 1}
    POST /__fake/fields                {"title": "Comment topic", "perstag": "COMMENT_TOPIC"}
    POST /__fake/contacts              {"email", "first_name", "lists": {"1": 1}, "tags": [...],
                                        "fields": {"1": "v"}}                   → {"id": 7}
    POST /__fake/unsubscribe           {"email", "list", "reason"}  (source public, fires webhooks)
    POST /__fake/subscribe             {"email", "list"}            (source public, fires webhooks)
    GET  /__fake/contacts?email=       the stored contact with lists, fields and tags
    GET  /__fake/deliveries            webhook delivery attempts
"""

from __future__ import annotations

import json
import math
import queue
import re
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .faults import Faults
from .state import (SOURCES, AccountState, FakeError, now_iso, render_contact, render_contact_list,
                    render_contact_tag, render_field_value, render_list, render_webhook)
from .webhooks import Deliverer

DEFAULT_ACCOUNT = "default"
BULK_LIMIT = 250
_FORBIDDEN = {"message": "Forbidden"}

Handler = Callable[["_Call"], tuple[int, Any]]
_routes: list[tuple[str, re.Pattern[str], str, Handler]] = []


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        name = method + " /" + pattern.replace(r"(\d+)", "{id}")
        _routes.append((method, re.compile(f"^{pattern}$"), name, fn))
        return fn
    return register


class _Call:
    """One API request: the account, path ids, query and JSON body."""

    def __init__(self, server: "ActiveCampaignServer", account: AccountState, base: str,
                 ids: tuple[str, ...], query: dict[str, list[str]], body: Any):
        self.server = server
        self.account = account
        self.base = base
        self.ids = [int(i) for i in ids]
        self.query = query
        self.body = body

    def q(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[0] if vals else default

    def qint(self, name: str, default: int | None = None) -> int | None:
        raw = self.q(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise FakeError(400, {"message": f"{name} must be a number"}) from None

    def obj(self, key: str) -> dict[str, Any]:
        if not isinstance(self.body, dict) or not isinstance(self.body.get(key), dict):
            raise FakeError(400, {"message": f"the body needs a '{key}' object"})
        return self.body[key]


def _page(call: _Call, items: list[Any]) -> tuple[list[Any], int, int]:
    limit = max(1, min(100, call.qint("limit", 20) or 20))
    offset = max(0, call.qint("offset", 0) or 0)
    return items[offset:offset + limit], limit, offset


# -- contacts -------------------------------------------------------------------------------
@route("GET", "contacts")
def _list_contacts(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        email = call.q("email")
        if email:  # through the email index: a look-up costs the same with 100,000 contacts
            found = a.find_email(email)
            items = [found] if found is not None else []
        else:
            items = list(a.contacts.values())
        like = call.q("email_like")
        if like:
            items = [c for c in items if like.lower() in c["email"].lower()]
        ids = call.q("ids")
        if ids:
            wanted = {int(i) for i in ids.split(",") if i.strip().isdigit()}
            items = [c for c in items if c["id"] in wanted]
        listid = call.qint("listid")
        status = call.qint("status", -1)
        if listid is not None:
            items = [c for c in items if (c["id"], listid) in a.contact_lists
                     and (status == -1 or a.contact_lists[(c["id"], listid)]["status"] == status)]
        tagid = call.qint("tagid")
        if tagid is not None:
            tagged = {ct["contact"] for ct in a.contact_tags.values() if ct["tag"] == tagid}
            items = [c for c in items if c["id"] in tagged]
        greater = call.qint("id_greater")
        if greater is not None:
            items = [c for c in items if c["id"] > greater]
        less = call.qint("id_less")
        if less is not None:
            items = [c for c in items if c["id"] < less]
        order = (call.q("orders[id]") or "ASC").upper()
        items.sort(key=lambda c: c["id"], reverse=order == "DESC")
        page, limit, offset = _page(call, items)
        contacts = [render_contact(c, call.base) for c in page]
    meta = {"total": str(len(items)), "page_input": {
        "segmentid": None, "formid": 0, "listid": listid or 0, "tagid": tagid or 0, "limit": limit,
        "offset": offset, "search": None, "sort": None, "seriesid": 0, "waitid": 0, "status": status,
        "forceQuery": 0, "cacheid": ""}}
    return 200, {"contacts": contacts, "meta": meta}


@route("POST", "contacts")
def _create_contact(call: _Call) -> tuple[int, Any]:
    data = call.obj("contact")
    if not data.get("email"):
        raise FakeError(422, {"errors": [{"title": "Email address is required", "detail": "", "code": "field_missing",
                                          "source": {"pointer": "/data/attributes/email"}}]})
    c, _ = call.account.upsert_contact(str(data["email"]), data, source="api", create_only=True)
    return 201, _contact_with_values(call, c)


@route("POST", "contact/sync")
def _sync_contact(call: _Call) -> tuple[int, Any]:
    data = call.obj("contact")
    if not data.get("email"):
        raise FakeError(400, {"message": "email is required"})
    try:
        c, _ = call.account.upsert_contact(str(data["email"]), data, source="api")
    except FakeError as exc:  # the contract documents 400 for every refusal here
        raise FakeError(400, exc.body) from None
    return 201, _contact_with_values(call, c)  # the contract documents 201 for updates too


def _contact_with_values(call: _Call, c: dict[str, Any]) -> dict[str, Any]:
    a = call.account
    with a.lock:
        values = [render_field_value(fv, call.base) for (cid, _), fv in sorted(a.field_values.items())
                  if cid == c["id"]]
    contact = render_contact(c, call.base)
    contact["fieldValues"] = [v["id"] for v in values]
    return {"fieldValues": values, "contact": contact}


@route("GET", r"contacts/(\d+)")
def _get_contact(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        c = a.contact(call.ids[0])
        lists = [render_contact_list(cl, c, call.base) for (cid, _), cl in sorted(a.contact_lists.items())
                 if cid == c["id"]]
        values = [render_field_value(fv, call.base) for (cid, _), fv in sorted(a.field_values.items())
                  if cid == c["id"]]
        contact = render_contact(c, call.base)
    contact.update({"contactAutomations": [], "contactLists": [cl["id"] for cl in lists],
                    "fieldValues": [v["id"] for v in values], "geoIps": [], "deals": [], "accountContacts": []})
    return 200, {"contactAutomations": [], "contactLists": lists, "deals": [], "fieldValues": values,
                 "geoAddresses": [], "geoIps": [], "contact": contact}


@route("PUT", r"contacts/(\d+)")
def _update_contact(call: _Call) -> tuple[int, Any]:
    c = call.account.update_contact(call.ids[0], call.obj("contact"), source="api")
    return 200, _contact_with_values(call, c)


@route("DELETE", r"contacts/(\d+)")
def _delete_contact(call: _Call) -> tuple[int, Any]:
    call.account.delete_contact(call.ids[0])
    return 200, {}


@route("GET", r"contacts/(\d+)/contactLists")
def _contact_lists(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        c = a.contact(call.ids[0])
        return 200, {"contactLists": [render_contact_list(cl, c, call.base)
                                      for (cid, _), cl in sorted(a.contact_lists.items()) if cid == c["id"]]}


@route("GET", r"contacts/(\d+)/fieldValues")
def _contact_field_values(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        a.contact(call.ids[0])
        return 200, {"fieldValues": [render_field_value(fv, call.base)
                                     for (cid, _), fv in sorted(a.field_values.items()) if cid == call.ids[0]]}


@route("GET", r"contacts/(\d+)/contactTags")
def _contact_tags(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        a.contact(call.ids[0])
        return 200, {"contactTags": [render_contact_tag(ct, call.base) for ct in a.contact_tags.values()
                                     if ct["contact"] == call.ids[0]]}


@route("POST", "contactLists")
def _set_contact_list(call: _Call) -> tuple[int, Any]:
    data = call.obj("contactList")
    try:
        cid, lid, status = int(data["contact"]), int(data["list"]), int(data["status"])
    except (KeyError, TypeError, ValueError):
        raise FakeError(400, {"message": "contactList needs contact, list and status"}) from None
    a = call.account
    with a.lock:
        try:
            cl = a.set_list_status(cid, lid, status, source="api")
        except FakeError as exc:  # unknown contact or list: the contract documents 400 only
            raise FakeError(400, exc.body) from None
        c = a.contact(cid)
        body = render_contact_list(cl, c, call.base)
        body["status"] = int(cl["status"])
        return 200, {"contacts": [render_contact(c, call.base)], "contactList": body}


@route("POST", "contactTags")
def _add_contact_tag(call: _Call) -> tuple[int, Any]:
    data = call.obj("contactTag")
    try:
        cid, tid = int(data["contact"]), int(data["tag"])
    except (KeyError, TypeError, ValueError):
        raise FakeError(422, {"errors": [{"title": "contact and tag are required", "detail": "", "code": "field_missing"}]}) from None
    ct = call.account.add_contact_tag(cid, tid)
    return 201, {"contactTag": render_contact_tag(ct, call.base)}


@route("DELETE", r"contactTags/(\d+)")
def _remove_contact_tag(call: _Call) -> tuple[int, Any]:
    call.account.remove_contact_tag(call.ids[0])
    return 200, {}


@route("POST", "fieldValues")
def _set_field_value(call: _Call) -> tuple[int, Any]:
    data = call.obj("fieldValue")
    try:
        cid, fid = int(data["contact"]), int(data["field"])
    except (KeyError, TypeError, ValueError):
        raise FakeError(422, {"errors": [{"title": "contact and field are required", "detail": "", "code": "field_missing"}]}) from None
    a = call.account
    with a.lock:
        changed = a.set_field_value(cid, fid, data.get("value"))
        if changed:
            from .state import Event
            a.emit(a, Event("update", "api", cid))
        fv = a.field_values[(cid, fid)]
        return 200, {"contacts": [render_contact(a.contact(cid), call.base)],
                     "fieldValue": render_field_value(fv, call.base)}


@route("GET", "fields")
def _fields(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        items = [dict(f, id=str(f["id"])) for f in sorted(a.fields.values(), key=lambda f: f["id"])]
    page, _, _ = _page(call, items)
    return 200, {"fields": page, "meta": {"total": str(len(items))}}


@route("GET", "tags")
def _tags(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        items = [dict(t, id=str(t["id"])) for t in sorted(a.tags.values(), key=lambda t: t["id"])]
    page, _, _ = _page(call, items)
    return 200, {"tags": page, "meta": {"total": str(len(items))}}


# -- lists ----------------------------------------------------------------------------------
@route("GET", "lists")
def _lists(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        items = sorted(a.lists.values(), key=lambda l: l["id"])
        name = call.q("filters[name]")
        if name:
            items = [l for l in items if name.lower() in l["name"].lower()]
        page, _, _ = _page(call, items)
        return 200, {"lists": [render_list(l, call.base) for l in page], "meta": {"total": str(len(items))}}


@route("GET", r"lists/(\d+)")
def _get_list(call: _Call) -> tuple[int, Any]:
    with call.account.lock:
        return 200, {"list": render_list(call.account.get_list(call.ids[0]), call.base)}


@route("POST", "lists")
def _create_list(call: _Call) -> tuple[int, Any]:
    data = call.obj("list")
    if not data.get("name"):
        raise FakeError(400, {"message": "list name is required"})
    a = call.account
    lid = a.add_list(str(data["name"]), data.get("stringid"))
    l = a.lists[lid]
    return 200, {"list": {"name": l["name"], "stringid": l["stringid"], "cdate": l["cdate"], "udate": l["udate"],
                          "links": {k: f"{call.base}/lists/{lid}/{k}" for k in ("contactGoalLists", "user", "addressLists")},
                          "id": str(lid)}}


# -- bulk import ----------------------------------------------------------------------------
@route("POST", "import/bulk_import")
def _bulk_import(call: _Call) -> tuple[int, Any]:
    body = call.body if isinstance(call.body, dict) else {}
    rows = body.get("contacts")
    if not isinstance(rows, list) or not rows:
        raise FakeError(400, {"success": 0, "message": "JSON payload did not pass validation. Please fix failure "
                              "Reasons and retry. The import was not queued for processing.",
                              "failureReasons": ["'contacts' must be a non-empty array."]})
    if len(rows) > BULK_LIMIT:
        raise FakeError(400, {"success": 0, "message": "JSON payload did not pass validation. Please fix failure "
                              "Reasons and retry. The import was not queued for processing.",
                              "failureReasons": [f"Up to {BULK_LIMIT} contacts may be included in a single request."]})
    reasons = []
    a = call.account
    for i, row in enumerate(rows):
        email = row.get("email") if isinstance(row, dict) else None
        if not isinstance(email, str) or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email.strip()):
            reasons.append({"contact": i, "failureReason": "Field 'email' incorrect format"})
            continue
        for key in ("subscribe", "unsubscribe"):
            for item in row.get(key) or []:
                try:
                    a.get_list(int(item["listid"]))
                except (FakeError, KeyError, TypeError, ValueError):
                    reasons.append({"contact": i, "failureReason": f"Field '{key}' names an unknown list"})
    if reasons:
        raise FakeError(400, {"success": 0, "message": "JSON payload did not pass validation. Please fix failure "
                              "Reasons and retry. The import was not queued for processing.",
                              "failureReasons": reasons})
    batch = a.queue_import(rows)
    call.server._imports.put((a, batch))
    return 200, {"Success": 1, "queued_contacts": len(rows), "batchId": batch, "message": "Contact import queued"}


@route("GET", "import/bulk_import")
def _bulk_import_status(call: _Call) -> tuple[int, Any]:
    a = call.account
    outstanding: dict[str, list[int]] = {}
    done: dict[str, list[int]] = {}
    with a.lock:
        for job in a.imports.values():
            bucket = outstanding if job["status"] != "completed" else done
            agg = bucket.setdefault(job["date"], [0, 0])
            agg[0] += 1
            agg[1] += len(job["rows"]) if job["status"] != "completed" else len(job["success"]) + len(job["failure"])
    def fmt(d: dict[str, list[int]]) -> list[dict[str, str]]:
        return [{"forDate": k, "batches": str(v[0]), "contacts": str(v[1])} for k, v in sorted(d.items())]

    return 200, {"outstanding": fmt(outstanding), "recentlyCompleted": fmt(done)}


@route("GET", "import/info")
def _bulk_import_info(call: _Call) -> tuple[int, Any]:
    batch = call.q("batchId")
    if not batch:
        raise FakeError(400, {"success": 0, "message": "'batchId' is a required field."})
    a = call.account
    with a.lock:
        job = a.imports.get(batch)
        if job is None:
            raise FakeError(400, {"success": 0, "message": "No import found with this batchId."})
        return 200, {"status": job["status"], "success": list(job["success"]), "failure": list(job["failure"])}


# -- webhooks -------------------------------------------------------------------------------
def _webhook_fields(call: _Call, data: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(current or {})
    for key in ("name", "url"):
        if key in data:
            out[key] = str(data[key])
    for key in ("events", "sources"):
        if key in data:
            if not isinstance(data[key], list) or not all(isinstance(x, str) for x in data[key]):
                raise FakeError(400, {"message": f"webhook {key} must be a list of strings"})
            out[key] = list(data[key])
    if "listid" in data:
        out["listid"] = int(data["listid"] or 0)
    missing = [k for k in ("name", "url", "events", "sources") if not out.get(k)]
    if missing:
        raise FakeError(400, {"message": f"webhook needs {', '.join(missing)}"})
    if not re.match(r"^https?://", out["url"]):
        raise FakeError(400, {"message": "webhook url must be http(s)"})
    bad = [s for s in out["sources"] if s not in SOURCES]
    if bad:
        raise FakeError(400, {"message": f"unknown webhook sources: {', '.join(bad)}"})
    return out


@route("POST", "webhooks")
def _create_webhook(call: _Call) -> tuple[int, Any]:
    a = call.account
    hook = _webhook_fields(call, call.obj("webhook"), None)
    with a.lock:
        wid = a.next_id("webhook")
        hook.update(id=wid, cdate=now_iso(), active=True)
        hook.setdefault("listid", 0)
        a.webhooks[wid] = hook
        return 201, {"webhook": render_webhook(hook, call.base)}


@route("GET", "webhooks")
def _list_webhooks(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        items = [w for _, w in sorted(a.webhooks.items())]
    for key, attr in (("filters[name]", "name"), ("filters[url]", "url"), ("filters[listid]", "listid")):
        val = call.q(key)
        if val:
            items = [w for w in items if str(w[attr]) == val]
    page, _, _ = _page(call, items)
    return 200, {"webhooks": [render_webhook(w, call.base) for w in page], "meta": {"total": str(len(items))}}


@route("GET", r"webhooks/(\d+)")
def _get_webhook(call: _Call) -> tuple[int, Any]:
    with call.account.lock:
        hook = call.account.webhooks.get(call.ids[0])
        if hook is None:
            raise FakeError(404, {"message": f"No Result found for Webhook with id {call.ids[0]}"})
        return 200, {"webhook": render_webhook(hook, call.base)}


@route("PUT", r"webhooks/(\d+)")
def _update_webhook(call: _Call) -> tuple[int, Any]:
    a = call.account
    with a.lock:
        hook = a.webhooks.get(call.ids[0])
        if hook is None:
            raise FakeError(404, {"message": f"No Result found for Webhook with id {call.ids[0]}"})
        hook.update(_webhook_fields(call, call.obj("webhook"), hook))
        hook["active"] = True
        return 200, {"webhook": render_webhook(hook, call.base)}


@route("DELETE", r"webhooks/(\d+)")
def _delete_webhook(call: _Call) -> tuple[int, Any]:
    with call.account.lock:
        if call.account.webhooks.pop(call.ids[0], None) is None:
            raise FakeError(404, {"message": f"No Result found for Webhook with id {call.ids[0]}"})
    return 200, {}


# -- the server -----------------------------------------------------------------------------
class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class ActiveCampaignServer:
    def __init__(self, port: int = 0, token: str = "fake-token", *, rate: int = 5, host: str = "127.0.0.1",
                 accounts: dict[str, str] | None = None, import_delay_s: float = 0.0, seed: int | None = None):
        self.host = host
        self._port = port
        self.token = token
        self.rate = rate
        self.import_delay_s = import_delay_s
        self.faults = Faults(seed)
        self.deliverer: Deliverer | None = None
        self.accounts: dict[str, AccountState] = {}
        for name, tok in {DEFAULT_ACCOUNT: token, **(accounts or {})}.items():
            self.accounts[name] = AccountState(name, tok, rate=rate, emit=self._emit)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._imports: "queue.Queue[Any]" = queue.Queue()
        self._import_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # lifecycle
    def start(self) -> "ActiveCampaignServer":
        self.deliverer = Deliverer()
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._port), _make_handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="acfake-http", daemon=True)
        self._thread.start()
        self._import_thread = threading.Thread(target=self._run_imports, name="acfake-imports", daemon=True)
        self._import_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self._imports.put(None)
        if self._import_thread is not None:
            self._import_thread.join(timeout=5)
        if self.deliverer is not None:
            self.deliverer.stop()
            self.deliverer = None

    def __enter__(self) -> "ActiveCampaignServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.url_for(DEFAULT_ACCOUNT)

    def url_for(self, account: str) -> str:
        return f"{self.root}/api/3" if account == DEFAULT_ACCOUNT else f"{self.root}/{account}/api/3"

    def account(self, name: str | None = None) -> AccountState:
        return self.accounts[name or DEFAULT_ACCOUNT]

    # events and imports
    def _emit(self, account: AccountState, event: Any) -> None:
        if self.deliverer is not None:
            self.deliverer.enqueue(account, event)

    def _run_imports(self) -> None:
        while True:
            item = self._imports.get()
            if item is None:
                return
            account, batch = item
            if self.import_delay_s:
                self._stopping.wait(self.import_delay_s)
            account.run_import(batch)

    # test and sandbox helpers
    def reset(self) -> None:
        for a in self.accounts.values():
            a.reset()
        self.faults.clear()
        if self.deliverer is not None:
            self.deliverer.wait_idle(timeout=2)
            self.deliverer.clear()
            self.deliverer.duplicate_rate = 0.0

    def set_faults(self, **values: Any) -> dict[str, Any]:
        if "duplicate_rate" in values and self.deliverer is not None:
            self.deliverer.duplicate_rate = float(values.pop("duplicate_rate"))
        self.faults.set(**values)
        return self.faults.as_dict()

    def clear_faults(self) -> None:
        self.faults.clear()

    def add_list(self, name: str, *, account: str | None = None) -> int:
        return self.account(account).add_list(name)

    def add_field(self, title: str, perstag: str | None = None, *, account: str | None = None) -> int:
        return self.account(account).add_field(title, perstag)

    def add_contact(self, email: str, *, lists: dict[int, int] | None = None, tags: list[str] = (),
                    fields: dict[int, str] | None = None, first_name: str = "", last_name: str = "",
                    account: str | None = None) -> int:
        """Seed a contact (no webhooks fire)."""
        a = self.account(account)
        with a.lock:
            c, _ = a.upsert_contact(email, {"firstName": first_name, "lastName": last_name}, source=None)
            for lid, status in (lists or {}).items():
                a.set_list_status(c["id"], int(lid), int(status), source=None)
            for tag in tags:
                a.add_contact_tag(c["id"], a.tag_id(tag))
            for fid, value in (fields or {}).items():
                a.set_field_value(c["id"], int(fid), value)
            return c["id"]

    def unsubscribe_click(self, email: str, list_id: int, *, reason: str | None = None,
                          account: str | None = None) -> int:
        """A person clicks "unsubscribe" in an email: status 2, webhooks with source public."""
        a = self.account(account)
        with a.lock:
            c = a.find_email(email)
            if c is None:
                raise FakeError(404, {"message": "No contact with this email"})
            a.set_list_status(c["id"], int(list_id), 2, source="public", reason=reason)
            return c["id"]

    def subscribe_form(self, email: str, list_id: int, *, account: str | None = None) -> int:
        """A person subscribes through a form: created if new, status 1, source public."""
        a = self.account(account)
        with a.lock:
            c, _ = a.upsert_contact(email, {}, source=None)
            a.set_list_status(c["id"], int(list_id), 1, source="public")
            return c["id"]

    def contact_view(self, email: str, *, account: str | None = None) -> dict[str, Any] | None:
        a = self.account(account)
        with a.lock:
            c = a.find_email(email)
            if c is None:
                return None
            return {"id": c["id"], "email": c["email"], "first_name": c["firstName"], "last_name": c["lastName"],
                    "lists": {lid: cl["status"] for (cid, lid), cl in a.contact_lists.items() if cid == c["id"]},
                    "tags": [a.tags[ct["tag"]]["tag"] for ct in a.contact_tags.values() if ct["contact"] == c["id"]],
                    "fields": {fid: fv["value"] for (cid, fid), fv in a.field_values.items() if cid == c["id"]}}

    def counters(self, account: str | None = None) -> dict[str, Any]:
        a = self.account(account)
        with a.lock:
            return {"requests": dict(a.requests), "total": sum(a.requests.values()), "http429": a.http429,
                    "contacts_deleted": a.contacts_deleted,
                    "http429_injected": a.http429_injected, "max_per_second": a.window.max_in_any_second()}

    def deliveries(self) -> list[dict[str, Any]]:
        return list(self.deliverer.deliveries) if self.deliverer else []

    def wait_deliveries(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        assert self.deliverer is not None, "server not started"
        return self.deliverer.wait_for(count, timeout)

    def wait_imports(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(j["status"] == "completed" for a in self.accounts.values() for j in list(a.imports.values())):
                return True
            time.sleep(0.01)
        return False

    # request dispatch
    def _api(self, method: str, path: str, query: dict[str, list[str]], headers: Any, raw: bytes
             ) -> tuple[int, Any, dict[str, str]]:
        m = re.match(r"^/(?:([A-Za-z0-9_-]+)/)?api/3/(.*?)/?$", path)
        if not m or (m.group(1) or DEFAULT_ACCOUNT) not in self.accounts:
            return 404, {"message": "Not Found"}, {}
        account = self.accounts[m.group(1) or DEFAULT_ACCOUNT]
        rest = m.group(2)
        for r_method, pattern, name, fn in _routes:  # noqa: B007 — name and fn are used after the break
            pm = pattern.match(rest)
            if pm and r_method == method:
                break
        else:
            with account.lock:
                account.requests[f"{method} /{rest}"] += 1
            return 404, {"message": "Not Found"}, {}
        with account.lock:
            account.requests[name] += 1
        if headers.get("Api-Token") != account.token:
            return 403, _FORBIDDEN, {}
        ok, wait, remaining = account.window.admit()
        limit_headers = {"RateLimit-Limit": str(account.window.rate), "RateLimit-Remaining": str(remaining)}
        if not ok:
            with account.lock:
                account.http429 += 1
            return 429, {"message": "Too Many Requests"}, {**limit_headers,
                                                          "Retry-After": str(max(1, math.ceil(wait)))}
        fault, latency, value = self.faults.decide()
        if latency:
            self._stopping.wait(latency)
        if fault == "429":
            with account.lock:
                account.http429 += 1
                account.http429_injected += 1
            return 429, {"message": "Too Many Requests"}, {**limit_headers, "Retry-After": str(value)}
        if fault == "hang":
            self._stopping.wait(self.faults.settings.hang_s)
            return -1, None, {}
        if fault == "5xx":
            return value, {"message": "Internal error (injected)"}, limit_headers
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return 400, {"message": "the body is not valid JSON"}, limit_headers
        call = _Call(self, account, self.url_for(account.name), pm.groups(), query, body)
        try:
            status, out = fn(call)
        except FakeError as exc:
            status, out = exc.status, exc.body
        except Exception:  # noqa: BLE001 — a bug in the fake: answer 500 and show it, keep serving
            traceback.print_exc(file=sys.stderr)
            status, out = 500, {"message": "internal error in the fake server"}
        return status, out, limit_headers

    def _control(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> tuple[int, Any]:
        account = (query.get("account") or [DEFAULT_ACCOUNT])[0]
        if account not in self.accounts:
            return 404, {"message": f"unknown account {account}"}
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return 400, {"message": "the body is not valid JSON"}
        what = path[len("/__fake/"):].strip("/")
        try:
            if method == "GET" and what == "stats":
                return 200, {**self.counters(account), "faults": self.faults.as_dict()}
            if method == "POST" and what == "reset":
                self.reset()
                return 200, {"reset": True}
            if method == "POST" and what == "faults":
                return 200, self.set_faults(**body)
            if method == "POST" and what == "lists":
                return 200, {"id": self.add_list(str(body["name"]), account=account)}
            if method == "POST" and what == "fields":
                return 200, {"id": self.add_field(str(body["title"]), body.get("perstag"), account=account)}
            if method == "POST" and what == "contacts":
                cid = self.add_contact(str(body["email"]), lists={int(k): int(v) for k, v in (body.get("lists") or {}).items()},
                                       tags=list(body.get("tags") or []),
                                       fields={int(k): v for k, v in (body.get("fields") or {}).items()},
                                       first_name=body.get("first_name", ""), last_name=body.get("last_name", ""),
                                       account=account)
                return 200, {"id": cid}
            if method == "GET" and what == "contacts":
                view = self.contact_view((query.get("email") or [""])[0], account=account)
                return (200, view) if view else (404, {"message": "no such contact"})
            if method == "POST" and what == "unsubscribe":
                return 200, {"id": self.unsubscribe_click(str(body["email"]), int(body["list"]),
                                                          reason=body.get("reason"), account=account)}
            if method == "POST" and what == "subscribe":
                return 200, {"id": self.subscribe_form(str(body["email"]), int(body["list"]), account=account)}
            if method == "GET" and what == "deliveries":
                return 200, {"deliveries": self.deliveries()}
        except FakeError as exc:
            return exc.status, exc.body
        except (KeyError, TypeError, ValueError) as exc:
            return 400, {"message": f"bad control request: {exc}"}
        return 404, {"message": "unknown control endpoint"}


def _make_handler(server: ActiveCampaignServer) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "acfake"
        disable_nagle_algorithm = True  # answers go out at once, not after a delayed ACK
        wbufsize = 1 << 16              # headers and body in one write; flushed after each request

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            query = parse_qs(parts.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if parts.path.startswith("/__fake/"):
                status, body = server._control(self.command, parts.path, query, raw)
                extra: dict[str, str] = {}
            else:
                status, body, extra = server._api(self.command, parts.path, query, self.headers, raw)
            if status == -1:  # injected hang: drop the connection without an answer
                self.close_connection = True
                return
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    return RequestHandler
