"""A nightly reconcile of 20,000 contacts with 5 % drift, its repairs included, against the local
ActiveCampaign server at 5 requests per second: how close to its call floor (calls ÷ 5 s).

    .venv/bin/python bench/reconcile_floor.py [--contacts 20000] [--drift 0.05] [--before-sample 40]

The newsletter list holds ``--contacts`` contacts; WordPress (an in-process stand-in for the
plugin's ``consents`` and ``consent`` routes: the question is ActiveCampaign's budget) agrees
with all of them but ``--drift`` of them: 70 % of the drift withdrew consent in WordPress while
ActiveCampaign still has them subscribed (one in ten of those is also on a second list, which
the site does not manage), 10 % unsubscribed in ActiveCampaign while WordPress says yes, 20 %
consented in WordPress and are missing from ActiveCampaign. The unsubscribe-side 80 % are the
repairs: each is a request whose ActiveCampaign step deletes the contact unless it is on the
other list.

The clock runs from the start of ``reconcile()`` until the real worker (default settings, 4
threads, the SQLite-backed rate budget) has finished every repair. Calls are counted at the
server. Side by side: **before** (the repair's step looks the contact up by email, reads it,
then deletes: 3 calls) measured on ``--before-sample`` repairs and extrapolated, and **now**
(the step is handed the contact id and other lists the reconcile read: 1 call, 0 for a kept
contact). Targets: now ≤ 1.2 × the floor, ≤ 1.2 calls per repaired contact, 0 × 429.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import AC_TOKEN, last_line, print_machine, print_table, settings_for  # noqa: E402

from wpprivsync_devkit.acfake import ActiveCampaignServer  # noqa: E402
from wpprivsync.app import App, SiteClients  # noqa: E402
from wpprivsync.clients.activecampaign import ActiveCampaignClient  # noqa: E402
from wpprivsync.clients.ratebudget import rate_budget  # noqa: E402
from wpprivsync.engine.reconcile import reconcile  # noqa: E402

RATE = 5


class WordPressStandIn:
    """The two plugin routes a reconcile and its repairs use."""

    def __init__(self) -> None:
        self.users: dict[str, bool | None] = {}

    def consents(self) -> Iterator[dict[str, Any]]:
        for i, (email, subscribed) in enumerate(self.users.items(), start=1):
            yield {"id": i, "email": email, "subscribed": subscribed}

    def set_consent(self, email: str, subscribed: bool) -> dict[str, Any]:
        self.users[email] = subscribed
        return {"user_id": 1, "changed": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--drift", type=float, default=0.05)
    parser.add_argument("--before-sample", type=int, default=40)
    args = parser.parse_args(argv)
    print_machine()
    with tempfile.TemporaryDirectory() as tmp, ActiveCampaignServer(port=0, token=AC_TOKEN, rate=RATE) as server:
        news, other = server.add_list("Newsletter"), server.add_list("Webinars")
        wp = WordPressStandIn()
        drift = int(args.contacts * args.drift)
        withdrawn, left_ac, missing = int(drift * 0.7), int(drift * 0.1), drift - int(drift * 0.7) - int(drift * 0.1)
        for i in range(args.contacts):
            email = f"p{i:06d}@example.org"
            if i < withdrawn:
                wp.users[email] = False
                server.add_contact(email, lists={news: 1, other: 1} if i % 10 == 0 else {news: 1})
            elif i < withdrawn + left_ac:
                wp.users[email] = True
                server.add_contact(email, lists={news: 2})
            elif i < withdrawn + left_ac + missing:
                wp.users[email] = True  # not in ActiveCampaign
            else:
                wp.users[email] = True
                server.add_contact(email, lists={news: 1})
        tmpd = Path(tmp)
        settings = settings_for("http://127.0.0.1:9", "bench", "pass word pass word", server.url, news, tmpd)
        app = App(settings)
        site = app.site("bench")
        ac = ActiveCampaignClient(server.url, AC_TOKEN, session=requests.Session(),
                                  budget=rate_budget(site.account_key, store_url=settings.store_url))
        app._clients["bench"] = SiteClients(site, wp, ac)
        before = server.counters()
        started = time.monotonic()
        report = reconcile(site, wp, ac, app.store, app.planner("bench"), app.secret, app.clock)
        reconciled = time.monotonic() - started
        pass_calls = server.counters()["total"] - before["total"]
        app.worker().run_pass()
        wall = time.monotonic() - started
        after = server.counters()
        calls = after["total"] - before["total"]
        http429 = after["http429"] - before["http429"]
        requests_ = app.store.list_requests()
        undone = [r for r in requests_ if r.status != "done"]
        repaired = report.requests_queued
        repair_calls = calls - pass_calls
        kept = sum(1 for i in range(withdrawn) if i % 10 == 0)
        still = sum(1 for i in range(withdrawn) if server.contact_view(f"p{i:06d}@example.org") is not None)
        if undone or still != kept:
            print(f"ERROR: {len(undone)} requests not done; {still} contacts left, {kept} expected", file=sys.stderr)
            return 1

        # before: the same repair steps without what the reconcile read (look up, read, delete)
        sample = min(args.before_sample, repaired)
        for i in range(sample):
            server.add_contact(f"b{i:06d}@example.org", lists={news: 1})
        old_before = server.counters()
        old_started = time.monotonic()
        from wpprivsync.engine import plan

        for i in range(sample):
            req = app.planner("bench").request(plan.UNSUBSCRIBE, f"b{i:06d}@example.org", source="reconcile",
                                               received_at=app.clock(), unsubscribed_in_bulk=True)
            app.store.add_request(req)
        app.worker().run_pass()
        old_wall = time.monotonic() - old_started
        old_calls_per = (server.counters()["total"] - old_before["total"]) / max(1, sample)
        old_total = pass_calls - report.other_list_calls + old_calls_per * repaired
        old_wall_est = reconciled + old_wall / max(1, sample) * repaired

    floor = calls / RATE
    rows = [["before (extrapolated)", f"{old_total:.0f}", f"{old_calls_per:.2f}", f"{old_total / RATE:.0f}",
             f"{old_wall_est:.0f}", "-"],
            ["now", calls, f"{repair_calls / repaired:.2f}", f"{floor:.0f}", f"{wall:.0f}", f"{wall / floor:.2f}"]]
    print(f"reconcile of {args.contacts} contacts, {drift} drifted ({withdrawn} withdrawn in WordPress, {kept} of them "
          f"on another list; {left_ac} unsubscribed in ActiveCampaign; {missing} missing), {repaired} repairs, "
          f"local server at {RATE} requests/s")
    print_table(["", "calls", "calls per repair", "floor (s)", "wall (s)", "wall / floor"], rows)
    print(f"the pass itself: {pass_calls} calls ({report.list_members} list members, {report.import_calls} imports, "
          f"{report.other_list_calls} for the other lists), {reconciled:.1f} s; 429s: {http429}")
    ok = wall <= 1.2 * floor and repair_calls / repaired <= 1.2 and http429 == 0
    print(f"targets: wall <= 1.2 x floor, <= 1.2 calls per repair, 0 x 429: {'ok' if ok else 'MISSED'}")
    last_line({"contacts": args.contacts, "repairs": repaired, "calls": calls, "floor_s": round(floor, 1),
               "wall_s": round(wall, 1), "wall_over_floor": round(wall / floor, 3),
               "calls_per_repair": round(repair_calls / repaired, 3), "http429": http429,
               "before_calls_per_repair": round(old_calls_per, 2), "before_wall_s_est": round(old_wall_est)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
