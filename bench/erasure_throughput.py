"""Account erasures end to end: a real WordPress with the plugin, the local ActiveCampaign
server at 5 requests per second, and the real daemon (``wpprivsync.daemon.Daemon``, default
settings: poll every 1 s, 4 steps at a time, 120 s leases) running in this process.

    .venv/bin/python bench/erasure_throughput.py [--users 1000] [--samples 30]

1. Backlog: ``--users`` WordPress users (each with an ActiveCampaign contact on the newsletter
   list) are deleted in one PHP process, which leaves one ``account.deleted`` event each in the
   plugin's outbox. Then the daemon starts, and the clock runs until every erasure request is
   done (WordPress erasers, ActiveCampaign find + delete, suppression). Figures: erasures per
   second, ActiveCampaign calls per second while ActiveCampaign steps are queued (from the
   server's own log of accepted requests) ÷ 5, and 429s.
2. Idle latency: with the daemon idle, ``--samples`` users are deleted one at a time; each
   latency runs from the moment the outbox event was written (PHP's ``microtime`` right after
   ``wp_delete_user``) to the request's ``completed_at`` in the store.

Targets: budget share >= 90 %, zero 429s, idle p95 <= 2 s. The ceiling is 5 ÷ (ActiveCampaign
calls per erasure) erasures per second.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import threading
import time
from pathlib import Path

from _common import AC_TOKEN, last_line, percentile, print_machine, print_table, settings_for, wordpress_stack

from wpprivsync_devkit.acfake import ActiveCampaignServer
from wpprivsync.app import App
from wpprivsync.daemon import Daemon
from wpprivsync.identity import email_hash

RATE = 5

CREATE = r"""
$emails = json_decode(%(emails)s, true);
foreach ($emails as $i => $email) {
  $id = wp_insert_user(['user_login' => 'erase' . $i, 'user_email' => $email, 'display_name' => 'Person ' . $i,
                        'user_pass' => 'x', 'role' => 'subscriber']);
  if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
}
echo count($emails);
"""

DELETE = r"""
$emails = json_decode(%(emails)s, true);
$at = [];
foreach ($emails as $email) {
  $u = get_user_by('email', $email);
  if (!$u) { fwrite(STDERR, 'no user'); exit(1); }
  wp_delete_user($u->ID);
  $at[] = microtime(true);
}
echo json_encode($at);
"""


def php_list(values: list[str]) -> str:
    return "'" + json.dumps(values).replace("\\", "\\\\").replace("'", "\\'") + "'"


def time_calls(client: object, name: str, times: list[float] | None = None) -> list[float]:
    """Record how long each call of ``client.name`` takes (seconds), on this one instance."""
    inner = getattr(client, name)
    times = [] if times is None else times

    def timed(*args, **kwargs):
        started = time.monotonic()
        try:
            return inner(*args, **kwargs)
        finally:
            times.append(time.monotonic() - started)

    setattr(client, name, timed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000, help="erasures in the backlog (default 1000)")
    parser.add_argument("--samples", type=int, default=30, help="idle latency samples (default 30)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: already running" while a poll works
    print_machine()

    backlog = [f"erase{i}@example.test" for i in range(args.users)]
    idle = [f"idle{i}@example.test" for i in range(args.samples)]
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        ac = ActiveCampaignServer(port=0, token=AC_TOKEN, rate=RATE).start()
        stack = wordpress_stack(tmp / "stack")
        try:
            stack.start()
            list_id = ac.add_list("Newsletter")
            for email in backlog + idle:
                ac.add_contact(email, lists={list_id: 1})
            started = time.monotonic()
            stack.php(CREATE % {"emails": php_list(backlog + idle)}, timeout=1800)
            print(f"set-up: {len(backlog) + len(idle)} users and contacts in {time.monotonic() - started:.1f} s")

            settings = settings_for(stack.url, stack.service_user, stack.service_app_password, ac.url, list_id, tmp)
            app = App(settings)
            secret = app.secret
            # any events of the set-up (none expected) are acknowledged before the clock runs
            wordpress = app.clients("bench").wordpress
            pending_before = wordpress.status()["outbox"]["pending"]
            erase_times = time_calls(wordpress, "erase")
            if hasattr(wordpress, "erase_batch"):  # the worker sends erasures claimed together in one call
                erase_times = time_calls(wordpress, "erase_batch", erase_times)

            started = time.monotonic()
            stack.php(DELETE % {"emails": php_list(backlog)}, timeout=1800)
            print(f"backlog: {len(backlog)} users deleted in {time.monotonic() - started:.1f} s "
                  f"(outbox pending before: {pending_before})")

            daemon = Daemon(app)
            thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, daemon=True)
            ac_before = len(ac.account().window.accepted)
            t0 = time.monotonic()
            thread.start()
            done = 0
            while done < len(backlog):
                time.sleep(0.25)
                done = app.store.counts()["requests_done"]
                if time.monotonic() - t0 > 3600:
                    raise SystemExit(f"backlog not drained after an hour ({done} done)")
            t_drained = time.monotonic()
            backlog_erase_times = list(erase_times)
            accepted = list(ac.account().window.accepted)[ac_before:]
            counts = app.store.counts()
            drain_s = t_drained - t0
            calls = len(accepted)
            window_s = accepted[-1] - accepted[0] if calls > 1 else float("nan")
            ac_rate = (calls - 1) / window_s if calls > 1 else 0.0
            per_erasure = calls / len(backlog)
            print(f"backlog drained: {len(backlog)} erasures in {drain_s:.1f} s; "
                  f"steps done {counts['steps_done']}, dead {counts['steps_dead']}")

            # idle latency: one deletion at a time, the daemon otherwise idle
            time.sleep(2.0)
            latencies = []
            rng = random.Random(7)
            for email in idle:
                time.sleep(rng.uniform(0.2, 1.2))  # land anywhere in the poll interval
                at = json.loads(stack.php(DELETE % {"emails": php_list([email])}))[0]
                digest = email_hash(secret, email)
                deadline = time.monotonic() + 60
                finished = None
                while time.monotonic() < deadline:
                    reqs = [r for r in app.store.requests_for_hash(digest) if r.completed_at is not None]
                    if reqs:
                        finished = reqs[0].completed_at
                        break
                    time.sleep(0.01)
                if finished is None:
                    raise SystemExit("an idle erasure did not finish within 60 s")
                latencies.append(finished.timestamp() - at)
            daemon.stop.set()
            thread.join(timeout=60)
            server = ac.counters()
        finally:
            try:
                stack.stop()
            finally:
                ac.stop()

    http429 = server["http429"]
    share = ac_rate / RATE
    ceiling = RATE / per_erasure
    throughput = len(backlog) / drain_s
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print()
    print_table(["figure", "measured", "target / ceiling"], [
        ["erasures", len(backlog), ""],
        ["erasures per second", throughput, f"ceiling {ceiling:.2f} (5 / {per_erasure:.2f} calls)"],
        ["ActiveCampaign calls per erasure", per_erasure, "find + delete = 2"],
        ["ActiveCampaign calls/s while queued", ac_rate, f"{RATE}"],
        ["share of the budget", f"{100 * share:.1f} %", ">= 90 %"],
        ["max requests in any second (server)", server["max_per_second"], f"<= {RATE}"],
        ["HTTP 429", http429, "0"],
        ["WordPress erase call p50 (s), backlog", percentile(backlog_erase_times, 0.5), ""],
        ["WordPress erase call p95 (s), backlog", percentile(backlog_erase_times, 0.95), ""],
        ["idle latency p50 (s)", p50, ""],
        ["idle latency p95 (s)", p95, "<= 2"],
        ["idle latency max (s)", max(latencies), ""],
        ["idle samples", len(latencies), ""],
    ])
    last_line({"erasures": len(backlog), "drain_s": drain_s, "erasures_per_s": throughput,
               "ceiling_per_s": ceiling, "ac_calls": calls, "ac_calls_per_erasure": per_erasure,
               "ac_calls_per_s": ac_rate, "budget_share": share, "http429": http429,
               "max_per_second": server["max_per_second"],
               "wp_erase_p50_s": percentile(backlog_erase_times, 0.5),
               "wp_erase_p95_s": percentile(backlog_erase_times, 0.95), "p50_s": p50, "p95_s": p95,
               "samples": len(latencies)})


if __name__ == "__main__":
    main()
