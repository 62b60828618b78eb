"""What the engine needs from a store; one contract for every backend.

A *request* is one thing asked for one person on one site (erase, remove comments, unsubscribe,
export, ...), with a due date (received + one month, GDPR art. 12(3)). It holds the plain email
only while it is open: completing or cancelling it clears ``email`` and keeps ``email_hash``.
A request has *steps*, one per system and action; steps are what workers claim (with a lease),
run, and finish. Every finished step writes *audit* entries (hash only). The *suppression* list
holds hashes of people who must never be re-subscribed.

Every method is one transaction. Timestamps are timezone-aware UTC datetimes (a naive one is
refused with StoreError). Every failure of the backend is a StoreError.

Rules the implementation keeps (tests/test_store_contract.py checks them on every backend):

* Dedupe is per site: one *open* request per ``(site, dedupe_key)``; a closed, failed or
  cancelled request no longer takes the key.
* A step is claimable when its request is open or failed (not done/cancelled), it is due, and
  every lower-position step of its request is done. So a dead step blocks the later positions
  of its request, while its equal-position siblings still run.
* Due steps are claimed in (priority, due time, id) order: steps of ``PRIORITY_ACTIONS``
  requests first.
* ``Step.attempts`` counts failed attempts (``fail_step`` adds one; a claim does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Protocol, Sequence

# Request.status
OPEN, DONE, FAILED, CANCELLED = "open", "done", "failed", "cancelled"
# Step.status
PENDING, RUNNING, STEP_DONE, DEAD = "pending", "running", "done", "dead"
# Task.status
TASK_OPEN, TASK_DONE, TASK_WAIVED = "open", "done", "waived"
# Residue.status
RESIDUE_OPEN, RESIDUE_RETAINED, RESIDUE_RESOLVED = "open", "retained", "resolved"


@dataclass(frozen=True)
class NewTask:
    """A manual task: ``what`` to do in ``system``, ``why`` (the policy clause), due when."""

    site: str
    system: str
    rule: str
    what: str
    why: str
    due_at: datetime
    dedupe_key: str  # the same task is never opened twice (per site)
    request_id: int | None = None
    email_hash: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Task:
    id: int
    site: str
    request_id: int | None
    email_hash: str | None
    system: str
    rule: str
    what: str
    why: str
    due_at: datetime
    status: str
    note: str | None
    detail: dict[str, Any]
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class Finding:
    """One place a residue scan found a person, never its value: a table, column and row key
    of the WordPress database, and what was found there (``email``, ``email-urlencoded``,
    ``md5`` or ``sha256`` of the email). ``clause`` and ``retained_until`` are set when the
    policy keeps the row on purpose (an order under retention, a request record)."""

    table: str
    column: str
    row_key: str
    kind: str
    clause: str | None = None
    retained_until: date | None = None

    @property
    def retained(self) -> bool:
        return self.clause is not None


@dataclass(frozen=True)
class Residue(Finding):
    """A finding as the store keeps it for one person (by keyed hash): ``open`` (a residue),
    ``retained`` (kept on purpose) or ``resolved`` (a later scan no longer found it)."""

    id: int = 0
    site: str = ""
    email_hash: str = ""
    request_id: int | None = None
    status: str = RESIDUE_OPEN
    found_at: datetime | None = None
    seen_at: datetime | None = None
    resolved_at: datetime | None = None


# Requests whose steps are claimed before any other due step (priority 0): the ones with a
# legal deadline. Consent changes (subscribe, unsubscribe) come after them (priority 1), so a
# flood of webhooks cannot starve an erasure.
PRIORITY_ACTIONS = frozenset({"erase", "export", "remove_comments", "core_export", "restrict", "lift_restriction"})


@dataclass(frozen=True)
class NewStep:
    system: str  # "wordpress" | "activecampaign" | "suppression" | ...
    action: str  # "erase", "remove_comments", "delete_contact", "unsubscribe", "set_consent", ...
    params: dict[str, Any] = field(default_factory=dict)  # never a plain email; the request has it
    position: int = 0  # steps of a request run in position order; equal positions may run together


@dataclass(frozen=True)
class NewRequest:
    site: str
    action: str
    email: str | None  # normalised; None for site-wide requests (retention sweep)
    email_hash: str | None
    source: str  # "event", "cli", "admin-page", "reconcile", "retention"
    received_at: datetime
    due_at: datetime
    steps: Sequence[NewStep]
    event_id: int | None = None  # the outbox event it came from, for idempotent ingestion
    dedupe_key: str | None = None  # one open request per key (e.g. "erase:<hash>")


@dataclass(frozen=True)
class Request:
    id: int
    site: str
    action: str
    email: str | None
    email_hash: str | None
    source: str
    status: str
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None
    event_id: int | None


@dataclass(frozen=True)
class Step:
    id: int
    request_id: int
    site: str
    system: str
    action: str
    params: dict[str, Any]
    position: int
    status: str
    attempts: int  # failed attempts so far; reset to 0 by retry_step / retry_all_dead
    next_attempt_at: datetime
    last_error: str | None
    result: dict[str, Any] | None
    lease_owner: str | None
    lease_until: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    site: str
    email_hash: str | None
    system: str
    action: str
    items_removed: int = 0
    items_retained: int = 0
    retained_until: date | None = None
    reason: str = ""  # a policy rule id and clause, or a plain explanation
    request_id: int | None = None
    step_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None  # filled by the store when None


@dataclass(frozen=True)
class Audit(AuditEntry):
    id: int = 0


@dataclass(frozen=True)
class PersonLink:
    """A fact linking records of one person (docs/IDENTITY.md, "Linked records"): this email
    (and, when known, this WordPress user id and this ActiveCampaign contact id) belongs to the
    same person. ``replaces_hash`` names the person's earlier email (a proven change):
    the person is found through it. ``current`` marks the email the person has now."""

    site: str
    email: str | None  # normalised; None when only the keyed hash is known
    email_hash: str
    wp_user_id: int | None = None
    contact_id: int | None = None
    current: bool = False
    proof: str = ""  # how the email was proven (registration, core-confirmation, ...), "" if not said
    source: str = ""  # where the link was learned (subscribe, webhook, reconcile, email-changed, ...)
    replaces_hash: str | None = None
    first_name: str | None = None  # the person's names as WordPress has them now (None: unchanged)
    last_name: str | None = None


@dataclass(frozen=True)
class PersonEmail:
    email: str | None  # None once the person is erased
    email_hash: str
    contact_id: int | None
    current: bool
    proof: str
    source: str
    first_seen_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Person:
    id: int
    site: str
    wp_user_id: int | None
    created_at: datetime
    erased_at: datetime | None
    emails: tuple[PersonEmail, ...] = ()  # current first, then newest first
    first_name: str | None = None
    last_name: str | None = None

    @property
    def contact_ids(self) -> list[int]:
        """Every ActiveCampaign contact id linked to the person, current email's first."""
        out: list[int] = []
        for e in self.emails:
            if e.contact_id is not None and e.contact_id not in out:
                out.append(e.contact_id)
        return out

    @property
    def current_email(self) -> PersonEmail | None:
        return next((e for e in self.emails if e.current), None)


