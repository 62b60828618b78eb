"""The residue scan on a large site, side by side with erasure throughput.

    .venv/bin/python bench/residue_scan.py [--rows 1000000] [--erasures 200]

1. Seeding: a real WordPress (with WooCommerce and Thrive on the ``current`` profile) gets
   about ``--rows`` rows spread like a real site's: posts with text, postmeta (some serialized),
   comments by thousands of other people with their Gravatar meta, options, and the Thrive Leads
   and Thrive Comments tables, written in bulk through MariaDB's sequence engine.
2. Scan cost: one complete scan (the plugin's ``POST scan`` pages, as the daemon drives them)
   for 1 email and for 25 emails in one pass: seconds, rows read per second, pages.
3. Erasure throughput at a backlog: ``--erasures`` account deletions (each with an
   ActiveCampaign contact, the local server at 5 requests/s) drained by the real daemon, once
   with the residue scan off and once on, on the same seeded site, ``--rounds`` times each,
   alternated. An erasure counts when every system is erased (its last non-proof step is
   done); the proof (the verify step) follows and completes the request, so the table also
   gives the time to drain the backlog with every proof and how long a proof came after its
   erasure. Target: the scan costs at most 10 % of erasures per second; every scan finishes
   (each erasure's verify step is done).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import threading
import time
from pathlib import Path

from _common import AC_TOKEN, last_line, print_machine, print_table, settings_for, wordpress_stack

from wpprivsync_devkit.acfake import ActiveCampaignServer
from wpprivsync.app import App
from wpprivsync.daemon import Daemon
from wpprivsync.engine import residues

RATE = 5

# Bulk rows through MariaDB's sequence engine (seq_1_to_N): cheap to write, realistic to read.
SEED = r"""
SET @p = '{p}';
INSERT INTO {p}posts (post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt, post_status,
  post_name, to_ping, pinged, post_modified, post_modified_gmt, post_content_filtered, post_type, guid)
SELECT 1, NOW(), NOW(), REPEAT(CONCAT('Lorem ipsum dolor sit amet, consectetur adipiscing elit ', seq, '. '), 8),
  CONCAT('Post ', seq), '', 'publish', CONCAT('post-', seq), '', '', NOW(), NOW(), '', 'post',
  CONCAT('https://example.test/?p=', seq) FROM seq_1_to_{posts};
INSERT INTO {p}postmeta (post_id, meta_key, meta_value)
SELECT 1 + seq % {posts}, CONCAT('_meta_', seq % 40),
  IF(seq % 5 = 0, CONCAT('a:2:{{s:4:"name";s:8:"Person ', LPAD(seq % 1000, 2, '0'), '";s:5:"email";s:22:"p', LPAD(seq % 99999, 5, '0'), '@example-other.org";}}'),
     CONCAT('value ', seq)) FROM seq_1_to_{postmeta};
INSERT INTO {p}comments (comment_post_ID, comment_author, comment_author_email, comment_author_url, comment_author_IP,
  comment_date, comment_date_gmt, comment_content, comment_approved, comment_agent, comment_type)
SELECT 1 + seq % {posts}, CONCAT('Person ', seq % 5000), CONCAT('person', seq % 5000, '@example-other.org'), '', '127.0.0.1',
  NOW(), NOW(), CONCAT('A comment about post ', seq, ', thanks for writing it.'), '1', 'Mozilla/5.0', 'comment' FROM seq_1_to_{comments};
INSERT INTO {p}commentmeta (comment_id, meta_key, meta_value)
SELECT seq, 'comment_author_picture', CONCAT('https://secure.gravatar.com/avatar/', MD5(CONCAT('person', seq % 5000, '@example-other.org')), '?s=48')
  FROM seq_1_to_{commentmeta};
