"""The plugin's two bulk routes on a real WordPress: ingesting a backlog of events (pull +
acknowledge, issue 17.6) and exporting a person with many items (issue 17.7).

    .venv/bin/python bench/plugin_ingest_export.py [--events 10000] [--items 3000,30000] [--only export]

1. **Ingest**: ``--events`` ``account.deleted`` events (realistic payloads: email, display name,
   roles) are written to the outbox, then the daemon's ingest (``services.pull``: pages of up
   to 5,000 (the daemon asks for 1,000) through ``POST /events/pull``, each page planned and recorded in the store, then
   acknowledged with the keyed hashes on the request for the next) runs until the backlog is
   in the store. Figures: events per second end to end, the REST requests and the share of
   the wall time spent waiting for them (the rest is the daemon planning and recording), and
   the database statements one acknowledgement of a page of 500 makes (``$wpdb->num_queries``
   around ``Wpprivsync_Outbox::ack``). Side by side, the acknowledgement as it was before
   issue 17.6 (a SELECT and an UPDATE per id), run in PHP over a copy of the same events.
   Target: >= 10,000 events/s; one statement per page of 500.
2. **Export**: a person with N comments (core's comment exporter, which the route pages by
   comment id, 500 a page) for each N of ``--items`` (all seeded first); the daemon's
   ``WordPressClient.export`` walks every page, each size ``--rounds`` times (2), alternating,
   the fastest run counting; beside it the same with core's exporter paged as core pages it
   (by OFFSET: a wrapped callback, which the route leaves alone), and both exporters alone in
   PHP on the largest person. Beside the wall time, the CPU time the export took (the daemon's
   client, the PHP server and MariaDB), which a loaded machine distorts less. Target: N = 30,000 costs at most 10 x N = 3,000.

``--only ingest`` or ``--only export`` runs one part. ``--fake-plugin`` runs the ingest alone
against an in-process stand-in for the plugin (the same events, answered from memory, no HTTP,
no WordPress): the daemon's own share, planning and recording, with its CPU time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import last_line, print_machine, print_table, settings_for, wordpress_stack  # noqa: E402

from wpprivsync import services  # noqa: E402
from wpprivsync.app import App  # noqa: E402
from wpprivsync.engine import ingest  # noqa: E402

SEED_EVENTS = r"""
global $wpdb; $t = Wpprivsync_Outbox::table(); $now = gmdate('Y-m-d H:i:s'); $rows = [];
foreach (range(1, %(n)d) as $i) {
  $p = wp_json_encode(['user_id' => 100000 + $i, 'email' => "backlog$i@example.org", 'display_name' => "Person $i",
                       'roles' => ['subscriber'], 'newsletter_consent' => true]);
  $rows[] = $wpdb->prepare('(%%s, %%s, %%s, %%s)', 'account.deleted', $p, "bench-%(tag)s-$i", $now);
  if (count($rows) === 1000) { $wpdb->query("INSERT INTO $t (type, payload, dedupe_key, created_at) VALUES " . implode(',', $rows)); $rows = []; }
}
if ($rows) { $wpdb->query("INSERT INTO $t (type, payload, dedupe_key, created_at) VALUES " . implode(',', $rows)); }
echo (int) $wpdb->get_var("SELECT MAX(id) FROM $t");
"""

# The acknowledgement before issue 17.6, verbatim in what it does: per id a SELECT, then an
# UPDATE through $wpdb->update, on a scratch copy of the outbox so the real one is untouched.
OLD_ACK = r"""
global $wpdb; $t = Wpprivsync_Outbox::table(); $c = $t . '_oldack';
$wpdb->query("DROP TABLE IF EXISTS $c"); $wpdb->query("CREATE TABLE $c LIKE $t");
$wpdb->query("INSERT INTO $c SELECT * FROM $t WHERE id > %(after)d ORDER BY id LIMIT %(n)d");
$wpdb->query("UPDATE $c SET acked_at = NULL");
$ids = array_map('intval', $wpdb->get_col("SELECT id FROM $c ORDER BY id"));
$hashes = []; foreach ($ids as $id) { $hashes[(string) $id] = str_repeat('ab', 32); }
$start = hrtime(true); $q0 = $wpdb->num_queries; $now = gmdate('Y-m-d H:i:s'); $acked = 0;
foreach (array_chunk($ids, 500) as $page) {
  foreach ($page as $id) {
    $row = $wpdb->get_row($wpdb->prepare("SELECT id, payload FROM $c WHERE id = %%d AND acked_at IS NULL", $id), ARRAY_A);
    if (!$row) { continue; }
    $payload = Wpprivsync_Outbox::scrub((array) json_decode($row['payload'], true), $hashes[(string) $id]);
    $acked += (int) $wpdb->update($c, ['payload' => wp_json_encode($payload), 'acked_at' => $now], ['id' => $id, 'acked_at' => null]);
  }
}
$s = (hrtime(true) - $start) / 1e9; $q = $wpdb->num_queries - $q0;
$wpdb->query("DROP TABLE $c");
echo json_encode(['s' => $s, 'queries' => $q, 'acked' => $acked]);
"""

NEW_ACK = r"""
global $wpdb; $t = Wpprivsync_Outbox::table(); $c = $t . '_newack';
// the same scratch copy, acknowledged by the plugin's ack() pointed at it
$wpdb->query("DROP TABLE IF EXISTS $c"); $wpdb->query("CREATE TABLE $c LIKE $t");
$wpdb->query("INSERT INTO $c SELECT * FROM $t WHERE id > %(after)d ORDER BY id LIMIT %(n)d");
$wpdb->query("UPDATE $c SET acked_at = NULL");
$ids = array_map('intval', $wpdb->get_col("SELECT id FROM $c ORDER BY id"));
$hashes = []; foreach ($ids as $id) { $hashes[(string) $id] = str_repeat('ab', 32); }
add_filter('query', $swap = function ($sql) use ($t, $c) { return str_replace("$t ", "$c ", $sql); });
$start = hrtime(true); $q0 = $wpdb->num_queries; $acked = 0; $per = [];
foreach (array_chunk($ids, 500) as $page) {
  $b = $wpdb->num_queries;
  $acked += Wpprivsync_Outbox::ack($page, array_intersect_key($hashes, array_flip(array_map('strval', $page))));
  $per[] = $wpdb->num_queries - $b;
}
$s = (hrtime(true) - $start) / 1e9; $q = $wpdb->num_queries - $q0;
remove_filter('query', $swap);
$left = (int) $wpdb->get_var("SELECT COUNT(*) FROM $c WHERE acked_at IS NULL OR payload LIKE '%%@example.org%%'");
$wpdb->query("DROP TABLE $c");
echo json_encode(['s' => $s, 'queries' => $q, 'acked' => $acked, 'per_page' => max($per), 'left' => $left]);
"""

SEED_COMMENTS = r"""
global $wpdb; $rows = []; $now = gmdate('Y-m-d H:i:s');
foreach (range(1, %(n)d) as $i) {
  $rows[] = $wpdb->prepare('(1, %%s, %%s, %%s, %%s, %%s, %%s, 1)', 'Exporter', '%(email)s', '10.0.0.1', $now, $now, "comment $i");
  if (count($rows) === 1000) { $wpdb->query("INSERT INTO $wpdb->comments (comment_post_ID, comment_author, comment_author_email, comment_author_IP, comment_date, comment_date_gmt, comment_content, comment_approved) VALUES " . implode(',', $rows)); $rows = []; }
}
if ($rows) { $wpdb->query("INSERT INTO $wpdb->comments (comment_post_ID, comment_author, comment_author_email, comment_author_IP, comment_date, comment_date_gmt, comment_content, comment_approved) VALUES " . implode(',', $rows)); }
echo 'ok';
"""

def group_cpu_s(pgids: list[int]) -> float:
    """CPU seconds used so far by every process of these process groups (the stack's PHP server
    with its workers, and MariaDB), reaped children included."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[2]) in pgids:  # pgrp; then utime, stime, cutime, cstime
            total += sum(int(f) for f in fields[11:15])
    return total / tick


