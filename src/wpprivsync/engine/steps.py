"""One handler per (system, action) step. Every handler is idempotent: running it again after a
crash, a timeout or a retry does no harm (a contact already gone, comments already deleted,
a hash already suppressed all count as done). A handler returns the step's result and the
audit entries that prove what happened; it never puts a plain email into either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Iterator

from .. import errors
from ..clients.protocols import ActiveCampaignApi, WebinarJamApi, WordPressApi
from ..policy import Policy
from ..settings import SiteSettings
from ..store.api import AuditEntry, NewTask, Person, PersonLink, Request, Step, Store
from . import links, residues


@dataclass
class StepContext:
    site: SiteSettings
    request: Request
    step: Step
    wordpress: WordPressApi
    activecampaign: ActiveCampaignApi
    store: Store
    policy: Policy
    now: datetime
    export_dir: Path
    prefetched: Any = None  # this step's answer when the worker batched the call (a dict, a ScanReport)
    webinarjam: WebinarJamApi | None = None  # None when the site has no webinars

    @property
    def email(self) -> str:
        if not self.request.email:
            raise errors.StepFailed("the request holds no email (already completed or cancelled)", retryable=False)
        return self.request.email

    def audit(self, system: str, action: str, *, removed: int = 0, retained: int = 0,
              until: date | None = None, reason: str = "", detail: dict[str, Any] | None = None) -> AuditEntry:
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
        return str(ctx.policy.rule(rule_id).explain(until))
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
    until = max((date.fromisoformat(str(r["until"])) for r in retained if r.get("until")), default=None)
    raw_account: dict[str, Any] = answer["account"] if isinstance(answer.get("account"), dict) else {}
    deleted = bool(raw_account.get("deleted"))
    account = {"deleted": deleted, "reason": str(raw_account.get("reason", ""))}
    removed = sum(1 for e in erasers if e["removed"]) + int(deleted)
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
    if subscribed:
        blocked = _restricted(ctx, "wordpress", "set_consent")
        if blocked is not None:
            return blocked
    try:
        answer = ctx.wordpress.set_consent(ctx.email, subscribed)
    except errors.NotFound:
        # No WordPress account has this email (a newsletter-only subscriber): nothing to change.
        return Outcome({"user": None, "changed": False},
                       [ctx.audit("wordpress", "set_consent", reason="no WordPress account with this email")])
    result = {"user": answer.get("user_id"), "changed": bool(answer.get("changed")), "subscribed": subscribed}
    return Outcome(result, [ctx.audit("wordpress", "set_consent", reason=_rule_reason(ctx, "newsletter"),
                                      detail=result)])


VERIFY_RETRY_S = 5.0  # how soon a scan is repeated while core's own erasure flow may still run


@handler("wordpress", "verify")
def wordpress_verify(ctx: StepContext) -> Outcome:
    """The residue scan after an erasure: every table of the WordPress database read for the
    person; each place found is recorded (open, or retained with its clause and end date) and a
    place an earlier scan found and this one did not becomes resolved."""
    report = ctx.prefetched if isinstance(ctx.prefetched, residues.ScanReport) else residues.scan(
        ctx.wordpress, [ctx.email], evidence_days=ctx.policy.evidence_days,
        state=residues.ScanState(ctx.store.get_state, ctx.store.set_state, f"residue-scan:step:{ctx.step.id}"),
        hashes=[ctx.request.email_hash] if ctx.request.email_hash else [])
    settle_s = float(ctx.step.params.get("settle_s", 0))
    if report.open() and settle_s and (ctx.now - ctx.request.received_at).total_seconds() < settle_s:
        # core's Tools → Erase runs its erasers in the admin's browser, one page at a time:
        # give it time to finish before calling what is left a residue
        raise errors.NotYet("WordPress's own erasers may still be running; scanning again shortly",
                            retry_after=VERIFY_RETRY_S)
    counts = ctx.store.record_scan(ctx.site.name, ctx.request.email_hash or "", report.findings[0], ctx.now,
                                   request_id=ctx.request.id)
    kept = report.retained()
    until = max((f.retained_until for f in kept if f.retained_until), default=None)
    open_places = [residues.describe(f) for f in report.open()]
    result = {"residues": counts, "unscanned": report.unscanned, "rows_scanned": report.rows, "tables_scanned": report.tables,
              "pages": report.pages, "resumed": report.resumed}
    if open_places:
        reason = f"{len(open_places)} place(s) still hold the person: " + "; ".join(open_places[:5])
    elif report.unscanned:
        reason = f"nothing found, but {len(report.unscanned)} table(s) could not be read"
    else:
        reason = "nothing left but what the policy keeps" if kept else "nothing left"
    detail = {**result, "open_places": open_places[:50],
              "retained_places": [residues.describe(f) for f in kept][:50]}
    return Outcome(result, [ctx.audit("wordpress", "residue_scan", retained=len(kept), until=until,
                                      reason=reason[:1000], detail=detail)])


@handler("wordpress", "restrict")
def wordpress_restrict(ctx: StepContext) -> Outcome:
    restricted = bool(ctx.step.params.get("restricted"))
    try:
        answer = ctx.wordpress.restrict(ctx.email, restricted)
    except errors.NotFound:
        # A newsletter-only person has no account to flag: the daemon's record is the restriction.
        return Outcome({"user": None, "changed": False},
                       [ctx.audit("wordpress", "restrict", reason="no WordPress account with this email")])
    result = {"user": answer.get("user_id"), "changed": bool(answer.get("changed")), "restricted": restricted}
    reason = ("account flagged: processing restricted (GDPR art. 18)" if restricted
              else "account flag removed: restriction of processing lifted (GDPR art. 18)")
    return Outcome(result, [ctx.audit("wordpress", "restrict", reason=reason, detail=result)])


# -- ActiveCampaign -------------------------------------------------------------------------
def _lists(ctx: StepContext) -> list[int]:
    return [int(i) for i in ctx.site.newsletter_list_ids]


def _person(ctx: StepContext) -> Person | None:
    return links.person_of(ctx.store, ctx.site.name, ctx.request.email_hash)


def _hash_of(person: Person | None, email: str, fallback: str | None) -> str | None:
    if person is not None:
        for e in person.emails:
            if e.email == email:
                return e.email_hash
    return fallback


def _param_contact(ctx: StepContext) -> list[int]:
    value = ctx.step.params.get("contact_id")
    return [int(value)] if isinstance(value, int) and not isinstance(value, bool) and value > 0 else []


def _look_up(ctx: StepContext, person: Person | None, emails: list[str]) -> Iterator[tuple[int, str]]:
    """Look the emails up one by one (one call each, as far as the caller reads) and link what
    is found: (contact id, email)."""
    for email in emails:
        digest = _hash_of(person, email, ctx.request.email_hash if email == ctx.email else None)
        contact = ctx.activecampaign.find_contact(email)
        if contact is None:
            continue
        if digest:
            links.learn(ctx.store, ctx.site.name, email, digest, contact.id, "lookup", ctx.now)
        yield contact.id, email


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
    if ctx.step.params.get("keep_if_other_lists"):
        return _unsubscribe_and_delete(ctx)
    # Erasure: every contact linked to the person, one DELETE each; a look-up by email only for
    # an email with no linked contact, or when a linked id is gone (a stale link: the person
    # re-subscribed under a new contact id).
    person = _person(ctx)
    linked = list(dict.fromkeys(_param_contact(ctx) + (person.contact_ids if person else [])))
    deleted: list[int] = []
    stale = False
    for contact_id in linked:
        if ctx.activecampaign.delete_contact(contact_id):
            deleted.append(contact_id)
        else:
            stale = True
            ctx.store.unlink_contact(ctx.site.name, contact_id, ctx.now)
    if stale or not linked:
        lookups = list(dict.fromkeys([ctx.email] + links.other_emails(person, ctx.email)))
    else:
        lookups = links.uncovered_emails(person, ctx.email)
    for contact_id, _ in _look_up(ctx, person, lookups):
        if contact_id not in deleted and ctx.activecampaign.delete_contact(contact_id):
            deleted.append(contact_id)
    if not deleted:
        return Outcome({"found": False},
                       [ctx.audit("activecampaign", "delete_contact",
                                  reason="no ActiveCampaign contact with this email"
                                  + (" or the person's other emails" if len(lookups) > 1 else ""))])
    reason = _rule_reason(ctx, "newsletter")
    return Outcome({"found": True, "deleted": True, "contact_id": deleted[0], "contact_ids": deleted,
                    "looked_up": len(lookups)},
                   [ctx.audit("activecampaign", "delete_contact", removed=len(deleted), reason=reason,
                              detail={"contact_id": deleted[0], "contact_ids": deleted, "restorable_days": 30})])


def _contact_with_lists(ctx: StepContext, person: Person | None) -> tuple[int, list[dict[str, int]]] | None:
    """The contact of the request's email and its list statuses: one call with a linked id
    (GET /contacts/{id} carries the lists), a look-up first when none is linked or it is gone."""
    for contact_id in dict.fromkeys(_param_contact(ctx) + links.contacts_for_email(person, ctx.request.email_hash)):
        lists = ctx.activecampaign.contact_lists(contact_id)
        if lists is not None:
            if contact_id in _param_contact(ctx):
                links.learn(ctx.store, ctx.site.name, ctx.email, str(ctx.request.email_hash), contact_id,
                            "webhook", ctx.now)
            return contact_id, lists
        ctx.store.unlink_contact(ctx.site.name, contact_id, ctx.now)
    for contact_id, _ in _look_up(ctx, person, [ctx.email]):
        lists = ctx.activecampaign.contact_lists(contact_id)
        if lists is not None:
            return contact_id, lists
    return None


def _unsubscribe_and_delete(ctx: StepContext) -> Outcome:
    """Unsubscribe: the contact is deleted unless it is on lists the site does not manage; then
    it is kept, unsubscribed from the managed ones. Two calls with a linked id; one when the
    nightly reconcile handed the step the contact and its other lists (``_reconciled``)."""
    known = _reconciled(ctx)
    if known is not None:
        contact_id, others = known
        if others:
            reason = "unsubscribed from the newsletter; contact kept: still subscribed to other lists"
            return Outcome({"found": True, "deleted": False, "other_lists": sorted(others)},
                           [ctx.audit("activecampaign", "keep_contact", reason=reason,
                                      detail={"other_lists": sorted(others)})])
        if ctx.activecampaign.delete_contact(contact_id):  # one call; a gone id falls back to the look-up
            return Outcome({"found": True, "deleted": True, "contact_id": contact_id},
                           [ctx.audit("activecampaign", "delete_contact", removed=1,
                                      reason=_rule_reason(ctx, "newsletter"),
                                      detail={"contact_id": contact_id, "restorable_days": 30})])
    person = _person(ctx)
    found = _contact_with_lists(ctx, person)
    if found is None:
        return Outcome({"found": False}, [ctx.audit("activecampaign", "delete_contact",
                                                    reason="no ActiveCampaign contact with this email")])
    contact_id, lists = found
    managed = set(_lists(ctx))
    others = sorted(l["list"] for l in lists if l["status"] == 1 and l["list"] not in managed)
    if others:
        for list_id in sorted(l["list"] for l in lists if l["status"] == 1 and l["list"] in managed):
            ctx.activecampaign.set_list_status(contact_id, list_id, 2)
        reason = "unsubscribed from the newsletter; contact kept: still subscribed to other lists"
        return Outcome({"found": True, "deleted": False, "contact_id": contact_id, "other_lists": others},
                       [ctx.audit("activecampaign", "keep_contact", reason=reason,
                                  detail={"contact_id": contact_id, "other_lists": others})])
    existed = ctx.activecampaign.delete_contact(contact_id)
    ctx.store.unlink_contact(ctx.site.name, contact_id, ctx.now)
    reason = _rule_reason(ctx, "newsletter")
    return Outcome({"found": True, "deleted": existed, "contact_id": contact_id},
                   [ctx.audit("activecampaign", "delete_contact", removed=1 if existed else 0, reason=reason,
                              detail={"contact_id": contact_id, "restorable_days": 30})])


@handler("activecampaign", "unsubscribe")
def activecampaign_unsubscribe(ctx: StepContext) -> Outcome:
    if ctx.step.params.get("only_if_restricted") and _restricted(ctx, "activecampaign", "unsubscribe") is None:
        return Outcome({"restricted": False, "skipped": True}, [])
    person = _person(ctx)
    linked = links.contacts_for_email(person, ctx.request.email_hash)
    contact_id = linked[0] if linked else next((c for c, _ in _look_up(ctx, person, [ctx.email])), None)
    if contact_id is None:
        return Outcome({"found": False}, [ctx.audit("activecampaign", "unsubscribe",
                                                    reason="no ActiveCampaign contact with this email")])
    for list_id in _lists(ctx):
        ctx.activecampaign.set_list_status(contact_id, list_id, 2)
    result = {"found": True, "contact_id": contact_id, "lists": _lists(ctx)}
    restricted = ctx.step.params.get("restriction") or ctx.step.params.get("only_if_restricted")
    reason = ("processing restricted (GDPR art. 18): unsubscribed, contact kept" if restricted
              else _rule_reason(ctx, "newsletter"))
    return Outcome(result, [ctx.audit("activecampaign", "unsubscribe", reason=reason, detail=result)])


def _restricted(ctx: StepContext, system: str, action: str) -> Outcome | None:
    """While processing is restricted (GDPR art. 18) no consent re-subscribes the person."""
    since = ctx.store.restricted_since(ctx.site.name, ctx.request.email_hash or "")
    if since is None:
        return None
    return Outcome({"restricted": True, "restricted_since": since.isoformat()},
                   [ctx.audit(system, action, reason="not subscribed: processing is restricted (GDPR art. 18) "
                                                     f"since {since:%Y-%m-%d}", detail={"restricted": True})])


@handler("activecampaign", "subscribe")
def activecampaign_subscribe(ctx: StepContext) -> Outcome:
    blocked = _restricted(ctx, "activecampaign", "subscribe")
    if blocked is not None:
        return blocked
    contact = ctx.activecampaign.sync_contact(ctx.email)
    if ctx.request.email_hash:
        links.learn(ctx.store, ctx.site.name, ctx.email, ctx.request.email_hash, contact.id, "subscribe", ctx.now)
    for list_id in _lists(ctx):
        ctx.activecampaign.set_list_status(contact.id, list_id, 1)
    result = {"contact_id": contact.id, "lists": _lists(ctx)}
    return Outcome(result, [ctx.audit("activecampaign", "subscribe", reason="newsletter consent given in WordPress",
                                      detail=result)])


@handler("activecampaign", "remove_comment_data")
def activecampaign_remove_comment_data(ctx: StepContext) -> Outcome:
    tags = {t.lower() for t in getattr(ctx.policy, "comment_tags", ())}
    field_ids = {int(f) for f in getattr(ctx.policy, "comment_field_ids", ())}
    if not (tags or field_ids):
        return Outcome({"found": False, "tags_removed": 0, "fields_cleared": 0}, [])
    person = _person(ctx)
    contact_id: int | None = None
    data: dict[str, Any] | None = None
    for candidate in links.contacts_for_email(person, ctx.request.email_hash):
        data = ctx.activecampaign.contact_comment_data(candidate, tags=bool(tags), fields=bool(field_ids))
        if data is not None:
            contact_id = candidate
            break
        ctx.store.unlink_contact(ctx.site.name, candidate, ctx.now)
    if data is None:
        for candidate, _ in _look_up(ctx, person, [ctx.email]):
            data = ctx.activecampaign.contact_comment_data(candidate, tags=bool(tags), fields=bool(field_ids))
            contact_id = candidate
    if data is None or contact_id is None:
        return Outcome({"found": False, "tags_removed": 0, "fields_cleared": 0}, [])
    removed_tags = 0
    for tag in data.get("tags", []):
        if str(tag.get("tag", "")).lower() in tags:
            removed_tags += int(ctx.activecampaign.remove_contact_tag(int(tag["id"])))
    cleared = 0
    for value in data.get("fields", []):
        if int(value.get("field", 0)) in field_ids and value.get("value") not in (None, ""):
            ctx.activecampaign.clear_field_value(contact_id, int(value["field"]))
            cleared += 1
    result = {"found": True, "tags_removed": removed_tags, "fields_cleared": cleared}
    return Outcome(result, [ctx.audit("activecampaign", "remove_comment_data", removed=removed_tags + cleared,
                                      reason=_rule_reason(ctx, "comments"), detail=result)])


@handler("activecampaign", "rectify")
def activecampaign_rectify(ctx: StepContext) -> Outcome:
    """Rectification (GDPR art. 16): a proven email change or a name change in WordPress
    updates the person's linked ActiveCampaign contact (one PUT with a linked id). The request's
    email is the person's email now; ``old_hash`` names the one it replaced."""
    p = ctx.step.params
    person = _person(ctx)
    changes: dict[str, str] = {}
    if p.get("email_changed"):
        changes["email"] = ctx.email
    if p.get("names") and person is not None:
        for key in ("first_name", "last_name"):
            value = getattr(person, key)
            if value is not None:
                changes[key] = value
    if not changes:
        return Outcome({"found": False, "fields": []}, [ctx.audit("activecampaign", "rectify",
                                                                   reason="nothing to rectify")])
    candidates = list(dict.fromkeys(e.contact_id for e in (person.emails if person else ())
                                    if e.contact_id is not None
                                    and (e.current or e.email_hash in (ctx.request.email_hash, p.get("old_hash")))))
    updated: int | None = None
    for contact_id in candidates:
        if ctx.activecampaign.update_contact(contact_id, **changes) is not None:
            updated = contact_id
            break
        ctx.store.unlink_contact(ctx.site.name, contact_id, ctx.now)
    if updated is None:
        # nothing linked (or gone): the contact is found under the old address, else the new one
        olds = [e.email for e in (person.emails if person else ()) if e.email and e.email_hash == p.get("old_hash")]
        for contact_id, _ in _look_up(ctx, person, olds + [ctx.email]):
            if ctx.activecampaign.update_contact(contact_id, **changes) is not None:
                updated = contact_id
                break
    fields = sorted(changes)
    if updated is None:
        return Outcome({"found": False, "fields": fields},
                       [ctx.audit("activecampaign", "rectify", reason="no ActiveCampaign contact to rectify",
                                  detail={"fields": fields})])
    if ctx.request.email_hash:
        links.learn(ctx.store, ctx.site.name, ctx.email, ctx.request.email_hash, updated, "rectify", ctx.now)
    detail = {"contact_id": updated, "fields": fields, "old_email_hash": p.get("old_hash")}
    return Outcome({"found": True, **detail},
                   [ctx.audit("activecampaign", "rectify", reason="rectification (GDPR art. 16): "
                              + ", ".join(fields) + " changed in WordPress", detail=detail)])


