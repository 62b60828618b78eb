"""Privacy scan: after a full run of the real daemon (account deletion, unsubscribes both ways,
comment removal, exports) with DEBUG logging, once as plain text and once as JSON lines, no
plain email of the people involved is found in the daemon's log output, in any table of the
store (audit log, requests, steps, suppression, state), nor in the events the plugin has
acknowledged. (The export archives hold the person's data on purpose and are not scanned.)"""

from __future__ import annotations

import re
import sqlite3
import time
import urllib.parse

import pytest

from support.reliability import DaemonProcess, all_requests, json_lines, outbox_counts, outbox_rows, wait_until
from wpprivsync.identity import email_hash
from wpprivsync.store.api import DONE

pytestmark = pytest.mark.slow

SECRET = "test-site-secret-0123456789"
ANY_EMAIL = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def forms(email: str) -> list[str]:
    """The ways an email could show up: as is, upper-cased, URL-encoded."""
    return [email, email.upper(), urllib.parse.quote(email), urllib.parse.quote_plus(email)]


def run_until_done(system, config, log_path, expected_requests: int) -> None:
    daemon = DaemonProcess(config, log_path)
    try:
        def done():
            # the outbox first: once an event is acknowledged its request is in the store, so the
            # requests read after it include it (read the other way round, a request ingested
            # between the two reads would be missed while its event already counts as done)
            if outbox_counts(system.wp)["pending"]:
                return False
            reqs = all_requests(system.app.store, "test")
            return len(reqs) >= expected_requests and all(r.status == DONE for r in reqs)
        wait_until(done, timeout=240, interval=0.5, what="the run to finish")
    finally:
        assert daemon.stop() == 0


# The linked records keep a person's emails as the person's own data while their WordPress
# account exists (issue 12.3, docs/IDENTITY.md), and clear them on erasure: those rows are
# checked apart (``linked_live_emails``), every other row of every table is scanned.
LIVE_LINKS = ("SELECT e.email FROM person_emails e JOIN people p ON p.id = e.person_id "
              "WHERE p.erased_at IS NULL AND p.wp_user_id IS NOT NULL AND e.email IS NOT NULL")


def dump_store(path) -> str:
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        lines = []
        for table in tables:
            query = f'SELECT * FROM "{table}"'
            if table == "person_emails":
                query += (" WHERE person_id NOT IN (SELECT id FROM people WHERE erased_at IS NULL"
                          " AND wp_user_id IS NOT NULL)")
            for row in con.execute(query):
                lines.append(f"{table}: " + " | ".join(str(v) for v in row))
        return "\n".join(lines)
    finally:
        con.close()


def linked_live_emails(path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute(LIVE_LINKS)}
    finally:
        con.close()