def cpu_now(pgids: list[int]) -> float:
    """CPU seconds of the stack's servers plus this process (the daemon's client)."""
    return group_cpu_s(pgids) + time.process_time()


MODES = ("offset", "keyset")
OFFSET_MU_PLUGIN = """<?php
// wpprivsync bench: while the option is set, core's comment exporter is registered wrapped, so the
// plugin's export route runs it as core pages it (by OFFSET) instead of by comment id.
add_filter('wp_privacy_personal_data_exporters', function ($e) {
    if (get_option('wpprivsync_bench_offset_exporter') && isset($e['wordpress-comments'])) {
        $e['wordpress-comments']['callback'] = function ($email, $page = 1) { return wp_comments_personal_data_exporter($email, $page); };
    }
    return $e;
}, 99);
"""

# core's exporter page after page (as Tools -> Export calls it), then the route's keyset pages
ALONE = r"""
$t = hrtime(true); $page = 1; $core_max = 0; $n = 0;
do { $p = hrtime(true); $r = wp_comments_personal_data_exporter('%(email)s', $page++); $n += count($r['data']);
     $core_max = max($core_max, (hrtime(true) - $p) / 1e9); } while (!$r['done']);
$core = (hrtime(true) - $t) / 1e9;
$t = hrtime(true); $after = 0; $keyset_max = 0; $k = 0;
do { $p = hrtime(true); $r = Wpprivsync_Comment_Exporter::page('%(email)s', $after); $after = $r['after']; $k += count($r['data']);
     $keyset_max = max($keyset_max, (hrtime(true) - $p) / 1e9); } while (!$r['done']);
$keyset = (hrtime(true) - $t) / 1e9;
echo json_encode(['core_s' => $core, 'core_max_page_s' => $core_max, 'core_items' => $n,
                  'keyset_s' => $keyset, 'keyset_max_page_s' => $keyset_max, 'keyset_items' => $k]);
"""


