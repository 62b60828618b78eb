"""The daemon's memory and CPU over a large backlog, against zero-latency stand-ins.

    .venv/bin/python bench/daemon_footprint.py [--events 100000] [--modes http-contacts,http,fake]
                                               [--sample-every 10000]

The daemon under test runs in a child process of its own (so the stand-ins' memory and CPU are
not counted): an ``App`` with default settings and a SQLite store, and ``Daemon.poll`` (the
daemon's poll job: pull up to 10,000 events and acknowledge them, then run up to 50 batches of
due steps on the 4-thread worker) called back to back, without the 1 s pause between polls,
until every request is done. The outbox holds ``--events`` ``account.deleted`` events, each an
erasure of three steps (WordPress erase, ActiveCampaign find + delete, suppression; the residue
scan after it is off here, it is measured by ``residue_scan.py``). The child
logs as the daemon does (its default level, plain lines) to a file in the run's folder.

Two modes:

* ``http-contacts`` (the realistic case, issue 17.5): the stand-ins are real HTTP servers in
  the parent process: a minimal server for the plugin's routes (``events``, ``events/ack``,
  ``erase``, ``retention``, ``heartbeat``, ``status``) that makes the outbox up from memory,
  and the local ActiveCampaign server (``wpprivsync_devkit.acfake``) with its rate limit lifted
  (``rate=0``). Every erased person has an ActiveCampaign contact, so every erasure makes its
  ActiveCampaign calls (look-up and delete). The client's shared rate budget is the real one
  (a SQLite file beside the store) with its rate raised to 1,000,000 per second so it never
  waits.
* ``http``: the same, the way it was measured before issue 17.5: one event in 1,000 has a
  contact, so most erasures make one ActiveCampaign call (a look-up that finds nothing).
* ``fake``: the same work with in-process Protocol fakes instead of HTTP (no budget); every
  person has a contact, so each erasure makes two calls (find + delete).

The child samples its RSS (``/proc/self/status``) and CPU time (``time.process_time``, all
threads) as the backlog is ingested and drained, and reports every ``--sample-every`` events.
Targets: RSS <= 100 MB, RSS flat (last sample within 10 % of the first one taken after the
backlog was ingested), <= 1 ms CPU per event.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import parse_qs, urlsplit

from _common import AC_TOKEN, last_line, print_machine, print_table, rss_mb, settings_for

TARGET_RSS_MB = 100.0
TARGET_CPU_MS = 1.0
CREATED = "2026-11-25T10:00:00Z"
CONTACT_EVERY = {"http": 1000, "http-contacts": 1}  # one person in this many has an ActiveCampaign contact


def event(i: int) -> dict[str, Any]:
    return {"id": i, "type": "account.deleted", "created_at": CREATED,
            "payload": {"user_id": i, "email": f"person{i}@example.test", "display_name": f"Person {i}",
                        "roles": ["subscriber"], "newsletter_consent": True}}


def erase_answer(i: int) -> dict[str, Any]:
    return {"email_hash": "0" * 64, "request_id": i, "dry_run": False, "items_removed": True,
            "items_retained": False, "retained": [],
            "erasers": [{"id": "wordpress-comments", "name": "WordPress Comments", "items_removed": True,
                         "items_retained": False, "pages": 1, "messages": []}]}


# -- the plugin stand-in (parent process) -----------------------------------------------------
class Outbox:
    def __init__(self, total: int):
        self.total = total
        self.acked = 0
        self.erased = 0
        self.lock = threading.Lock()

    def page(self, after: int, limit: int) -> dict[str, Any]:
        first = max(after, self.acked) + 1
        last = min(self.total, first + limit - 1)
        events = [event(i) for i in range(first, last + 1)]
        return {"events": events, "last_id": last if events else after, "pending": max(0, self.total - last)}


def plugin_server(outbox: Outbox) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, body: Any, status: int = 200) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _route(self) -> tuple[str, dict[str, list[str]]]:
            query = parse_qs(urlsplit(self.path).query)
            return (query.get("rest_route") or [""])[0].removeprefix("/wpprivsync/v1/"), query

        def do_GET(self) -> None:
            route, q = self._route()
            if route == "events":
                self._answer(outbox.page(int(q["after"][0]), int(q["limit"][0])))
            elif route == "status":
                self._answer({"version": "bench", "woocommerce": False, "capability": True,
                              "outbox": {"pending": outbox.total - outbox.acked, "last_id": outbox.total}})
            elif route == "retention":
                self._answer({"order_years": 5, "tax_year_start_month": 1})
            else:
                self._answer({"code": "rest_no_route"}, 404)

        def do_POST(self) -> None:
            route, _ = self._route()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if route == "events/ack":
                with outbox.lock:
                    outbox.acked = max([outbox.acked, *body["ids"]])
                self._answer({"acked": len(body["ids"])})
            elif route == "events/pull":  # acknowledge, then the next page
                with outbox.lock:
                    outbox.acked = max([outbox.acked, *body.get("ids", [])])
                self._answer(outbox.page(int(body["after"]), int(body["limit"])) | {"acked": len(body.get("ids", []))})
            elif route == "erase":
                with outbox.lock:
                    outbox.erased += 1
                    n = outbox.erased
                self._answer(erase_answer(n))
            elif route == "erase/batch":
                with outbox.lock:
                    first = outbox.erased + 1
                    outbox.erased += len(body["emails"])
                self._answer({"results": [erase_answer(first + i) for i in range(len(body["emails"]))]})
            elif route == "retention":
                self._answer({"order_years": body.get("order_years"), "tax_year_start_month": 1})
            elif route == "heartbeat":
                self._answer({"ok": True})
            else:
                self._answer({"code": "rest_no_route"}, 404)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# -- in-process fakes (child process, mode "fake") -----------------------------------------
class FakeWordPress:
    def __init__(self, total: int):
        self.outbox = Outbox(total)

    def events(self, after: int, limit: int = 100) -> tuple[list[Any], int]:
        from wpprivsync.clients.protocols import Event

        page = self.outbox.page(after, limit)
        return [Event(id=e["id"], type=e["type"], payload=dict(e["payload"]), created_at=e["created_at"])
                for e in page["events"]], page["pending"]

    def ack(self, ids: Sequence[int], hashes: dict[int, str] | None = None) -> int:
        self.outbox.acked = max([self.outbox.acked, *ids])
        return len(ids)

    def pull(self, after: int, limit: int, ack: Sequence[int] = (),
             hashes: dict[int, str] | None = None) -> tuple[list[Any], int, int]:
        acked = self.ack(ack, hashes) if ack else 0
        return (*self.events(after, limit), acked)

    def erase(self, email: str, *, dry_run: bool = False, exclude: Sequence[str] = ()) -> dict[str, Any]:
        with self.outbox.lock:
            self.outbox.erased += 1
            return erase_answer(self.outbox.erased)

    def erase_batch(self, emails: Sequence[str], *, exclude: Sequence[str] = ()) -> list[dict[str, Any]]:
        return [self.erase(email, exclude=exclude) for email in emails]

    def set_retention(self, order_years: int, tax_year_start_month: int) -> dict[str, Any]:
        return {"order_years": order_years, "tax_year_start_month": tax_year_start_month}

    def heartbeat(self, body: dict[str, Any]) -> None:
        pass

    def mirror_requests(self, rows: list[dict[str, Any]]) -> int:
        return len(rows)


class FakeActiveCampaign:
    """Every person has a contact whose id is the number in their email."""

    def __init__(self) -> None:
        self.deleted: set[int] = set()
        self.calls = 0

    def find_contact(self, email: str) -> Any:
        from wpprivsync.clients.protocols import Contact

        self.calls += 1
        cid = int(email.split("@")[0].removeprefix("person"))
        return None if cid in self.deleted else Contact(id=cid, email=email)

    def delete_contact(self, contact_id: int) -> bool:
        self.calls += 1
        if contact_id in self.deleted:
            return False
        self.deleted.add(contact_id)
        return True


# -- the daemon under test (child process) -------------------------------------------------
def child(args: argparse.Namespace) -> None:
    from wpprivsync.app import App, SiteClients
    from wpprivsync.daemon import Daemon
    from wpprivsync.logs import configure_logging

    tmp = Path(args.tmp)
    settings = settings_for(args.wp_url or "http://127.0.0.1:9/", "daemon", "app password bench",
                            args.ac_url or "http://127.0.0.1:9/api/3", 1, tmp)
    settings.sites[0].residue_scan = False  # the erasure's own steps; the scan has bench/residue_scan.py

    class BenchApp(App):
        def _build_clients(self, site: Any) -> SiteClients:
            if args.mode == "fake":
                return SiteClients(site, FakeWordPress(args.events), FakeActiveCampaign())
            from wpprivsync.clients.activecampaign import ActiveCampaignClient
            from wpprivsync.clients.ratebudget import rate_budget

            clients = super()._build_clients(site)
            budget = rate_budget(site.account_key, store_url=self.settings.store_url, rate=1_000_000)
            clients.activecampaign = ActiveCampaignClient(str(site.activecampaign_url), AC_TOKEN,
                                                          session=self.session_factory(), budget=budget)
            return clients

    # logs as the daemon writes them (its default level, plain lines), to a file in the run's
    # folder instead of journald
    log_stream = open(tmp / "daemon.log", "a", encoding="utf-8")
    configure_logging(settings.log_level, json_lines=settings.log_json, stream=log_stream)
    app = BenchApp(settings)
    daemon = Daemon(app)
    store = app.store
    out = sys.stdout

    def report(kind: str, polls: int, excluded: float) -> None:
        cpu = time.process_time() - cpu0 - excluded
        counts = store.counts()
        out.write(json.dumps({"kind": kind, "polls": polls, "ingested": store.get_cursor("bench"),
                              "done": counts["requests_done"], "dead": counts["steps_dead"],
                              "rss_mb": rss_mb(), "cpu_s": cpu, "wall_s": time.monotonic() - wall0}) + "\n")
        out.flush()

    cpu0 = time.process_time()
    wall0 = time.monotonic()
    excluded = 0.0  # CPU spent counting for the report, not by the daemon
    report("start", 0, 0.0)
    polls = 0
    ingest_mark = done_mark = args.sample_every
    done = 0
    while done < args.events and polls < 100 * args.events:
        daemon.poll()
        polls += 1
        t = time.process_time()
        counts = store.counts() if polls % 5 == 0 else None
        excluded += time.process_time() - t
        if counts is None:
            continue
        done, cursor = counts["requests_done"], store.get_cursor("bench")
        if cursor >= ingest_mark or done >= done_mark:
            t = time.process_time()
            report("sample", polls, excluded)
            excluded += time.process_time() - t
            while ingest_mark <= cursor:
                ingest_mark += args.sample_every
            while done_mark <= done:
                done_mark += args.sample_every
    report("end", polls, excluded)
    peak = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    out.write(json.dumps({"kind": "peak", "rss_peak_mb": peak}) + "\n")
    daemon.worker.close()
    app.close()
    log_stream.close()


# -- the parent ------------------------------------------------------------------------------
def run_mode(mode: str, events: int, sample_every: int) -> dict[str, Any]:
    from wpprivsync_devkit.acfake import ActiveCampaignServer

    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-") as tmp:
        cmd = [sys.executable, __file__, "--child", "--mode", mode, "--events", str(events),
               "--sample-every", str(sample_every), "--tmp", tmp]
        servers: list[Any] = []
        ac = None
        outbox = Outbox(events)
        if mode in CONTACT_EVERY:
            wp = plugin_server(outbox)
            servers.append(wp)
            ac = ActiveCampaignServer(port=0, token=AC_TOKEN, rate=0).start()
            list_id = ac.add_list("Newsletter")
            for i in range(1, events + 1, CONTACT_EVERY[mode]):
                ac.add_contact(f"person{i}@example.test", lists={list_id: 1})
            cmd += ["--wp-url", f"http://127.0.0.1:{wp.server_address[1]}", "--ac-url", ac.url]
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
            rows = []
            assert proc.stdout is not None
            for line in proc.stdout:
                row = json.loads(line)
                rows.append(row)
                if row["kind"] != "peak":
                    print(f"  [{mode}] polls {row['polls']:6}  ingested {row['ingested']:7}  done {row['done']:7}  "
                          f"rss {row['rss_mb']:6.1f} MB  cpu {row['cpu_s']:7.1f} s  wall {row['wall_s']:7.1f} s",
                          flush=True)
            if proc.wait() != 0:
                raise SystemExit(f"the {mode} child failed (exit {proc.returncode})")
        finally:
            for s in servers:
                s.shutdown()
            if ac is not None:
                ac_calls = ac.counters()["total"]
                ac.stop()
    samples = [r for r in rows if r["kind"] in ("start", "sample", "end")]
    end = samples[-1]
    peak = next(r["rss_peak_mb"] for r in rows if r["kind"] == "peak")
    # "flat": after the backlog is in the store, RSS does not grow while it drains
    loaded = [r for r in samples if r["ingested"] >= events]
    first_loaded = loaded[0]["rss_mb"] if loaded else float("nan")
    growth = (end["rss_mb"] - first_loaded) / first_loaded if loaded else float("nan")
    return {"mode": mode, "events": events, "done": end["done"], "dead": end["dead"], "samples": samples,
            "rss_start_mb": samples[0]["rss_mb"], "rss_loaded_mb": first_loaded, "rss_end_mb": end["rss_mb"],
            "rss_peak_mb": peak, "rss_growth": growth, "cpu_ms_per_event": 1000 * end["cpu_s"] / events,
            "wall_s": end["wall_s"], "events_per_s": events / end["wall_s"],
            "ac_calls": ac_calls if mode in CONTACT_EVERY else None,
            "acked": outbox.acked if mode in CONTACT_EVERY else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--modes", default="http-contacts,http,fake", help="comma-separated: http-contacts, http, fake")
    parser.add_argument("--sample-every", type=int, default=10_000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    parser.add_argument("--wp-url", help=argparse.SUPPRESS)
    parser.add_argument("--ac-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        profile = os.environ.get("WPPRIVSYNC_BENCH_PROFILE")  # a file: the child runs under cProfile
        if profile:
            import cProfile

            cProfile.runctx("child(args)", globals(), {"args": args}, f"{profile}.{args.mode}")
        else:
            child(args)
        return
    print_machine()
    results = []
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        print(f"{mode}: {args.events} events")
        results.append(run_mode(mode, args.events, args.sample_every))
    print()
    print_table(["figure"] + [r["mode"] for r in results] + ["target"], [
        ["events (requests done)"] + [f"{r['events']} ({r['done']})" for r in results] + [""],
        ["RSS at start (MB)"] + [r["rss_start_mb"] for r in results] + [""],
        ["RSS, backlog ingested (MB)"] + [r["rss_loaded_mb"] for r in results] + [""],
        ["RSS at end (MB)"] + [r["rss_end_mb"] for r in results] + [""],
        ["RSS peak (MB)"] + [r["rss_peak_mb"] for r in results] + [f"<= {TARGET_RSS_MB:g}"],
        ["RSS growth while draining"] + [f"{100 * r['rss_growth']:+.1f} %" for r in results] + ["flat"],
        ["CPU per event (ms)"] + [r["cpu_ms_per_event"] for r in results] + [f"<= {TARGET_CPU_MS:g}"],
        ["wall (s)"] + [r["wall_s"] for r in results] + [""],
        ["events per second"] + [r["events_per_s"] for r in results] + [""],
        ["ActiveCampaign calls"] + [r["ac_calls"] if r["ac_calls"] is not None else "-" for r in results] + [""],
        ["dead steps"] + [r["dead"] for r in results] + ["0"],
    ])
    figures: dict[str, Any] = {"events": args.events}
    for r in results:
        m = r["mode"].replace("-", "_")
        figures.update({f"{m}_rss_peak_mb": r["rss_peak_mb"], f"{m}_rss_loaded_mb": r["rss_loaded_mb"],
                        f"{m}_rss_end_mb": r["rss_end_mb"], f"{m}_rss_growth": r["rss_growth"],
                        f"{m}_cpu_ms_per_event": r["cpu_ms_per_event"], f"{m}_wall_s": r["wall_s"],
                        f"{m}_done": r["done"]})
    last_line(figures)


if __name__ == "__main__":
    main()
