"""The operations people and the daemon run, over an ``App``. The CLI and the daemon are thin
layers over these functions; each returns plain data (dicts and lists) that the CLI prints as
text or JSON and the plugin's admin page receives in the heartbeat."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any, Callable

from . import __version__, errors
from .app import App
from .engine import preflight
from .engine.ingest import pull_events
from .engine.worker import PassStats, Worker
from .identity import email_hash, is_email, normalise_email
from .store.api import DEAD, DONE, OPEN, PENDING, RUNNING, Step

StepCallback = Callable[[Step, str], None]  # called with each finished step and its verdict ("done", "retry", "dead")

log = logging.getLogger(__name__)


def _check_email(email: str) -> str:
    if not is_email(email):
        raise errors.ConfigError("not a valid email address", field="EMAIL", hint="give it as name@example.com")
    return normalise_email(email)


# -- the main loop ------------------------------------------------------------------------
def push_retention(app: App, site_name: str) -> None:
    """Tell the plugin the policy's order retention, so WooCommerce's eraser keeps orders under
    retention and names their end date. Sites without WooCommerce answer 501: fine."""
    policy = app.policy
    try:
        app.clients(site_name).wordpress.set_retention(policy.order_years, policy.tax_year_start_month)
    except errors.WooCommerceMissing:
        pass


def pull(app: App, site_name: str) -> dict[str, int]:
    wp = app.clients(site_name).wordpress
    stats = pull_events(site_name, wp, app.store, app.planner(site_name), app.secret, app.clock)
    for lookup_id, email in stats.lookups:
        answer_lookup(app, site_name, lookup_id, email)
    return {"events": stats.events, "requests": stats.requests, "acked": stats.acked,
            "lookups": len(stats.lookups)}


# -- the admin page's "Find a person" (issue 16.1) ------------------------------------------
def person_view(app: App, site_name: str, email: str) -> dict[str, Any]:
    """Everything the admin page's person view shows, by keyed hash (no email in it): what each
    system holds and what erasure would do and keep (``explain``, which changes nothing), the
    person's requests with their systems and open tasks, and the audit trail. A system that
    cannot be reached is reported in ``explain_error``; the rest still comes back."""
    email = _check_email(email)
    digest = email_hash(app.secret, email)
    out: dict[str, Any] = {"email_hash": digest, "site": site_name, "looked_up_at": app.clock()}
    try:
        found = explain(app, site_name, email)
        found.pop("history", None)  # the audit trail comes below, also when explain fails
        out["explain"] = found
        out["consent_history"] = found.get("consents", [])  # the person view's "Consent history"
    except errors.WpprivsyncError as exc:
        out["explain_error"] = str(exc)
    reqs = app.store.requests_for_hash(digest, site_name)
    out["requests"] = mirror_rows(app, site_name, reqs[-50:])
    out["audit"] = [{"at": a.at, "system": a.system, "action": a.action, "removed": a.items_removed,
                     "retained": a.items_retained, "retained_until": a.retained_until, "reason": a.reason,
                     "request_id": a.request_id}
                    for a in app.store.audit(email_hash=digest, site=site_name, limit=50)]
    return out


def answer_lookup(app: App, site_name: str, lookup_id: str, email: str) -> bool:
    """Send the person view to the plugin for the page that asked; False when the plugin no
    longer waits for it (expired) or it could not be sent (logged, the page times out)."""
    try:
        body = person_view(app, site_name, email)
    except errors.WpprivsyncError as exc:
        body = {"explain_error": str(exc)}
    try:
        app.clients(site_name).wordpress.lookup_answer(lookup_id, _plain(body))
        return True
    except errors.WpprivsyncError as exc:
        log.warning("lookup answer not delivered", extra={"site": site_name, "error": str(exc)})
        return False


def sync_once(app: App, *, worker: Worker | None = None, on_step: StepCallback | None = None,
              sites: list[str] | None = None) -> dict[str, Any]:
    """One pass: pull every site's events, then run every due step. Errors reaching one site
    are reported per site and do not stop the others."""
    summary: dict[str, Any] = {"sites": {}, "steps": {}}
    for name in sites or [s.name for s in app.sites]:
        try:
            summary["sites"][name] = pull(app, name)
        except errors.RemoteError as exc:
            summary["sites"][name] = {"error": str(exc)}
            log.warning("pulling events failed", extra={"site": name, "error": str(exc)})
    own = worker is None
    worker = worker or app.worker()
    try:
        stats: PassStats = worker.run_pass(on_step=on_step)
    finally:
        if own:
            worker.close()
    summary["steps"] = {"done": stats.done, "retrying": stats.failed, "dead": stats.dead}
    return summary


# -- requests from people -------------------------------------------------------------------
def queue_request(app: App, site_name: str, action: str, email: str, *, source: str = "cli") -> int:
    email = _check_email(email)
    request = app.planner(site_name).request(action, email, source=source, received_at=app.clock())
    systems = ["activecampaign"] + (["webinarjam"] if app.settings.site(site_name).webinarjam else [])
    refused = preflight.refusals(email, systems)
    if refused:
        system, reason = refused[0]
        raise errors.ConfigError(f"{reason}: the request would stop half-way in {preflight.SYSTEM_NAMES[system]}, "
                                 "so nothing was done", field="EMAIL")
    _refuse_behind_dead(app, site_name, request.email_hash)
    request_id = app.store.add_request(request)
    if action in ("subscribe", "unsubscribe") and request.email_hash:
        # an unsubscribe (or an objection to marketing, GDPR art. 21) asked for by the person
        # through the operator: a consent withdrawn, recorded like any other (docs/CONSENT.md)
        from .engine.plan import consent_source
        from .store.api import AuditEntry, ConsentRecord

        record = ConsentRecord(site=site_name, email_hash=request.email_hash, given=action == "subscribe",
                               at=request.received_at, source=consent_source(source), proof="operator")
        app.store.add_consents([record])
        app.store.add_audit([AuditEntry(site=site_name, email_hash=request.email_hash, system="wpprivsync",
                                        action="consent_given" if record.given else "consent_withdrawn",
                                        reason="newsletter consent " + ("given" if record.given else "withdrawn")
                                               + f" ({source}, GDPR art. 7(1)): recorded in the consent history",
                                        request_id=request_id, at=record.at)])
    return request_id


def _refuse_behind_dead(app: App, site_name: str, digest: str | None) -> None:
    if digest is None:
        return
    for earlier in app.store.requests_for_hash(digest, site_name):
        if earlier.status not in (OPEN, "failed"):
            continue
        dead = [s for s in app.store.steps_of(earlier.id) if s.status == DEAD]
        if dead:
            raise errors.RequestBlocked(
                f"request {earlier.id} ({earlier.action}) of this person has {len(dead)} dead step(s) and "
                f"blocks any new request; run `wpprivsync retry {dead[0].id}` (or `wpprivsync retry --all`) first")


def run_request(app: App, request_id: int, *, on_step: StepCallback | None = None,
                max_passes: int = 50) -> dict[str, Any]:
    """Run due steps until this request is no longer open, or only has steps waiting for a
    later retry. Returns the request's view."""
    worker = app.worker()
    try:
        for _ in range(max_passes):
            stats = worker.run_pass(on_step=on_step)
            req = app.store.get_request(request_id)
            if req is None or req.status != OPEN:
                break
            if stats.done == 0 and stats.failed == 0 and stats.dead == 0:
                break  # nothing due now: the rest waits for its retry time
    finally:
        worker.close()
    return request_view(app, request_id)


