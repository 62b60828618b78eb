"""Client of the wpprivsync plugin's REST API (docs/PROTOCOL.md) and a few core routes.

The caller passes a ``requests.Session``; this module adds the Application Password and maps
every failure to ``wpprivsync.errors`` at one place (``_call``).
"""

from __future__ import annotations

import base64
from typing import Any, Iterator, Sequence

import requests

from .. import errors
from ..identity import normalise_email
from .protocols import Event
from .session import CrossHostRedirect, keep_credentials_home, settle_environment

NAMESPACE = "wpprivsync/v1"
ERASE_BATCH_MAX = 25  # the plugin's Wpprivsync_Rest::ERASE_BATCH_MAX
SYSTEM = "wordpress"
PAGE_SIZE = 500  # the plugin's maximum for consents and orders
MAX_EXPORT_PAGES = 10_000  # a plugin that never says done must not loop forever
EXPORT_RESTARTS = 3  # a walk that lost its place starts again, this many times at most
POSITION_LOST = "wpprivsync_export_position_lost"


class WordPressClient:
    def __init__(self, base_url: str, user: str, app_password: str, *, session: requests.Session,
                 timeout: float = 30.0, verify: bool = True):
        self.base_url = base_url.rstrip("/")
        self._auth = (user, app_password)
        self._session = keep_credentials_home(settle_environment(session, self.base_url))
        self._timeout = timeout
        self._verify = verify

    # -- transport ---------------------------------------------------------------------
    def _url(self, route: str) -> str:
        # ?rest_route= works with and without pretty permalinks
        return f"{self.base_url}/?rest_route=/{route.lstrip('/')}"

    def _call(self, method: str, route: str, *, params: dict[str, Any] | None = None,
              json: Any = None, auth: bool = True) -> dict[str, Any]:
        try:
            resp = self._session.request(
                method, self._url(route), params=params, json=json,
                auth=self._auth if auth else None, timeout=self._timeout,
                verify=None if self._verify else False,  # None: the session's (a CA bundle, or True)
            )
        except CrossHostRedirect as exc:
            raise errors.RedirectRefused(f"{exc}; the application password was not sent there",
                                         system=SYSTEM) from None
        except requests.exceptions.Timeout:
            raise errors.Unreachable(f"timed out after {self._timeout:g} s", system=SYSTEM) from None
        except requests.exceptions.ConnectionError:
            raise errors.Unreachable(f"not reachable at {self.base_url}", system=SYSTEM) from None
        return _decode(resp)

    # -- core --------------------------------------------------------------------------
    def index(self) -> dict[str, Any]:
        return self._call("GET", "/", auth=False)

    def me(self) -> dict[str, Any]:
        return self._call("GET", "wp/v2/users/me", params={"context": "edit"})

    # -- plugin ------------------------------------------------------------------------
    def _plugin(self, method: str, route: str, **kw: Any) -> dict[str, Any]:
        return self._call(method, f"{NAMESPACE}/{route}", **kw)

    def status(self) -> dict[str, Any]:
        return self._plugin("GET", "status")

    def events(self, after: int, limit: int = 100) -> tuple[list[Event], int]:
        return _events(self._plugin("GET", "events", params={"after": int(after), "limit": int(limit)}))

    def pull(self, after: int, limit: int, ack: Sequence[int] = (),
             hashes: dict[int, str] | None = None) -> tuple[list[Event], int, int]:
        """Acknowledge ``ack`` (with the keyed hashes, as ``ack``) and read the page after
        ``after`` in one request: ``(events, pending, acked)``. NotFound (``rest_no_route``)
        from a plugin that predates the route."""
        body = self._plugin("POST", "events/pull",
                            json={"after": int(after), "limit": int(limit), **_ack_payload(ack, hashes)})
        events, pending = _events(body)
        try:
            return events, pending, int(body.get("acked", 0))
        except (TypeError, ValueError):
            raise errors.BadResponse("events answer does not follow the protocol", system=SYSTEM) from None

    def ack(self, ids: Sequence[int], hashes: dict[int, str] | None = None) -> int:
        if not ids:
            return 0
        return int(_field(self._plugin("POST", "events/ack", json=_ack_payload(ids, hashes)), "acked"))

    def erase(self, email: str, *, dry_run: bool = False, exclude: Sequence[str] = ()) -> dict[str, Any]:
        return self._plugin("POST", "erase", json={"email": normalise_email(email), "dry_run": bool(dry_run),
                                                   "exclude": list(exclude)})

    def erase_batch(self, emails: Sequence[str], *, exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
        """``erase`` for several people in one request (at most ``ERASE_BATCH_MAX``); one answer
        per email, in order; an email whose erasure failed has ``{"error": {"code", "message"}}``."""
        if not 0 < len(emails) <= ERASE_BATCH_MAX:
            raise ValueError(f"erase_batch takes 1 to {ERASE_BATCH_MAX} emails")
        body = self._plugin("POST", "erase/batch", json={"emails": [normalise_email(e) for e in emails],
                                                          "exclude": list(exclude)})
        results = _field(body, "results")
        if not isinstance(results, list) or len(results) != len(emails):
            raise errors.BadResponse("erase/batch: not one result per email", system=SYSTEM)
        return results

    def export(self, email: str) -> dict[str, Any]:
        """Every page of the export, merged: ``{"groups": {id: {"label", "items": [...]}}}``.

        Each page names the cursor of the next (``next``), so the plugin walks its exporters once;
        an item that a page boundary split (same group and item id on two pages) is merged back
        into one, its data in order. When the plugin says the walk lost its place (409
        ``wpprivsync_export_position_lost``: on older WordPress the comment pages follow dates, and
        the last comment sent was deleted meanwhile), the export starts again from the first page,
        at most ``EXPORT_RESTARTS`` times, so no item is missed or sent twice."""
        for attempt in range(EXPORT_RESTARTS + 1):
            try:
                return self._export_once(email)
            except errors.ApiError as exc:
                if exc.code != POSITION_LOST or attempt == EXPORT_RESTARTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _export_once(self, email: str) -> dict[str, Any]:
        groups: dict[str, Any] = {}
        where: dict[tuple[str, str], dict[str, Any]] = {}
        cursor: str | None = None
        for page in range(1, MAX_EXPORT_PAGES + 1):
            request: dict[str, Any] = {"email": normalise_email(email), "page": page}
            if cursor is not None:
                request["cursor"] = cursor
            body = self._plugin("POST", "export", json=request)
            page_groups = _field(body, "groups")
            if not isinstance(page_groups, dict):  # PHP encodes an empty map as []
                page_groups = {}
            for group_id, group in page_groups.items():
                merged = groups.setdefault(group_id, {k: v for k, v in group.items() if k != "items"} | {"items": []})
                for item in group.get("items", []):
                    key = (str(group_id), str(item.get("item_id", "")))
                    seen = where.get(key)
                    if seen is None:
                        item = {**item, "data": list(item.get("data") or [])}
                        where[key] = item
                        merged["items"].append(item)
                    else:
                        seen["data"].extend(item.get("data") or [])
            if body.get("done", True):
                return {"groups": groups}
            nxt = body.get("next")
            if not isinstance(nxt, str) or not nxt:
                raise errors.BadResponse("export: a page that is not done names no next cursor", system=SYSTEM)
            cursor = nxt
        raise errors.BadResponse(f"export did not finish within {MAX_EXPORT_PAGES} pages", system=SYSTEM)

    def remove_comments(self, email: str, *, dry_run: bool = False) -> dict[str, Any]:
        return self._plugin("POST", "comments/remove", json={"email": normalise_email(email), "dry_run": bool(dry_run)})

    def set_consent(self, email: str, subscribed: bool) -> dict[str, Any]:
        return self._plugin("POST", "consent", json={"email": normalise_email(email), "subscribed": bool(subscribed)})

    def restrict(self, email: str, restricted: bool) -> dict[str, Any]:
        """Flag (or unflag) the account with this email as restricted (GDPR art. 18).
        Raises NotFound when no account has it."""
        return self._plugin("POST", "restrict", json={"email": normalise_email(email), "restricted": bool(restricted)})

    def consents(self) -> Iterator[dict[str, Any]]:
        """Every user ``{"id", "email", "subscribed"}``, paging by id."""
        after = 0
        while True:
            body = self._plugin("GET", "consents", params={"after": after, "limit": PAGE_SIZE})
            users = _field(body, "users")
            yield from users
            last = int(body.get("last_id", after))
            if len(users) < PAGE_SIZE or last <= after:
                return
            after = last

    def orders(self, *, email: str | None = None, before: str | None = None) -> Iterator[dict[str, Any]]:
        """Orders not yet anonymised, by billing email and/or created before a date (YYYY-MM-DD).

        Pages by number in id order; an order that shows up again (the set shifted between two
        pages) is yielded once. Callers that anonymise should collect first, then act."""
        params: dict[str, Any] = {"per_page": PAGE_SIZE}
        if email:
            params["email"] = normalise_email(email)
        if before:
            params["before"] = before
        page, seen = 1, set()
        while True:
            body = self._plugin("GET", "orders", params=params | {"page": page})
            orders = _field(body, "orders")
            for order in orders:
                if order["id"] not in seen:
                    seen.add(order["id"])
                    yield order
            total = int(body.get("total", 0))
            if not orders or page * PAGE_SIZE >= total:
                return
            page += 1

    def anonymize_orders(self, order_ids: Sequence[int]) -> dict[str, Any]:
        return self._plugin("POST", "orders/anonymize", json={"order_ids": [int(i) for i in order_ids]})

    def scrub_requests(self, older_than_days: int) -> dict[str, Any]:
        """Replace the plain email of WordPress's completed privacy requests older than that with
        its keyed hash; returns ``{"scrubbed": n}``."""
        return self._plugin("POST", "requests/scrub", json={"older_than_days": int(older_than_days)})

    def retention(self) -> dict[str, Any]:
        return self._plugin("GET", "retention")

    def scan(self, emails: Sequence[str], *, cursor: str = "", evidence_days: int = 30,
             budget_ms: int = 2000, hashes: Sequence[str] = ()) -> dict[str, Any]:
        """One page of the residue scan for up to 200 emails: ``{"done", "cursor", "found",
        "unscanned", "rows_scanned", "tables_scanned"}``; ``found`` gives places (table, column,
        key, kind, the email's index, and ``retained`` when the policy keeps the row), never
        values."""
        answer = self._plugin("POST", "scan", json={
            "emails": [normalise_email(e) for e in emails], "cursor": cursor,
            "evidence_days": int(evidence_days), "budget_ms": int(budget_ms), "hashes": list(hashes)})
        _field(answer, "done")
        return answer

    def set_retention(self, order_years: int, tax_year_start_month: int) -> dict[str, Any]:
        return self._plugin("POST", "retention", json={"order_years": int(order_years),
                                                       "tax_year_start_month": int(tax_year_start_month)})

    def heartbeat(self, body: dict[str, Any]) -> None:
        _field(self._plugin("POST", "heartbeat", json=body), "ok")

    def mirror_requests(self, rows: list[dict[str, Any]]) -> int:
        """Upsert up to 500 requests into the plugin's table for the admin page's list (keyed
        hashes only); returns how many the plugin stored."""
        return int(_field(self._plugin("POST", "requests/mirror", json={"requests": rows}), "stored"))

    def lookup_answer(self, lookup_id: str, body: dict[str, Any]) -> None:
        """Answer the admin page's "Find a person" lookup (keyed hash only); NotFound when the
        page no longer waits for it."""
        _field(self._plugin("POST", "lookups", json={"lookup_id": lookup_id, "answer": body}), "ok")

    def core_export(self, email: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Deliver the other systems' data to wpprivsync's exporter in core's Tools → Export
        Personal Data (items in core's exporter format); NotFound when no export waits."""
        return self._plugin("POST", "core-export", json={"email": normalise_email(email), "groups": items})

    def store_export(self, archive: bytes) -> dict[str, Any]:
        """Hand an export archive to the plugin, which keeps it for the admin page's download
        link: ``{"url", "expires_at"}``."""
        answer = self._plugin("POST", "exports", json={"content": base64.b64encode(archive).decode("ascii")})
        _field(answer, "url")
        return answer


def _ack_payload(ids: Sequence[int], hashes: dict[int, str] | None) -> dict[str, Any]:
    """The acknowledgement's fields (POST /events/ack and /events/pull): ids, and the daemon's
    keyed hash of each event's email by id."""
    payload: dict[str, Any] = {"ids": [int(i) for i in ids]}
    if hashes:
        payload["hashes"] = {str(k): v for k, v in hashes.items()}
    return payload


def _events(body: dict[str, Any]) -> tuple[list[Event], int]:
    try:
        events = [Event(id=int(e["id"]), type=str(e["type"]), payload=dict(e.get("payload") or {}),
                        created_at=str(e["created_at"])) for e in body["events"]]
        return events, int(body.get("pending", 0))
    except (KeyError, TypeError, ValueError):
        raise errors.BadResponse("events answer does not follow the protocol", system=SYSTEM) from None


def _field(body: Any, name: str) -> Any:
    if not isinstance(body, dict) or name not in body:
        raise errors.BadResponse(f"answer without {name!r}", system=SYSTEM)
    return body[name]


def _decode(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code < 400:
        if body is None:
            raise errors.BadResponse(f"HTTP {resp.status_code} without a JSON body", system=SYSTEM, status=resp.status_code)
        if not isinstance(body, dict):  # every route the client calls answers a JSON object
            raise errors.BadResponse(f"HTTP {resp.status_code} with JSON that is not an object", system=SYSTEM,
                                     status=resp.status_code)
        return body
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = message or f"HTTP {resp.status_code}"
    kw: dict[str, Any] = {"system": SYSTEM, "status": resp.status_code, "code": code}
    if resp.status_code == 401 or code in {"invalid_username", "incorrect_password", "rest_not_logged_in"}:
        raise errors.AuthenticationFailed(f"authentication failed ({code or resp.status_code})", **kw)
    if resp.status_code == 403:
        raise errors.PermissionDenied(f"permission denied ({code or 403})", **kw)
    if resp.status_code == 404:
        raise errors.NotFound(text, **kw)
    if resp.status_code == 501 and code == "woocommerce_missing":
        raise errors.WooCommerceMissing(text, **kw)
    if resp.status_code == 429:
        raise errors.RateLimited(text, system=SYSTEM, code=code)
    if resp.status_code >= 500:
        raise errors.ServerError(text, **kw)
    raise errors.ApiError(text, **kw)
