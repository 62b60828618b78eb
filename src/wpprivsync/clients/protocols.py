"""The surfaces the engine uses. Real clients live beside this module; tests may pass fakes.

Clients take a ``requests.Session`` (and, where they wait, a ``sleep`` and a ``clock``) from
the caller. They raise only ``wpprivsync.errors`` types, never with a token or plain email in
the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Protocol, Sequence

if TYPE_CHECKING:
    from .webinarjam import Registration, Session


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    payload: dict[str, Any]
    created_at: str


@dataclass(frozen=True)
class Contact:
    id: int
    email: str


@dataclass(frozen=True)
class ListMember:
    contact_id: int
    email: str
    status: int  # 1 subscribed, 2 unsubscribed


@dataclass(frozen=True)
class BulkContact:
    email: str
    subscribe: Sequence[int] = ()
    unsubscribe: Sequence[int] = ()
    fields: dict[str, Any] = field(default_factory=dict)


class WordPressApi(Protocol):
    """The plugin's routes (docs/PROTOCOL.md)."""

    def index(self) -> dict[str, Any]: ...  # GET /wp-json/ (namespaces), no auth needed
    def status(self) -> dict[str, Any]: ...
    def me(self) -> dict[str, Any]: ...  # GET /wp/v2/users/me?context=edit (capabilities)
    def events(self, after: int, limit: int = 100) -> tuple[list[Event], int]: ...  # (events, pending)
    def ack(self, ids: Sequence[int], hashes: dict[int, str] | None = None) -> int: ...
    def pull(self, after: int, limit: int, ack: Sequence[int] = (),
             hashes: dict[int, str] | None = None) -> tuple[list[Event], int, int]: ...  # ack, then a page
    def erase(self, email: str, *, dry_run: bool = False, exclude: Sequence[str] = ()) -> dict[str, Any]: ...
    def erase_batch(self, emails: Sequence[str], *, exclude: Sequence[str] = ()) -> list[dict[str, Any]]: ...
    def scrub_requests(self, older_than_days: int) -> dict[str, Any]: ...
    def scan(self, emails: Sequence[str], *, cursor: str = "", evidence_days: int = 30,
             budget_ms: int = 2000, hashes: Sequence[str] = ()) -> dict[str, Any]: ...  # one page of the residue scan
    def export(self, email: str) -> dict[str, Any]: ...  # all pages merged: {"groups": {...}}
    def remove_comments(self, email: str, *, dry_run: bool = False) -> dict[str, Any]: ...
    def set_consent(self, email: str, subscribed: bool) -> dict[str, Any]: ...
    def restrict(self, email: str, restricted: bool) -> dict[str, Any]: ...  # GDPR art. 18 flag on the account
    def consents(self) -> Iterator[dict[str, Any]]: ...  # every user: {"id","email","subscribed"}
    def orders(self, *, email: str | None = None, before: str | None = None) -> Iterator[dict[str, Any]]: ...
    def anonymize_orders(self, order_ids: Sequence[int]) -> dict[str, Any]: ...
    def set_retention(self, order_years: int, tax_year_start_month: int) -> dict[str, Any]: ...
    def heartbeat(self, body: dict[str, Any]) -> None: ...
    def mirror_requests(self, rows: list[dict[str, Any]]) -> int: ...  # admin page's list; up to 500 a call
    def lookup_answer(self, lookup_id: str, body: dict[str, Any]) -> None: ...  # admin page's person view
    def store_export(self, archive: bytes) -> dict[str, Any]: ...  # {"url", "expires_at"} for the admin page
    def core_export(self, email: str, items: list[dict[str, Any]]) -> dict[str, Any]: ...  # core's exporter


class ActiveCampaignApi(Protocol):
    def find_contact(self, email: str) -> Contact | None: ...
    def contact_details(self, contact_id: int) -> dict[str, Any]:
        """{"contact": {...}, "lists": [{"list", "name", "status"}], "fields": [{"field", "title", "value"}],
        "tags": [{"id", "tag"}]} — everything ActiveCampaign holds about the person, for export."""
        ...
    def delete_contact(self, contact_id: int) -> bool: ...  # False when already gone (still success)
    def contact_lists(self, contact_id: int) -> list[dict[str, int]] | None: ...  # one call; None: gone
    def contact_comment_data(self, contact_id: int, *, tags: bool, fields: bool) -> dict[str, Any] | None: ...
    def update_contact(self, contact_id: int, *, email: str | None = None, first_name: str | None = None,
                       last_name: str | None = None) -> Contact | None: ...  # None: gone
    def set_list_status(self, contact_id: int, list_id: int, status: int) -> None: ...
    def sync_contact(self, email: str, **fields: Any) -> Contact: ...
    def remove_contact_tag(self, contact_tag_id: int) -> bool: ...
    def clear_field_value(self, contact_id: int, field_id: int) -> None: ...
    def bulk_import(self, contacts: Iterable[BulkContact]) -> list[str]: ...  # batch ids, 250 a call
    def bulk_import_status(self, batch_id: str) -> dict[str, Any]: ...
    def list_members(self, list_id: int) -> Iterator[ListMember]: ...  # pages by id_greater
    def list_ids(self) -> list[int]: ...  # every list of the account
    def subscribed_among(self, list_id: int, contact_ids: Iterable[int]) -> set[int]: ...  # 100 ids a call
    def create_webhook(self, name: str, url: str, events: Sequence[str], sources: Sequence[str],
                       list_id: int | None = None) -> dict[str, Any]: ...
    def list_webhooks(self) -> list[dict[str, Any]]: ...
    def delete_webhook(self, webhook_id: int) -> bool: ...
    def check(self) -> dict[str, Any]: ...  # cheap authenticated call (GET /users/me or /lists?limit=1)


class WebinarJamApi(Protocol):
    """The WebinarJam API calls the engine makes (``clients.webinarjam``)."""

    def webinars(self) -> list[dict[str, Any]]: ...
    def sessions(self, webinar_id: int) -> list[Session]: ...
    def registrants(self, webinar_id: int, *, search: str | None = None,
                    schedule_id: int | None = None) -> Iterator[Registration]: ...
    def find_registrations(self, webinar_id: int, email: str) -> list[Registration]: ...
    def unsubscribe(self, webinar_id: int, lead_id: int) -> None: ...
    def check(self) -> dict[str, Any]: ...
