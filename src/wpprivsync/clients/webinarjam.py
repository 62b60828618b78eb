"""Client of the WebinarJam API (contract: shared/contracts/webinarjam).

Every call is ``POST`` with a form body carrying ``api_key``. Failures are mapped to
``wpprivsync.errors`` in one place (``_request``):

    429, 5xx,      bounded exponential backoff with full jitter, retry; then ``RateLimited`` /
    timeout,       ``ServerError`` / ``Unreachable``
    refused
    401, 403       ``AuthenticationFailed``
    status: error  ``ApiError`` with the API's message, marked retryable (the engine retries the
                   step); an invalid or revoked key answers this way too: ``AuthenticationFailed``
    unknown shape  retried here, then ``BadResponse`` (retryable)

The API cannot delete a registrant: ``unsubscribe`` (204) is the most it does; deletion is a
manual task (``engine.tasks``). Messages never carry the key or a plain email.
"""

from __future__ import annotations

import logging
import random
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import requests

from .. import errors
from ..backoff import exponential_backoff_with_jitter
from ..identity import normalise_email, redact_email
from .activecampaign import ClientStats
from .session import settle_environment

SYSTEM = "webinarjam"
_EMAILISH = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+")
_AUTH_WORDS = ("api key", "api_key", "apikey", "unauthor", "invalid key", "revoked")
_MAX_PAGES = 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Session:
    """One session (schedule) of a webinar as the API shows it."""

    webinar_id: int
    schedule: int
    date: str
    comment: str = ""


@dataclass(frozen=True)
class Registration:
    """One registrant row of one webinar (what the export shows)."""

    webinar_id: int
    lead_id: int
    email: str
    first_name: str
    last_name: str
    schedule: int | None
    signup_date: str
    attended_live: int | None
    fields: dict[str, Any]


