"""Client of the ActiveCampaign API v3 (contract: shared/contracts/activecampaign).

Every request first takes a slot from the account's shared rate budget (``ratebudget``), so
everything that talks to one account stays under its 5 requests per second together. Failures
are mapped to ``wpprivsync.errors`` in one place (``_request``):

    429            wait ``Retry-After`` (seconds or HTTP-date), retry; ``RateLimited`` when out,
                   or at once when the wait is longer than ``max_retry_after``
    5xx, timeout,  bounded exponential backoff with full jitter, retry; then ``ServerError`` /
    refused        ``Unreachable``
    401, 403       ``AuthenticationFailed`` (wrong or missing token); ``PermissionDenied`` when
                   the token works but its user lacks a permission
    404            ``NotFound`` (or ``None`` where "gone" is an answer, e.g. delete)
    other 4xx      ``ApiError`` with the API's message

Messages never carry the token or a plain email: query strings are never quoted, and any
email-like text in an API message is redacted.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import requests

from .. import errors
from ..backoff import exponential_backoff_with_jitter
from ..identity import is_email, normalise_email, redact_email
from .protocols import BulkContact, Contact, ListMember
from .session import CrossHostRedirect, keep_credentials_home, settle_environment

SYSTEM = "activecampaign"
BULK_LIMIT = 250
PAGE_LIMIT = 100
_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")
_EMAILISH = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+")
_TOP_LEVEL_IMPORT_FIELDS = {"first_name", "last_name", "phone", "customer_acct_name", "tags"}
_SYNC_ALIASES = {"first_name": "firstName", "last_name": "lastName"}
_CACHE_TTL_S = 300.0

log = logging.getLogger(__name__)


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None
    when absent or unreadable. Never negative. ``now`` is an aware UTC datetime."""
    value = None
    for key, val in headers.items():
        if key.lower() == "retry-after":
            value = str(val).strip()
            break
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


@dataclass
class ClientStats:
    """What the client did: requests sent (each attempt counts), 429s seen, retries, and
    requests per endpoint (method + path with ids replaced by ``{id}``)."""

    calls: int = 0
    http429: int = 0
    retries: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.calls += 1
            self.by_endpoint[endpoint] += 1

    def count_429(self) -> None:
        with self._lock:
            self.http429 += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"calls": self.calls, "http429": self.http429, "retries": self.retries,
                    "by_endpoint": dict(self.by_endpoint)}


class _NullBudget:
    def acquire(self) -> None:
        return None

    def release(self, slot: Any) -> None:
        pass