def request_view(app: App, request_id: int) -> dict[str, Any]:
    req = app.store.get_request(request_id)
    if req is None:
        raise errors.ConfigError(f"no request {request_id}", field="ID", hint="see `wpprivsync status`")
    steps = app.store.steps_of(request_id)
    retained_until = None
    export_url = None
    for s in steps:
        until = (s.result or {}).get("retained_until")
        if until and (retained_until is None or until > retained_until):
            retained_until = until
        export_url = (s.result or {}).get("export_url") or export_url
    return {
        "id": req.id, "site": req.site, "action": req.action, "status": req.status, "source": req.source,
        "email_hash": req.email_hash, "received_at": req.received_at, "due_at": req.due_at,
        "completed_at": req.completed_at, "retained_until": retained_until, "export_url": export_url,
        "systems": _systems(steps),
        "steps": [{"id": s.id, "system": s.system, "action": s.action, "status": s.status, "attempts": s.attempts,
                   "last_error": s.last_error, "result": s.result, "next_attempt_at": s.next_attempt_at}
                  for s in steps],
    }


def dry_run_erase(app: App, site_name: str, email: str) -> dict[str, Any]:
    """What an erasure would do in each system, changing nothing."""
    email = _check_email(email)
    c = app.clients(site_name)
    wp = c.wordpress.erase(email, dry_run=True)
    contact = c.activecampaign.find_contact(email)
    return {
        "wordpress": {"erasers": wp.get("erasers", []), "would_touch": wp.get("would_touch", {}),
                      "retained": wp.get("retained", []), "account": wp.get("account", {})},
        "activecampaign": {"contact": contact is not None,
                           "would": "delete the contact and keep its keyed hash on the suppression list"
                           if contact else "nothing: no contact with this email"},
        "suppressed": app.store.is_suppressed(site_name, email_hash(app.secret, email)),
    }