@handler("wpprivsync", "relink")
def wpprivsync_relink(ctx: StepContext) -> Outcome:
    """An ActiveCampaign ``update`` webhook: when the contact's email is not the one linked, the
    link follows it (the new email joins the person's history). A WordPress account's email is
    never changed from here."""
    contact_id = _param_contact(ctx)
    if not contact_id or not ctx.request.email_hash:
        raise errors.StepFailed("the update carries no contact id", retryable=False)
    person = ctx.store.person(ctx.site.name, contact_id=contact_id[0])
    known = [e for e in (person.emails if person else ()) if e.contact_id == contact_id[0]]
    if person is None or any(e.email_hash == ctx.request.email_hash for e in known):
        return Outcome({"changed": False, "linked": person is not None}, [])
    ctx.store.link_people([PersonLink(ctx.site.name, ctx.email, ctx.request.email_hash, contact_id=contact_id[0],
                                      source="activecampaign-update")], ctx.now)
    detail = {"contact_id": contact_id[0], "previous_email_hashes": [e.email_hash for e in known],
              "wordpress_account_changed": False}
    return Outcome({"changed": True, **detail},
                   [ctx.audit("activecampaign", "email_changed", reason="the contact's email was changed in "
                              "ActiveCampaign; the link follows it (the WordPress account keeps its own email)",
                              detail=detail)])


