"""Tools → Privacy Sync → Requests with 100,000 requests in the plugin's mirror table (issue 16.2):
how long WordPress takes to answer the list's first page, a deep page, a filtered and a
re-sorted view, and one POST /requests/mirror of 500 rows (what the daemon sends per page).

    .venv/bin/python bench/admin_requests_page.py [--requests 100000] [--rounds 5] [--profile current]

The rows are written straight into the table in chunks (what 200 daemon pages would leave);
each figure is the median of ``rounds`` requests with a logged-in administrator. Prints a table,
then one line ``key=value ...`` (seconds).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import last_line, print_machine, print_table, wordpress_stack  # noqa: E402

FILL = """
global $wpdb; $t = $wpdb->prefix . 'wpprivsync_requests';
$actions = ['erase', 'export', 'remove_comments', 'consent']; $statuses = ['done', 'done', 'done', 'open', 'failed', 'cancelled'];
$sources = ['event', 'admin-page', 'cli', 'reconcile']; $systems = ['{"wordpress":"done","activecampaign":"done"}', '{"wordpress":"done","webinarjam":"pending"}', '{"activecampaign":"failed"}'];
$base = %(base)d; $from = %(start)d; $to = %(stop)d;
for ($i = $from; $i < $to; $i += 1000) {
  $v = [];
  for ($j = $i; $j < min($to, $i + 1000); $j++) {
    $rec = gmdate('Y-m-d H:i:s', $base + $j * 300); $due = gmdate('Y-m-d H:i:s', $base + $j * 300 + 30 * 86400);
    $v[] = $wpdb->prepare('(%%d, %%s, %%s, %%s, %%s, %%s, %%s, %%s, %%s, 0, %%s, %%s)', $j + 1, $actions[$j %% 4], $statuses[$j %% 6], $sources[$j %% 4],
      hash('sha256', "p$j"), $rec, $due, $rec, $systems[$j %% 3], '[]', $rec);
  }
  $wpdb->query("INSERT INTO $t (id, action, status, source, email_hash, received_at, due_at, completed_at, systems, tasks_open, tasks, updated_at) VALUES " . implode(',', $v));
}
echo (int) $wpdb->get_var("SELECT COUNT(*) FROM $t");
"""


def login(stack) -> requests.Session:
    s = requests.Session()
    s.cookies.set("wordpress_test_cookie", "WP Cookie check")
    stack.php("delete_transient('_wc_activation_redirect');")
    s.post(f"{stack.url}/wp-login.php", data={"log": stack.admin_user, "pwd": stack.admin_password,
                                              "wp-submit": "Log In", "testcookie": "1"}, timeout=60)
    return s


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-") as tmp:
        stack = wordpress_stack(Path(tmp) / "stack", profile=args.profile)
        stack.start()
        try:
            base = int((datetime.now(timezone.utc) - timedelta(minutes=5 * args.requests)).timestamp())
            for start in range(0, args.requests, 20_000):
                count = stack.php(FILL % {"base": base, "start": start, "stop": min(args.requests, start + 20_000)})
            assert int(count) == args.requests, count
            admin = login(stack)
            url = f"{stack.url}/wp-admin/tools.php"
            views = {
                "first_page": {"page": "wpprivsync", "tab": "requests"},
                "deep_page": {"page": "wpprivsync", "tab": "requests", "paged": str(args.requests // 20 - 1)},
                "filtered": {"page": "wpprivsync", "tab": "requests", "wpprivsync_status": "failed",
                             "wpprivsync_system": "webinarjam"},
                "sorted_due": {"page": "wpprivsync", "tab": "requests", "orderby": "due_at", "order": "asc"},
                "overview": {"page": "wpprivsync"},
                "plain_admin_page": None,
            }
            figures: dict[str, float] = {}
            for name, params in views.items():
                def get() -> None:
                    target = f"{stack.url}/wp-admin/index.php" if params is None else url
                    resp = admin.get(target, params=params or {}, timeout=120)
                    resp.raise_for_status()
                    assert params is None or 'id="wpprivsync-admin"' in resp.text
                get()  # warm
                figures[f"{name}_s"] = statistics.median(timed(get) for _ in range(args.rounds))
            # The SQL alone, inside PHP (less disturbed by the machine's load than a page view).
            sql = stack.php_json("""
                $views = ['first_page' => [[], 'received_at', 'desc', 1], 'deep_page' => [[], 'received_at', 'desc', %(deep)d],
                          'filtered' => [['status' => 'failed', 'system' => 'webinarjam'], 'received_at', 'desc', 1],
                          'sorted_due' => [[], 'due_at', 'asc', 1]];
                $out = [];
                foreach ($views as $name => $v) { $t = [];
                  for ($i = 0; $i < %(rounds)d; $i++) { $s = microtime(true); Wpprivsync_Requests_Mirror::page($v[0], $v[1], $v[2], 20, $v[3]); $t[] = microtime(true) - $s; }
                  sort($t); $out[$name . '_sql_s'] = $t[intdiv(count($t), 2)]; }
                $t = [];
                for ($i = 0; $i < %(rounds)d; $i++) { delete_transient('wpprivsync_dashboard'); $s = microtime(true); Wpprivsync_Admin_Dashboard::stats(); $t[] = microtime(true) - $s; }
                sort($t); $out['dashboard_stats_sql_s'] = $t[intdiv(count($t), 2)];
                echo json_encode($out);""" % {"deep": args.requests // 20 - 1, "rounds": args.rounds})
            figures.update({k: float(v) for k, v in sql.items()})
            daemon = requests.Session()
            daemon.auth = (stack.service_user, stack.service_app_password)
            now = datetime.now(timezone.utc).isoformat()
            page = {"requests": [{"id": args.requests + i + 1, "action": "erase", "status": "open", "source": "event",
                                  "email_hash": f"{i:064x}", "received_at": now, "due_at": now,
                                  "systems": {"wordpress": "pending"}} for i in range(500)]}

            def push() -> None:
                daemon.post(f"{stack.url}/wp-json/wpprivsync/v1/requests/mirror", json=page, timeout=120).raise_for_status()
            push()
            figures["mirror_push_500_s"] = statistics.median(timed(push) for _ in range(args.rounds))
        finally:
            stack.stop()
    print_table(["view", "median s"], [[k, f"{v:.3f}"] for k, v in figures.items()])
    last_line({"requests": args.requests, **{k: round(v, 3) for k, v in figures.items()}})


if __name__ == "__main__":
    main()