class WebinarJamClient:
    def __init__(self, base_url: str, api_key: str, *, session: requests.Session,
                 sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0, max_retries: int = 5,
                 backoff_base: float = 0.5, backoff_max: float = 30.0, rng: random.Random | None = None):
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self._session = settle_environment(session, self.base_url)
        self._sleep = sleep
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._rng = rng or random.Random()
        self.stats = ClientStats()

    # -- transport ---------------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        return exponential_backoff_with_jitter(attempt, self._rng, base_s=self._backoff_base,
                                               cap_s=self._backoff_max, floor_s=0.01)

    def _scrub(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key, "***")
        return _EMAILISH.sub(lambda m: redact_email(m.group(0)), text)[:300]

    def _retry(self, failures: int, endpoint: str, what: str) -> None:
        wait = self._backoff(failures)
        log.info("webinarjam %s %s, retrying in %.2f s", endpoint, what, wait)
        self.stats.count_retry()
        self._sleep(wait)

    def _request(self, op: str, data: dict[str, Any], *, empty_ok: bool = False) -> dict[str, Any]:
        """One call with retries; returns the decoded JSON object (``{}`` for a 204 when
        ``empty_ok``). An unknown shape is retried like a 5xx, then raised."""
        endpoint = f"POST /{op}"
        body = {"api_key": self._key, **{k: v for k, v in data.items() if v is not None}}
        failures = 0
        while True:
            self.stats.count(endpoint)
            try:
                resp = self._session.post(f"{self.base_url}/{op}", data=body, timeout=self._timeout,
                                          headers={"Accept": "application/json"}, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                kind = "timed out" if isinstance(exc, requests.exceptions.Timeout) else "not reachable"
                if failures >= self._max_retries:
                    raise errors.Unreachable(f"{endpoint}: {kind} after {failures + 1} tries", system=SYSTEM) from None
                self._retry(failures, endpoint, kind)
                failures += 1
                continue
            status = resp.status_code
            if status == 429 or status >= 500:
                if status == 429:
                    self.stats.count_429()
                if failures >= self._max_retries:
                    cls = errors.RateLimited if status == 429 else errors.ServerError
                    kw: dict[str, Any] = {} if status == 429 else {"status": status}
                    raise cls(f"{endpoint}: HTTP {status} after {failures + 1} tries", system=SYSTEM, **kw)
                self._retry(failures, endpoint, f"answered {status}")
                failures += 1
                continue
            try:
                return self._decode(resp, endpoint, empty_ok=empty_ok)
            except errors.BadResponse:
                if failures >= self._max_retries:
                    raise
                self._retry(failures, endpoint, "gave an unreadable answer")
                failures += 1

    def _decode(self, resp: requests.Response, endpoint: str, *, empty_ok: bool) -> dict[str, Any]:
        status = resp.status_code
        if status == 204 and empty_ok:
            return {}
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = None
        message = self._scrub(str(body.get("message") or "")) if isinstance(body, dict) else ""
        if status in (401, 403):
            raise errors.AuthenticationFailed(f"{endpoint}: the API key was refused ({message or f'HTTP {status}'})",
                                              system=SYSTEM, status=status)
        if status == 404:
            raise errors.NotFound(f"{endpoint}: {message or 'HTTP 404'}", system=SYSTEM, status=status)
        if not isinstance(body, dict) or body.get("status") not in ("success", "error"):
            raise errors.BadResponse(f"{endpoint}: HTTP {status} answer without a status", system=SYSTEM,
                                     status=status)
        if body["status"] == "error" or status >= 400:
            text = message or f"HTTP {status}"
            if any(w in text.lower() for w in _AUTH_WORDS):
                raise errors.AuthenticationFailed(f"{endpoint}: the API key was refused ({text})", system=SYSTEM,
                                                  status=status)
            exc = errors.ApiError(f"{endpoint}: {text}", system=SYSTEM, status=status)
            exc.retryable = True  # the API reports passing trouble this way too: the step is retried
            raise exc
        return body

    # -- operations --------------------------------------------------------------------
    def webinars(self) -> list[dict[str, Any]]:
        body = self._request("webinars", {})
        items = body.get("webinars")
        if not isinstance(items, list) or not all(isinstance(w, dict) and "webinar_id" in w for w in items):
            raise errors.BadResponse("POST /webinars: no 'webinars' list in the answer", system=SYSTEM)
        return items

    def webinar(self, webinar_id: int) -> dict[str, Any]:
        body = self._request("webinar", {"webinar_id": int(webinar_id)})
        w = body.get("webinar")
        if not isinstance(w, dict) or not isinstance(w.get("schedules", []), list):
            raise errors.BadResponse("POST /webinar: no 'webinar' object in the answer", system=SYSTEM)
        return w

    def sessions(self, webinar_id: int) -> list[Session]:
        """The webinar's sessions as the API shows them now (past ones may be missing)."""
        out = []
        for s in self.webinar(webinar_id).get("schedules") or []:
            if isinstance(s, dict) and s.get("date") and _int(s.get("schedule")) is not None:
                out.append(Session(int(webinar_id), int(s["schedule"]), str(s["date"]), str(s.get("comment") or "")))
        return out

    def registrants(self, webinar_id: int, *, search: str | None = None,
                    schedule_id: int | None = None) -> Iterator[Registration]:
        """Every registrant (page by page; paginator object or bare list both accepted)."""
        page = 1
        while page <= _MAX_PAGES:
            body = self._request("registrants", {"webinar_id": int(webinar_id), "page": page, "search": search,
                                                 "schedule_id": schedule_id, "date_range": 0})
            raw = body.get("registrants")
            if isinstance(raw, list):
                rows, last = raw, page
            elif isinstance(raw, dict) and isinstance(raw.get("data"), list):
                rows, last = raw["data"], _int(raw.get("last_page")) or page
            else:
                raise errors.BadResponse("POST /registrants: no 'registrants' in the answer", system=SYSTEM)
            for row in rows:
                if not isinstance(row, dict) or _int(row.get("lead_id")) is None:
                    raise errors.BadResponse("POST /registrants: a registrant without a lead id", system=SYSTEM)
                yield _registration(int(webinar_id), row)
            if page >= last or not rows:
                return
            page += 1

    def find_registrations(self, webinar_id: int, email: str) -> list[Registration]:
        """The person's registrations in one webinar (``search`` narrows, the exact email
        decides: a search also matches parts of other addresses)."""
        wanted = normalise_email(email)
        return [r for r in self.registrants(webinar_id, search=wanted) if normalise_email(r.email) == wanted]

    def unsubscribe(self, webinar_id: int, lead_id: int) -> None:
        self._request("unsubscribe", {"webinar_id": int(webinar_id), "lead_id": int(lead_id)}, empty_ok=True)

    def check(self) -> dict[str, Any]:
        return {"ok": True, "webinars": len(self.webinars())}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


_KEEP = ("first_name", "last_name", "email", "phone_country_code", "phone", "ip", "webinar", "schedule",
         "signup_date", "attended_live", "date_live", "entered_live", "time_live", "purchased_live",
         "attended_replay")


def _registration(webinar_id: int, row: dict[str, Any]) -> Registration:
    return Registration(webinar_id=webinar_id, lead_id=int(row["lead_id"]), email=str(row.get("email") or ""),
                        first_name=str(row.get("first_name") or ""), last_name=str(row.get("last_name") or ""),
                        schedule=_int(row.get("schedule")), signup_date=str(row.get("signup_date") or ""),
                        attended_live=_int(row.get("attended_live")),
                        fields={k: row[k] for k in _KEEP if k in row})