# -- local ----------------------------------------------------------------------------------
@handler("suppression", "add")
def suppression_add(ctx: StepContext) -> Outcome:
    if not ctx.request.email_hash:
        raise errors.StepFailed("the request has no email hash", retryable=False)
    reason = str(ctx.step.params.get("reason", "erasure"))
    # on erasure the consent history keeps only keyed hashes and times (enough to show a
    # consent existed)
    consents_of = ctx.request.email_hash if reason == "erasure" else None
    why = f"kept as a keyed hash so no re-import re-subscribes this person ({reason})"
    result: dict[str, Any] = {}
    detail: dict[str, Any] = {}
    person = _person(ctx)
    if person is not None and (reason == "erasure" or person.wp_user_id is None):
        # The person's linked records end here (docs/IDENTITY.md): every vouched past email is
        # suppressed too, and only keyed hashes remain of them (one audit entry per step: the
        # forgetting is told in this one). One store transaction for the lot.
        past = [e.email_hash for e in person.emails if e.email_hash != ctx.request.email_hash and links.vouched(e)]
        ctx.store.forget_person(ctx.site.name, person.id, ctx.now, consents_of=consents_of, suppress=past,
                                reason=reason)
        result = {"person_forgotten": True, "past_emails_suppressed": len(past)}
        detail = {"person_forgotten": True, "emails": len(person.emails), "past_email_hashes": past,
                  "wp_user_id": person.wp_user_id}
        why += "; the person's linked records erased, their emails kept as keyed hashes only"
    elif consents_of is not None:
        ctx.store.erase_consents(ctx.site.name, consents_of, ctx.now)
    audit = [ctx.audit("suppression", "add", reason=why, detail=detail)]
    # the store adds the hash when it records the step (and says in the result if it was new)
    return Outcome(result, audit, suppress=(ctx.site.name, ctx.request.email_hash, reason))