class FakePlugin:
    """``POST /events/pull`` and ``POST /events/ack`` answered from memory: ``total``
    ``account.deleted`` events with the payloads SEED_EVENTS writes."""

    def __init__(self, total: int):
        self.total = total
        self.acked = 0

    def pull(self, after: int, limit: int, ack: Any = (), hashes: Any = None) -> tuple[list[Any], int, int]:
        from wpprivsync.clients.protocols import Event

        acked = self.ack(ack, hashes) if ack else 0
        first, now = max(after, self.acked) + 1, time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        last = min(self.total, first + limit - 1)
        events = [Event(id=i, type="account.deleted", created_at=now, payload={
            "user_id": 100000 + i, "email": f"backlog{i}@example.org", "display_name": f"Person {i}",
            "roles": ["subscriber"], "newsletter_consent": True}) for i in range(first, last + 1)]
        return events, max(0, self.total - last), acked

    def ack(self, ids: Any, hashes: Any = None) -> int:
        self.acked = max([self.acked, *ids])
        return len(ids)


def fake_ingest(events: int) -> int:
    """The ingest part with the plugin faked (``--fake-plugin``)."""
    from wpprivsync.app import SiteClients

    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-", ignore_cleanup_errors=True) as tmp_name:
        settings = settings_for("http://127.0.0.1:9/", "bench", "app password bench", "http://127.0.0.1:9/api/3",
                                1, Path(tmp_name))

        class FakeApp(App):
            def _build_clients(self, site: Any) -> SiteClients:
                return SiteClients(site, FakePlugin(events), None)  # type: ignore[arg-type]

        app = FakeApp(settings)
        app.store.get_cursor("bench")  # the store made and migrated before the clock runs
        load = os.getloadavg()[0]
        started, cpu = time.monotonic(), time.process_time()
        ingested = 0
        while got := services.pull(app, "bench")["events"]:
            ingested += got
        wall, used = time.monotonic() - started, time.process_time() - cpu
        requests = app.store.counts()["requests_open"]
        app.store.close()
    if ingested != events or requests != events:
        print(f"ERROR: {ingested} events ingested, {requests} requests open, of {events}", file=sys.stderr)
        return 1
    print(f"ingest of {events} events from an in-process stand-in for the plugin (pages of {ingest.PAGE}), "
          f"load average {load:.2f}")
    print_table(["", "events/s", "wall (s)", "CPU (s)", "CPU per event (ms)"],
                [["ingest, the daemon alone", ingested / wall, wall, used, 1000 * used / ingested]])
    last_line({"events": events, "fake_ingest_events_per_s": round(ingested / wall), "fake_ingest_s": round(wall, 3),
               "fake_cpu_ms_per_event": round(1000 * used / ingested, 4), "load": round(load, 2)})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--items", default="3000,30000")
    parser.add_argument("--only", choices=("ingest", "export"), help="run one part only")
    parser.add_argument("--rounds", type=int, default=2, help="exports of each size and paging; the fastest counts")
    parser.add_argument("--fake-plugin", action="store_true",
                        help="the ingest alone, against an in-process stand-in for the plugin (no WordPress)")
    args = parser.parse_args(argv)
    if args.fake_plugin:
        print_machine()
        return fake_ingest(args.events)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    do_ingest, do_export = args.only in (None, "ingest"), args.only in (None, "export")
    sizes = [int(x) for x in args.items.split(",")]
    print_machine()
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-", ignore_cleanup_errors=True) as tmp_name:
        tmp = Path(tmp_name)
        stack = wordpress_stack(tmp / "stack", test_plugins=False)
        stack.start()
        try:
            settings = settings_for(stack.url, stack.service_user, stack.service_app_password,
                                    "http://127.0.0.1:9/api/3", 1, tmp)
            app = App(settings)
            wordpress = app.clients("bench").wordpress
            services.pull(app, "bench")  # whatever the set-up recorded
            after = int(app.store.get_state("acked:bench") or 0)

            # -- 1. ingest ------------------------------------------------------------------
            if do_ingest:
                last = int(stack.php(SEED_EVENTS % {"n": args.events, "tag": "ingest"}, timeout=600))
                rest: list[float] = []  # each REST request of the ingest, seconds

                def timed(inner: Any) -> Any:
                    def call(*a: Any, **kw: Any) -> Any:
                        t = time.monotonic()
                        try:
                            return inner(*a, **kw)
                        finally:
                            rest.append(time.monotonic() - t)
                    return call

                for name in ("pull", "events", "ack"):
                    setattr(wordpress, name, timed(getattr(wordpress, name)))
                started = time.monotonic()
                ingested = 0
                while int(app.store.get_state("acked:bench") or 0) < last:
                    ingested += services.pull(app, "bench")["events"]
                ingest_s = time.monotonic() - started
                rate = ingested / ingest_s
                old = stack.php_json(OLD_ACK % {"after": after, "n": args.events}, timeout=600)
                new = stack.php_json(NEW_ACK % {"after": after, "n": args.events}, timeout=600)
                pending = wordpress.status()["outbox"]["pending"]

            # -- 2. export ------------------------------------------------------------------
            exports: list[tuple[int, float]] = []
            if do_export:
                # "offset": the route with core's exporter as core pages it (a wrapper the route
                # does not replace), to compare with at the same load; "keyset": as shipped
                (stack.site / "wp-content" / "mu-plugins" / "wpprivsync-bench-offset.php").write_text(OFFSET_MU_PLUGIN)
                # every person is seeded first, so each export runs on the same tables; each size is
                # exported --rounds times, alternating, and the fastest run counts (a loaded machine's noise)
                for n in sizes:
                    stack.php(SEED_COMMENTS % {"n": n, "email": f"exporter{n}@example.org"}, timeout=600)
                best: dict[tuple[str, int], float] = {}
                cpu: dict[tuple[str, int], float] = {}
                pgids = stack.pgids()
                load_start = os.getloadavg()[0]
                for _ in range(args.rounds):
                    for mode in MODES:
                        by_id = stack.php(f"update_option('wpprivsync_bench_offset_exporter', {int(mode == 'offset')}); "
                                          "$e = apply_filters('wp_privacy_personal_data_exporters', []); "
                                          "echo Wpprivsync_Comment_Exporter::replaces('wordpress-comments', $e['wordpress-comments']) ? 'keyset' : 'offset';")
                        if by_id.strip() != mode:
                            print(f"ERROR: the route would page core's comment exporter {by_id!r}, not {mode!r}", file=sys.stderr)
                            return 1
                        for n in sizes:
                            t, c = time.monotonic(), cpu_now(pgids)
                            data = wordpress.export(f"exporter{n}@example.org")
                            wall, used = time.monotonic() - t, cpu_now(pgids) - c
                            got = len(data["groups"].get("comments", {}).get("items", []))
                            if got != n:
                                print(f"ERROR: export of {n} comments ({mode}) returned {got}", file=sys.stderr)
                                return 1
                            best[mode, n] = min(best.get((mode, n), wall), wall)
                            cpu[mode, n] = min(cpu.get((mode, n), used), used)
                before = [(n, best["offset", n]) for n in sizes]
                exports = [(n, best["keyset", n]) for n in sizes]
                load = (load_start, os.getloadavg()[0])
                # the exporters alone, inside PHP, on the largest person: where the residue was
                alone = stack.php_json(ALONE % {"email": f"exporter{sizes[-1]}@example.org"}, timeout=1200)
                if not alone["core_items"] == alone["keyset_items"] == sizes[-1]:
                    print(f"ERROR: the exporters alone gave {alone['core_items']} (core) and "
                          f"{alone['keyset_items']} (keyset) of {sizes[-1]} comments", file=sys.stderr)
                    return 1
        finally:
            stack.stop()

    figures: dict[str, Any] = {}
    targets: list[str] = []
    if do_ingest:
        print(f"ingest of {args.events} events (pages of {ingest.PAGE}, acknowledged with keyed hashes), "
              f"outbox left: {pending}")
        print_table(["", "events/s", "wall (s)", "REST requests", "REST share", "ack statements per 500"], [
            ["ingest, end to end", rate, ingest_s, len(rest), f"{100 * sum(rest) / ingest_s:.0f} %", new["per_page"]],
        ])
        print_table(["acknowledging the backlog in PHP (scratch copy)", "s", "statements", "events acked"], [
            ["before: SELECT + UPDATE per id", old["s"], old["queries"], old["acked"]],
            ["now: one UPDATE per page", new["s"], new["queries"], new["acked"]],
        ])
        if new["left"]:
            print(f"ERROR: {new['left']} events left unacknowledged or with a plain email", file=sys.stderr)
            return 1
        targets += [f">= 10,000 events/s ({'ok' if rate >= 10_000 else 'MISSED'})",
                    f"one statement per page ({'ok' if new['per_page'] == 1 else 'MISSED'})"]
        figures |= {"events": args.events, "ingest_events_per_s": round(rate), "ingest_s": round(ingest_s, 2),
                    "rest_requests": len(rest), "rest_s": round(sum(rest), 3),
                    "rest_share": round(sum(rest) / ingest_s, 3), "ack_old_s": round(old["s"], 3),
                    "ack_old_statements": old["queries"], "ack_new_s": round(new["s"], 3),
                    "ack_new_statements": new["queries"]}
    if do_export:
        print(f"load average (1 min) during the export: {load[0]:.2f} at the start, {load[1]:.2f} at the end")
        print_table(["export of N comments", "before: core's pages by OFFSET, wall (s)", "now: by comment id, wall (s)",
                     "now per 1,000 items (s)", "CPU before (s)", "CPU now (s)"],
                    [[n, b, w, 1000 * w / n, cpu["offset", n], cpu["keyset", n]]
                     for (n, b), (_, w) in zip(before, exports)])
        before_ratio = before[-1][1] / before[0][1] if len(before) > 1 else float("nan")
        first, last = sizes[0], sizes[-1]
        cpu_ratio = {mode: cpu[mode, last] / cpu[mode, first] if len(sizes) > 1 else float("nan") for mode in MODES}
        print(f"CPU (daemon + PHP + MariaDB), {last} over {first}: before {cpu_ratio['offset']:.2f} x, "
              f"now {cpu_ratio['keyset']:.2f} x (the load moves it less than the wall)")
        print_table([f"comment exporter alone in PHP, {sizes[-1]} comments", "s", "slowest page (s)"], [
            ["core's, pages by OFFSET", alone["core_s"], alone["core_max_page_s"]],
            ["the route's, pages by comment id", alone["keyset_s"], alone["keyset_max_page_s"]],
        ])
        ratio = exports[-1][1] / exports[0][1] if len(exports) > 1 else float("nan")
        targets.append(f"export of {sizes[-1]} <= 10 x {sizes[0]} ({ratio:.2f} x: {'ok' if ratio <= 10 else 'MISSED'})")
        figures |= {**{f"export_{n}_s": round(w, 2) for n, w in exports}, "export_ratio": round(ratio, 2),
                    **{f"export_offset_{n}_s": round(w, 2) for n, w in before}, "export_offset_ratio": round(before_ratio, 2),
                    **{f"cpu_{n}_s": round(cpu["keyset", n], 2) for n in sizes},
                    "cpu_ratio": round(cpu_ratio["keyset"], 2), "cpu_offset_ratio": round(cpu_ratio["offset"], 2),
                    "core_exporter_s": round(alone["core_s"], 2), "keyset_exporter_s": round(alone["keyset_s"], 2),
                    "rounds": args.rounds, "load_start": round(load[0], 2), "load_end": round(load[1], 2)}
    print("targets: " + "; ".join(targets))
    last_line(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
