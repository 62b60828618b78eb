"""Nightly reconcile: WordPress newsletter consent against ActiveCampaign list status.

Webhooks get lost and people edit lists by hand, so once a night both sides are compared and
the differences fixed, in bulk where ActiveCampaign allows it (250 contacts per import call):

    WordPress says no, ActiveCampaign subscribed     → unsubscribe in bulk, then an unsubscribe
                                                      request per person (delete + suppress)
    suppressed hash, ActiveCampaign subscribed       → the same (a re-import slipped through)
    ActiveCampaign unsubscribed, WordPress says yes  → an unsubscribe request that clears the
                                                      WordPress consent, deletes, suppresses
    WordPress says yes, absent from the list         → subscribe in bulk (unless suppressed)

WordPress users who never answered (consent unknown) are left alone: they may have subscribed
through an ActiveCampaign form, which is consent WordPress does not see. So are people whose
processing is restricted (GDPR art. 18, docs/CONSENT.md): their contact is kept unsubscribed and
nothing is deleted or subscribed until the restriction is lifted.

A repair's ActiveCampaign step deletes the contact unless it is still subscribed to a list the
site does not manage. The list pages already name each member's contact id, and which of the
repaired contacts are on the other lists takes one call per other list and 100 contacts
(``subscribed_among``), so each repair's step is handed its contact id and its other lists
(``contact_id``, ``other_lists``, ``lists_read_at``) and makes one call, the delete, instead of
a look-up and a read of the contact first. The step trusts what it was handed for
``steps.RECONCILED_LISTS_FRESH_S`` only, and looks up by email when the id is gone.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Callable

from ..clients.protocols import ActiveCampaignApi, BulkContact, WordPressApi
from ..identity import email_hash, normalise_email
from ..store.api import ConsentRecord, NewRequest, PersonLink, Store
from .plan import UNSUBSCRIBE, Planner

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    wordpress_users: int = 0
    list_members: int = 0
    unsubscribe_in_activecampaign: int = 0
    subscribe_in_activecampaign: int = 0
    unsubscribe_in_wordpress: int = 0
    requests_queued: int = 0
    import_calls: int = 0
    other_list_calls: int = 0  # reading which repaired contacts are on lists the site does not manage
    batch_ids: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reconcile(site: Any, wordpress: WordPressApi, activecampaign: ActiveCampaignApi, store: Store,
              planner: Planner, secret: str, clock: Callable[[], datetime], *, dry_run: bool = False,
              progress: Callable[[str, int], None] | None = None) -> ReconcileReport:
    report = ReconcileReport(dry_run=dry_run)
    tick = progress or (lambda _stage, _n: None)

    consent: dict[str, bool | None] = {}
    user_ids: dict[str, int] = {}
    for user in wordpress.consents():
        email = normalise_email(str(user.get("email", "")))
        if email:
            consent[email] = user.get("subscribed")
            if user.get("subscribed") is not None and isinstance(user.get("id"), int):
                user_ids[email] = int(user["id"])  # a proven email (unproven ones say null)
        report.wordpress_users += 1
        tick("wordpress", 1)

    lists = [int(i) for i in site.newsletter_list_ids]
    status: dict[str, dict[int, int]] = {}
    contact_ids: dict[str, int] = {}
    for list_id in lists:
        for member in activecampaign.list_members(list_id):
            status.setdefault(normalise_email(member.email), {})[list_id] = int(member.status)
            contact_ids[normalise_email(member.email)] = int(member.contact_id)
            report.list_members += 1
            tick("activecampaign", 1)

    suppressed = store.suppressed(site.name)
    restricted = store.restricted(site.name)

    to_unsubscribe: list[str] = []   # subscribed in ActiveCampaign, must not be
    to_subscribe: list[str] = []     # consent in WordPress, missing from ActiveCampaign
    to_clear_wp: list[str] = []      # unsubscribed in ActiveCampaign, WordPress still says yes
    for email, per_list in status.items():
        subscribed_somewhere = any(s == 1 for s in per_list.values())
        hashed = email_hash(secret, email)
        if hashed in restricted:
            continue
        if subscribed_somewhere and (consent.get(email) is False or hashed in suppressed):
            to_unsubscribe.append(email)
        elif not subscribed_somewhere and any(s == 2 for s in per_list.values()) and consent.get(email) is True:
            to_clear_wp.append(email)
    for email, given in consent.items():
        hashed = email_hash(secret, email)
        if given is True and email not in status and hashed not in suppressed and hashed not in restricted:
            to_subscribe.append(email)

    report.unsubscribe_in_activecampaign = len(to_unsubscribe)
    report.subscribe_in_activecampaign = len(to_subscribe)
    report.unsubscribe_in_wordpress = len(to_clear_wp)
    if dry_run:
        return report

    bulk = [BulkContact(email=e, unsubscribe=lists) for e in to_unsubscribe] + \
           [BulkContact(email=e, subscribe=lists) for e in to_subscribe]
    if bulk:
        report.batch_ids = list(activecampaign.bulk_import(bulk))
        report.import_calls = len(report.batch_ids)
    now = clock()
    _link_contacts(store, site.name, secret, contact_ids, user_ids, set(to_unsubscribe) | set(to_clear_wp), now)
    repaired = [contact_ids[e] for e in to_unsubscribe + to_clear_wp if e in contact_ids]
    others, report.other_list_calls = _on_other_lists(activecampaign, lists, repaired)
    read_at = clock().isoformat()
    for email in to_unsubscribe:
        store.add_request(_known(planner.request(UNSUBSCRIBE, email, source="reconcile", received_at=now,
                                                 unsubscribed_in_bulk=True), contact_ids, others, email, read_at))
        report.requests_queued += 1
    for email in to_clear_wp:
        store.add_request(_known(planner.request(UNSUBSCRIBE, email, source="reconcile", received_at=now,
                                                 from_activecampaign=True), contact_ids, others, email, read_at))
        # the person unsubscribed in ActiveCampaign and the webhook was lost: a consent withdrawn
        store.add_consents([ConsentRecord(site=site.name, email_hash=email_hash(secret, email), given=False,
                                          at=now, source="reconcile", proof="activecampaign")])
        report.requests_queued += 1
    store.set_state(f"reconcile:{site.name}", now.isoformat())
    log.info("reconcile done", extra={"site": site.name, **{k: v for k, v in report.as_dict().items()
                                                           if isinstance(v, int)}})
    return report


LINK_CHUNK = 500


def _link_contacts(store: Store, site: str, secret: str, contact_ids: dict[str, int], user_ids: dict[str, int],
                   repaired: set[str], now: datetime) -> None:
    """Linked records (issue 12.3): the list pages name each member's contact id; it is linked
    for proven WordPress emails and for the contacts a repair is queued for (their steps then
    need no look-up)."""
    wanted = sorted(e for e in contact_ids if e in user_ids or e in repaired)
    links = [PersonLink(site, e, email_hash(secret, e), wp_user_id=user_ids.get(e), contact_id=contact_ids[e],
                        source="reconcile") for e in wanted]
    for start in range(0, len(links), LINK_CHUNK):
        store.link_people(links[start:start + LINK_CHUNK], now)


def _on_other_lists(activecampaign: ActiveCampaignApi, managed: list[int], contact_ids: list[int]
                    ) -> tuple[dict[int, list[int]], int]:
    """contact id → the lists it is subscribed to that the site does not manage, for the given
    contacts; and the calls it took (the account's lists, then 100 contacts a call per list)."""
    if not contact_ids:
        return {}, 0
    calls = 1
    others: dict[int, list[int]] = {}
    for list_id in activecampaign.list_ids():
        if list_id in managed:
            continue
        calls += -(-len(set(contact_ids)) // 100)
        for contact_id in activecampaign.subscribed_among(list_id, contact_ids):
            others.setdefault(contact_id, []).append(list_id)
    return others, calls


def _known(request: NewRequest, contact_ids: dict[str, int], others: dict[int, list[int]], email: str,
           read_at: str) -> NewRequest:
    """The request with its ActiveCampaign step handed the contact id and other lists the
    reconcile read (see the module's note)."""
    contact_id = contact_ids.get(normalise_email(email))
    if contact_id is None:
        return request
    known = {"contact_id": contact_id, "other_lists": sorted(others.get(contact_id, [])), "lists_read_at": read_at}
    return replace(request, steps=[replace(s, params={**s.params, **known})
                                   if (s.system, s.action) == ("activecampaign", "delete_contact") else s
                                   for s in request.steps])
