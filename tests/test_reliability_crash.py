"""Crash: the real daemon (``python -m wpprivsync.cli run``) is killed with SIGKILL at random
points, 20 times, while it works through a 2,000-event backlog; then it runs to the end. Every
event is done exactly once in effect: no event lost, no ActiveCampaign contact deleted twice,
one audit entry per step, no duplicate request.

The event mix: 200 account deletions (150 of those people have an ActiveCampaign contact), 100
comment-removal requests recorded the way the admin page records them, and 1,700 comments
deleted in WordPress (each a ``comment.deleted`` event whose effect is one audit entry). Every
erasure costs one or two ActiveCampaign calls, and the daemon's own budget holds it to 5 calls
per second (the real account's limit, fixed in the client), so a faster fake would not shorten
the run: the mix keeps the ActiveCampaign work at about 350 calls (~70 s) instead of 4,000
(~13 min), and the WordPress work at 300 requests. The shared ``system`` fixture's fake runs at
the real 5 req/s.
"""

from __future__ import annotations

import random
import time

import pytest

from support.reliability import Backlog, DaemonProcess, all_requests, wait_until
from wpprivsync.store.api import DONE

pytestmark = pytest.mark.slow

KILLS = 20
BACKLOG = dict(users=200, with_contact=150, comment_requests=100, deleted_comments=1700)  # 2,000 events


def test_sigkill_twenty_times_during_a_2000_event_backlog(system, tmp_path):
    started = time.monotonic()
    backlog = Backlog("crash", **BACKLOG)
    assert backlog.events == 2000
    backlog.seed(system)
    seeded_s = time.monotonic() - started

    config = system.write_config(tmp_path / "wpprivsync.toml", step_lease_s=6, poll_interval_s=0.2,
                                 heartbeat_interval_s=5, step_concurrency=4)
    log_path = tmp_path / "daemon.log"
    rng = random.Random(20)
    progress = []
    for _ in range(KILLS):
        daemon = DaemonProcess(config, log_path)
        try:
            time.sleep(rng.uniform(1.0, 4.5))  # a random point: start-up, pulling, mid-step, mid-call
        finally:
            daemon.kill()
        progress.append(len([r for r in all_requests(system.app.store, "test") if r.status == DONE]))
    kills_s = time.monotonic() - started - seeded_s

    final = DaemonProcess(config, log_path)
    try:
        wait_until(lambda: backlog.finished(system, system.app.store), timeout=420, interval=1.0,
                   what="the backlog to finish")
    finally:
        assert final.stop() == 0
    total_s = time.monotonic() - started
    print(f"\ncrash: {backlog.events} events seeded in {seeded_s:.1f} s; {KILLS} kills in {kills_s:.1f} s "
          f"(requests done after each kill: {progress}); all done after {total_s:.1f} s")

    # each kill can leave the steps in flight (4 threads) to run again
    figures = backlog.verify(system, system.app.store, rerun_steps=KILLS * 4)
    assert figures["ac_429"] == 0
    assert "lease lost" not in log_path.read_text()  # a step never ran in two processes at once
    print(f"crash figures: {figures}")
