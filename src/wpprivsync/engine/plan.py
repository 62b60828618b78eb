"""Turn one outbox event into the requests and steps the policy asks for. Pure: no I/O.

Request actions and their steps (position order; equal positions may run together):

    erase            wordpress.erase · activecampaign.delete_contact · webinarjam.unsubscribe
                     · wpprivsync.manual_tasks → suppression.add   (webinarjam.unsubscribe only when the site has webinars;
                     it also opens the manual WebinarJam deletion task)
    remove_comments  wordpress.remove_comments · activecampaign.remove_comment_data
    unsubscribe      activecampaign.delete_contact (keeps the contact, unsubscribed, when it is on
                     lists the site does not manage) → suppression.add
                     (+ wordpress.set_consent when the unsubscribe came from ActiveCampaign)
    subscribe        suppression.remove → activecampaign.subscribe   (consent given in WordPress)
                     suppression.remove · wordpress.set_consent       (subscribed in ActiveCampaign;
                     → activecampaign.unsubscribe, which acts only while processing is restricted)
    export           wpprivsync.export · wpprivsync.manual_tasks
                     (manual_tasks, when the site lists manual_task_systems: a task per policy
                     rule whose system has no API)
    core_export      wpprivsync.core_export (core's Tools → Export Personal Data waits for it)
    rectify          activecampaign.rectify (a proven email change or a name change in WordPress)
    relink           wpprivsync.relink (an ActiveCampaign ``update`` webhook: the link follows
                     the contact's new email; never a WordPress account's)
    restrict         wpprivsync.restrict · wordpress.restrict → activecampaign.unsubscribe
                     (GDPR art. 18: marketing stops, the contact is kept, nothing is erased)
    lift_restriction wpprivsync.lift_restriction · wordpress.restrict
    invalid_event    wpprivsync.invalid_event (fails at once: a malformed event is kept visible
                     in the dead-letter list instead of being dropped)

Plain emails live only on the request while it is open; step params never carry one.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable

from ..clients.protocols import Event
from ..identity import email_hash, is_email, normalise_email
from ..store.api import AuditEntry, ConsentRecord, NewRequest, NewStep, PersonLink
from . import preflight

ERASE, REMOVE_COMMENTS, UNSUBSCRIBE, SUBSCRIBE, EXPORT, INVALID = (
    "erase", "remove_comments", "unsubscribe", "subscribe", "export", "invalid_event")
CORE_EXPORT = "core_export"
RECTIFY, RELINK = "rectify", "relink"
RESTRICT, LIFT_RESTRICTION = "restrict", "lift_restriction"

# Where a newsletter consent can come from (docs/CONSENT.md); anything else is recorded as "other".
CONSENT_SOURCES = frozenset({"profile", "checkout", "webhook", "admin", "import", "registration", "daemon",
                             "meta", "cli", "reconcile"})

Due = Callable[[datetime], datetime]


@dataclass(frozen=True)
class Plan:
    """What one event asks for: requests to record, audit entries to write at once, and
    dead-letter retries to trigger."""

    requests: list[NewRequest] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    retry_step_ids: list[int] = field(default_factory=list)
    retry_all: bool = False
    close_tasks: list[tuple[int, str, str]] = field(default_factory=list)  # (task id, "done"|"waived", note)
    links: list[PersonLink] = field(default_factory=list)  # recorded with the event (linked records)
    consents: list[ConsentRecord] = field(default_factory=list)  # proof of consent (GDPR art. 7(1))
    lookups: list[tuple[str, str]] = field(default_factory=list)  # (lookup id, email): answered, never stored


_REMEMBERED = 8  # emails a planner remembers at most (an event names one or two)

VERIFY_SETTLE_S = 300  # how long core's own erasure flow may still be running its erasers


def steps_for(action: str, *, comment_data: bool = False, from_activecampaign: bool = False,
              wordpress_erasure: bool = True, unsubscribed_in_bulk: bool = False,
              webinarjam: bool = False, manual_tasks: bool = False, residue_scan: bool = False) -> list[NewStep]:
    """The steps of a request, shared by events, the CLI and the admin page."""
    if action == ERASE:
        steps = [NewStep("activecampaign", "delete_contact", {}, 0), NewStep("suppression", "add", {"reason": "erasure"}, 1)]
        if webinarjam:
            steps.insert(1, NewStep("webinarjam", "unsubscribe", {}, 0))
        if manual_tasks:
            steps.append(NewStep("wpprivsync", "manual_tasks", {}, 0))
        if wordpress_erasure:
            steps.insert(0, NewStep("wordpress", "erase", {}, 0))
        # the residue scan, once WordPress's erasers have run (core's flow runs them in the
        # admin's browser: a found place is scanned again for a while before it counts)
        if residue_scan:
            steps.append(NewStep("wordpress", "verify", {} if wordpress_erasure else {"settle_s": VERIFY_SETTLE_S}, 1))
        return steps
    if action == REMOVE_COMMENTS:
        steps = [NewStep("wordpress", "remove_comments", {}, 0)]
        if comment_data:
            steps.append(NewStep("activecampaign", "remove_comment_data", {}, 0))
        return steps
    if action == UNSUBSCRIBE:
        # delete_contact(keep_if_other_lists) reads the contact's lists (one call), then deletes
        # it, or keeps it unsubscribed from the managed lists when it is on others
        steps = [
            NewStep("activecampaign", "delete_contact", {"keep_if_other_lists": True}, 1),
            NewStep("suppression", "add", {"reason": "unsubscribed"}, 2),
        ]
        if from_activecampaign:
            steps.insert(0, NewStep("wordpress", "set_consent", {"subscribed": False}, 0))
        return steps
    if action == SUBSCRIBE:
        if from_activecampaign:
            # while processing is restricted the contact is put back to unsubscribed (docs/CONSENT.md)
            return [NewStep("suppression", "remove", {}, 0), NewStep("wordpress", "set_consent", {"subscribed": True}, 0),
                    NewStep("activecampaign", "unsubscribe", {"only_if_restricted": True}, 1)]
        return [NewStep("suppression", "remove", {}, 0), NewStep("activecampaign", "subscribe", {}, 1)]
    if action == EXPORT:
        steps = [NewStep("wpprivsync", "export", {}, 0)]
        if manual_tasks:
            steps.append(NewStep("wpprivsync", "manual_tasks", {}, 0))
        return steps
    if action == CORE_EXPORT:
        return [NewStep("wpprivsync", "core_export", {}, 0)]
    if action == RESTRICT:
        return [NewStep("wpprivsync", "restrict", {}, 0), NewStep("wordpress", "restrict", {"restricted": True}, 0),
                NewStep("activecampaign", "unsubscribe", {"restriction": True}, 1)]
    if action == LIFT_RESTRICTION:
        return [NewStep("wpprivsync", "lift_restriction", {}, 0),
                NewStep("wordpress", "restrict", {"restricted": False}, 0)]
    raise ValueError(f"unknown request action {action!r}")


class Planner:
    """Plans events for one site. ``due`` gives a request's deadline from its received time
    (the policy's one month, GDPR art. 12(3))."""

    def __init__(self, site: str, secret: str, due: Due, *, comment_data: bool = False, webinarjam: bool = False,
                 manual_tasks: bool = False, residue_scan: bool = False):
        self.site = site
        self.residue_scan = residue_scan
        self.secret = secret
        self.due = due
        self.comment_data = comment_data
        self.webinarjam = webinarjam
        self.manual_tasks = manual_tasks
        # an event's email is checked, normalised and hashed once, however many of its requests,
        # links, consents and audit entries name it (issue 17.6): a few emails at most, dropped
        # once the event is planned
        self._checked: dict[str, str | None] = {}  # text -> normalised email, None when not one
        self._digests: dict[str, str] = {}  # email (as given) -> keyed hash

    # -- public ------------------------------------------------------------------------
    def event_hash(self, event: Event) -> str | None:
        """The keyed hash of the event's email (what the acknowledgement sends), None when it
        has no valid one."""
        value = event.payload.get("email") if isinstance(event.payload, dict) else None
        if not isinstance(value, str):
            return None
        email = self._check(value)
        return None if email is None else self._hash(email)

    def forget(self) -> None:
        """Drop the emails remembered for the event being planned."""
        self._checked.clear()
        self._digests.clear()

    def request(self, action: str, email: str, *, source: str, received_at: datetime,
                event_id: int | None = None, **kw: Any) -> NewRequest:
        email = normalise_email(email)
        digest = self._hash(email)
        if action == ERASE:
            kw.setdefault("webinarjam", self.webinarjam)
            kw.setdefault("residue_scan", self.residue_scan)
        if action in (ERASE, EXPORT):
            kw.setdefault("manual_tasks", self.manual_tasks)
        steps = steps_for(action, comment_data=self.comment_data, **kw)
        refused = preflight.refusals(email, (s.system for s in steps if s.system != "wordpress"),
                                     valid=self._check(email) is not None)
        if refused and action == SUBSCRIBE:
            # lifting the suppression and then failing at ActiveCampaign would leave it half done
            raise _Refused(digest, refused[0][0], refused[0][1])
        if refused:
            # a system that refuses the address holds nothing under it: nothing to do there
            gone = {system for system, _ in refused}
            steps = [s for s in steps if s.system not in gone]
        return NewRequest(site=self.site, action=action, email=email, email_hash=digest, source=source,
                          received_at=received_at, due_at=self.due(received_at), steps=steps,
                          event_id=event_id, dedupe_key=f"{action}:{digest}")

    def plan(self, event: Event, now: datetime) -> Plan:
        """``now`` stands in for the event's time when the event carries none."""
        try:
            return self._plan(event, now)
        finally:
            self.forget()

    def _plan(self, event: Event, now: datetime) -> Plan:
        received = _parse_time(event.created_at) or now
        handler: Callable[[Event, dict[str, Any], datetime], Plan] | None = getattr(
            self, "_on_" + event.type.replace(".", "_"), None)
        if handler is None:
            return self._invalid(event, received, f"unknown event type {event.type!r}")
        payload = event.payload if isinstance(event.payload, dict) else {}
        try:
            planned: Plan = handler(event, payload, received)
        except _Malformed as exc:
            return self._invalid(event, received, str(exc))
        except _Refused as exc:
            return Plan(audit=[AuditEntry(site=self.site, email_hash=exc.email_hash, system=exc.system,
                                          action="refused_address", items_removed=0, items_retained=0,
                                          retained_until=None, reason=f"{exc.reason}: the consent change was "
                                          "not carried out anywhere", request_id=None, step_id=None,
                                          detail={"event_id": event.id, "type": event.type}, at=received)])
        if planned.consents:
            planned = replace(planned, audit=[*planned.audit, *map(self._consent_audit, planned.consents)])
        return planned

    # -- one method per event type ---------------------------------------------------------
    def _on_account_deleted(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        return Plan([self.request(ERASE, email, source="account-deleted", received_at=received, event_id=event.id)],
                    links=self._user_link(email, p, "account-deleted"))

    def _on_erasure_requested(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        # From Tools → Erase Personal Data the admin's browser runs WordPress's erasers itself;
        # from the admin page nothing has run yet.
        in_wordpress = p.get("source") != "privacy-tools"
        return Plan([self.request(ERASE, email, source=str(p.get("source") or "erasure-request"),
                                  received_at=received, event_id=event.id, wordpress_erasure=in_wordpress)])

    def _on_erasure_completed(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        return Plan(audit=[self._audit(email, "wordpress", "erasure_completed", received,
                                       reason="WordPress privacy tools completed the erasure request",
                                       detail={"request_id": _int(p.get("request_id"), "request_id", default=0)})])

    def _on_comment_deleted(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        comment_id = _int(p.get("comment_id"), "comment_id")
        audit = [self._audit(email, "wordpress", "comment_deleted", received, removed=1,
                             reason="comment deleted in WordPress", detail={"comment_id": comment_id})]
        requests = []
        if self.comment_data:
            requests.append(self.request(REMOVE_COMMENTS, email, source="comment-deleted", received_at=received,
                                         event_id=event.id))
            requests[0] = _without_wordpress(requests[0])
        return Plan(requests, audit)

    def _on_comments_removal_requested(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        return Plan([self.request(REMOVE_COMMENTS, self._email(p), source=str(p.get("source") or "admin-page"),
                                  received_at=received, event_id=event.id)])

    def _on_export_requested(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        return Plan([self.request(EXPORT, self._email(p), source=str(p.get("source") or "admin-page"),
                                  received_at=received, event_id=event.id)])

    def _on_core_export_requested(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        return Plan([self.request(CORE_EXPORT, self._email(p), source="privacy-tools", received_at=received,
                                  event_id=event.id)])

    def _on_consent_changed(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        consent = p.get("consent")
        if not isinstance(consent, bool):
            raise _Malformed("consent must be true or false")
        action = SUBSCRIBE if consent else UNSUBSCRIBE
        source = consent_source(p.get("source"))
        return Plan([self.request(action, email, source=f"wordpress-{p.get('source') or 'consent'}",
                                  received_at=received, event_id=event.id)],
                    links=self._user_link(email, p, "consent"),
                    consents=[self._consent(email, consent, received, event, source=source,
                                            wording=_label(p.get("wording")), proof=_label(p.get("proof")))])

    def _on_newsletter_unsubscribed(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        req = self.request(UNSUBSCRIBE, email, source="activecampaign-webhook", received_at=received,
                           event_id=event.id, from_activecampaign=True)
        contact_id = _int(p.get("contact_id"), "contact_id", default=0)
        if contact_id:
            # the delivery names the contact: the delete step need not look it up
            req = replace(req, steps=[replace(s, params={**s.params, "contact_id": contact_id})
                                      if (s.system, s.action) == ("activecampaign", "delete_contact") else s
                                      for s in req.steps])
        return Plan([req], links=self._contact_link(email, contact_id, "webhook"),
                    consents=[self._consent(email, False, received, event, source="webhook", wording=None,
                                            proof="activecampaign")])

    def _on_newsletter_subscribed(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        return Plan([self.request(SUBSCRIBE, email, source="activecampaign-webhook", received_at=received,
                                  event_id=event.id, from_activecampaign=True)],
                    links=self._contact_link(email, _int(p.get("contact_id"), "contact_id", default=0), "webhook"),
                    consents=[self._consent(email, True, received, event, source="webhook", wording=None,
                                            proof="activecampaign")])

    def _on_restriction_requested(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        lift = p.get("lift", False)
        if not isinstance(lift, bool):
            raise _Malformed("lift must be true or false")
        return Plan([self.request(LIFT_RESTRICTION if lift else RESTRICT, self._email(p),
                                  source=str(p.get("source") or "admin-page")[:64], received_at=received,
                                  event_id=event.id)])

    def _on_identity_email_changed(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        # A proven email change of a WordPress user (docs/IDENTITY.md, "Linked records"): both
        # emails join the person's history, the new one is current, and the linked contact is
        # rectified. The old address lives only in the event (scrubbed on acknowledgement) and
        # in the person's history.
        email = self._email(p)
        old = self._email({"email": p.get("old_email")})
        user_id = _int(p.get("user_id"), "user_id")
        if not user_id:
            raise _Malformed("user_id is required")
        old_hash = self._hash(old)
        proof = str(p.get("proof") or "")[:32]
        names = _names(p)
        links = [PersonLink(self.site, old, old_hash, wp_user_id=user_id, source="email-changed"),
                 PersonLink(self.site, email, self._hash(email), wp_user_id=user_id, current=True,
                            proof=proof, source="email-changed", replaces_hash=old_hash,
                            first_name=names.get("first_name"), last_name=names.get("last_name"))]
        # names are personal data: they stay on the person's linked record (erased with it),
        # never in step params
        params: dict[str, Any] = {"email_changed": True, "old_hash": old_hash, "user_id": user_id,
                                  "names": bool(names)}
        audit = [self._audit(email, "wordpress", "email_changed", received,
                             reason=f"proven email change in WordPress ({proof or 'proof not named'}); "
                                    "the old email stays linked to the person until erasure",
                             detail={"user_id": user_id, "old_email_hash": old_hash, "proof": proof})]
        return Plan([self._single(RECTIFY, email, NewStep("activecampaign", "rectify", params, 0), received, event)],
                    audit, links=links)

    def _on_profile_name_changed(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        names = _names(p)
        if not names:
            raise _Malformed("first_name or last_name is required")
        user_id = _int(p.get("user_id"), "user_id", default=0)
        if not user_id:
            raise _Malformed("user_id is required")
        step = NewStep("activecampaign", "rectify", {"names": True, "user_id": user_id}, 0)
        links = [replace(link, first_name=names.get("first_name"), last_name=names.get("last_name"))
                 for link in self._user_link(email, p, "name-changed")]
        return Plan([self._single(RECTIFY, email, step, received, event)], links=links)

    def _on_contact_updated(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        email = self._email(p)
        contact_id = _int(p.get("contact_id"), "contact_id", default=0)
        if not contact_id:
            raise _Malformed("contact_id is required")
        step = NewStep("wpprivsync", "relink", {"contact_id": contact_id}, 0)
        return Plan([self._single(RELINK, email, step, received, event)])

    def _on_identity_unproven(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        # A WordPress user acted on an email they never proved to own (docs/IDENTITY.md):
        # nothing reaches ActiveCampaign or the suppression list; the attempt is audited.
        attempt = str(p.get("attempt") or "unknown")[:64]
        return Plan(audit=[self._audit(self._email(p), "wordpress", "unproven_email", received,
                                       reason=f"ignored: {attempt} for an email the user has not proven to own",
                                       detail={"user_id": _int(p.get("user_id"), "user_id", default=0),
                                               "attempt": attempt})])

    def _on_task_closed(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        status = p.get("status", "done")
        note = p.get("note")
        if status not in ("done", "waived"):
            raise _Malformed("status must be done or waived")
        if not isinstance(note, str) or not note.strip():
            raise _Malformed("a note is required")
        return Plan(close_tasks=[(_int(p.get("task_id"), "task_id"), status, note.strip()[:2000])])

    def _on_lookup_requested(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        """The admin page's "Find a person" (issue 16.1): answered at once by the daemon, no
        request recorded; the email lives in memory only until the answer is sent."""
        lookup_id = p.get("lookup_id")
        if not isinstance(lookup_id, str) or not re.fullmatch(r"[A-Za-z0-9]{16,64}", lookup_id):
            raise _Malformed("lookup_id must be 16 to 64 letters and digits")
        return Plan(lookups=[(lookup_id, self._email(p))])

    def _on_retry_requested(self, event: Event, p: dict[str, Any], received: datetime) -> Plan:
        if p.get("all") is True:
            return Plan(retry_all=True)
        return Plan(retry_step_ids=[_int(p.get("step_id"), "step_id")])

    # -- helpers -----------------------------------------------------------------------
    def _check(self, text: str) -> str | None:
        """``text`` normalised when WordPress would take it as an email (``is_email``), else None."""
        try:
            return self._checked[text]
        except KeyError:
            if len(self._checked) >= _REMEMBERED:
                self._checked.clear()
            found = self._checked[text] = normalise_email(text) if is_email(text) else None
            return found

    def _hash(self, email: str) -> str:
        """``email_hash`` under the site secret."""
        try:
            return self._digests[email]
        except KeyError:
            if len(self._digests) >= _REMEMBERED:
                self._digests.clear()
            found = self._digests[email] = email_hash(self.secret, email)
            return found

    def _email(self, payload: dict[str, Any]) -> str:
        value = payload.get("email")
        email = self._check(value) if isinstance(value, str) else None
        if email is None:
            raise _Malformed("payload has no valid email")
        return email

    def _single(self, action: str, email: str, step: NewStep, received: datetime, event: Event) -> NewRequest:
        digest = self._hash(email)
        return NewRequest(site=self.site, action=action, email=email, email_hash=digest,
                          source="event", received_at=received, due_at=self.due(received), steps=[step],
                          event_id=event.id, dedupe_key=None)

    def _user_link(self, email: str, p: dict[str, Any], source: str) -> list[PersonLink]:
        """A proven email of a WordPress user (the plugin sends consent and deletion events only
        for proven emails): it is the person's email now."""
        user_id = _int(p.get("user_id"), "user_id", default=0)
        if not user_id:
            return []
        return [PersonLink(self.site, email, self._hash(email), wp_user_id=user_id, current=True,
                           proof=str(p.get("proof") or "")[:32], source=source)]

    def _contact_link(self, email: str, contact_id: int, source: str) -> list[PersonLink]:
        if not contact_id:
            return []
        return [PersonLink(self.site, email, self._hash(email), contact_id=contact_id, source=source)]

    def _consent(self, email: str, given: bool, at: datetime, event: Event, *, source: str,
                 wording: str | None, proof: str | None) -> ConsentRecord:
        return ConsentRecord(site=self.site, email_hash=self._hash(email), given=given, at=at,
                             source=source, wording=wording, proof=proof, event_id=event.id)

    def _consent_audit(self, record: ConsentRecord) -> AuditEntry:
        # Only the fact and its time: the details live in the consent history, which an erasure
        # empties (the audit log keeps hashes and times).
        return AuditEntry(site=self.site, email_hash=record.email_hash, system="wpprivsync",
                          action="consent_given" if record.given else "consent_withdrawn",
                          reason="newsletter consent " + ("given" if record.given else "withdrawn")
                                 + " (GDPR art. 7(1)): recorded in the consent history", at=record.at)

    def _audit(self, email: str, system: str, action: str, at: datetime, *, removed: int = 0,
               reason: str = "", detail: dict[str, Any] | None = None) -> AuditEntry:
        return AuditEntry(site=self.site, email_hash=self._hash(email), system=system, action=action,
                          items_removed=removed, reason=reason, detail=detail or {}, at=at)

    def _invalid(self, event: Event, received: datetime, problem: str) -> Plan:
        step = NewStep("wpprivsync", "invalid_event", {"event_id": event.id, "type": str(event.type)[:64],
                                                       "problem": problem}, 0)
        req = NewRequest(site=self.site, action=INVALID, email=None, email_hash=None, source="event",
                         received_at=received, due_at=self.due(received), steps=[step], event_id=event.id,
                         dedupe_key=None)
        return Plan([req])


class _Refused(ValueError):
    """A system the request reaches would refuse the address (engine/preflight.py)."""

    def __init__(self, digest: str, system: str, reason: str):
        super().__init__(reason)
        self.email_hash, self.system, self.reason = digest, system, reason


class _Malformed(ValueError):
    pass


def consent_source(value: Any) -> str:
    """The recorded source of a consent: one of CONSENT_SOURCES, else "other"."""
    text = str(value or "").strip().lower()
    return text if text in CONSENT_SOURCES else "other"


def _label(value: Any) -> str | None:
    """A short label from an event (wording version, proof method): printable, at most 64
    characters; None when absent. Never an email (a label with an @ is refused)."""
    if value is None or value == "":
        return None
    text = str(value).strip()[:64]
    if not text or "@" in text or not text.isprintable():
        return None
    return text


def _int(value: Any, name: str, default: int | None = None) -> int:
    if value is None and default is not None:
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise _Malformed(f"{name} must be an integer") from None
    if number < 0:
        raise _Malformed(f"{name} must not be negative")
    return number


def _names(p: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in ("first_name", "last_name"):
        value = p.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise _Malformed(f"{key} must be text")
            out[key] = value.strip()[:255]
    return out


def _without_wordpress(req: NewRequest) -> NewRequest:
    steps = [s for s in req.steps if s.system != "wordpress"]
    return replace(req, steps=steps, dedupe_key=f"comment-data:{req.email_hash}")


def _parse_time(text: Any) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
