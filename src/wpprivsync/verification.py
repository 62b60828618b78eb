"""Verification of an erasure on demand: scan the WordPress database for people (by email) and
say where each one still lives; for a person already erased, record the scan, so places a fix
removed show as resolved and new ones as open. Before an erasure it answers "where does this
person live?" (nothing is recorded then)."""

from __future__ import annotations

from typing import Any, Sequence

from . import errors
from .app import App
from .engine import residues
from .identity import email_hash
from .services import _check_email
from .store.api import DONE


def verify(app: App, site_name: str, emails: Sequence[str], *, budget_ms: int = 2000) -> dict[str, Any]:
    """Scan ``site_name`` for ``emails`` (one pass for up to 200 of them, more in several)."""
    if not emails:
        raise errors.ConfigError("give at least one email", field="EMAIL")
    people = list(dict.fromkeys(_check_email(e) for e in emails))
    wordpress = app.clients(site_name).wordpress
    now = app.clock()
    out: list[dict[str, Any]] = []
    rows = tables = 0
    for start in range(0, len(people), residues.MAX_EMAILS):
        chunk = people[start:start + residues.MAX_EMAILS]
        report = residues.scan(wordpress, chunk, evidence_days=app.policy.evidence_days, budget_ms=budget_ms,
                               hashes=[email_hash(app.secret, e) for e in chunk])
        rows, tables = rows + report.rows, max(tables, report.tables)
        for i, email in enumerate(chunk):
            digest = email_hash(app.secret, email)
            erased = any(r.action == "erase" and r.status == DONE for r in app.store.requests_for_hash(digest, site_name))
            counts = app.store.record_scan(site_name, digest, report.findings[i], now) if erased else None
            out.append({
                "email_hash": digest,
                "erased": erased,
                "open": [_place(f) for f in report.open(i)],
                "retained": [_place(f) for f in report.retained(i)],
                "recorded": counts,
            })
    return {"site": site_name, "rows_scanned": rows, "tables_scanned": tables, "people": out,
            "clean": all(not p["open"] for p in out)}


def _place(f: Any) -> dict[str, Any]:
    return {"table": f.table, "column": f.column, "key": f.row_key, "kind": f.kind, "clause": f.clause,
            "until": f.retained_until.isoformat() if f.retained_until else None, "text": residues.describe(f)}


def residues_view(app: App, *, site: str | None = None, status: str | None = "open", limit: int = 200
                  ) -> list[dict[str, Any]]:
    """Places residue scans found, newest first (open ones by default)."""
    return [{"id": r.id, "site": r.site, "email_hash": r.email_hash, "request_id": r.request_id, "status": r.status,
             "table": r.table, "column": r.column, "key": r.row_key, "kind": r.kind, "clause": r.clause,
             "until": r.retained_until.isoformat() if r.retained_until else None, "found_at": r.found_at,
             "resolved_at": r.resolved_at, "text": residues.describe(r)}
            for r in app.store.residues(site=site, status=status, limit=limit)]