def retry(app: App, step_id: int | None = None, *, all_failed: bool = False) -> int:
    now = app.clock()
    if all_failed:
        return app.store.retry_all_dead(now)
    if step_id is None:
        raise errors.ConfigError("give a step id or --all-failed", field="ID")
    if not app.store.retry_step(step_id, now):
        raise errors.ConfigError(f"step {step_id} is not in the dead-letter list", field="ID",
                                 hint="see `wpprivsync status` for failed steps")
    return 1


# -- reporting --------------------------------------------------------------------------------
def _systems(steps: list[Step]) -> dict[str, str]:
    """Each system's state in a request: its least finished step wins (failed > running >
    pending > done)."""
    rank = {DONE: 0, PENDING: 1, RUNNING: 2, DEAD: 3}
    worst: dict[str, str] = {}
    for s in steps:
        if rank.get(s.status, 0) >= rank.get(worst.get(s.system, ""), -1):
            worst[s.system] = s.status
    return {system: ("failed" if st == DEAD else st) for system, st in worst.items()}


def status(app: App, *, site: str | None = None, near_days: int = 7, limit: int = 20) -> dict[str, Any]:
    store = app.store
    now = app.clock()
    dead = store.dead_steps(site, limit=limit)
    # Asked of the store, not cut from a capped list: with a long backlog the oldest requests
    # (the ones near their deadline) must not fall outside the page.
    near = store.list_requests(site=site, status=OPEN, due_before=now + timedelta(days=near_days), limit=500)
    open_count = store.count_requests(site=site, status=OPEN)
    age = store.oldest_open_request_age(now, site)
    return {
        "version": __version__,
        "queue": store.queue_depth(site),
        "counts": store.counts(),
        "failed": [{"step_id": s.id, "request_id": s.request_id, "site": s.site, "system": s.system,
                    "action": s.action, "error": s.last_error, "attempts": s.attempts} for s in dead],
        "near_deadline": [{"id": r.id, "site": r.site, "action": r.action, "due_at": r.due_at,
                           "overdue": r.due_at < now} for r in sorted(near, key=lambda r: r.due_at)],
        "open_requests": open_count,
        "oldest_open_age_s": age.total_seconds() if age else 0.0,
        "last_reconcile": {s.name: store.get_state(f"reconcile:{s.name}") for s in app.sites},
        "last_retention": {s.name: store.get_state(f"retention:{s.name}") for s in app.sites},
        "tasks": tasks_view(app, site=site, status="open"),
    }


# -- manual tasks ----------------------------------------------------------------------------
def _task_dict(t: Any, now: datetime) -> dict[str, Any]:
    return {"id": t.id, "site": t.site, "system": t.system, "rule": t.rule, "what": t.what, "why": t.why,
            "due_at": t.due_at, "status": t.status, "overdue": t.status == "open" and t.due_at < now,
            "request_id": t.request_id, "note": t.note, "closed_at": t.closed_at}


