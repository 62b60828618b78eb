"""How much of ActiveCampaign's 5 requests per second the rate budget uses while a backlog exists,
and whether it ever draws a 429 from the local server's strict sliding window, idle and with two
CPU hogs running beside it.

    .venv/bin/python bench/activecampaign_budget.py [--calls 150] [--threads 4] [--hogs 2]

Side by side, in one run, on the budget the daemon uses (a SQLite file beside the store):

- **fixed margin** (as before issue 17.4): every slot counts from its grant + 100 ms, i.e. a
  1.1 s window: at most 5 / 1.1 s = 90.9 % of the limit;
- **answer-bounded** (now): a slot counts from its grant + 100 ms until its answer comes back,
  then from the answer (the server had the request by then, however late it was sent), so the
  window frees one second after the latest possible arrival.

Each mode runs ``--calls`` look-ups (``GET /contacts?email=``) from ``--threads`` threads that
share the budget, once on an idle machine and once with ``--hogs`` busy-looping processes.
Utilisation is measured at the server, from the accepted arrivals: (n - 5) / (last - first) / 5.
Targets: answer-bounded ≥ 95 % of the limit with 0 × 429, also under the hogs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import last_line, print_machine, print_table  # noqa: E402

from wpprivsync_devkit.acfake import ActiveCampaignServer  # noqa: E402
from wpprivsync.clients.activecampaign import ActiveCampaignClient  # noqa: E402
from wpprivsync.clients.ratebudget import rate_budget  # noqa: E402

RATE = 5


class _FixedMargin:
    """The budget without ``release``: every slot keeps its grant + margin (the old 1.1 s window)."""

    def __init__(self, budget: Any):
        self._budget = budget

    def acquire(self) -> Any:
        return self._budget.acquire()


def _hog() -> None:  # pragma: no cover - runs in a child process
    x = 0
    while True:
        x = (x * 31 + 7) % 1_000_003


def run(server: ActiveCampaignServer, budget: Any, calls: int, threads: int) -> dict[str, Any]:
    account = next(iter(server.accounts.values()))
    before = server.counters()["http429"]
    account.window.reset()
    left = iter(range(calls))
    lock = threading.Lock()
    clients = [ActiveCampaignClient(server.url, server.token, session=requests.Session(), budget=budget)
               for _ in range(threads)]

    def work(client: ActiveCampaignClient) -> None:
        while True:
            with lock:
                i = next(left, None)
            if i is None:
                return
            client.find_contact(f"p{i % 50}@example.org")

    started = time.monotonic()
    pool = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.monotonic() - started
    arrivals = sorted(account.window.accepted)
    span = arrivals[-1] - arrivals[0] if len(arrivals) > RATE else float("nan")
    return {"calls": sum(c.stats.calls for c in clients), "http429": server.counters()["http429"] - before,
            "max_per_second": account.window.max_in_any_second(), "wall_s": wall,
            "utilisation": (len(arrivals) - RATE) / span / RATE}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=150)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--hogs", type=int, default=2)
    args = parser.parse_args(argv)
    print_machine()
    rows, figures = [], {}
    with tempfile.TemporaryDirectory() as tmp, ActiveCampaignServer(port=0, token="bench-token", rate=RATE) as server:
        news = server.add_list("Newsletter")
        for i in range(50):
            server.add_contact(f"p{i}@example.org", lists={news: 1})
        store = f"sqlite:///{Path(tmp) / 'store.sqlite3'}"
        for load in ("idle", f"{args.hogs} CPU hogs"):
            hogs = [multiprocessing.Process(target=_hog, daemon=True) for _ in range(args.hogs if load != "idle" else 0)]
            for h in hogs:
                h.start()
            try:
                for mode in ("fixed margin", "answer-bounded"):
                    # a budget of its own per run (its own table), so runs do not share slots
                    budget = rate_budget(f"{server.url}#{mode}-{load}", store_url=store)
                    result = run(server, budget if mode == "answer-bounded" else _FixedMargin(budget),
                                 args.calls, args.threads)
                    rows.append([mode, load, result["calls"], f"{100 * result['utilisation']:.1f} %",
                                 result["http429"], result["max_per_second"], result["wall_s"]])
                    key = ("fixed" if mode == "fixed margin" else "bounded") + ("_idle" if load == "idle" else "_hogs")
                    figures[f"{key}_pct"] = round(100 * result["utilisation"], 1)
                    figures[f"{key}_429"] = result["http429"]
            finally:
                for h in hogs:
                    h.terminate()
                    h.join()
    print(f"{args.calls} look-ups from {args.threads} threads sharing one SQLite-backed budget, "
          f"local server at {RATE} requests/s (strict sliding window)")
    print_table(["budget", "machine", "calls", "of the limit", "429s", "max in any 1 s", "wall (s)"], rows)
    ok = all(figures[f"bounded_{k}_pct"] >= 95 and figures[f"bounded_{k}_429"] == 0 for k in ("idle", "hogs"))
    print(f"target: answer-bounded >= 95 % with 0 x 429, idle and under load: {'ok' if ok else 'MISSED'}")
    last_line(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
