"""The local WebinarJam server: form-encoded POSTs, ``api_key`` in every body, JSON answers
with ``status`` success/error, ``registrants`` paged as a paginator object (or, with the
``bare_list`` fault, as a bare list like some accounts answer), ``unsubscribe`` → 204."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

PER_PAGE = 50


@dataclass
class _Webinar:
    webinar_id: int
    name: str
    type: str
    schedules: list[dict[str, Any]] = field(default_factory=list)  # {date, schedule, comment, hidden}


@dataclass
class _Lead:
    lead_id: int
    webinar_id: int
    schedule: int
    first_name: str
    last_name: str
    email: str
    signup_date: str
    subscribed: bool = True
    attended_live: int = 0


class WebinarJamServer:
    def __init__(self, port: int = 0, api_key: str = "wj-fake-key", *, host: str = "127.0.0.1"):
        self.api_key = api_key
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "WebinarJamServer":
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                status, body = outer._handle(self.path.rstrip("/").rsplit("/", 1)[-1],
                                             self.headers.get("Content-Type", ""), raw)
                self.send_response(status)
                if body is None:
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True, name="wjfake").start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "WebinarJamServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}/webinarjam"

    # -- state helpers -----------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._webinars: dict[int, _Webinar] = {}
            self._leads: dict[int, _Lead] = {}
            self._next_lead = 1000
            self._next_schedule = 500
            self.faults: dict[str, int] = {}
            self.calls: list[str] = []

    def set_faults(self, **counts: int) -> None:
        """``error=N`` (status: error), ``garbage=N`` (unknown shape), ``http500=N``,
        ``bare_list=N`` (registrants as a bare list): the next N answers."""
        with self._lock:
            self.faults.update(counts)

    def add_webinar(self, webinar_id: int, name: str, sessions: list[str], *,
                    type: str = "Single presentation") -> list[int]:
        """Add a webinar with sessions at the given ``YYYY-MM-DD HH:MM`` dates; returns their
        schedule ids (a series shares one)."""
        with self._lock:
            w = _Webinar(webinar_id, name, type)
            shared = None
            for date in sessions:
                if type == "Series of presentations" and shared is not None:
                    sid = shared
                else:
                    self._next_schedule += 1
                    sid = shared = self._next_schedule
                w.schedules.append({"date": date, "schedule": sid, "comment": "", "hidden": False})
            self._webinars[webinar_id] = w
            return [s["schedule"] for s in w.schedules]

    def hide_past_sessions(self, webinar_id: int) -> None:
        """As the real API does once sessions ended: their schedule ids are no longer shown."""
        with self._lock:
            for s in self._webinars[webinar_id].schedules:
                s["hidden"] = True

    def add_registrant(self, webinar_id: int, schedule: int, email: str, first_name: str = "Ann",
                       last_name: str = "Lee", signup_date: str = "2026-01-01 10:00") -> int:
        with self._lock:
            self._next_lead += 1
            lead = _Lead(self._next_lead, webinar_id, schedule, first_name, last_name, email, signup_date)
            self._leads[lead.lead_id] = lead
            return lead.lead_id

    def delete_registrant(self, lead_id: int) -> None:
        """What the person does in WebinarJam's own screens (the API cannot)."""
        with self._lock:
            self._leads.pop(lead_id, None)

    def lead(self, lead_id: int) -> dict[str, Any] | None:
        with self._lock:
            lead = self._leads.get(lead_id)
            return None if lead is None else dict(lead.__dict__)

    # -- the API -----------------------------------------------------------------------
    def _fault(self, name: str) -> bool:
        n = self.faults.get(name, 0)
        if n > 0:
            self.faults[name] = n - 1
            return True
        return False

    def _handle(self, op: str, content_type: str, raw: str) -> tuple[int, Any]:
        with self._lock:
            self.calls.append(op)
            if self._fault("http500"):
                return 500, b"upstream trouble"
            if self._fault("garbage"):
                return 200, {"result": "ok?"}
            if self._fault("error"):
                return 200, {"status": "error", "message": "Temporary failure, please try again"}
            if "application/x-www-form-urlencoded" not in content_type:
                return 200, {"status": "error", "message": "Body must be application/x-www-form-urlencoded"}
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            if form.get("api_key") != self.api_key:
                return 200, {"status": "error", "message": "Invalid API key"}
            fn = getattr(self, "_op_" + op, None)
            if fn is None:
                return 404, {"status": "error", "message": "Unknown endpoint"}
            try:
                return fn(form)
            except _Bad as exc:
                return 200, {"status": "error", "message": str(exc)}

    def _webinar(self, form: dict[str, str]) -> _Webinar:
        wid = _int(form.get("webinar_id"), "webinar_id")
        if wid not in self._webinars:
            raise _Bad("Webinar not found")
        return self._webinars[wid]

    def _op_webinars(self, form: dict[str, str]) -> tuple[int, Any]:
        return 200, {"status": "success", "webinars": [
            {"webinar_id": w.webinar_id, "webinar_hash": f"h{w.webinar_id}", "name": w.name, "title": w.name,
             "description": "", "type": w.type, "timezone": "Europe/Warsaw",
             "schedules": [s["date"] for s in w.schedules if not s["hidden"]]}
            for w in self._webinars.values()]}

    def _op_webinar(self, form: dict[str, str]) -> tuple[int, Any]:
        w = self._webinar(form)
        return 200, {"status": "success", "webinar": {
            "webinar_id": w.webinar_id, "webinar_hash": f"h{w.webinar_id}", "name": w.name, "title": w.name,
            "description": "", "type": w.type, "timezone": "Europe/Warsaw",
            "schedules": [{"date": s["date"], "schedule": s["schedule"], "comment": s["comment"]}
                          for s in w.schedules if not s["hidden"]],
            "presenters": [{"name": "Host", "email": "host@example.org", "picture": ""}],
            "registration_url": f"https://example.org/register/{w.webinar_id}", "registration_type": "free"}}

    def _op_register(self, form: dict[str, str]) -> tuple[int, Any]:
        w = self._webinar(form)
        schedule = _int(form.get("schedule"), "schedule")
        if not form.get("first_name") or "@" not in form.get("email", ""):
            raise _Bad("first_name and a valid email are required")
        match = [s for s in w.schedules if s["schedule"] == schedule]
        if not match:
            raise _Bad("Schedule not found")
        self._next_lead += 1
        lead = _Lead(self._next_lead, w.webinar_id, schedule, form["first_name"], form.get("last_name", ""),
                     form["email"], datetime.now().strftime("%Y-%m-%d %H:%M"))
        self._leads[lead.lead_id] = lead
        return 200, {"status": "success", "user": {
            "webinar_id": w.webinar_id, "webinar_hash": f"h{w.webinar_id}", "user_id": lead.lead_id,
            "first_name": lead.first_name, "last_name": lead.last_name, "email": lead.email, "schedule": schedule,
            "date": match[0]["date"], "timezone": "Europe/Warsaw", "live_room_url": "https://example.org/live",
            "replay_room_url": "https://example.org/replay", "thank_you_url": "https://example.org/thanks"}}

    def _op_registrants(self, form: dict[str, str]) -> tuple[int, Any]:
        w = self._webinar(form)
        page = _int(form.get("page") or "1", "page")
        if page < 1:
            raise _Bad("page must be at least 1")
        search = (form.get("search") or "").lower()
        schedule = form.get("schedule_id")
        rows = [lead for lead in self._leads.values() if lead.webinar_id == w.webinar_id
                and (not search or search in f"{lead.email} {lead.first_name} {lead.last_name}".lower())
                and (not schedule or str(lead.schedule) == schedule)]
        rows.sort(key=lambda lead: lead.lead_id)
        data = [{"lead_id": lead.lead_id, "first_name": lead.first_name, "last_name": lead.last_name,
                 "email": lead.email, "phone_country_code": "", "phone": "", "ip": "127.0.0.1",
                 "webinar": w.name, "schedule": lead.schedule, "signup_date": lead.signup_date,
                 "attended_live": lead.attended_live, "date_live": "", "entered_live": "", "time_live": "",
                 "purchased_live": 0, "attended_replay": 0} for lead in rows]
        if self._fault("bare_list"):
            return 200, {"status": "success", "registrants": data}
        last = max(1, -(-len(data) // PER_PAGE))
        chunk = data[(page - 1) * PER_PAGE: page * PER_PAGE]
        return 200, {"status": "success", "registrants": {"current_page": page, "data": chunk, "per_page": PER_PAGE,
                                                          "last_page": last, "total": len(data)}}

    def _op_unsubscribe(self, form: dict[str, str]) -> tuple[int, Any]:
        w = self._webinar(form)
        lead = self._leads.get(_int(form.get("lead_id"), "lead_id"))
        if lead is None or lead.webinar_id != w.webinar_id:
            raise _Bad("Lead not found")
        lead.subscribed = False
        return 204, None


class _Bad(ValueError):
    pass


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise _Bad(f"{name} must be an integer") from None