def tasks_view(app: App, *, site: str | None = None, status: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
    """Manual tasks (open ones by default), soonest due first."""
    now = app.clock()
    return [_task_dict(t, now) for t in app.store.tasks(site=site, status=status, limit=limit)]


def close_task(app: App, task_id: int, note: str, *, waive: bool = False) -> dict[str, Any]:
    """Close a manual task as done (or waived, with the reason as the note), audited. Closing
    it again changes nothing and says so."""
    import re

    from .identity import redact_email

    note = re.sub(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+", lambda m: redact_email(m.group(0)), note or "").strip()
    if not note:
        raise errors.ConfigError("a note is required", field="--note",
                                 hint="say what was done, or why the task is waived")
    task = app.store.get_task(task_id)
    if task is None:
        raise errors.ConfigError(f"no task {task_id}", field="ID", hint="see `wpprivsync tasks`")
    changed = app.store.close_task(task_id, app.clock(), status="waived" if waive else "done", note=note)
    return {"changed": changed, "task": _task_dict(app.store.get_task(task_id), app.clock())}


def recent_requests(app: App, site: str, limit: int = 20) -> list[dict[str, Any]]:
    out = []
    for r in app.store.list_requests(site=site, limit=limit):
        view = request_view(app, r.id)
        out.append({"id": r.id, "action": r.action, "email_hash": r.email_hash, "received_at": r.received_at,
                    "due_at": r.due_at, "status": r.status, "systems": view["systems"],
                    "retained_until": view["retained_until"], "export_url": view["export_url"]})
    return out


def heartbeat_body(app: App, site: str, *, last_error: str | None = None) -> dict[str, Any]:
    st = status(app, site=site)
    return {"version": __version__, "queue": st["queue"], "last_error": last_error,
            "failed": st["failed"], "requests": recent_requests(app, site),
            "near_deadline": st["near_deadline"], "tasks": st["tasks"],
            # the admin page's dashboard and schedule (issue 16.3, 16.4)
            "counts": st["counts"], "activecampaign": activecampaign_use(app, site),
            "schedule": schedule_view(app, site),
            # what the plugin applies itself, also to erasures started in WordPress's own tools
            "policy": {"comments_on_erasure": app.policy.rule("comments").on_erasure,
                       # the site's privacy policy section the plugin offers (issue 16)
                       **policy_summary(app)}}


def activecampaign_use(app: App, site: str) -> dict[str, Any]:
    """ActiveCampaign calls this process sent since the last heartbeat against what the rate
    budget allowed in that time (``use`` 0..1; None on the first heartbeat or after a restart),
    and 429s seen."""
    import json

    ac = app.clients(site).activecampaign
    stats = getattr(ac, "stats", None)
    budget = getattr(ac, "budget", None)
    calls = int(getattr(stats, "calls", 0))
    limited = int(getattr(stats, "http429", 0))
    rate = getattr(budget, "rate", None)
    window_ms = getattr(budget, "window_ms", None)
    now = app.clock()
    key = f"acbudget:{site}"
    try:
        prev = json.loads(app.store.get_state(key) or "{}")
    except ValueError:
        prev = {}
    use = None
    if prev.get("at") and rate and window_ms and calls >= int(prev.get("calls", 0)):
        elapsed = (now - datetime.fromisoformat(prev["at"])).total_seconds()
        allowed = rate * elapsed / (window_ms / 1000.0)
        if allowed > 0:
            use = round(min(1.0, (calls - int(prev["calls"])) / allowed), 4)
    app.store.set_state(key, json.dumps({"at": now.isoformat(), "calls": calls}))
    return {"calls": calls, "http429": limited, "use": use,
            "rate_per_s": round(rate / (window_ms / 1000.0), 3) if rate and window_ms else None}


SCHEDULE_KEY = "schedule:{site}"


def order_schedule(app: App, site: str, today: date | None = None) -> dict[str, int]:
    """Orders whose retention ends in each coming month (YYYY-MM => count), from every order
    WordPress lists; run by the daily retention job, kept in the store for the heartbeat."""
    import json

    today = today or app.clock().date()
    months: dict[str, int] = {}
    try:
        for o in app.clients(site).wordpress.orders():
            created = date.fromisoformat(str(o["created"])[:10])
            until = app.policy.order_retained_until(created)
            if until >= today:
                months[until.isoformat()[:7]] = months.get(until.isoformat()[:7], 0) + 1
    except errors.WooCommerceMissing:
        months = {}
    out = dict(sorted(months.items())[:60])
    app.store.set_state(SCHEDULE_KEY.format(site=site), json.dumps({"at": app.clock().isoformat(), "orders": out}))
    return out


def schedule_view(app: App, site: str) -> dict[str, Any]:
    """What the admin page's Schedule shows: orders due for anonymisation by month (as of the
    last retention run) and the WebinarJam deletions due (open manual tasks), soonest first."""
    import json

    try:
        saved = json.loads(app.store.get_state(SCHEDULE_KEY.format(site=site)) or "{}")
    except ValueError:
        saved = {}
    now = app.clock()
    webinars = [{"id": t.id, "what": t.what, "due_at": t.due_at, "overdue": t.due_at < now}
                for t in app.store.tasks(site=site, status="open", limit=500) if t.system == "webinarjam"]
    return {"orders_at": saved.get("at"), "orders_by_month": saved.get("orders", {}), "webinarjam": webinars[:200]}


def policy_summary(app: App) -> dict[str, Any]:
    """config/policy.toml in the words the plugin's privacy policy section shows: which
    systems, what is kept how long, and why (the clause and the GDPR article)."""
    policy = app.policy
    rules = []
    for rule_id, rule in policy.rules.items():
        rules.append({"id": rule_id, "section": rule.section, "data": rule.data, "system": rule.system,
                      "on_erasure": rule.on_erasure, "keep": rule.describe_keep(), "why": rule.summary or "",
                      "clause": rule.clause, "gdpr": rule.gdpr or ""})
    return {"response_months": policy.response_months, "rules": rules}


# -- the admin page's requests mirror (issue 16.2) -------------------------------------------
MIRROR_PAGE = 500  # requests per POST /requests/mirror (the route's cap)
MIRROR_PAGES_PER_BEAT = 20  # a heartbeat pushes at most this many pages; a backlog takes several


def mirror_rows(app: App, site: str, requests: list[Any]) -> list[dict[str, Any]]:
    """The admin page's row for each request: dates, status, each system's state, retained-until,
    export link and open manual tasks (keyed hash only, never an email)."""
    now = app.clock()
    steps = app.store.steps_of_many(r.id for r in requests)
    wanted = {r.id for r in requests}
    tasks: dict[int, list[dict[str, Any]]] = {}
    for t in app.store.tasks(site=site, status="open", limit=5000):
        if t.request_id is not None and t.request_id in wanted:
            tasks.setdefault(int(t.request_id), []).append(
                {"id": t.id, "system": t.system, "what": t.what, "due_at": t.due_at, "overdue": t.due_at < now})
    rows = []
    for r in requests:
        retained_until = None
        export_url = None
        for s in steps.get(r.id, []):
            until = (s.result or {}).get("retained_until")
            if until and (retained_until is None or until > retained_until):
                retained_until = until
            export_url = (s.result or {}).get("export_url") or export_url
        rows.append({"id": r.id, "action": r.action, "status": r.status, "source": r.source,
                     "email_hash": r.email_hash, "received_at": r.received_at, "due_at": r.due_at,
                     "completed_at": r.completed_at, "systems": _systems(steps.get(r.id, [])),
                     "retained_until": retained_until, "export_url": export_url, "tasks": tasks.get(r.id, [])})
    return rows


def push_requests_mirror(app: App, site: str, *, page: int = MIRROR_PAGE,
                         max_pages: int = MIRROR_PAGES_PER_BEAT) -> int:
    """Send the plugin the requests that changed since the last push, in pages of ``page`` by
    id (keyset paging over the store, resumed at the next heartbeat when more than
    ``max_pages`` wait). A pass that reaches the end starts the next one at the time it began,
    so a change made during a pass is sent again by the next. Returns the rows sent."""
    import json

    key = f"mirror:{site}"
    try:
        state = json.loads(app.store.get_state(key) or "{}")
    except ValueError:
        state = {}
    since = datetime.fromisoformat(state["since"]) if state.get("since") else None
    after = int(state.get("after", 0))
    started = state.get("started") or app.clock().isoformat()
    wp = app.clients(site).wordpress
    sent = 0
    for _ in range(max_pages):
        batch = app.store.requests_changed(site, since, after, limit=page)
        if batch:
            wp.mirror_requests(_plain(mirror_rows(app, site, batch)))
            sent += len(batch)
            after = batch[-1].id
        if len(batch) < page:
            state = {"since": started, "after": 0, "started": None}
            break
        state = {"since": state.get("since"), "after": after, "started": started}
    app.store.set_state(key, json.dumps(state))
    return sent


def _plain(value: Any) -> Any:
    """JSON-ready: times as ISO 8601 to the second (what the admin page shows)."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def send_heartbeat(app: App, site: str, *, last_error: str | None = None) -> None:
    app.clients(site).wordpress.heartbeat(_plain(heartbeat_body(app, site, last_error=last_error)))


def audit_view(app: App, email: str | None = None, *, site: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    digest = email_hash(app.secret, _check_email(email)) if email else None
    return [{"id": a.id, "at": a.at, "site": a.site, "system": a.system, "action": a.action,
             "removed": a.items_removed, "retained": a.items_retained, "retained_until": a.retained_until,
             "reason": a.reason, "request_id": a.request_id, "email_hash": a.email_hash}
            for a in app.store.audit(email_hash=digest, site=site, limit=limit)]


# -- proof of consent (GDPR art. 7(1)) and restriction (art. 18) --------------------------------
def consent_history(app: App, site_name: str, email: str) -> list[dict[str, Any]]:
    """Every newsletter consent the person gave or withdrew, oldest first, with the wording shown."""
    from .engine.export import consent_history as history

    return history(app.store, app.policy, site_name, email_hash(app.secret, _check_email(email)))


def restriction(app: App, site_name: str, email: str) -> dict[str, Any]:
    since = app.store.restricted_since(site_name, email_hash(app.secret, _check_email(email)))
    return {"restricted": since is not None, "since": since}


# -- explain ----------------------------------------------------------------------------------
def explain(app: App, site_name: str, email: str, *, today: date | None = None) -> dict[str, Any]:
    """What each system holds about a person, what erasure would do, and why anything is kept
    (the policy rule, its clause and its end date)."""
    email = _check_email(email)
    policy = app.policy
    today = today or app.clock().date()
    c = app.clients(site_name)
    wp_export = c.wordpress.export(email)
    groups = {gid: {"label": g.get("label", gid), "items": len(g.get("items", []))}
              for gid, g in wp_export.get("groups", {}).items()}
    wp_dry = c.wordpress.erase(email, dry_run=True)
    orders: list[dict[str, Any]] = []
    woocommerce = True
    try:
        for o in c.wordpress.orders(email=email):
            created = date.fromisoformat(str(o["created"])[:10])
            until = policy.order_retained_until(created)
            orders.append({"id": o["id"], "created": created.isoformat(), "retained_until": until.isoformat(),
                           "due": policy.is_order_due(created, today)})
    except errors.WooCommerceMissing:
        woocommerce = False
    from .engine.export import linked_contacts
    from .engine.links import person_view

    person = app.store.person(site_name, email_hash=email_hash(app.secret, email))
    contacts = linked_contacts(email, c.activecampaign, person)
    details = contacts[0] if contacts else None
    suppressed = app.store.is_suppressed(site_name, email_hash(app.secret, email))
    history = audit_view(app, email, limit=50)
    consents = consent_history(app, site_name, email)
    restricted = restriction(app, site_name, email)

    systems: list[dict[str, Any]] = []
    systems.append({"system": "wordpress", "holds": groups, "would_touch": wp_dry.get("would_touch", {}),
                    "on_erasure": "erased by WordPress's erasers (core, WooCommerce, Thrive, other plugins)",
                    "rule": policy.rule("account").explain(None)})
    comments = sum(v["items"] for k, v in groups.items() if "comment" in k.lower())
    if comments:
        systems.append({"system": "comments", "holds": {"comments": comments},
                        "on_erasure": "deleted on a removal request (`wpprivsync comments remove`)",
                        "rule": policy.rule("comments").explain(None)})
    kept = []
    for o in orders:
        until = date.fromisoformat(o["retained_until"])
        why = policy.rule("orders").explain(until if not o["due"] else None)
        kept.append({"system": "woocommerce", "what": f"order {o['id']}", "until": o["retained_until"],
                     "due": o["due"], "why": why})
    systems.append({"system": "woocommerce", "active": woocommerce, "holds": {"orders": len(orders)},
                    "on_erasure": "kept with billing data until the retention ends, then anonymised"
                    if orders else "nothing to do", "orders": orders})
    ac_holds = None
    if details:
        ac_holds = {"lists": [{"list": l.get("list"), "name": l.get("name"), "status": l.get("status")}
                              for l in details.get("lists", [])],
                    "fields": len(details.get("fields", [])), "tags": [t.get("tag") for t in details.get("tags", [])]}
    if c.webinarjam is not None:
        from .engine.export import webinar_registrations

        regs = webinar_registrations(email, c.webinarjam, c.site)
        systems.append({"system": "webinarjam",
                        "holds": {"registrations": [{"webinar_id": r["webinar_id"], "webinar": r.get("webinar"),
                                                     "signup_date": r.get("signup_date")} for r in regs]},
                        "on_erasure": "registrations unsubscribed by API; deleting them is a manual task "
                                      "(the WebinarJam API cannot delete)" if regs else "nothing: no registration",
                        "rule": policy.rule("webinars").explain(None) if "webinars" in policy.rules else ""})
    if len(contacts) > 1 and ac_holds is not None:
        ac_holds["other_contacts"] = [int((d.get("contact") or {}).get("id") or 0) for d in contacts[1:]]
    systems.append({"system": "activecampaign", "holds": ac_holds,
                    "on_erasure": "contact deleted (restorable by ActiveCampaign for 30 days); "
                                  "its keyed hash kept on the suppression list" if details else "nothing: no contact",
                    "rule": policy.rule("newsletter").explain(None)})
    days = policy.evidence_days
    request_records = (f"WordPress's record of each privacy request keeps the plain email for {days} days after "
                       "the request completes (evidence), then the retention sweep replaces it with a keyed hash "
                       "(policy [requests] evidence_days)")
    digest = email_hash(app.secret, email)
    scans = app.store.residues(site=site_name, email_hash=digest)
    residue = {"scanned": bool(scans),
               "last_seen": max((r.seen_at for r in scans if r.seen_at), default=None),
               "open": [f"{r.table}.{r.column} #{r.row_key} ({r.kind})" for r in scans if r.status == "open"],
               "retained": sum(1 for r in scans if r.status == "retained"),
               "resolved": sum(1 for r in scans if r.status == "resolved")}
    linked = person_view(person)
    if linked is not None:
        past = [e["email_hash"] for e in linked["emails"] if not e["current"]]
        linked["on_erasure"] = ("every linked contact deleted by id; the person's past emails "
                                f"({len(past)}) looked up where no contact is linked and suppressed; "
                                "only keyed hashes kept")
    return {"email_hash": digest, "site": site_name, "systems": systems, "kept": kept,
            "suppressed": suppressed, "history": history, "residues": residue, "request_records": request_records,
            "linked_records": linked, "consents": consents, "restriction": restricted,
            "unmanaged": [policy.rule(r).explain(None) for r in ("webinars", "complaints", "correspondence")
                          if r in policy.rules and not (r == "webinars" and c.webinarjam is not None)]}


def _check_writable(target: Any) -> None:
    """One clear error when the archive could not be written (issue 13): missing folder, a
    folder in the way, no write permission."""
    import os

    folder = target.parent if str(target.parent) else target.cwd()
    if target.is_dir():
        raise errors.ConfigError(f"{target} is a directory; give a file name", field="--output")
    if not folder.is_dir():
        raise errors.ConfigError(f"cannot write {target}: the folder {folder} does not exist", field="--output")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise errors.ConfigError(f"cannot write {target}: permission denied", field="--output")


def export_now(app: App, site_name: str, email: str, path: Any) -> dict[str, Any]:
    """Build the archive for one person right away (the CLI's ``export``), with an audit entry."""
    from pathlib import Path

    from .engine.export import collect, write_archive
    from .store.api import AuditEntry

    email = _check_email(email)
    target = Path(path)
    _check_writable(target)  # before asking any system for anything
    c = app.clients(site_name)
    now = app.clock()
    person = app.store.person(site_name, email_hash=email_hash(app.secret, email))
    data = collect(email, c.wordpress, c.activecampaign, site=c.site, now=now, webinarjam=c.webinarjam,
                   person=person, consents=consent_history(app, site_name, email))
    try:
        out = write_archive(data, target)
    except OSError as exc:
        raise errors.ConfigError(f"cannot write {target}: {exc.strerror or exc}", field="--output") from None
    app.store.add_audit([AuditEntry(site=site_name, email_hash=email_hash(app.secret, email), system="wpprivsync",
                                    action="export", reason="access request (GDPR art. 15, 20)",
                                    detail={"summary": data["summary"]}, at=now)])
    return {"path": str(out), "summary": data["summary"]}
