"""The residue scan, driven from the daemon: pages of the plugin's ``POST scan`` until the whole
WordPress database has been read for one or more emails, resumable from a saved cursor, and the
findings turned into ``Finding`` places (table, column, row key, kind; never a value).

The plugin does the reading (it knows the tables, the retention of orders and the request
records); the daemon keeps the cursor and what was found so far in its store's state, so a scan
interrupted by a restart goes on from its last page instead of starting over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Sequence

from .. import errors
from ..clients.protocols import WordPressApi
from ..store.api import Finding

MAX_EMAILS = 200  # the plugin's limit per scan (one reading costs about the same for 1 as for 200)
UNSCANNED = "unscanned"  # the kind of a finding that stands for a table the scan could not read


@dataclass
class ScanReport:
    """One complete scan: per email (in the order given) its findings; the tables that could
    not be read (each also a finding of kind ``unscanned`` for every email, so it is never
    taken for clean); how much was read."""

    findings: list[list[Finding]]
    unscanned: list[str] = field(default_factory=list)
    rows: int = 0
    tables: int = 0
    pages: int = 0
    resumed: bool = False

    def open(self, index: int = 0) -> list[Finding]:
        return [f for f in self.findings[index] if not f.retained]

    def retained(self, index: int = 0) -> list[Finding]:
        return [f for f in self.findings[index] if f.retained]

    def only(self, index: int) -> "ScanReport":
        """The report of one of its emails, alone."""
        return ScanReport([self.findings[index]], list(self.unscanned), self.rows, self.tables, self.pages,
                          self.resumed)


class ScanState:
    """Where a scan stands, kept under one key of the store's state (no values, no email)."""

    def __init__(self, get: Callable[[str], str | None], put: Callable[[str, str], None], key: str):
        self._get, self._put, self.key = get, put, key

    def load(self) -> dict[str, Any] | None:
        text = self._get(self.key)
        if not text:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("cursor") else None

    def save(self, data: dict[str, Any]) -> None:
        self._put(self.key, json.dumps(data, separators=(",", ":")))

    def clear(self) -> None:
        self._put(self.key, "")


def finding(item: dict[str, Any]) -> Finding:
    """A place from the plugin's answer; BadResponse for one that is not."""
    try:
        retained = item.get("retained") or None
        until = retained.get("until") if isinstance(retained, dict) else None
        return Finding(table=str(item["table"]), column=str(item["column"]), row_key=str(item["key"]),
                       kind=str(item["kind"]),
                       clause=str(retained.get("clause") or "policy") if isinstance(retained, dict) else None,
                       retained_until=date.fromisoformat(until) if until else None)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise errors.BadResponse("a residue scan finding without table, column, key and kind",
                                 system="wordpress") from None


def scan(wordpress: WordPressApi, emails: Sequence[str], *, evidence_days: int, budget_ms: int = 2000,
         state: ScanState | None = None, max_pages: int = 100_000, hashes: Sequence[str] = ()) -> ScanReport:
    """Scan the site for ``emails`` (at most MAX_EMAILS) to the end, saving the cursor after each page
    when ``state`` is given (and resuming from it). ``hashes`` (the daemon's keyed hash of each
    email) name the plugin's record of the latest scan, which the admin page reads."""
    if not 1 <= len(emails) <= MAX_EMAILS:
        raise ValueError(f"a scan covers 1 to {MAX_EMAILS} emails")
    found: list[list[dict[str, Any]]] = [[] for _ in emails]
    saved = state.load() if state is not None else None
    cursor, unscanned, rows, tables, pages = "", [], 0, 0, 0
    if saved is not None and len(saved.get("found", [])) == len(emails):
        cursor, found = str(saved["cursor"]), saved["found"]
        unscanned, rows = list(saved.get("unscanned", [])), int(saved.get("rows", 0))
        tables, pages = int(saved.get("tables", 0)), int(saved.get("pages", 0))
    resumed = bool(cursor)
    for _ in range(max_pages):
        page = wordpress.scan(emails, cursor=cursor, evidence_days=evidence_days, budget_ms=budget_ms,
                              hashes=list(hashes) if len(hashes) == len(emails) else [])
        pages += 1
        rows += int(page.get("rows_scanned", 0))
        tables += int(page.get("tables_scanned", 0))
        for item in page.get("found") or []:
            index = item.get("email") if isinstance(item, dict) else None
            if not isinstance(index, int) or not 0 <= index < len(emails):
                raise errors.BadResponse("a residue scan finding for an email not asked about", system="wordpress")
            found[index].append({k: item[k] for k in ("table", "column", "key", "kind", "retained") if k in item})
        unscanned += [str(u.get("table", "")) for u in page.get("unscanned") or [] if isinstance(u, dict)]
        if page.get("done"):
            break
        cursor = str(page.get("cursor") or "")
        if not cursor:
            raise errors.BadResponse("a residue scan page that is neither done nor gives a cursor", system="wordpress")
        if state is not None:
            state.save({"cursor": cursor, "found": found, "unscanned": unscanned, "rows": rows, "tables": tables,
                        "pages": pages})
    else:
        raise errors.BadResponse(f"the residue scan did not end within {max_pages} pages", system="wordpress")
    if state is not None:
        state.clear()
    findings = [_dedupe([finding(i) for i in items]) + [Finding(t, "*", "", UNSCANNED) for t in unscanned]
                for items in found]
    return ScanReport(findings, unscanned, rows, tables, pages, resumed)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: dict[tuple[str, str, str, str], Finding] = {}
    for f in findings:
        seen.setdefault((f.table, f.column, f.row_key, f.kind), f)
    return list(seen.values())


def describe(f: Finding) -> str:
    """A place as one line, e.g. ``wp_commentmeta.meta_value #12 (md5)``."""
    if f.kind == UNSCANNED:
        return f"{f.table} (could not be read)"
    where = f"{f.table}.{f.column}" + (f" #{f.row_key}" if f.row_key else "")
    kept = f", kept under {f.clause} until {f.retained_until}" if f.retained else ""
    return f"{where} ({f.kind}{kept})"