def test_no_plain_email_in_logs_store_or_acknowledged_events(system, tmp_path):
    started = time.monotonic()
    ann, cal, dan, eva, fin = (f"{n}.scan@example.com" for n in ("ann", "cal", "dan", "eva", "fin"))
    gil, hana = "gil.scan@example.org", "Hana.Scan@Example.org"
    people = [ann, cal, dan, eva, fin, gil, hana.lower()]

    # -- phase 1, plain-text DEBUG log: erasure, unsubscribes both ways, comment removal, export
    ann_id = system.create_user(ann, consent=True)
    system.add_comment(ann)
    system.ac.add_contact(ann, lists={system.list_id: 1}, tags=["customer"])
    for _ in range(2):
        system.add_comment(cal)
    system.create_user(dan, consent=True)
    system.ac.add_contact(dan, lists={system.list_id: 1})
    eva_id = system.create_user(eva, consent=True)
    system.ac.add_contact(eva, lists={system.list_id: 1})
    system.create_user(fin, name="Fin Scan")
    system.add_comment(fin, "exported comment")
    system.ac.add_contact(fin, lists={system.list_id: 1})
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({ann_id});"
               f"update_user_meta({eva_id}, 'wpprivsync_newsletter', '0');"
               f"Wpprivsync_Outbox::record('comments.removal_requested', ['email' => '{cal}', 'source' => 'admin-page']);"
               f"Wpprivsync_Outbox::record('export.requested', ['email' => '{fin}', 'source' => 'admin-page']);")
    system.ac.unsubscribe_click(dan, system.list_id)
    system.ac.wait_deliveries(1)
    system.wait_outbox(1)
    text_log = tmp_path / "daemon.log"
    config = system.write_config(tmp_path / "text.toml", log_level="DEBUG", log_json=False, poll_interval_s=0.3,
                                 heartbeat_interval_s=1)
    run_until_done(system, config, text_log, expected_requests=5)

    # -- phase 2, JSON DEBUG log: a newsletter-only subscriber unsubscribes, another erasure, an export
    system.ac.add_contact(gil, lists={system.list_id: 1})
    system.ac.unsubscribe_click(gil, system.list_id)
    hana_id = system.create_user(hana.lower(), name="Hana Scan")
    system.add_comment(hana.lower(), "another comment")
    system.ac.add_contact(hana.lower(), lists={system.list_id: 1})
    system.php(f"Wpprivsync_Outbox::record('export.requested', ['email' => '{hana}', 'source' => 'admin-page']);")
    system.ac.wait_deliveries(2)
    json_log = tmp_path / "daemon.jsonl"
    config = system.write_config(tmp_path / "json.toml", log_level="DEBUG", log_json=True, poll_interval_s=0.3,
                                 heartbeat_interval_s=1)
    run_until_done(system, config, json_log, expected_requests=7)
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({hana_id});")
    run_until_done(system, config, json_log, expected_requests=8)

    # the run did what it should (so the scan looks at a full run, not an idle one)
    store = system.app.store
    actions = sorted(r.action for r in all_requests(store, "test"))
    assert actions.count("erase") == 2 and actions.count("export") == 2 and "remove_comments" in actions
    assert actions.count("unsubscribe") >= 3
    assert not system.user_exists(ann) and system.count_comments(cal) == 0
    assert all(system.ac.contact_view(e) is None for e in (ann, dan, eva, gil, hana.lower()))
    assert len(list((tmp_path / "exports").rglob("*.zip"))) >= 2

    # -- the scan --------------------------------------------------------------------------------
    plain, structured = text_log.read_text(), json_log.read_text()
    records = json_lines(structured)
    assert len(records) > 20 and any(r.get("level") == "debug" for r in records)
    assert plain.count(" DEBUG ") > 0 and "step done" in plain
    store_text = dump_store(tmp_path / "store.sqlite3")
    assert store.audit(limit=1) and "audit" in store_text
    # plain emails kept as linked records belong to accounts that still exist, none to the erased
    live = linked_live_emails(tmp_path / "store.sqlite3")
    assert all(system.user_exists(e) for e in live), live
    assert not live & {ann, hana.lower(), gil}, live
    acked = [r for r in outbox_rows(system.wp) if r["acked_at"]]
    assert len(acked) == outbox_counts(system.wp)["total"] >= 10
    acked_text = "\n".join(f"{r['type']} {r['payload']}" for r in acked)
    for where, text in (("text log", plain), ("JSON log", structured), ("store", store_text),
                        ("acknowledged events", acked_text)):
        for email in people:
            for form in forms(email):
                assert form not in text, f"{where} holds {email!r} (as {form!r})"
        # nothing shaped like an email either, except the site's own accounts
        found = {m for m in ANY_EMAIL.findall(text) if not m.endswith("@example.test")}
        assert not found, f"{where} holds {sorted(found)[:5]}"
    # what the audit log holds instead: keyed hashes
    for email in (ann, dan, eva, gil):
        assert email_hash(SECRET, email) in store_text
    assert email_hash(SECRET, hana.lower()) in acked_text
    print(f"\nprivacy scan: {len(plain.splitlines())} text and {len(records)} JSON log lines, "
          f"{len(store_text.splitlines())} store rows, {len(acked)} acknowledged events scanned "
          f"in a {time.monotonic() - started:.1f} s run")
