"""ActiveCampaign calls per erasure, linked contact id against look-up (issue 17.1–17.2).

    .venv/bin/python bench/activecampaign_calls.py [--people 300]

The local ActiveCampaign server at its strict 5 requests per second (sliding window), the real
client with its shared rate budget, the real store and the real worker (default concurrency).
Two runs side by side, each with ``--people`` contacts on the newsletter list and one erasure
request each (from WordPress's privacy tools, so only the ActiveCampaign and suppression steps
run: what is measured is ActiveCampaign):

* linked: the daemon knows each person's contact id (learned when it subscribed them, from a
  webhook or from reconcile's list pages): one DELETE /contacts/{id} per erasure;
* look-up: no link: GET /contacts?email=… then DELETE.

Figures: erasures per second (wall clock from the first claim to the last request done), calls
per erasure (the server's own counters), 429s. Target: >= 4.5 erasures/s on the linked path,
0 × 429. The ceiling is the client's budget (calls per second) ÷ calls per erasure.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from _common import AC_TOKEN, SITE_SECRET, last_line, print_machine, print_table, settings_for

from wpprivsync_devkit.acfake import ActiveCampaignServer
from wpprivsync.app import App
from wpprivsync.engine.plan import ERASE
from wpprivsync.identity import email_hash
from wpprivsync.store.api import PersonLink

RATE = 5


def run(mode: str, people: int, tmp: Path) -> dict[str, float]:
    server = ActiveCampaignServer(port=0, token=AC_TOKEN, rate=RATE, seed=1)
    server.start()
    try:
        list_id = server.add_list("Newsletter")
        emails = [f"{mode}.{i}@example.com" for i in range(people)]
        ids = [server.add_contact(e, lists={list_id: 1}) for e in emails]
        settings = settings_for("http://127.0.0.1:9", "unused", "unused unused unused", server.url, list_id,
                                tmp / mode)
        app = App(settings)
        try:
            now = datetime.now(timezone.utc)
            planner = app.planner("bench")
            if mode == "linked":
                app.store.link_people([PersonLink("bench", e, email_hash(SITE_SECRET, e), contact_id=c,
                                                  source="subscribe") for e, c in zip(emails, ids)], now)
            for e in emails:
                app.store.add_request(planner.request(ERASE, e, source="bench", received_at=now,
                                                      wordpress_erasure=False))
            time.sleep(1.2)  # the seeding's calls leave the server's window
            before = server.counters()
            worker = app.worker()
            start = time.monotonic()
            while app.store.count_requests(site="bench", status="open"):
                worker.run_pass()
            wall = time.monotonic() - start
            worker.close()
            after = server.counters()
        finally:
            app.close()
        left = sum(1 for e in emails if server.contact_view(e) is not None)
        calls = after["total"] - before["total"]
        return {"erasures": people, "wall_s": wall, "erasures_per_s": people / wall, "calls": calls,
                "calls_per_erasure": calls / people, "http429": after["http429"] - before["http429"],
                "calls_per_s": calls / wall, "contacts_left": left}
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=300)
    args = ap.parse_args()
    print_machine()
    with tempfile.TemporaryDirectory() as tmp:
        results = {mode: run(mode, args.people, Path(tmp)) for mode in ("linked", "lookup")}
    rows = [[mode, r["erasures"], f"{r['wall_s']:.1f}", f"{r['erasures_per_s']:.2f}", f"{r['calls_per_erasure']:.2f}",
             f"{r['calls_per_s']:.2f}", int(r["http429"]), int(r["contacts_left"])] for mode, r in results.items()]
    print_table(["path", "erasures", "wall s", "erasures/s", "calls/erasure", "calls/s", "429s", "contacts left"],
                rows)
    last_line({"linked_erasures_per_s": round(results["linked"]["erasures_per_s"], 2),
               "lookup_erasures_per_s": round(results["lookup"]["erasures_per_s"], 2),
               "linked_calls_per_erasure": round(results["linked"]["calls_per_erasure"], 2),
               "lookup_calls_per_erasure": round(results["lookup"]["calls_per_erasure"], 2),
               "http429": int(results["linked"]["http429"] + results["lookup"]["http429"]),
               "target_met": results["linked"]["erasures_per_s"] >= 4.5
               and results["linked"]["http429"] + results["lookup"]["http429"] == 0})


if __name__ == "__main__":
    main()