class ActiveCampaignClient:
    """Implements ``protocols.ActiveCampaignApi`` (plus ``get_list``, ``wait_bulk_import``,
    ``find_contacts_by_tag``)."""

    def __init__(self, base_url: str, token: str, *, session: requests.Session, budget: Any = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 timeout: float = 30.0, max_retries: int = 5, max_429_retries: int = 10,
                 backoff_base: float = 0.5, backoff_max: float = 30.0, max_retry_after: float = 120.0,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 rng: random.Random | None = None):
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session = keep_credentials_home(settle_environment(session, self.base_url))
        self._budget = budget if budget is not None else _NullBudget()
        self._release: Callable[[Any], None] = getattr(self._budget, "release", lambda _slot: None)
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_429_retries = max_429_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._max_retry_after = max_retry_after
        self._rng = rng or random.Random()
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()
        self.stats = ClientStats()

    @property
    def budget(self) -> Any:
        """The account's rate budget (``rate`` per ``window_ms``; both absent without one)."""
        return self._budget

    # -- transport ---------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        return exponential_backoff_with_jitter(attempt, self._rng, base_s=self._backoff_base,
                                               cap_s=self._backoff_max, floor_s=0.01)

    def _scrub(self, text: str) -> str:
        if self._token:
            text = text.replace(self._token, "***")
        return _EMAILISH.sub(lambda m: redact_email(m.group(0)), text)

    def _request(self, method: str, path: str, *, params: Any = None, json: Any = None,
                 missing_ok: bool = False) -> Any:
        """One API call with retries. Returns the decoded JSON body, or None for a 404 when
        ``missing_ok``. ``path`` is relative to the base URL and must not carry secrets."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        endpoint = f"{method} /" + _ID_SEGMENT.sub("/{id}", "/" + path.lstrip("/")).lstrip("/")
        headers = {"Api-Token": self._token, "Accept": "application/json"}
        failures = 0   # 5xx and transport errors
        throttled = 0  # 429s
        wait: float | None
        while True:
            slot = self._budget.acquire()
            self.stats.count(endpoint)
            try:
                resp = self._send(method, url, params, json, headers)
                self._release(slot)  # answered: the server had the request by now
            except CrossHostRedirect as exc:
                self._release(slot)
                raise errors.RedirectRefused(f"{endpoint}: {exc}; the API token was not sent there",
                                             system=SYSTEM) from None
            except requests.exceptions.RequestException as exc:
                kind = "timed out" if isinstance(exc, requests.exceptions.Timeout) else "not reachable"
                if kind != "timed out":
                    self._release(slot)  # the error is back: if the request arrived, it was before
                if failures >= self._max_retries:
                    raise errors.Unreachable(f"{endpoint}: {kind} after {failures + 1} tries",
                                             system=SYSTEM) from None
                wait = self._backoff(failures)
                failures += 1
                log.info("activecampaign %s %s, retrying in %.2f s", endpoint, kind, wait)
                self.stats.count_retry()
                self._sleep(wait)
                continue
            status = resp.status_code
            if status == 429:
                self.stats.count_429()
                wait = retry_after_seconds(resp.headers, self._now())
                if wait is not None and wait > self._max_retry_after:
                    # too long to hold a worker: let the caller reschedule
                    raise errors.RateLimited(f"{endpoint}: rate limited, retry after {wait:g} s",
                                             system=SYSTEM, retry_after=wait)
                if throttled >= self._max_429_retries:
                    raise errors.RateLimited(f"{endpoint}: still rate limited after {throttled + 1} tries",
                                             system=SYSTEM, retry_after=wait)
                throttled += 1
                wait = self._backoff(throttled) if wait is None else wait
                log.info("activecampaign %s answered 429, waiting %.2f s", endpoint, wait)
                self.stats.count_retry()
                self._sleep(wait)
                continue
            if status >= 500:
                if failures >= self._max_retries:
                    raise errors.ServerError(f"{endpoint}: HTTP {status} after {failures + 1} tries",
                                             system=SYSTEM, status=status)
                wait = self._backoff(failures)
                failures += 1
                log.info("activecampaign %s answered %s, retrying in %.2f s", endpoint, status, wait)
                self.stats.count_retry()
                self._sleep(wait)
                continue
            if status == 404 and missing_ok:
                return None
            return self._decode(resp, endpoint)

    def _send(self, method: str, url: str, params: Any, json: Any, headers: dict[str, str]) -> requests.Response:
        """One request, straight to the session's adapter: the session's per-request work (its
        cookie jar, hooks, environment and settings merge) is what a daemon making hundreds of
        thousands of calls to one API pays most for, and none of it applies here (no cookies,
        the environment settled once). A redirect is replayed through the session itself, so
        its same-host guard (``keep_credentials_home``) decides, as before; so is every request
        of a session with response hooks or cookies."""
        session = self._session
        if session.hooks.get("response") or len(session.cookies):  # someone set them: honour them
            return session.request(method, url, params=params, json=json, headers=headers, timeout=self._timeout)
        prepared = requests.Request(method, url, params=params, json=json,
                                    headers={**session.headers, **headers}).prepare()
        resp = session.get_adapter(url).send(prepared, timeout=self._timeout, verify=True if session.verify is None else session.verify,
                                             proxies=session.proxies, cert=session.cert)
        if resp.is_redirect:
            resp.close()
            return session.request(method, url, params=params, json=json, headers=headers, timeout=self._timeout)
        return resp

    def _decode(self, resp: requests.Response, endpoint: str) -> Any:
        status = resp.status_code
        try:
            body = resp.json() if resp.content else {}
        except ValueError:
            body = None
        if status < 400:
            if body is None:
                raise errors.BadResponse(f"{endpoint}: HTTP {status} without a JSON body", system=SYSTEM,
                                         status=status)
            return body
        message = self._scrub(_api_message(body) or f"HTTP {status}")
        kw: dict[str, Any] = {"system": SYSTEM, "status": status}
        if status == 401:
            raise errors.AuthenticationFailed(f"{endpoint}: the API token was refused ({message})", **kw)
        if status == 403:
            if "permission" in message.lower():
                raise errors.PermissionDenied(f"{endpoint}: {message}", **kw)
            raise errors.AuthenticationFailed(f"{endpoint}: the API token was refused ({message})", **kw)
        if status == 404:
            raise errors.NotFound(f"{endpoint}: {message}", **kw)
        raise errors.ApiError(f"{endpoint}: {message}", **kw)

    def _cached(self, key: str, load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < _CACHE_TTL_S:
                return hit[1]
        value = load()
        with self._cache_lock:
            self._cache[key] = (now, value)
        return value

    def _names(self, kind: str, attr: str, wanted: set[str]) -> dict[str, str]:
        """id → name of lists, fields or tags, cached for a few minutes; reloaded once when an
        id is missing (created since)."""
        if not wanted:
            return {}
        def load() -> dict[str, str]:
            return {str(item["id"]): str(item.get(attr, "")) for item in self._collect(kind, kind)}

        names: dict[str, str] = self._cached(kind, load)
        if not wanted <= names.keys():
            with self._cache_lock:
                self._cache.pop(kind, None)
            names = self._cached(kind, load)
        return names

    def _collect(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item of an offset-paged collection."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self._request("GET", path, params={**(params or {}), "limit": PAGE_LIMIT, "offset": offset})
            items = _items(body, key, path)
            out.extend(items)
            total = _int((body.get("meta") or {}).get("total"), default=None)
            offset += len(items)
            if len(items) < PAGE_LIMIT or (total is not None and offset >= total):
                return out

    # -- contacts ----------------------------------------------------------------------
    def find_contact(self, email: str) -> Contact | None:
        wanted = normalise_email(email)
        body = self._request("GET", "contacts", params={"email": wanted})
        for c in _items(body, "contacts", "contacts"):
            if normalise_email(str(c.get("email", ""))) == wanted:
                return Contact(id=int(c["id"]), email=str(c["email"]))
        return None

    def find_contacts_by_tag(self, tag_id: int) -> Iterator[Contact]:
        last = 0
        while True:
            body = self._request("GET", "contacts", params={"tagid": tag_id, "orders[id]": "ASC",
                                                            "id_greater": last, "limit": PAGE_LIMIT})
            items = _items(body, "contacts", "contacts")
            for c in items:
                last = max(last, int(c["id"]))
                yield Contact(id=int(c["id"]), email=str(c.get("email", "")))
            if len(items) < PAGE_LIMIT:
                return

    def contact_details(self, contact_id: int) -> dict[str, Any]:
        body = self._request("GET", f"contacts/{int(contact_id)}")
        contact = body.get("contact")
        if not isinstance(contact, dict):
            raise errors.BadResponse("GET /contacts/{id}: no contact in the answer", system=SYSTEM)
        tags_body = self._request("GET", f"contacts/{int(contact_id)}/contactTags")
        list_names = self._names("lists", "name", {str(cl["list"]) for cl in body.get("contactLists") or []})
        field_titles = self._names("fields", "title", {str(fv["field"]) for fv in body.get("fieldValues") or []})
        tag_names = self._names("tags", "tag", {str(ct["tag"]) for ct in tags_body.get("contactTags") or []})
        lists = [{"list": int(cl["list"]), "name": list_names.get(str(cl["list"]), ""),
                  "status": _int(cl.get("status"), default=0)}
                 for cl in body.get("contactLists") or []]
        fields = [{"field": int(fv["field"]), "title": field_titles.get(str(fv["field"]), ""),
                   "value": fv.get("value")}
                  for fv in body.get("fieldValues") or []]
        tags = [{"id": int(ct["id"]), "tag_id": int(ct["tag"]), "tag": tag_names.get(str(ct["tag"]), "")}
                for ct in tags_body.get("contactTags") or []]
        keep = ("id", "email", "firstName", "lastName", "phone", "cdate", "udate")
        return {"contact": {k: contact.get(k) for k in keep if k in contact},
                "lists": lists, "fields": fields, "tags": tags}

    def contact_lists(self, contact_id: int) -> list[dict[str, int]] | None:
        """The contact's list memberships ``[{"list", "status"}]`` in one call (GET
        /contacts/{id} carries them), or None when the contact is gone (404)."""
        body = self._request("GET", f"contacts/{int(contact_id)}", missing_ok=True)
        if body is None:
            return None
        if not isinstance(body.get("contact"), dict):
            raise errors.BadResponse("GET /contacts/{id}: no contact in the answer", system=SYSTEM)
        return [{"list": int(cl["list"]), "status": _int(cl.get("status"), default=0)}
                for cl in body.get("contactLists") or []]

    def contact_comment_data(self, contact_id: int, *, tags: bool, fields: bool) -> dict[str, Any] | None:
        """Only what comment-data removal needs: the contact's tags (with names) and/or its
        field values, one call each; None when the contact is gone (404)."""
        out: dict[str, Any] = {"tags": [], "fields": []}
        if tags:
            body = self._request("GET", f"contacts/{int(contact_id)}/contactTags", missing_ok=True)
            if body is None:
                return None
            items = body.get("contactTags") or []
            names = self._names("tags", "tag", {str(ct["tag"]) for ct in items})
            out["tags"] = [{"id": int(ct["id"]), "tag_id": int(ct["tag"]), "tag": names.get(str(ct["tag"]), "")}
                           for ct in items]
        if fields:
            body = self._request("GET", f"contacts/{int(contact_id)}/fieldValues", missing_ok=True)
            if body is None:
                return None
            out["fields"] = [{"field": int(fv["field"]), "value": fv.get("value")}
                             for fv in body.get("fieldValues") or []]
        return out

    def update_contact(self, contact_id: int, *, email: str | None = None, first_name: str | None = None,
                       last_name: str | None = None) -> Contact | None:
        """PUT /contacts/{id} (rectification): only the fields given change. None when the
        contact is gone (404)."""
        contact: dict[str, Any] = {}
        if email is not None:
            if not is_email(email):
                raise errors.WpprivsyncError("update_contact needs a valid email address")
            contact["email"] = normalise_email(email)
        if first_name is not None:
            contact["firstName"] = first_name
        if last_name is not None:
            contact["lastName"] = last_name
        if not contact:
            raise errors.WpprivsyncError("update_contact: nothing to change")
        body = self._request("PUT", f"contacts/{int(contact_id)}", json={"contact": contact}, missing_ok=True)
        if body is None:
            return None
        c = body.get("contact") or {}
        return Contact(id=int(c.get("id", contact_id)), email=str(c.get("email", contact.get("email", ""))))

    def delete_contact(self, contact_id: int) -> bool:
        return self._request("DELETE", f"contacts/{int(contact_id)}", missing_ok=True) is not None

    def set_list_status(self, contact_id: int, list_id: int, status: int) -> None:
        if status not in (1, 2):
            raise errors.WpprivsyncError(f"list status must be 1 (subscribed) or 2 (unsubscribed), not {status!r}")
        self._request("POST", "contactLists", json={"contactList": {
            "list": str(int(list_id)), "contact": str(int(contact_id)), "status": str(status)}})

    def sync_contact(self, email: str, **fields: Any) -> Contact:
        if not is_email(email):
            raise errors.WpprivsyncError("sync_contact needs a valid email address")
        contact: dict[str, Any] = {"email": normalise_email(email)}
        for key, value in fields.items():
            contact[_SYNC_ALIASES.get(key, key)] = value
        body = self._request("POST", "contact/sync", json={"contact": contact})
        c = body.get("contact") or {}
        if "id" not in c:
            raise errors.BadResponse("POST /contact/sync: no contact id in the answer", system=SYSTEM)
        return Contact(id=int(c["id"]), email=str(c.get("email", contact["email"])))

    def remove_contact_tag(self, contact_tag_id: int) -> bool:
        return self._request("DELETE", f"contactTags/{int(contact_tag_id)}", missing_ok=True) is not None

    def clear_field_value(self, contact_id: int, field_id: int) -> None:
        self._request("POST", "fieldValues", json={"fieldValue": {
            "contact": str(int(contact_id)), "field": str(int(field_id)), "value": ""}})

    # -- bulk import -------------------------------------------------------------------
    def bulk_import(self, contacts: Iterable[BulkContact]) -> list[str]:
        """Imports in calls of at most 250 contacts; returns the batch ids. Every email is
        checked before the first call, so a bad one stops the import with nothing sent."""
        rows = [_import_row(c) for c in contacts]
        bad = [i for i, row in enumerate(rows) if not is_email(row["email"])]
        if bad:
            raise errors.WpprivsyncError(
                f"bulk import refused: {len(bad)} of {len(rows)} contacts have no valid email "
                f"(positions {bad[:10]}{'…' if len(bad) > 10 else ''}); nothing was sent")
        batch_ids: list[str] = []
        for start in range(0, len(rows), BULK_LIMIT):
            chunk = rows[start:start + BULK_LIMIT]
            body = self._request("POST", "import/bulk_import", json={"contacts": chunk})
            if _int(body.get("Success", body.get("success")), default=0) != 1 or not body.get("batchId"):
                raise errors.ApiError(f"bulk import not queued: {self._scrub(_api_message(body) or 'no batch id')}",
                                      system=SYSTEM)
            batch_ids.append(str(body["batchId"]))
        return batch_ids

    def bulk_import_status(self, batch_id: str) -> dict[str, Any]:
        return _object(self._request("GET", "import/info", params={"batchId": batch_id}), "GET /import/info")

    def bulk_import_outstanding(self) -> dict[str, Any]:
        return _object(self._request("GET", "import/bulk_import"), "GET /import/bulk_import")

    def wait_bulk_import(self, batch_ids: Sequence[str], timeout: float = 300.0, poll: float = 1.0,
                         *, details: bool = False) -> dict[str, Any]:
        """Wait until no import of the account is outstanding (one call per poll, whatever the
        number of batches). With ``details`` also fetch each batch's result. Raises
        ``ServerError`` (retryable) if still outstanding after ``timeout`` seconds."""
        if not batch_ids:
            return {"completed": True, "batches": {}}
        deadline = self._clock() + timeout
        while True:
            status = self.bulk_import_outstanding()
            if not status.get("outstanding"):
                break
            if self._clock() >= deadline:
                raise errors.ServerError(f"bulk import still outstanding after {timeout:g} s", system=SYSTEM)
            self._sleep(poll)
        batches = {b: self.bulk_import_status(b) for b in batch_ids} if details else {}
        return {"completed": True, "batches": batches}

    # -- lists -------------------------------------------------------------------------
    def get_list(self, list_id: int) -> dict[str, Any]:
        body = self._request("GET", f"lists/{int(list_id)}")
        if not isinstance(body.get("list"), dict):
            raise errors.BadResponse("GET /lists/{id}: no list in the answer", system=SYSTEM)
        found: dict[str, Any] = body["list"]
        return found

    def list_members(self, list_id: int) -> Iterator[ListMember]:
        """Every contact on the list with its status: subscribed ones first, then
        unsubscribed, each paged by id (``id_greater`` + ``orders[id]=ASC``)."""
        for status in (1, 2):
            last = 0
            while True:
                body = self._request("GET", "contacts", params={
                    "listid": int(list_id), "status": status, "orders[id]": "ASC",
                    "id_greater": last, "limit": PAGE_LIMIT})
                items = _items(body, "contacts", "contacts")
                for c in items:
                    last = max(last, int(c["id"]))
                    yield ListMember(contact_id=int(c["id"]), email=str(c.get("email", "")), status=status)
                if len(items) < PAGE_LIMIT:
                    break

    def list_ids(self) -> list[int]:
        """Every list of the account (one call per 100 lists)."""
        return sorted(int(item["id"]) for item in self._collect("lists", "lists"))

    def subscribed_among(self, list_id: int, contact_ids: Iterable[int]) -> set[int]:
        """Which of ``contact_ids`` are subscribed to the list: one call per 100 ids
        (``GET /contacts?listid=&status=1&ids=``), whatever the size of the list."""
        wanted = sorted({int(i) for i in contact_ids})
        found: set[int] = set()
        for start in range(0, len(wanted), PAGE_LIMIT):
            chunk = wanted[start:start + PAGE_LIMIT]
            body = self._request("GET", "contacts", params={
                "listid": int(list_id), "status": 1, "ids": ",".join(map(str, chunk)), "limit": PAGE_LIMIT})
            found |= {int(c["id"]) for c in _items(body, "contacts", "contacts")} & set(chunk)
        return found

    # -- webhooks ----------------------------------------------------------------------
    def create_webhook(self, name: str, url: str, events: Sequence[str], sources: Sequence[str],
                       list_id: int | None = None) -> dict[str, Any]:
        hook: dict[str, Any] = {"name": name, "url": url, "events": list(events), "sources": list(sources)}
        if list_id is not None:
            hook["listid"] = int(list_id)
        body = self._request("POST", "webhooks", json={"webhook": hook})
        if not isinstance(body.get("webhook"), dict):
            raise errors.BadResponse("POST /webhooks: no webhook in the answer", system=SYSTEM)
        webhook: dict[str, Any] = body["webhook"]
        return webhook

    def list_webhooks(self) -> list[dict[str, Any]]:
        return self._collect("webhooks", "webhooks")

    def delete_webhook(self, webhook_id: int) -> bool:
        return self._request("DELETE", f"webhooks/{int(webhook_id)}", missing_ok=True) is not None

    def check(self) -> dict[str, Any]:
        body = self._request("GET", "lists", params={"limit": 1})
        return {"ok": True, "lists": _int((body.get("meta") or {}).get("total"), default=len(body.get("lists") or []))}


def _object(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise errors.BadResponse(f"{what}: the answer is not a JSON object", system=SYSTEM)
    return body


def _api_message(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    message = body.get("message")
    if isinstance(message, str):
        return message
    errs = body.get("errors")
    if isinstance(errs, list) and errs and isinstance(errs[0], dict):
        return "; ".join(str(e.get("detail") or e.get("title") or "") for e in errs[:3])
    return None


def _items(body: Any, key: str, path: str) -> list[dict[str, Any]]:
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise errors.BadResponse(f"GET /{path}: no '{key}' array in the answer", system=SYSTEM)
    return items


def _int(value: Any, *, default: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _import_row(c: BulkContact) -> dict[str, Any]:
    row: dict[str, Any] = {"email": normalise_email(c.email)}
    custom = []
    for key, value in (c.fields or {}).items():
        if isinstance(key, int) or str(key).isdigit():
            custom.append({"id": int(key), "value": "" if value is None else str(value)})
        elif key in _TOP_LEVEL_IMPORT_FIELDS:
            row[key] = value
        else:
            raise errors.WpprivsyncError(f"bulk import: unknown contact field {key!r}")
    if custom:
        row["fields"] = custom
    if c.subscribe:
        row["subscribe"] = [{"listid": str(int(l))} for l in c.subscribe]
    if c.unsubscribe:
        row["unsubscribe"] = [{"listid": str(int(l))} for l in c.unsubscribe]
    return row
