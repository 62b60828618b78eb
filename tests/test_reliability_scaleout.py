"""Scale-out: three daemon processes share one PostgreSQL store and work through a 300-event
backlog while, now and then, one of them is killed with SIGKILL and started again. No event is
processed twice (one successful finish per step, one contact deletion per person), and the three
share ActiveCampaign's budget: the local server (at the real 5 requests per second) never sees
more than 5 in any second and never answers 429."""

from __future__ import annotations

import random
import time

import pytest

from support.reliability import Backlog, DaemonProcess, wait_until
from support.system import System, build_settings
from wpprivsync.app import App

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PROCESSES = 3
KILLS = 4
BACKLOG = dict(users=80, with_contact=60, comment_requests=20, deleted_comments=200)  # 300 events


@pytest.fixture
def pg_system(wp, ac_server, pg_fresh_url, tmp_path):
    assert ac_server.rate == 5
    list_id = ac_server.add_list("Newsletter")
    app = App(build_settings(wp, ac_server, list_id, tmp_path, store_url=pg_fresh_url))
    app.store.migrate()
    try:
        yield System(wp, ac_server, app, list_id, tmp_path)
    finally:
        app.close()


def test_three_workers_on_postgresql_process_each_event_once_within_the_budget(pg_system, tmp_path):
    system = pg_system
    started = time.monotonic()
    backlog = Backlog("scale", **BACKLOG)
    assert backlog.events == 300
    backlog.seed(system)
    # Short leases on purpose: the shared budget is not fair between processes (one was seen
    # waiting 23 s while the other two took every slot), so a step can wait far longer than its
    # lease. Workers renew the leases of the steps they run (every third of the lease); without
    # that, 3 s leases let a second worker take over waiting steps and send extra DELETEs
    # (5 for 60 contacts). 10 s leaves the renewals room on a loaded 2-core CI machine, where
    # a 3 s lease once expired between two renewals.
    config = system.write_config(tmp_path / "wpprivsync.toml", step_lease_s=10, poll_interval_s=0.2,
                                 heartbeat_interval_s=5, step_concurrency=4)
    logs = [tmp_path / f"worker{i}.log" for i in range(PROCESSES)]
    workers = [DaemonProcess(config, log) for log in logs]
    rng = random.Random(3)
    try:
        for _ in range(KILLS):
            time.sleep(rng.uniform(1.5, 4.0))
            victim = rng.randrange(PROCESSES)
            workers[victim].kill()
            workers[victim] = DaemonProcess(config, logs[victim])
        wait_until(lambda: backlog.finished(system, system.app.store), timeout=240, interval=1.0,
                   what="the backlog to finish")
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0] * PROCESSES
    elapsed = time.monotonic() - started

    figures = backlog.verify(system, system.app.store)
    # the budget is shared: never above the account's 5 requests per second, never a 429
    assert figures["ac_max_per_second"] <= 5 and figures["ac_429"] == 0, figures
    # every process did some of the work, and no step ran in two of them at once
    for log in logs:
        text = log.read_text()
        assert "steps done" in text and "lease lost" not in text, log.name
    print(f"\nscale-out: {backlog.events} events, {PROCESSES} processes, {KILLS} kills, done in {elapsed:.1f} s; "
          f"{figures}")