@dataclass(frozen=True)
class ConsentRecord:
    """One newsletter consent given or withdrawn (GDPR art. 7(1)): keyed hash, time, where it
    came from, the version of the wording shown, how the email was proven. After an erasure
    ``source``, ``wording`` and ``proof`` are None and ``erased_at`` is set."""

    site: str
    email_hash: str
    given: bool
    at: datetime
    source: str | None = None
    wording: str | None = None
    proof: str | None = None
    event_id: int | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class PlannedEvent:
    """One event's share of a batch ingest (``Store.ingest_many``); its ``links`` are recorded
    in the same transaction."""

    event_id: int
    requests: Sequence[NewRequest] = ()
    audit: Sequence[AuditEntry] = ()
    links: Sequence[PersonLink] = ()
    consents: Sequence[ConsentRecord] = ()


@dataclass(frozen=True)
class FinishedStep:
    """One step's outcome in a batch recording (``Store.finish_steps``). ``suppress`` (site,
    email hash, reason) adds the hash to the suppression list in the same transaction, and the
    step's result says whether it was new (``"new"``)."""

    step_id: int
    result: dict[str, Any]
    audit: Sequence[AuditEntry] = ()
    suppress: tuple[str, str, str] | None = None


class Store(Protocol):
    """Implemented by ``SqlStore`` for SQLite and PostgreSQL (``open_store(url)``)."""

    # lifecycle
    def migrate(self) -> int: ...  # applies pending migrations, returns the schema version
    def schema_version(self) -> int: ...
    def close(self) -> None: ...
    def checkpoint(self) -> bool: ...  # SQLite: empty the WAL (finished requests' emails leave the disk)
    def check_writable(self) -> None: ...  # raises StoreError with the reason

    # events and cursors
    def get_cursor(self, site: str) -> int: ...
    def ingest(self, site: str, event_id: int, requests: Sequence[NewRequest],
               audit: Sequence[AuditEntry] = ()) -> list[int]:
        """Record the requests planned from one event (and the audit entries an event writes
        by itself, e.g. "comment deleted in WordPress") and move the site's cursor to
        ``event_id`` in one transaction. Idempotent: an event already ingested adds nothing and
        returns []. A request whose ``dedupe_key`` matches an open request is merged into it
        (its steps are not added twice)."""
        ...

    def ingest_many(self, site: str, events: Sequence[PlannedEvent]) -> list[int]:
        """``ingest`` for a page of events, in their order, in one transaction (the cursor moves
        to the last one); returns the ids of the requests created or merged into."""
        ...

    def add_request(self, request: NewRequest) -> int: ...  # for CLI/admin requests; same dedupe rule

    # requests
    def get_request(self, request_id: int) -> Request | None: ...
    def get_requests(self, request_ids: Iterable[int]) -> dict[int, Request]: ...  # the ones that exist
    def list_requests(self, *, site: str | None = None, status: str | None = None,
                      due_before: datetime | None = None, action: str | None = None,
                      email_hash: str | None = None, source: str | None = None,
                      limit: int = 100, offset: int = 0) -> list[Request]: ...  # newest first
    def recent_requests(self, limit: int = 20) -> list[Request]: ...  # newest first
    def requests_for_hash(self, email_hash: str, site: str | None = None) -> list[Request]: ...  # oldest first
    def overdue_requests(self, now: datetime, limit: int = 100) -> list[Request]: ...  # open/failed, due < now
    def steps_of(self, request_id: int) -> list[Step]: ...
    def steps_of_many(self, request_ids: Iterable[int]) -> dict[int, list[Step]]: ...  # by request, in order
    def requests_changed(self, site: str, since: datetime | None, after_id: int = 0,
                         limit: int = 500) -> list[Request]: ...  # id order; received, completed or a step updated at/after since

    # work
    def claim_steps(self, worker: str, now: datetime, *, limit: int = 10, lease_s: float = 60,
                    systems: Iterable[str] | None = None, urgent_only: bool = False) -> list[Step]:
        """Lease up to ``limit`` due steps (pending with next_attempt_at <= now, or running with
        an expired lease) whose earlier-position steps of the same request are done;
        ``urgent_only``: only pending steps of ``PRIORITY_ACTIONS`` requests. On
        PostgreSQL uses FOR UPDATE SKIP LOCKED, so workers never claim the same step."""
        ...

    def finish_step(self, step_id: int, worker: str, now: datetime, *, result: dict[str, Any],
                    audit: Sequence[AuditEntry] = (), suppress: tuple[str, str, str] | None = None) -> bool:
        """Mark done, write the audit entries (and the suppression, see ``FinishedStep``), and
        close the request (clearing its email) when all its steps are done. Returns False (and
        writes nothing) if ``worker`` no longer holds the lease."""
        ...

    def finish_steps(self, worker: str, now: datetime, finished: Sequence[FinishedStep]) -> list[bool]:
        """``finish_step`` for several steps in one transaction; one answer per step, in order
        (False for a step whose lease ``worker`` lost: nothing of it is written)."""
        ...

    def release_steps(self, worker: str, step_ids: Sequence[int], now: datetime) -> int:
        """Give back claimed steps that were never started (a worker stopping): pending again,
        due now, attempts unchanged; returns how many ``worker`` still held."""
        ...

    def fail_step(self, step_id: int, worker: str, now: datetime, *, error: str,
                  retry_at: datetime | None) -> bool:
        """Record a failed attempt. ``retry_at`` None means dead-letter (status dead; request
        failed). Same lease rule as finish_step."""
        ...

    def defer_step(self, step_id: int, worker: str, now: datetime, *, retry_at: datetime, note: str) -> bool:
        """A running step waits until ``retry_at`` without a failed attempt (False: lease lost)."""
        ...

    def renew_leases(self, worker: str, step_ids: Sequence[int], now: datetime, lease_s: float) -> int:
        """Extend to ``now + lease_s`` the leases ``worker`` still holds (not yet expired) on
        these running steps; returns how many. A worker renews while its steps run, so a slow
        step (waiting for the rate budget, say) is never taken over by another worker."""
        ...

    def retry_step(self, step_id: int, now: datetime) -> bool: ...  # dead → pending, attempts reset; request → open
    def retry_all_dead(self, now: datetime) -> int: ...  # same for every dead step of an open/failed request
    def cancel_request(self, request_id: int, now: datetime) -> bool: ...  # clears the email; its steps stop

    # reporting
    def queue_depth(self, site: str | None = None) -> int: ...  # steps pending or running
    def dead_steps(self, site: str | None = None, limit: int = 100) -> list[Step]: ...
    def counts(self) -> dict[str, int]: ...  # {"requests_open", "steps_pending", "steps_dead", ...}
    def oldest_open_request_age(self, now: datetime, site: str | None = None) -> timedelta | None: ...  # open or failed; None if none
    def count_requests(self, *, site: str | None = None, status: str | None = None) -> int: ...

    # audit and suppression
    def add_audit(self, entries: Sequence[AuditEntry]) -> None: ...
    def audit(self, *, email_hash: str | None = None, site: str | None = None,
              request_id: int | None = None, limit: int = 200) -> list[Audit]: ...  # newest `limit`, oldest first
    def suppress(self, site: str, email_hash: str, reason: str, now: datetime) -> bool: ...  # True if new
    def unsuppress(self, site: str, email_hash: str) -> bool: ...  # True if it was there (fresh consent)
    def is_suppressed(self, site: str, email_hash: str) -> bool: ...
    # -- proof of consent and restriction (migration 8) -----------------------------------
    def add_consents(self, records: Sequence[ConsentRecord]) -> None: ...
    def consents(self, site: str, email_hash: str) -> list[ConsentRecord]: ...  # oldest first
    def erase_consents(self, site: str, email_hash: str, now: datetime) -> int: ...  # keeps hash and times
    def restrict(self, site: str, email_hash: str, source: str, now: datetime) -> bool: ...  # True if new
    def lift_restriction(self, site: str, email_hash: str) -> bool: ...  # True if it was restricted
    def restricted_since(self, site: str, email_hash: str) -> datetime | None: ...
    def restricted(self, site: str) -> set[str]: ...  # every restricted hash of the site
    def suppressed(self, site: str) -> set[str]: ...

    # manual tasks (an open task of a request keeps the request open)
    def add_task(self, task: NewTask, now: datetime) -> tuple[int, bool]: ...  # (id, created); same dedupe key → same task
    def tasks(self, *, site: str | None = None, status: str | None = None,
              request_id: int | None = None, limit: int = 200) -> list[Task]: ...  # by due date
    def get_task(self, task_id: int) -> Task | None: ...
    def close_task(self, task_id: int, now: datetime, *, status: str, note: str) -> bool:
        """Close an open task as done or waived, with an audit entry; completes its request when
        nothing else of it is left. False (and nothing written) when already closed."""
        ...
    def overdue_tasks(self, now: datetime, site: str | None = None) -> list[Task]: ...

    # linked records (docs/IDENTITY.md, "Linked records")
    def link_people(self, links: Sequence[PersonLink], now: datetime) -> list[int]:
        """Record each link, in order, in one transaction; returns the person id of each. The
        person is found by WordPress user id, else by ``replaces_hash``, else by contact id,
        else by email hash (an erased person is never found: a new one is made)."""
        ...

    def person(self, site: str, *, email_hash: str | None = None, wp_user_id: int | None = None,
               contact_id: int | None = None) -> Person | None:
        """The live (not erased) person with that email (current or past), user id or contact
        id; the newest when several match."""
        ...

    def unlink_contact(self, site: str, contact_id: int, now: datetime) -> int: ...  # contact gone; rows cleared
    def forget_person(self, site: str, person_id: int, now: datetime, *, consents_of: str | None = None,
                      suppress: Sequence[str] = (), reason: str = "erasure") -> bool:
        """Erasure: clear every plain email and contact id of the person, keep the keyed hashes,
        mark the person erased. In the same transaction: ``erase_consents`` for the hash
        ``consents_of``, and ``suppress`` each hash of ``suppress`` for ``reason``. False when
        there was nothing left of the person to clear."""
        ...

    # small key/value state (last reconcile, last retention sweep, exports made, ...)
    # -- residue scans (what an erasure left behind, by keyed hash, never values) --
    def record_scan(self, site: str, email_hash: str, findings: Sequence[Finding], now: datetime, *,
                    request_id: int | None = None) -> dict[str, int]:
        """Record a complete scan of one person: each finding is open or retained, a place the
        person's earlier scans found and this one did not becomes resolved. Returns the counts
        ``open``, ``retained`` and ``resolved`` (resolved by this scan)."""
        ...

    def residues(self, *, site: str | None = None, email_hash: str | None = None, status: str | None = None,
                 limit: int = 200) -> list[Residue]: ...  # newest first

    def get_state(self, key: str) -> str | None: ...
    def set_state(self, key: str, value: str) -> None: ...
