"""One handler per (system, action) step. Every handler is idempotent: running it again after a
crash, a timeout or a retry does no harm (a contact already gone, comments already deleted,
a hash already suppressed all count as done). A handler returns the step's result and the
audit entries that prove what happened; it never puts a plain email into either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from .. import errors
from ..clients.protocols import ActiveCampaignApi, WordPressApi
from ..store.api import AuditEntry, NewTask, Request, Step, Store


@dataclass
class StepContext:
    site: Any  # SiteSettings
    request: Request
    step: Step
    wordpress: WordPressApi
    activecampaign: ActiveCampaignApi
    store: Store
    policy: Any  # wpprivsync.policy.Policy
    now: datetime
    export_dir: Path
    prefetched: dict[str, Any] | None = None  # this step's answer, when the worker batched the call
    webinarjam: Any = None  # clients.webinarjam.WebinarJamClient, None when the site has no webinars

    @property
    def email(self) -> str:
        if not self.request.email:
            raise errors.StepFailed("the request holds no email (already completed or cancelled)", retryable=False)
        return self.request.email

    def audit(self, system: str, action: str, *, removed: int = 0, retained: int = 0,
              until: date | None = None, reason: str = "", detail: dict | None = None) -> AuditEntry:
        return AuditEntry(site=self.site.name, email_hash=self.request.email_hash, system=system, action=action,
                          items_removed=removed, items_retained=retained, retained_until=until, reason=reason,
                          request_id=self.request.id, step_id=self.step.id, detail=detail or {}, at=self.now)


@dataclass
class Outcome:
    result: dict[str, Any]
    audit: list[AuditEntry] = field(default_factory=list)
    # (site, email hash, reason): suppress, recorded with the step in one transaction
    suppress: tuple[str, str, str] | None = None


Handler = Callable[[StepContext], Outcome]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handler(system: str, action: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[(system, action)] = fn
        return fn
    return register


def _rule_reason(ctx: StepContext, rule_id: str, until: date | None = None) -> str:
    try:
        return ctx.policy.rule(rule_id).explain(until)
    except errors.WpprivsyncError:
        return rule_id


# -- WordPress ------------------------------------------------------------------------------
@handler("wordpress", "erase")
def wordpress_erase(ctx: StepContext) -> Outcome:
    answer = ctx.prefetched if ctx.prefetched is not None else \
        ctx.wordpress.erase(ctx.email, exclude=tuple(ctx.step.params.get("exclude", ())))
    erasers = [
        {"id": str(e.get("id", "")), "removed": bool(e.get("items_removed")), "retained": bool(e.get("items_retained")),
         **({"skipped": True, "reason": " ".join(map(str, e.get("messages") or []))[:300]} if e.get("skipped") else {})}
        for e in answer.get("erasers", [])
    ]
    retained = [
        {"kind": str(r.get("kind", "")), "id": r.get("id"), "until": r.get("until")}
        for r in answer.get("retained", []) if isinstance(r, dict)
    ]
    until = max((date.fromisoformat(r["until"]) for r in retained if r.get("until")), default=None)
    raw_account = answer.get("account") if isinstance(answer.get("account"), dict) else {}
    account = {"deleted": bool(raw_account.get("deleted")), "reason": str(raw_account.get("reason", ""))}
    removed = sum(1 for e in erasers if e["removed"]) + int(account["deleted"])
    reason = _rule_reason(ctx, "orders", until) if retained else _rule_reason(ctx, "account")
    result = {"request_id": answer.get("request_id"), "erasers": erasers, "retained": retained,
              "retained_until": until.isoformat() if until else None, "account": account}
    entry = ctx.audit("wordpress", "erase", removed=removed, retained=len(retained), until=until, reason=reason,
                      detail={"erasers": erasers, "retained": retained, "account": account,
                              "wp_request_id": answer.get("request_id")})
    return Outcome(result, [entry])


@handler("wordpress", "remove_comments")
def wordpress_remove_comments(ctx: StepContext) -> Outcome:
    answer = ctx.wordpress.remove_comments(ctx.email)
    deleted = int(answer.get("comments_deleted", 0))
    result: dict[str, Any] = {"comments_deleted": deleted, "meta_deleted": int(answer.get("meta_deleted", 0))}
    reason = _rule_reason(ctx, "comments")
    missing = answer.get("not_found")
    if isinstance(missing, dict):
        # nothing was there to delete: say what could not be found and why, not a bare "done"
        result["found"] = False
        result["not_found"] = {"anonymised": int(missing.get("anonymised", 0)), "on": missing.get("on"),
                               "reason": str(missing.get("reason", ""))}
        reason = f"nothing deleted: {result['not_found']['reason']}"
        if result["not_found"]["anonymised"]:
            reason += f" ({result['not_found']['anonymised']} comment(s), on {result['not_found']['on']})"
    return Outcome(result, [ctx.audit("wordpress", "remove_comments", removed=deleted, reason=reason, detail=result)])


@handler("wordpress", "set_consent")
def wordpress_set_consent(ctx: StepContext) -> Outcome:
    subscribed = bool(ctx.step.params.get("subscribed"))
    try:
        answer = ctx.wordpress.set_consent(ctx.email, subscribed)
    except errors.NotFound:
        # No WordPress account has this email (a newsletter-only subscriber): nothing to change.
        return Outcome({"user": None, "changed": False},
                       [ctx.audit("wordpress", "set_consent", reason="no WordPress account with this email")])
    result = {"user": answer.get("user_id"), "changed": bool(answer.get("changed")), "subscribed": subscribed}
    return Outcome(result, [ctx.audit("wordpress", "set_consent", reason=_rule_reason(ctx, "newsletter"),
                                      detail=result)])


# -- ActiveCampaign -------------------------------------------------------------------------
def _lists(ctx: StepContext) -> list[int]:
    return [int(i) for i in ctx.site.newsletter_list_ids]


RECONCILED_LISTS_FRESH_S = 3600  # how long a step trusts the lists the reconcile read for it


def _reconciled(ctx: StepContext) -> tuple[int, list[int]] | None:
    """(contact id, subscribed lists the site does not manage) as the nightly reconcile read
    them from its list pages for this step (``engine.reconcile``), while fresh; else None."""
    params = ctx.step.params
    contact_id, others, read_at = params.get("contact_id"), params.get("other_lists"), params.get("lists_read_at")
    if not (isinstance(contact_id, int) and not isinstance(contact_id, bool) and contact_id > 0
            and isinstance(others, list) and isinstance(read_at, str)):
        return None
    try:
        age = (ctx.now - datetime.fromisoformat(read_at)).total_seconds()
    except (TypeError, ValueError):
        return None
    if not 0 <= age <= RECONCILED_LISTS_FRESH_S:
        return None
    return contact_id, [int(l) for l in others]


@handler("activecampaign", "delete_contact")
def activecampaign_delete(ctx: StepContext) -> Outcome:
    known = _reconciled(ctx) if ctx.step.params.get("keep_if_other_lists") else None
    if known is not None:
        contact_id, others = known
        if others:
            reason = "unsubscribed from the newsletter; contact kept: still subscribed to other lists"
            return Outcome({"found": True, "deleted": False, "other_lists": sorted(others)},
                           [ctx.audit("activecampaign", "keep_contact", reason=reason,
                                      detail={"other_lists": sorted(others)})])
        if ctx.activecampaign.delete_contact(contact_id):  # one call; a gone id falls back to the look-up
            return Outcome({"found": True, "deleted": True, "contact_id": contact_id},
                           [ctx.audit("activecampaign", "delete_contact", removed=1, reason=_rule_reason(ctx, "newsletter"),
                                      detail={"contact_id": contact_id, "restorable_days": 30})])
    contact = ctx.activecampaign.find_contact(ctx.email)
    if contact is None:
        return Outcome({"found": False}, [ctx.audit("activecampaign", "delete_contact",
                                                    reason="no ActiveCampaign contact with this email")])
    if ctx.step.params.get("keep_if_other_lists"):
        details = ctx.activecampaign.contact_details(contact.id)
        managed = set(_lists(ctx))
        others = sorted(int(l["list"]) for l in details.get("lists", [])
                        if int(l.get("status", 0)) == 1 and int(l["list"]) not in managed)
        if others:
            reason = "unsubscribed from the newsletter; contact kept: still subscribed to other lists"
            return Outcome({"found": True, "deleted": False, "other_lists": others},
                           [ctx.audit("activecampaign", "keep_contact", reason=reason, detail={"other_lists": others})])
    existed = ctx.activecampaign.delete_contact(contact.id)
    reason = _rule_reason(ctx, "newsletter")
    return Outcome({"found": True, "deleted": existed, "contact_id": contact.id},
                   [ctx.audit("activecampaign", "delete_contact", removed=1 if existed else 0, reason=reason,
                              detail={"contact_id": contact.id, "restorable_days": 30})])


@handler("activecampaign", "unsubscribe")
def activecampaign_unsubscribe(ctx: StepContext) -> Outcome:
    contact = ctx.activecampaign.find_contact(ctx.email)
    if contact is None:
        return Outcome({"found": False}, [ctx.audit("activecampaign", "unsubscribe",
                                                    reason="no ActiveCampaign contact with this email")])
    for list_id in _lists(ctx):
        ctx.activecampaign.set_list_status(contact.id, list_id, 2)
    result = {"found": True, "contact_id": contact.id, "lists": _lists(ctx)}
    return Outcome(result, [ctx.audit("activecampaign", "unsubscribe", reason=_rule_reason(ctx, "newsletter"),
                                      detail=result)])


@handler("activecampaign", "subscribe")
def activecampaign_subscribe(ctx: StepContext) -> Outcome:
    contact = ctx.activecampaign.sync_contact(ctx.email)
    for list_id in _lists(ctx):
        ctx.activecampaign.set_list_status(contact.id, list_id, 1)
    result = {"contact_id": contact.id, "lists": _lists(ctx)}
    return Outcome(result, [ctx.audit("activecampaign", "subscribe", reason="newsletter consent given in WordPress",
                                      detail=result)])


@handler("activecampaign", "remove_comment_data")
def activecampaign_remove_comment_data(ctx: StepContext) -> Outcome:
    tags = {t.lower() for t in getattr(ctx.policy, "comment_tags", ())}
    field_ids = {int(f) for f in getattr(ctx.policy, "comment_field_ids", ())}
    contact = ctx.activecampaign.find_contact(ctx.email) if (tags or field_ids) else None
    if contact is None:
        return Outcome({"found": False, "tags_removed": 0, "fields_cleared": 0}, [])
    details = ctx.activecampaign.contact_details(contact.id)
    removed_tags = 0
    for tag in details.get("tags", []):
        if str(tag.get("tag", "")).lower() in tags:
            removed_tags += int(ctx.activecampaign.remove_contact_tag(int(tag["id"])))
    cleared = 0
    for value in details.get("fields", []):
        if int(value.get("field", 0)) in field_ids and value.get("value") not in (None, ""):
            ctx.activecampaign.clear_field_value(contact.id, int(value["field"]))
            cleared += 1
    result = {"found": True, "tags_removed": removed_tags, "fields_cleared": cleared}
    return Outcome(result, [ctx.audit("activecampaign", "remove_comment_data", removed=removed_tags + cleared,
                                      reason=_rule_reason(ctx, "comments"), detail=result)])


# -- local ----------------------------------------------------------------------------------
@handler("suppression", "add")
def suppression_add(ctx: StepContext) -> Outcome:
    if not ctx.request.email_hash:
        raise errors.StepFailed("the request has no email hash", retryable=False)
    reason = str(ctx.step.params.get("reason", "erasure"))
    # the store adds the hash when it records the step (and says in the result if it was new)
    return Outcome({}, [ctx.audit("suppression", "add", reason=f"kept as a keyed hash so no re-import "
                                                               f"re-subscribes this person ({reason})")],
                   suppress=(ctx.site.name, ctx.request.email_hash, reason))


@handler("suppression", "remove")
def suppression_remove(ctx: StepContext) -> Outcome:
    if not ctx.request.email_hash:
        raise errors.StepFailed("the request has no email hash", retryable=False)
    was = ctx.store.unsuppress(ctx.site.name, ctx.request.email_hash)
    audit = [ctx.audit("suppression", "remove", reason="fresh newsletter consent")] if was else []
    return Outcome({"was_suppressed": was}, audit)


# -- WebinarJam -----------------------------------------------------------------------------
@handler("webinarjam", "unsubscribe")
def webinarjam_unsubscribe(ctx: StepContext) -> Outcome:
    """Unsubscribe every registration of the person (the most the API can do) and say that
    deleting them is a manual task: WebinarJam has no endpoint that deletes a registrant."""
    if ctx.webinarjam is None:
        raise errors.StepFailed("WebinarJam is not configured for this site", retryable=False)
    leads = []
    for webinar_id in ctx.site.webinarjam_webinar_ids:
        for reg in ctx.webinarjam.find_registrations(int(webinar_id), ctx.email):
            ctx.webinarjam.unsubscribe(int(webinar_id), reg.lead_id)
            leads.append({"webinar_id": int(webinar_id), "lead_id": reg.lead_id, "schedule": reg.schedule})
    reason = _rule_reason(ctx, "webinars")
    task_id = None
    if leads:
        # Opened before the step is recorded, so the request cannot complete without it; the
        # dedupe key makes a retried step find the same task.
        where = ", ".join(f"webinar {l['webinar_id']} lead {l['lead_id']}" for l in leads)
        task_id, _ = ctx.store.add_task(NewTask(
            site=ctx.site.name, system="webinarjam", rule="webinars",
            what=f"Delete the person's registrations in WebinarJam (Registrants → select → delete): {where}",
            why=f"erasure request (GDPR art. 17); the WebinarJam API cannot delete, the registrations were "
                f"unsubscribed. {reason}",
            due_at=ctx.request.due_at, dedupe_key=f"webinarjam-erase:{ctx.request.id}",
            request_id=ctx.request.id, email_hash=ctx.request.email_hash, detail={"leads": leads}), ctx.now)
    result = {"unsubscribed": len(leads), "leads": leads, "manual_deletion": bool(leads), "task_id": task_id}
    entry = ctx.audit("webinarjam", "unsubscribe", retained=len(leads), reason=reason,
                      detail={"leads": leads, "task_id": task_id,
                              "manual_task": "delete in WebinarJam: Registrants → select → delete" if leads else None})
    return Outcome(result, [entry])


@handler("wpprivsync", "export")
def wpprivsync_export(ctx: StepContext) -> Outcome:
    from .export import collect, write_archive

    data = collect(ctx.email, ctx.wordpress, ctx.activecampaign, site=ctx.site, now=ctx.now,
                   webinarjam=ctx.webinarjam)
    name = f"export-{ctx.site.name}-{ctx.request.id}-{(ctx.request.email_hash or '')[:12]}.zip"
    path = write_archive(data, ctx.export_dir / name)
    counts = data["summary"]
    # The site owner asked on the admin page: hand the archive to the plugin for its download
    # link (kept there a week, like the copy here).
    stored = ctx.wordpress.store_export(path.read_bytes())
    return Outcome({"path": str(path), "summary": counts, "export_url": stored.get("url"),
                    "expires_at": stored.get("expires_at")},
                   [ctx.audit("wpprivsync", "export", reason="access request (GDPR art. 15, 20)",
                              detail={"file": path.name, "summary": counts})])


# Systems no API reaches; a site lists those it keeps (``manual_task_systems``).
NO_API_SYSTEMS = frozenset({"correspondence", "accounting"})


def _manual_what(rule: Any, action: str) -> str:
    where = f"{rule.section} ({rule.system})"
    if action == "export":
        return f"Add the person's {rule.data} from {where} to the copy handed to them (access request)"
    if rule.on_erasure == "retain":
        return (f"Check {where} for the person's {rule.data}: keep what the rule retains, delete the rest, "
                "and note what is kept")
    return f"Delete the person's {rule.data} from {where}, unless the rule lets it be kept"


@handler("wpprivsync", "manual_tasks")
def wpprivsync_manual_tasks(ctx: StepContext) -> Outcome:
    """A task per policy rule whose system has no API, due at the request's deadline; the
    request completes only when they are closed or waived."""
    action = "export" if ctx.request.action == "export" else "erase"
    opened = []
    wanted = set(getattr(ctx.site, "manual_task_systems", ()) or ())
    for rule in sorted(getattr(ctx.policy, "rules", {}).values(), key=lambda r: r.id):
        if rule.system not in wanted:
            continue
        task_id, _ = ctx.store.add_task(NewTask(
            site=ctx.site.name, system=rule.system, rule=rule.id, what=_manual_what(rule, action),
            why=f"{action} request: {rule.explain(None)}", due_at=ctx.request.due_at,
            dedupe_key=f"{action}:{ctx.request.id}:{rule.id}", request_id=ctx.request.id,
            email_hash=ctx.request.email_hash), ctx.now)
        opened.append({"task_id": task_id, "rule": rule.id, "system": rule.system})
    audit = [ctx.audit("wpprivsync", "manual_tasks", reason="systems without an API need a person",
                       detail={"tasks": opened})] if opened else []
    return Outcome({"tasks": opened}, audit)


@handler("wpprivsync", "core_export")
def wpprivsync_core_export(ctx: StepContext) -> Outcome:
    """The other systems' data for core's Tools → Export Personal Data, handed to the plugin's
    exporter (which keeps it only until core has built the file)."""
    from .export import core_export_items

    items = core_export_items(ctx.email, ctx.activecampaign, ctx.webinarjam, ctx.site)
    try:
        ctx.wordpress.core_export(ctx.email, items)
    except errors.NotFound:
        # core's export gave up waiting (or ran again): nothing is waiting for this answer
        return Outcome({"delivered": False, "items": len(items)},
                       [ctx.audit("wpprivsync", "core_export", reason="no export was waiting any more")])
    return Outcome({"delivered": True, "items": len(items)},
                   [ctx.audit("wpprivsync", "core_export", reason="access request (GDPR art. 15, 20) "
                              "through WordPress's Tools → Export Personal Data", detail={"items": len(items)})])


@handler("wpprivsync", "invalid_event")
def wpprivsync_invalid_event(ctx: StepContext) -> Outcome:
    p = ctx.step.params
    raise errors.StepFailed(f"event {p.get('event_id')} ({p.get('type')}) rejected: {p.get('problem')}",
                            retryable=False)