INSERT INTO {p}options (option_name, option_value, autoload)
SELECT CONCAT('bench_option_', seq), CONCAT('{{"n":', seq, ',"note":"a setting of some plugin"}}'), 'no' FROM seq_1_to_{options};
"""

THRIVE = r"""
INSERT INTO {p}tve_leads_contacts (log_id, name, email, date, custom_fields)
SELECT seq, CONCAT('Lead ', seq), CONCAT('lead', seq, '@example-other.org'), NOW(), '' FROM seq_1_to_{thrive};
INSERT INTO {p}tcm_email_hash (email, email_hash)
SELECT CONCAT('person', seq, '@example-other.org'), MD5(CONCAT('person', seq, '@example-other.org')) FROM seq_1_to_{thrive};
"""

CREATE = r"""
$emails = json_decode(%(emails)s, true);
foreach ($emails as $i => $email) {
  $id = wp_insert_user(['user_login' => 'erase' . $i, 'user_email' => $email, 'display_name' => 'Person ' . $i,
                        'user_pass' => 'x', 'role' => 'subscriber']);
  if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
  wp_insert_comment(['comment_post_ID' => 1, 'comment_author' => 'Person ' . $i, 'comment_author_email' => $email,
                     'comment_content' => 'Hello', 'comment_approved' => 1, 'user_id' => $id]);
}
echo count($emails);
"""

DELETE = r"""
$emails = json_decode(%(emails)s, true);
foreach ($emails as $email) { $u = get_user_by('email', $email); wp_delete_user($u->ID); }
echo count($emails);
"""


def php_list(values: list[str]) -> str:
    return "'" + json.dumps(values).replace("\\", "\\\\").replace("'", "\\'") + "'"


def exact_rows(stack, tables: list[str]) -> int:
    return sum(int(stack.sql(f"SELECT COUNT(*) FROM {t}").strip()) for t in tables)


def seed(stack, rows: int) -> tuple[int, float]:
    p = stack.php("global $wpdb; echo $wpdb->prefix;")
    share = {"posts": 0.10, "postmeta": 0.40, "comments": 0.15, "commentmeta": 0.15, "options": 0.05, "thrive": 0.075}
    n = {k: max(1, int(rows * v)) for k, v in share.items()}
    started = time.monotonic()
    stack.sql(SEED.format(p=p, **n))
    has_thrive = bool(stack.sql(f"SHOW TABLES LIKE '{p}tve_leads_contacts'").strip())
    if has_thrive:
        stack.sql(THRIVE.format(p=p, **n))
    total = exact_rows(stack, [f"{p}{t}" for t in ("posts", "postmeta", "comments", "commentmeta", "options")] +
                       ([f"{p}tve_leads_contacts", f"{p}tcm_email_hash"] if has_thrive else []))
    return total, time.monotonic() - started


def scan_cost(app: App, emails: list[str]) -> dict[str, float]:
    wordpress = app.clients("bench").wordpress
    started = time.monotonic()
    report = residues.scan(wordpress, emails, evidence_days=30)
    seconds = time.monotonic() - started
    return {"emails": len(emails), "seconds": seconds, "rows": report.rows, "rows_per_s": report.rows / seconds,
            "pages": report.pages, "found": sum(len(f) for f in report.findings)}


def drain(stack, ac, list_id: int, tmp: Path, emails: list[str], *, scan: bool, tag: str) -> dict[str, float]:
    """Delete the accounts of ``emails`` and let the daemon drain the backlog."""
    for email in emails:
        ac.add_contact(email, lists={list_id: 1})
    stack.php(CREATE % {"emails": php_list(emails)}, timeout=1800)
    settings = settings_for(stack.url, stack.service_user, stack.service_app_password, ac.url, list_id,
                            tmp / tag)
    settings.sites[0].residue_scan = scan
    (tmp / tag).mkdir(parents=True, exist_ok=True)
    app = App(settings)
    app.clients("bench").wordpress.status()
    # the set-up's events, if any, are taken before the clock runs
    daemon = Daemon(app)
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    while app.clients("bench").wordpress.status()["outbox"]["pending"]:
        time.sleep(0.2)
    stack.php(DELETE % {"emails": php_list(emails)}, timeout=1800)
    t0 = time.monotonic()
    want = len(emails)
    while app.store.count_requests(status="done") < want:
        time.sleep(0.2)
        if time.monotonic() - t0 > 3600:
            raise SystemExit(f"{tag}: backlog not drained after an hour")
    seconds = time.monotonic() - t0
    # An erasure is done for the person when its last non-proof step is; the proof (the
    # wordpress/verify step) follows it and completes the request.
    requests = app.store.list_requests(site="bench", limit=100000)
    steps = app.store.steps_of_many([r.id for r in requests])
    erased_at: list[float] = []
    lags: list[float] = []
    for r in requests:
        work = [s for s in steps.get(r.id, []) if (s.system, s.action) != ("wordpress", "verify")]
        if not work or any(s.status != "done" for s in work):
            continue
        end = max(s.updated_at.timestamp() for s in work)
        erased_at.append(end)
        if r.completed_at is not None:
            lags.append(max(0.0, r.completed_at.timestamp() - end))
    start = time.time() - (time.monotonic() - t0)
    erased_at.sort()
    erased_s = erased_at[-1] - start if erased_at else float("nan")
    lo, hi = erased_at[int(0.2 * (len(erased_at) - 1))], erased_at[int(0.8 * (len(erased_at) - 1))]
    steady = (int(0.8 * (len(erased_at) - 1)) - int(0.2 * (len(erased_at) - 1))) / (hi - lo) if hi > lo else float("nan")
    lags.sort()
    verify = [a for a in app.store.audit(site="bench", limit=100000) if a.action == "residue_scan"]
    daemon.stop.set()
    thread.join(timeout=120)
    counts = app.store.counts()
    app.close()
    return {"erasures": want, "seconds": erased_s, "per_s": len(erased_at) / erased_s, "steady_per_s": steady,
            "drained_s": seconds, "lag_median_s": lags[len(lags) // 2] if lags else float("nan"),
            "lag_max_s": lags[-1] if lags else float("nan"), "scans": len(verify),
            "residues_open": counts["residues_open"], "dead": counts["steps_dead"]}


def _total(runs: list[dict[str, float]]) -> dict[str, float]:
    erasures = sum(r["erasures"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {"erasures": erasures, "seconds": seconds, "per_s": erasures / seconds,
            "steady_per_s": sum(r["steady_per_s"] for r in runs) / len(runs),
            "drained_s": sum(r["drained_s"] for r in runs),
            "lag_median_s": sorted(r["lag_median_s"] for r in runs)[len(runs) // 2],
            "lag_max_s": max(r["lag_max_s"] for r in runs),
            "scans": sum(r["scans"] for r in runs), "residues_open": sum(r["residues_open"] for r in runs),
            "dead": sum(r["dead"] for r in runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows seeded (default 1,000,000)")
    parser.add_argument("--erasures", type=int, default=100, help="erasures per backlog run (default 100)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="backlog runs of each kind, alternated off/on so a change in the machine's load "
                             "falls on both (default 2)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    print_machine()
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        ac = ActiveCampaignServer(port=0, token=AC_TOKEN, rate=RATE).start()
        stack = wordpress_stack(tmp / "stack")
        try:
            stack.start()
            list_id = ac.add_list("Newsletter")
            seeded, seed_s = seed(stack, args.rows)
            print(f"seeded {seeded} rows in {seed_s:.1f} s", flush=True)
            settings = settings_for(stack.url, stack.service_user, stack.service_app_password, ac.url, list_id,
                                    tmp / "scan")
            (tmp / "scan").mkdir()
            app = App(settings)
            one = scan_cost(app, ["nobody.here@example.test"])
            print(f"scan, 1 email: {one['seconds']:.1f} s", flush=True)
            many = scan_cost(app, [f"nobody{i}@example.test" for i in range(residues.MAX_EMAILS)])
            print(f"scan, {residues.MAX_EMAILS} emails: {many['seconds']:.1f} s", flush=True)
            app.close()
            runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
            for r in range(args.rounds):
                for scan in (False, True):
                    tag = f"{'on' if scan else 'off'}{r}"
                    result = drain(stack, ac, list_id, tmp, [f"{tag}x{i}@example.test" for i in range(args.erasures)],
                                   scan=scan, tag=tag)
                    runs[scan].append(result)
                    print(f"backlog {r + 1}, scan {'on' if scan else 'off'}: {result['per_s']:.2f} erasures/s "
                          f"(steady {result['steady_per_s']:.2f}), drained with proofs in "
                          f"{result['drained_s']:.0f} s, {result['scans']} scans, "
                          f"{result['residues_open']} residues", flush=True)
            off, on = (_total(runs[False]), _total(runs[True]))
            http429 = ac.counters()["http429"]
        finally:
            try:
                stack.stop()
            finally:
                ac.stop()
    cost = 1 - on["per_s"] / off["per_s"]
    steady_cost = 1 - on["steady_per_s"] / off["steady_per_s"]
    print()
    print_table(["figure", "measured", "target"], [
        ["rows seeded", seeded, ">= 1,000,000"],
        ["scan of 1 email (s)", one["seconds"], ""],
        ["  rows read per second", one["rows_per_s"], ""],
        [f"scan of {many['emails']} emails in one pass (s)", many["seconds"], ""],
        ["  rows read per second", many["rows_per_s"], ""],
        ["  pages", many["pages"], ""],
        ["erasures/s at a backlog, scan off", off["per_s"], ""],
        ["erasures/s at a backlog, scan on", on["per_s"], ""],
        ["  steady (20th to 80th percentile of completions), off", off["steady_per_s"], ""],
        ["  steady, on", on["steady_per_s"], ""],
        ["backlog drained, proofs included (s), off", off["drained_s"], ""],
        ["backlog drained, proofs included (s), on", on["drained_s"], ""],
        ["proof after erasure, median (s)", on["lag_median_s"], ""],
        ["proof after erasure, longest (s)", on["lag_max_s"], ""],
        ["throughput cost of the scan, whole backlog", f"{100 * cost:.1f} %", "<= 10 %"],
        ["throughput cost of the scan, steady", f"{100 * steady_cost:.1f} %", "<= 10 %"],
        ["scans done (scan on)", on["scans"], f"= {on['erasures']}"],
        ["residues found", on["residues_open"], "0"],
        ["dead steps", off["dead"] + on["dead"], "0"],
        ["HTTP 429", http429, "0"],
    ])
    last_line({"rows": seeded, "scan1_s": one["seconds"], "scan25_s": many["seconds"],
               "rows_per_s": one["rows_per_s"], "off_per_s": off["per_s"], "on_per_s": on["per_s"],
               "cost": cost, "steady_cost": steady_cost,
               "drained_off_s": off["drained_s"], "drained_on_s": on["drained_s"], "lag_max_s": on["lag_max_s"], "scans": on["scans"], "residues_open": on["residues_open"], "http429": http429})


if __name__ == "__main__":
    main()
