"""Erasure latency while a flood of ActiveCampaign webhooks comes in (issue 13, point 1).

    .venv/bin/python bench/erasure_under_flood.py [--webhooks 10000] [--samples 10] [--no-priority]

A real WordPress with the plugin, the local ActiveCampaign server at 5 requests per second, and
the real daemon (default settings) running in this process. ``--webhooks`` unsubscribe
deliveries for as many different contacts are POSTed to the plugin's intake over HTTP from 8
threads (each becomes a consent-change request whose steps need ActiveCampaign), and the daemon
starts at once. Meanwhile ``--samples`` users are deleted one at a time, every 2 s once the
flood is under way; each latency runs from the outbox event (PHP's ``microtime`` right after
``wp_delete_user``) to the erasure request's ``completed_at`` in the store. ``--no-priority``
runs the same with the store's step priority switched off (every request in due order), the
behaviour before issue 13. Also reported: intake rate and status codes, how many consent
requests were still open when the last erasure finished, and the outbox purge figures (rows
and bytes of 100,000 acknowledged events before and after ``Wpprivsync_Outbox::purge``).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import requests
from _common import AC_TOKEN, last_line, percentile, print_machine, print_table, settings_for, wordpress_stack

from wpprivsync_devkit.acfake import ActiveCampaignServer
from wpprivsync.app import App
from wpprivsync.daemon import Daemon
from wpprivsync.identity import email_hash

RATE = 5

CREATE = r"""
$emails = json_decode(%(emails)s, true);
foreach ($emails as $i => $email) {
  $id = wp_insert_user(['user_login' => 'erase' . $i, 'user_email' => $email, 'user_pass' => 'x', 'role' => 'subscriber']);
  if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
}
echo count($emails);
"""

DELETE = r"""
$u = get_user_by('email', %(email)s);
wp_delete_user($u->ID);
echo json_encode(microtime(true));
"""

PURGE = r"""
global $wpdb;
$t = $wpdb->prefix . 'wpprivsync_outbox';
$wpdb->query("DELETE FROM $t");
$old = gmdate('Y-m-d H:i:s', time() - 40 * DAY_IN_SECONDS);
for ($chunk = 0; $chunk < 100; $chunk++) {
  $values = [];
  for ($i = 0; $i < 1000; $i++) {
    $n = $chunk * 1000 + $i;
    $payload = wp_json_encode(['email_hash' => hash('sha256', "p$n"), 'list_id' => 3, 'contact_id' => $n,
                               'date_time' => '2026-10-01 10:00:00', 'initiated_by' => 'customer']);
    $values[] = $wpdb->prepare('(%s, %s, %s, %s, %s)', 'newsletter.unsubscribed', $payload, "ac:$n", $old, $old);
  }
  $wpdb->query("INSERT INTO $t (type, payload, dedupe_key, created_at, acked_at) VALUES " . implode(',', $values));
}
$size = function () use ($wpdb, $t) {
  $wpdb->query("ANALYZE TABLE $t");
  $r = $wpdb->get_row($wpdb->prepare('SELECT data_length + index_length AS b FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s', $t), ARRAY_A);
  return (int) $r['b'];
};
$rows_before = (int) $wpdb->get_var("SELECT COUNT(*) FROM $t");
$payload_before = (int) $wpdb->get_var("SELECT SUM(LENGTH(payload)) FROM $t");
$bytes_before = $size();
$started = microtime(true);
$deleted = Wpprivsync_Outbox::purge();
$seconds = microtime(true) - $started;
$wpdb->query("OPTIMIZE TABLE $t");
echo json_encode(['rows_before' => $rows_before, 'payload_bytes_before' => $payload_before, 'table_bytes_before' => $bytes_before,
                  'deleted' => $deleted, 'purge_s' => $seconds, 'rows_after' => (int) $wpdb->get_var("SELECT COUNT(*) FROM $t"),
                  'table_bytes_after' => $size()]);