@handler("suppression", "remove")
def suppression_remove(ctx: StepContext) -> Outcome:
    if not ctx.request.email_hash:
        raise errors.StepFailed("the request has no email hash", retryable=False)
    blocked = _restricted(ctx, "suppression", "remove")
    if blocked is not None:
        return blocked
    was = ctx.store.unsuppress(ctx.site.name, ctx.request.email_hash)
    audit = [ctx.audit("suppression", "remove", reason="fresh newsletter consent")] if was else []
    return Outcome({"was_suppressed": was}, audit)


@handler("wpprivsync", "restrict")
def wpprivsync_restrict(ctx: StepContext) -> Outcome:
    if not ctx.request.email_hash:
        raise errors.StepFailed("the request has no email hash", retryable=False)
    new = ctx.store.restrict(ctx.site.name, ctx.request.email_hash, ctx.request.source, ctx.now)
    return Outcome({"new": new}, [ctx.audit(
        "wpprivsync", "restrict", reason="processing restricted (GDPR art. 18): marketing stopped, contact kept, "
                                         "nothing erased; no consent re-subscribes the person until it is lifted",
        detail={"new": new, "source": ctx.request.source})])


@handler("wpprivsync", "lift_restriction")
def wpprivsync_lift_restriction(ctx: StepContext) -> Outcome:
    if not ctx.request.email_hash:
        raise errors.StepFailed("the request has no email hash", retryable=False)
    was = ctx.store.lift_restriction(ctx.site.name, ctx.request.email_hash)
    reason = ("restriction of processing lifted (GDPR art. 18(3)); marketing resumes only with a new consent"
              if was else "no restriction was in place")
    return Outcome({"was_restricted": was}, [ctx.audit("wpprivsync", "lift_restriction", reason=reason,
                                                       detail={"was_restricted": was, "source": ctx.request.source})])


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
    from .export import collect, consent_history, write_archive

    data = collect(ctx.email, ctx.wordpress, ctx.activecampaign, site=ctx.site, now=ctx.now, person=_person(ctx),
                   webinarjam=ctx.webinarjam,
                   consents=consent_history(ctx.store, ctx.policy, ctx.site.name, ctx.request.email_hash or ""))
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
