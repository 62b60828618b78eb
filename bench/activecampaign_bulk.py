"""10,000 unsubscribes against the local ActiveCampaign server at 5 requests per second.

Compares the bulk approach (bulk import, 250 contacts a call, then one status poll) with the
naive one (one POST /contactLists per contact). The naive approach is measured on a sample
(--naive-sample, default 200 contacts) and its wall time extrapolated to the full count.

    .venv/bin/python bench/activecampaign_bulk.py [--contacts 10000] [--naive-sample 200]

Targets for the bulk approach: at most 45 calls (the floor is 40), zero 429s, wall time within
20% of calls / 5 s. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import sys
import time

import requests

from wpprivsync_devkit.acfake import ActiveCampaignServer
from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.clients.protocols import BulkContact
from wpprivsync.clients.ratebudget import rate_budget

RATE = 5


def client_for(server: ActiveCampaignServer) -> ActiveCampaignClient:
    return ActiveCampaignClient(server.url, server.token, session=requests.Session(),
                                budget=rate_budget(server.url, rate=RATE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=200)
    args = parser.parse_args(argv)

    server = ActiveCampaignServer(port=0, token="bench-token", rate=RATE).start()
    try:
        news = server.add_list("Newsletter")
        emails = [f"person{i:05d}@example.org" for i in range(args.contacts)]
        for email in emails:
            server.add_contact(email, lists={news: 1})
        sample = [f"sample{i:05d}@example.org" for i in range(args.naive_sample)]
        sample_ids = [server.add_contact(email, lists={news: 1}) for email in sample]

        # -- bulk: 250 a call, then wait for the imports ---------------------------------
        ac = client_for(server)
        before = server.counters()
        started = time.monotonic()
        batches = ac.bulk_import(BulkContact(email, unsubscribe=[news]) for email in emails)
        ac.wait_bulk_import(batches, timeout=600, poll=1.0)
        bulk_wall = time.monotonic() - started
        after = server.counters()
        bulk_calls = ac.stats.calls
        bulk_429 = after["http429"] - before["http429"]
        unsubscribed = sum(1 for e in emails if server.contact_view(e)["lists"][news] == 2)
        if unsubscribed != len(emails):
            print(f"ERROR: only {unsubscribed} of {len(emails)} contacts were unsubscribed", file=sys.stderr)
            return 1

        # -- naive: one call per contact, on a sample ----------------------------------
        naive = client_for(server)
        before = server.counters()
        started = time.monotonic()
        for cid in sample_ids:
            naive.set_list_status(cid, news, 2)
        sample_wall = time.monotonic() - started
        after = server.counters()
        naive_429 = after["http429"] - before["http429"]
        naive_calls = len(emails)  # one per contact
        naive_wall = sample_wall * len(emails) / max(1, len(sample))

        ideal = bulk_calls / RATE
        within = bulk_wall <= ideal * 1.2
        print(f"{len(emails)} unsubscribes against the local ActiveCampaign server at {RATE} requests/s")
        print(f"{'':24}{'bulk import':>16}{'naive (1 call/contact)':>26}")
        print(f"{'API calls':24}{bulk_calls:>16}{naive_calls:>26}")
        print(f"{'429s received':24}{bulk_429:>16}{str(naive_429) + f' (in {len(sample)})':>26}")
        print(f"{'wall time (s)':24}{bulk_wall:>16.1f}{f'{naive_wall:.0f} (extrapolated)':>26}")
        print(f"naive wall time measured on {len(sample)} contacts ({sample_wall:.1f} s, "
              f"{naive.stats.calls} calls) and extrapolated to {len(emails)}")
        print(f"bulk targets: calls <= 45 ({'ok' if bulk_calls <= 45 else 'MISSED'}), "
              f"429s = 0 ({'ok' if bulk_429 == 0 else 'MISSED'}), "
              f"wall <= 1.2 x calls/{RATE} = {ideal * 1.2:.1f} s ({'ok' if within else 'MISSED'})")
        print(f"calls={bulk_calls} http429={bulk_429} wall_s={bulk_wall:.1f} naive_calls={naive_calls} "
              f"naive_wall_s={naive_wall:.0f} naive_sample={len(sample)} naive_http429={naive_429}")
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
