"""Linked records in the engine's steps (docs/IDENTITY.md, "Linked records"): which
ActiveCampaign contacts and which emails, old ones included, belong to a request's person, and
recording what a step learns (a contact id from a subscribe, a look-up, a webhook)."""

from __future__ import annotations

from typing import Any

from ..clients.protocols import ActiveCampaignApi
from ..store.api import Person, PersonEmail, PersonLink, Store


def person_of(store: Store, site: str, digest: str | None) -> Person | None:
    return store.person(site, email_hash=digest) if digest else None


def contacts_for_email(person: Person | None, digest: str | None) -> list[int]:
    """Contact ids linked to this one email of the person."""
    if person is None or digest is None:
        return []
    return [e.contact_id for e in person.emails if e.email_hash == digest and e.contact_id is not None]


# An email that joined a person only because an ActiveCampaign contact of theirs carries it (its
# email changed there, maybe through ActiveCampaign's public "update your profile" form) is not
# proven to be the person's: the contact itself is erased by its id, but that email is never
# looked up or suppressed on the person's behalf (it may be someone else's address).
ACTIVECAMPAIGN_ONLY = frozenset({"webhook", "activecampaign-update"})


def vouched(e: PersonEmail) -> bool:
    return bool(e.proof) or e.source not in ACTIVECAMPAIGN_ONLY


def other_emails(person: Person | None, email: str) -> list[str]:
    """The person's other vouched-for emails still held in plain (past ones, or the current one
    when the request names a past one), newest first."""
    if person is None:
        return []
    return [e.email for e in person.emails if e.email and e.email != email and vouched(e)]


def uncovered_emails(person: Person | None, email: str) -> list[str]:
    """The request's email and the person's other emails for which no contact id is linked:
    the ones an erasure must still look up by email."""
    if person is None:
        return [email]
    known = {e.email for e in person.emails if e.email and e.contact_id is not None}
    wanted = [email] + other_emails(person, email)
    return [e for e in dict.fromkeys(wanted) if e not in known]


def learn(store: Store, site: str, email: str, digest: str, contact_id: int, source: str, now: Any) -> None:
    store.link_people([PersonLink(site, email, digest, contact_id=int(contact_id), source=source)], now)


def find_and_link(store: Store, ac: ActiveCampaignApi, site: str, email: str, secret_hash: str, now: Any,
                  source: str = "lookup") -> int | None:
    """Look a contact up by email (one call) and link its id; None when there is none."""
    contact = ac.find_contact(email)
    if contact is None:
        return None
    learn(store, site, email, secret_hash, contact.id, source, now)
    return contact.id


def person_view(person: Person | None) -> dict[str, Any] | None:
    """What the tool links about the person, without plain emails (explain, audit)."""
    if person is None:
        return None
    return {"wp_user_id": person.wp_user_id, "contact_ids": person.contact_ids,
            "emails": [{"email_hash": e.email_hash, "current": e.current, "proof": e.proof, "source": e.source,
                        "contact_id": e.contact_id, "since": e.first_seen_at.isoformat()} for e in person.emails]}