"""


def php_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--no-priority", action="store_true", help="switch the step priority off (before issue 13)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    print_machine()
    if args.no_priority:
        import wpprivsync.store.ingest as ingest  # where new steps get their priority
        ingest.PRIORITY_ACTIONS = frozenset()

    targets = [f"target{i}@example.test" for i in range(args.samples)]
    flood = [f"flood{i}@example.test" for i in range(args.webhooks)]
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        ac = ActiveCampaignServer(port=0, token=AC_TOKEN, rate=RATE).start()
        stack = wordpress_stack(tmp / "stack")
        try:
            stack.start()
            list_id = ac.add_list("Newsletter")
            other = ac.add_list("Other")
            for email in targets:
                ac.add_contact(email, lists={list_id: 1})
            for email in flood:  # on another list too: the consent change keeps the contact
                ac.add_contact(email, lists={list_id: 2, other: 1})
            stack.php(CREATE % {"emails": php_str(json.dumps(targets))}, timeout=600)
            purge = json.loads(stack.php(PURGE, timeout=1800))

            settings = settings_for(stack.url, stack.service_user, stack.service_app_password, ac.url, list_id, tmp)
            app = App(settings)
            intake = f"{stack.url}/?rest_route=/wpprivsync/v1/webhook/activecampaign/" + \
                stack.php("echo Wpprivsync_Webhook::secret();")
            codes: dict[int, int] = {}
            lock = threading.Lock()
            session = threading.local()

            def post(i: int) -> None:
                s = getattr(session, "s", None) or requests.Session()
                session.s = s
                when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
                r = s.post(intake, data={"type": "unsubscribe", "date_time": when, "list": str(list_id),
                                         "contact[id]": str(1000 + i), "contact[email]": flood[i],
                                         "initiated_by": "customer"}, timeout=120)
                with lock:
                    codes[r.status_code] = codes.get(r.status_code, 0) + 1

            daemon = Daemon(app)
            thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
            pool = ThreadPoolExecutor(8)
            t0 = time.monotonic()
            futures = [pool.submit(post, i) for i in range(len(flood))]
            thread.start()
            time.sleep(5.0)  # the flood is under way
            latencies, open_consent = [], []
            for email in targets:
                at = json.loads(stack.php(DELETE % {"email": php_str(email)}))
                digest = email_hash(app.secret, email)
                deadline = time.monotonic() + 900
                finished = None
                while time.monotonic() < deadline:
                    reqs = [r for r in app.store.requests_for_hash(digest) if r.completed_at is not None]
                    if reqs:
                        finished = reqs[0].completed_at
                        break
                    time.sleep(0.05)
                if finished is None:
                    raise SystemExit(f"an erasure did not finish within 900 s ({len(latencies)} done)")
                latencies.append(finished.timestamp() - at)
                open_consent.append(app.store.count_requests(status="open"))
                time.sleep(2.0)
            for f in futures:
                f.result()
            intake_s = time.monotonic() - t0
            counts = app.store.counts()
            daemon.stop.set()
            thread.join(timeout=120)
            pool.shutdown()
            server = ac.counters()
        finally:
            try:
                stack.stop()
            finally:
                ac.stop()

    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    mode = "off" if args.no_priority else "on"
    print()
    print_table(["figure", "measured"], [
        ["step priority", mode],
        ["webhooks posted", len(flood)],
        ["intake status codes", json.dumps(codes, sort_keys=True)],
        ["intake wall time until all answered (s)", intake_s],
        ["erasure latency p50 (s)", p50],
        ["erasure latency p95 (s)", p95],
        ["erasure latency max (s)", max(latencies)],
        ["samples", len(latencies)],
        ["consent requests still open at the last erasure", open_consent[-1]],
        ["requests done at the end", counts["requests_done"]],
        ["HTTP 429 from ActiveCampaign", server["http429"]],
        ["purge: acknowledged rows before", purge["rows_before"]],
        ["purge: payload bytes before", purge["payload_bytes_before"]],
        ["purge: table bytes before (data + index)", purge["table_bytes_before"]],
        ["purge: rows deleted", purge["deleted"]],
        ["purge: time (s)", purge["purge_s"]],
        ["purge: table bytes after OPTIMIZE", purge["table_bytes_after"]],
    ])
    last_line({"priority": mode, "webhooks": len(flood), "p50_s": p50, "p95_s": p95, "max_s": max(latencies),
               "samples": len(latencies), "open_consent_at_last": open_consent[-1], "http429": server["http429"],
               "purge_rows": purge["deleted"], "purge_s": purge["purge_s"],
               "table_bytes_before": purge["table_bytes_before"], "table_bytes_after": purge["table_bytes_after"]})


if __name__ == "__main__":
    main()
