"""Daily retention sweep: orders whose legal retention has ended are anonymised with
WooCommerce's own anonymiser, and export archives past their time are deleted.

An order is kept until the end of the tax year of its creation plus the policy's number of
years (invoices, accounting law); the day after, it is due. The sweep asks the plugin only for
orders created before the latest date that can be due, then decides each with the policy.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable

from .. import errors
from ..clients.protocols import WordPressApi
from ..store.api import AuditEntry, Store

log = logging.getLogger(__name__)

BATCH = 100


@dataclass
class RetentionReport:
    checked: int = 0
    due: int = 0
    anonymized: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    woocommerce: bool = True
    dry_run: bool = False
    due_orders: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def latest_due_creation(policy: Any, today: date) -> date:
    """The first creation date whose orders are not yet due: every due order was created
    before it. Being due only gets truer the older an order is, so a binary search over days
    finds the boundary."""
    lo, hi = date(1970, 1, 1).toordinal(), today.toordinal() + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if policy.is_order_due(date.fromordinal(mid), today):
            lo = mid + 1
        else:
            hi = mid
    return date.fromordinal(lo)


def sweep_orders(site: Any, wordpress: WordPressApi, store: Store, policy: Any, today: date, now: datetime, *,
                 dry_run: bool = False, progress: Callable[[int], None] | None = None) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run)
    before = latest_due_creation(policy, today)
    due: list[dict[str, Any]] = []
    try:
        for order in wordpress.orders(before=before.isoformat()):
            report.checked += 1
            created = date.fromisoformat(str(order["created"])[:10])
            if policy.is_order_due(created, today):
                due.append({"id": int(order["id"]), "created": created.isoformat(),
                            "retained_until": policy.order_retained_until(created).isoformat()})
    except errors.WooCommerceMissing:
        report.woocommerce = False
        return report
    report.due = len(due)
    report.due_orders = due
    if dry_run or not due:
        return report
    reason = policy.rule("orders").explain(None) if hasattr(policy, "rule") else "orders"
    for start in range(0, len(due), BATCH):
        chunk = due[start:start + BATCH]
        answer = wordpress.anonymize_orders([o["id"] for o in chunk])
        done = {int(i) for i in answer.get("anonymized", [])}
        report.anonymized += len(done)
        report.skipped.extend(answer.get("skipped", []))
        store.add_audit([
            AuditEntry(site=site.name, email_hash=None, system="woocommerce", action="anonymize_order",
                       items_removed=1, reason=f"retention ended {o['retained_until']}: {reason}",
                       detail={"order_id": o["id"], "created": o["created"]}, at=now)
            for o in chunk if o["id"] in done
        ])
        if progress:
            progress(len(chunk))
    store.set_state(f"retention:{site.name}", now.isoformat())
    log.info("retention sweep done", extra={"site": site.name, "due": report.due, "anonymized": report.anonymized})
    return report


def sweep_exports(export_dir: Path, ttl_days: int, now: datetime) -> int:
    """Delete export archives older than ``ttl_days``; returns how many went."""
    if not export_dir.is_dir():
        return 0
    limit = now.timestamp() - ttl_days * 86400
    removed = 0
    for path in export_dir.glob("export-*.zip*"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
