"""Turn one outbox event into the requests and steps the policy asks for. Pure: no I/O.

Request actions and their steps (position order; equal positions may run together):

    erase            wordpress.erase · activecampaign.delete_contact · webinarjam.unsubscribe
                     · wpprivsync.manual_tasks → suppression.add   (webinarjam.unsubscribe only when the site has webinars;
                     it also opens the manual WebinarJam deletion task)
    remove_comments  wordpress.remove_comments · activecampaign.remove_comment_data
    unsubscribe      activecampaign.unsubscribe → activecampaign.delete_contact → suppression.add
                     (+ wordpress.set_consent when the unsubscribe came from ActiveCampaign)
    subscribe        suppression.remove → activecampaign.subscribe   (consent given in WordPress)
                     suppression.remove · wordpress.set_consent       (subscribed in ActiveCampaign)
    export           wpprivsync.export · wpprivsync.manual_tasks
                     (manual_tasks, when the site lists manual_task_systems: a task per policy
                     rule whose system has no API)
    core_export      wpprivsync.core_export (core's Tools → Export Personal Data waits for it)
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
from ..store.api import AuditEntry, NewRequest, NewStep

ERASE, REMOVE_COMMENTS, UNSUBSCRIBE, SUBSCRIBE, EXPORT, INVALID = (
    "erase", "remove_comments", "unsubscribe", "subscribe", "export", "invalid_event")
CORE_EXPORT = "core_export"

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
    lookups: list[tuple[str, str]] = field(default_factory=list)  # (lookup id, email): answered, never stored


def steps_for(action: str, *, comment_data: bool = False, from_activecampaign: bool = False,
              wordpress_erasure: bool = True, unsubscribed_in_bulk: bool = False,
              webinarjam: bool = False, manual_tasks: bool = False) -> list[NewStep]:
    """The steps of a request, shared by events, the CLI and the admin page."""
    if action == ERASE:
        steps = [NewStep("activecampaign", "delete_contact", {}, 0), NewStep("suppression", "add", {"reason": "erasure"}, 1)]
        if webinarjam:
            steps.insert(1, NewStep("webinarjam", "unsubscribe", {}, 0))
        if manual_tasks:
            steps.append(NewStep("wpprivsync", "manual_tasks", {}, 0))
        if wordpress_erasure:
            steps.insert(0, NewStep("wordpress", "erase", {}, 0))
        return steps
    if action == REMOVE_COMMENTS:
        steps = [NewStep("wordpress", "remove_comments", {}, 0)]
        if comment_data:
            steps.append(NewStep("activecampaign", "remove_comment_data", {}, 0))
        return steps
    if action == UNSUBSCRIBE:
        steps = [
            NewStep("activecampaign", "unsubscribe", {}, 0),
            NewStep("activecampaign", "delete_contact", {"keep_if_other_lists": True}, 1),
            NewStep("suppression", "add", {"reason": "unsubscribed"}, 2),
        ]
        if from_activecampaign or unsubscribed_in_bulk:
            steps = steps[1:]  # ActiveCampaign already has the person unsubscribed
        if from_activecampaign:
            steps.insert(0, NewStep("wordpress", "set_consent", {"subscribed": False}, 0))
        return steps
    if action == SUBSCRIBE:
        if from_activecampaign:
            return [NewStep("suppression", "remove", {}, 0), NewStep("wordpress", "set_consent", {"subscribed": True}, 0)]
        return [NewStep("suppression", "remove", {}, 0), NewStep("activecampaign", "subscribe", {}, 1)]
    if action == EXPORT:
        steps = [NewStep("wpprivsync", "export", {}, 0)]
        if manual_tasks:
            steps.append(NewStep("wpprivsync", "manual_tasks", {}, 0))
        return steps
    if action == CORE_EXPORT:
        return [NewStep("wpprivsync", "core_export", {}, 0)]
    raise ValueError(f"unknown request action {action!r}")


class Planner:
    """Plans events for one site. ``due`` gives a request's deadline from its received time
    (the policy's one month, GDPR art. 12(3))."""

    def __init__(self, site: str, secret: str, due: Due, *, comment_data: bool = False, webinarjam: bool = False,
                 manual_tasks: bool = False):
        self.site = site
        self.secret = secret
        self.due = due
        self.comment_data = comment_data
        self.webinarjam = webinarjam
        self.manual_tasks = manual_tasks

    # -- public ------------------------------------------------------------------------
    def request(self, action: str, email: str, *, source: str, received_at: datetime,
                event_id: int | None = None, **kw: Any) -> NewRequest:
        email = normalise_email(email)
        digest = email_hash(self.secret, email)
        if action == ERASE:
            kw.setdefault("webinarjam", self.webinarjam)
        if action in (ERASE, EXPORT):
            kw.setdefault("manual_tasks", self.manual_tasks)
        steps = steps_for(action, comment_data=self.comment_data, **kw)
        return NewRequest(site=self.site, action=action, email=email, email_hash=digest, source=source,
                          received_at=received_at, due_at=self.due(received_at), steps=steps,
                          event_id=event_id, dedupe_key=f"{action}:{digest}")

    def plan(self, event: Event, now: datetime) -> Plan:
        """``now`` stands in for the event's time when the event carries none."""
        received = _parse_time(event.created_at) or now
        handler = getattr(self, "_on_" + event.type.replace(".", "_"), None)
        if handler is None:
            return self._invalid(event, received, f"unknown event type {event.type!r}")
        payload = event.payload if isinstance(event.payload, dict) else {}
        try:
            return handler(event, payload, received)
        except _Malformed as exc:
            return self._invalid(event, received, str(exc))

    # -- one method per event type ---------------------------------------------------------
    def _on_account_deleted(self, event: Event, p: dict, received: datetime) -> Plan:
        email = _email(p)
        return Plan([self.request(ERASE, email, source="account-deleted", received_at=received, event_id=event.id)])

    def _on_erasure_requested(self, event: Event, p: dict, received: datetime) -> Plan:
        email = _email(p)
        # From Tools → Erase Personal Data the admin's browser runs WordPress's erasers itself;
        # from the admin page nothing has run yet.
        in_wordpress = p.get("source") != "privacy-tools"
        return Plan([self.request(ERASE, email, source=str(p.get("source") or "erasure-request"),
                                  received_at=received, event_id=event.id, wordpress_erasure=in_wordpress)])

    def _on_erasure_completed(self, event: Event, p: dict, received: datetime) -> Plan:
        email = _email(p)
        return Plan(audit=[self._audit(email, "wordpress", "erasure_completed", received,
                                       reason="WordPress privacy tools completed the erasure request",
                                       detail={"request_id": _int(p.get("request_id"), "request_id", default=0)})])

    def _on_comment_deleted(self, event: Event, p: dict, received: datetime) -> Plan:
        email = _email(p)
        comment_id = _int(p.get("comment_id"), "comment_id")
        audit = [self._audit(email, "wordpress", "comment_deleted", received, removed=1,
                             reason="comment deleted in WordPress", detail={"comment_id": comment_id})]
        requests = []
        if self.comment_data:
            requests.append(self.request(REMOVE_COMMENTS, email, source="comment-deleted", received_at=received,
                                         event_id=event.id))
            requests[0] = _without_wordpress(requests[0])
        return Plan(requests, audit)

    def _on_comments_removal_requested(self, event: Event, p: dict, received: datetime) -> Plan:
        return Plan([self.request(REMOVE_COMMENTS, _email(p), source=str(p.get("source") or "admin-page"),
                                  received_at=received, event_id=event.id)])

    def _on_export_requested(self, event: Event, p: dict, received: datetime) -> Plan:
        return Plan([self.request(EXPORT, _email(p), source=str(p.get("source") or "admin-page"),
                                  received_at=received, event_id=event.id)])

    def _on_core_export_requested(self, event: Event, p: dict, received: datetime) -> Plan:
        return Plan([self.request(CORE_EXPORT, _email(p), source="privacy-tools", received_at=received,
                                  event_id=event.id)])

    def _on_consent_changed(self, event: Event, p: dict, received: datetime) -> Plan:
        email = _email(p)
        consent = p.get("consent")
        if not isinstance(consent, bool):
            raise _Malformed("consent must be true or false")
        action = SUBSCRIBE if consent else UNSUBSCRIBE
        return Plan([self.request(action, email, source=f"wordpress-{p.get('source') or 'consent'}",
                                  received_at=received, event_id=event.id)])

    def _on_newsletter_unsubscribed(self, event: Event, p: dict, received: datetime) -> Plan:
        return Plan([self.request(UNSUBSCRIBE, _email(p), source="activecampaign-webhook", received_at=received,
                                  event_id=event.id, from_activecampaign=True)])

    def _on_newsletter_subscribed(self, event: Event, p: dict, received: datetime) -> Plan:
        return Plan([self.request(SUBSCRIBE, _email(p), source="activecampaign-webhook", received_at=received,
                                  event_id=event.id, from_activecampaign=True)])

    def _on_identity_unproven(self, event: Event, p: dict, received: datetime) -> Plan:
        # A WordPress user acted on an email they never proved to own (docs/IDENTITY.md):
        # nothing reaches ActiveCampaign or the suppression list; the attempt is audited.
        attempt = str(p.get("attempt") or "unknown")[:64]
        return Plan(audit=[self._audit(_email(p), "wordpress", "unproven_email", received,
                                       reason=f"ignored: {attempt} for an email the user has not proven to own",
                                       detail={"user_id": _int(p.get("user_id"), "user_id", default=0),
                                               "attempt": attempt})])

    def _on_task_closed(self, event: Event, p: dict, received: datetime) -> Plan:
        status = p.get("status", "done")
        note = p.get("note")
        if status not in ("done", "waived"):
            raise _Malformed("status must be done or waived")
        if not isinstance(note, str) or not note.strip():
            raise _Malformed("a note is required")
        return Plan(close_tasks=[(_int(p.get("task_id"), "task_id"), status, note.strip()[:2000])])

    def _on_lookup_requested(self, event: Event, p: dict, received: datetime) -> Plan:
        """The admin page's "Find a person" (issue 16.1): answered at once by the daemon, no
        request recorded; the email lives in memory only until the answer is sent."""
        lookup_id = p.get("lookup_id")
        if not isinstance(lookup_id, str) or not re.fullmatch(r"[A-Za-z0-9]{16,64}", lookup_id):
            raise _Malformed("lookup_id must be 16 to 64 letters and digits")
        return Plan(lookups=[(lookup_id, _email(p))])

    def _on_retry_requested(self, event: Event, p: dict, received: datetime) -> Plan:
        if p.get("all") is True:
            return Plan(retry_all=True)
        return Plan(retry_step_ids=[_int(p.get("step_id"), "step_id")])

    # -- helpers -----------------------------------------------------------------------
    def _audit(self, email: str, system: str, action: str, at: datetime, *, removed: int = 0,
               reason: str = "", detail: dict | None = None) -> AuditEntry:
        return AuditEntry(site=self.site, email_hash=email_hash(self.secret, email), system=system, action=action,
                          items_removed=removed, reason=reason, detail=detail or {}, at=at)

    def _invalid(self, event: Event, received: datetime, problem: str) -> Plan:
        step = NewStep("wpprivsync", "invalid_event", {"event_id": event.id, "type": str(event.type)[:64],
                                                       "problem": problem}, 0)
        req = NewRequest(site=self.site, action=INVALID, email=None, email_hash=None, source="event",
                         received_at=received, due_at=self.due(received), steps=[step], event_id=event.id,
                         dedupe_key=None)
        return Plan([req])


class _Malformed(ValueError):
    pass


def _email(payload: dict) -> str:
    value = payload.get("email")
    if not isinstance(value, str) or not is_email(value):
        raise _Malformed("payload has no valid email")
    return normalise_email(value)


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


def _without_wordpress(req: NewRequest) -> NewRequest:
    steps = [s for s in req.steps if s.system != "wordpress"]
    return replace(req, steps=steps, dedupe_key=f"comment-data:{req.email_hash}")


def _parse_time(text: Any) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
