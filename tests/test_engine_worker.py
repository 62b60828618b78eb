"""The engine end to end over a real store (SQLite) and Protocol-level fakes of WordPress and
ActiveCampaign: ingest → plan → steps → audit → ack, retries and dead-letter, crash recovery,
and that nothing plain is kept after completion."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fakes import FakeActiveCampaign, FakeWordPress
from wpprivsync import errors
from wpprivsync.engine.ingest import pull_events
from wpprivsync.engine.plan import Planner
from wpprivsync.backoff import exponential_backoff_with_jitter
from wpprivsync.engine.worker import STEP_RETRY_BASE_S, STEP_RETRY_CAP_S, Worker
from wpprivsync.identity import email_hash
from wpprivsync.policy import load_policy
from wpprivsync.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SECRET = "k" * 32


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Site:
    name = "shop"
    newsletter_list_ids = [1]
    wordpress_url = "http://shop.test"


class Env:
    def __init__(self, tmp_path: Path, max_attempts: int = 3):
        self.clock = Clock()
        self.store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        self.policy = load_policy(ROOT / "config" / "policy.toml")
        self.wp = FakeWordPress()
        self.ac = FakeActiveCampaign()
        self.site = Site()
        self.planner = Planner("shop", SECRET, self.policy.response_due)
        self.tmp = tmp_path
        self.max_attempts = max_attempts

    def clients(self, name):
        assert name == "shop"
        return self

    @property
    def wordpress(self):
        return self.wp

    @property
    def activecampaign(self):
        return self.ac

    def worker(self, wid="w1", lease_s=60.0):
        return Worker(self.store, self.clients, self.policy, clock=self.clock, worker_id=wid,
                      export_dir=self.tmp / "exports", max_attempts=self.max_attempts, lease_s=lease_s,
                      concurrency=1, rng=random.Random(1))

    def pull(self):
        return pull_events("shop", self.wp, self.store, self.planner, SECRET, self.clock)


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    yield e
    e.store.close()


def test_account_deletion_erases_deletes_contact_keeps_orders_and_suppresses(env):
    env.wp.users["ann@example.com"] = {"id": 3, "subscribed": True}
    env.wp.order_rows.append({"id": 42, "email": "ann@example.com", "created": "2024-03-01",
                              "retained_until": "2029-12-31"})
    cid = env.ac.add("ann@example.com", {1: 1})
    env.wp.add_event("account.deleted", {"email": "Ann@Example.com", "user_id": 3, "display_name": "Ann"})

    stats = env.pull()
    assert (stats.events, stats.requests, stats.acked) == (1, 1, 1)
    digest = email_hash(SECRET, "ann@example.com")
    assert env.wp.acked == {1: digest}

    done = env.worker().run_pass()
    assert (done.done, done.dead) == (3, 0)
    assert env.wp.erased == ["ann@example.com"]
    assert env.ac.deletes == [cid] and cid not in env.ac.contacts
    assert env.store.is_suppressed("shop", digest)

    (req,) = env.store.list_requests(site="shop")
    assert req.status == "done" and req.email is None and req.email_hash == digest
    audit = env.store.audit(email_hash=digest)
    by = {(a.system, a.action): a for a in audit}
    wp = by[("wordpress", "erase")]
    assert wp.items_retained == 1 and wp.retained_until.isoformat() == "2029-12-31"
    assert "2029-12-31" in wp.reason
    assert by[("activecampaign", "delete_contact")].items_removed == 1
    assert ("suppression", "add") in by
    assert all("ann@" not in repr(a) for a in audit)


def test_events_are_not_planned_twice_when_the_ack_is_lost(env):
    env.wp.add_event("account.deleted", {"email": "bob@example.com"})
    env.wp.fail["ack"].append(errors.Unreachable("down", system="wordpress"))
    with pytest.raises(errors.Unreachable):
        env.pull()
    assert env.store.get_cursor("shop") == 1  # recorded before the ack failed
    stats = env.pull()
    assert stats.requests == 0 and stats.acked == 1
    assert len(env.store.list_requests(site="shop")) == 1


def test_a_backlog_is_acknowledged_on_the_request_for_the_next_page(env):
    for i in range(7):
        env.wp.add_event("account.deleted", {"email": f"p{i}@example.com"})
    stats = pull_events("shop", env.wp, env.store, env.planner, SECRET, env.clock, batch=3)
    assert stats.events == 7 and stats.acked == 7 and stats.requests == 7
    # page 2 is asked for while page 1 is recorded; each later request acknowledges the page
    # recorded before it, then reads; the last page is acknowledged alone
    assert env.wp.calls == [("events", 0), ("events", 3), ("ack", [1, 2, 3]), ("events", 6), ("ack", [4, 5, 6]),
                            ("events", 7), ("ack", [7])]
    assert env.store.get_state("acked:shop") == "7"
    assert all(h and len(h) == 64 for h in env.wp.acked.values())  # acknowledged with the keyed hashes


def test_the_last_acknowledged_id_is_kept_only_once_the_plugin_answered(env):
    for i in range(4):
        env.wp.add_event("account.deleted", {"email": f"p{i}@example.com"})
    env.wp.fail["ack"].append(errors.Unreachable("down", system="wordpress"))
    with pytest.raises(errors.Unreachable):  # the request acknowledging page 1 (and reading page 3)
        pull_events("shop", env.wp, env.store, env.planner, SECRET, env.clock, batch=2)
    # page 2 was recorded while that request failed; nothing counts as acknowledged
    assert env.store.get_cursor("shop") == 4 and env.store.get_state("acked:shop") is None
    assert env.wp.acked == {}
    stats = env.pull()  # both pages again: skipped, acknowledged
    assert stats.events == 4 and stats.requests == 0 and sorted(env.wp.acked) == [1, 2, 3, 4]
    assert len(env.store.list_requests(site="shop")) == 4


def test_a_plugin_without_the_pull_route_is_read_and_acknowledged_as_before(env):
    class OldPlugin(type(env.wp)):
        def pull(self, after, limit, ack=(), hashes=None):
            self._call("pull", after)
            raise errors.NotFound("No route was found", system="wordpress", status=404, code="rest_no_route")

    old = OldPlugin()
    for i in range(3):
        old.add_event("account.deleted", {"email": f"p{i}@example.com"})
    stats = pull_events("shop", old, env.store, env.planner, SECRET, env.clock)
    assert stats.events == 3 and stats.acked == 3
    assert old.calls == [("pull", 0), ("events", 0), ("events", 3), ("ack", [1, 2, 3])]
    assert env.store.get_state("acked:shop") == "3"


def test_one_call_reads_at_most_max_events_and_acknowledges_all_it_read(env, monkeypatch):
    from wpprivsync.engine import ingest

    monkeypatch.setattr(ingest, "PAGE", 2)  # the plugin's most ids in one acknowledgement
    for i in range(5):
        env.wp.add_event("account.deleted", {"email": f"p{i}@example.com"})
    stats = pull_events("shop", env.wp, env.store, env.planner, SECRET, env.clock, batch=2, max_events=3)
    # page 2 was the last read: no request went out acknowledging page 1, so both go now, a
    # page at a time
    assert stats.events == 4 and sorted(env.wp.acked) == [1, 2, 3, 4]
    assert env.wp.calls[-2:] == [("ack", [1, 2]), ("ack", [3, 4])]
    assert env.store.get_state("acked:shop") == "4"
    assert env.pull().events == 1 and sorted(env.wp.acked) == [1, 2, 3, 4, 5]


def test_retryable_failures_back_off_then_dead_letter_then_retry(env):
    env.ac.add("cy@example.com", {1: 1})
    env.wp.add_event("account.deleted", {"email": "cy@example.com"})
    env.pull()
    boom = errors.ServerError("HTTP 503", system="wordpress", status=503)
    env.wp.fail["erase"].extend([boom, boom, boom])
    w = env.worker()
    first = w.run_pass()
    assert first.failed == 1 and first.done == 1  # the ActiveCampaign step ran beside it
    step = next(s for s in env.store.steps_of(1) if s.system == "wordpress")
    assert step.status == "pending" and step.attempts == 1 and step.next_attempt_at > env.clock.now
    assert w.run_pass().done == 0  # not due yet
    env.clock.advance(3600)
    w.run_pass()
    env.clock.advance(3600)
    last = w.run_pass()
    assert last.dead == 1
    (dead,) = env.store.dead_steps("shop")
    assert dead.attempts == 3 and "503" in dead.last_error
    assert env.store.get_request(1).status == "failed"
    # suppression waits behind the failed step (position order)
    assert not env.store.is_suppressed("shop", email_hash(SECRET, "cy@example.com"))

    assert env.store.retry_step(dead.id, env.clock.now)
    assert env.worker().run_pass().done == 2
    assert env.store.get_request(1).status == "done"


def test_a_non_retryable_failure_goes_to_dead_letter_at_once(env):
    env.wp.add_event("comments.removal_requested", {"email": "dee@example.com"})
    env.pull()
    env.wp.fail["remove_comments"].append(errors.ApiError("bad email", system="wordpress", status=400))
    assert env.worker().run_pass().dead == 1


def test_malformed_event_is_acked_and_kept_visible_as_failed_work(env):
    env.wp.add_event("account.deleted", {"user_id": 4})
    env.pull()
    assert env.wp.acked == {1: None}
    stats = env.worker().run_pass()
    assert stats.dead == 1
    (dead,) = env.store.dead_steps("shop")
    assert "no valid email" in dead.last_error


def test_crash_mid_step_reruns_it_once_the_lease_expires_without_harm(env):
    cid = env.ac.add("eve@example.com", {1: 1})
    env.wp.add_event("account.deleted", {"email": "eve@example.com"})
    env.pull()
    crashed = env.store.claim_steps("dead-worker", env.clock.now, limit=10, lease_s=30)
    assert crashed  # claimed, then the worker "died"
    env.ac.delete_contact(cid)  # it had deleted the contact before dying
    assert env.worker("w2").run_pass().done == 0  # leases still held
    env.clock.advance(31)
    stats = env.worker("w2").run_pass()
    assert stats.done == 3
    assert env.ac.deletes == [cid]  # no second delete: the contact was already gone
    # the dead worker's late finish is refused
    assert not env.store.finish_step(crashed[0].id, "dead-worker", env.clock.now, result={})


def test_unsubscribe_webhook_clears_consent_deletes_and_suppresses(env):
    env.wp.users["fay@example.com"] = {"id": 9, "subscribed": True}
    cid = env.ac.add("fay@example.com", {1: 2})
    env.wp.add_event("newsletter.unsubscribed", {"email": "fay@example.com", "list_id": 1})
    env.pull()
    assert env.worker().run_pass().dead == 0
    assert env.wp.users["fay@example.com"]["subscribed"] is False
    assert cid not in env.ac.contacts
    assert env.store.is_suppressed("shop", email_hash(SECRET, "fay@example.com"))


def test_unsubscribe_keeps_a_contact_still_on_other_lists(env):
    cid = env.ac.add("gus@example.com", {1: 1, 7: 1})
    env.wp.add_event("consent.changed", {"email": "gus@example.com", "consent": False})
    env.pull()
    env.worker().run_pass()
    assert env.ac.contacts[cid]["lists"] == {1: 2, 7: 1}
    assert env.ac.deletes == []


def test_fresh_consent_lifts_suppression_and_subscribes(env):
    digest = email_hash(SECRET, "hal@example.com")
    env.store.suppress("shop", digest, "unsubscribed", env.clock.now)
    env.wp.add_event("consent.changed", {"email": "hal@example.com", "consent": True})
    env.pull()
    env.worker().run_pass()
    assert not env.store.is_suppressed("shop", digest)
    cid = env.ac.by_email("hal@example.com")
    assert env.ac.contacts[cid]["lists"] == {1: 1}


def test_export_request_writes_an_archive(env):
    env.wp.users["ivy@example.com"] = {"id": 2}
    env.ac.add("ivy@example.com", {1: 1}, tags=["customer"])
    env.wp.add_event("export.requested", {"email": "ivy@example.com", "source": "admin-page"})
    env.pull()
    assert env.worker().run_pass().done == 1
    (step,) = env.store.steps_of(1)
    path = Path(step.result["path"])
    assert path.is_file() and "ivy" not in path.name
    assert step.result["summary"]["activecampaign_tags"] == 1
    assert env.wp.exports == [path.read_bytes()]  # handed to the plugin for the admin page
    assert step.result["export_url"] == "http://shop.test/exports/1.zip"


def test_backoff_grows_and_stays_bounded():
    rng = random.Random(3)
    delays = [exponential_backoff_with_jitter(r, rng, base_s=STEP_RETRY_BASE_S, cap_s=STEP_RETRY_CAP_S)
              for r in range(19)]
    assert 1 <= delays[0] <= 2 and delays[5] > delays[0]
    assert max(delays) <= 900 and min(delays[12:]) >= 450  # capped, and at least half the cap


def test_one_backoff_formula_for_steps_and_clients():
    """The worker and both HTTP clients wait by the same formula: each wait lies between half
    and all of base * 2**retry (capped), and never below the floor."""
    from wpprivsync.clients.activecampaign import ActiveCampaignClient
    from wpprivsync.clients.webinarjam import WebinarJamClient

    import requests

    for client in (ActiveCampaignClient("http://ac.test/api/3", "t", session=requests.Session(), rng=random.Random(1),
                                        backoff_base=0.5, backoff_max=30.0),
                   WebinarJamClient("http://wj.test", "k", session=requests.Session(), rng=random.Random(1),
                                    backoff_base=0.5, backoff_max=30.0)):
        for retry in range(10):
            step = min(30.0, 0.5 * 2 ** retry)
            assert step / 2 <= client._backoff(retry) <= step
    assert exponential_backoff_with_jitter(0, random.Random(0), base_s=0.001, cap_s=1, floor_s=0.01) == 0.01


def test_leases_of_slow_steps_are_renewed_so_no_other_worker_takes_them(env):
    import threading
    import time as _time

    cid = env.ac.add("slow@example.com", {1: 1})
    env.wp.add_event("comments.removal_requested", {"email": "slow@example.com"})
    env.pull()
    release = threading.Event()
    real = env.wp.remove_comments

    def slow(email, dry_run=False):
        release.wait(5)
        return real(email, dry_run=dry_run)

    env.wp.remove_comments = slow
    env.clock = lambda: datetime.now(timezone.utc)  # the renewal thread runs on real time
    worker = Worker(env.store, env.clients, env.policy, clock=env.clock, worker_id="slow-worker",
                    export_dir=env.tmp / "exports", lease_s=1.0, concurrency=1, rng=random.Random(1))
    runner = threading.Thread(target=worker.run_pass)
    runner.start()
    _time.sleep(2.5)  # more than two leases long
    stolen = env.store.claim_steps("other-worker", env.clock(), limit=10, lease_s=60)
    release.set()
    runner.join(10)
    assert stolen == []
    (step,) = env.store.steps_of(1)
    assert step.status == "done" and cid in env.ac.contacts


def _three_deletions(env):
    for name in ("ana", "bo", "cy"):
        env.wp.users[f"{name}@example.com"] = {"id": len(env.wp.users) + 1}
        env.wp.add_event("account.deleted", {"email": f"{name}@example.com"})
    env.pull()


def _run_wide(env):
    """One pass of a worker wide enough to claim the three erasures together."""
    worker = Worker(env.store, env.clients, env.policy, clock=env.clock, worker_id="w", export_dir=env.tmp,
                    concurrency=6, rng=random.Random(1))
    try:
        return worker.run_pass()
    finally:
        worker.close()


def test_erasures_claimed_together_go_to_wordpress_in_one_call(env):
    _three_deletions(env)
    stats = _run_wide(env)
    assert stats.done == 9 and stats.dead == 0
    batches = [arg for name, arg in env.wp.calls if name == "erase_batch"]
    assert batches == [["ana@example.com", "bo@example.com", "cy@example.com"]]
    assert sorted(env.wp.erased) == ["ana@example.com", "bo@example.com", "cy@example.com"]
    assert sum(1 for a in env.store.audit(site="shop") if a.action == "erase") == 3


def test_a_failed_batch_falls_back_to_one_call_each(env):
    _three_deletions(env)
    env.wp.fail["erase_batch"].append(errors.ServerError("HTTP 502", system="wordpress", status=502))
    stats = _run_wide(env)
    assert stats.done == 9 and stats.failed == 0
    assert sorted(env.wp.erased) == ["ana@example.com", "bo@example.com", "cy@example.com"]


# -- claims sized by how fast steps go; batched recording; a stop gives unstarted steps back ---
def _deletions(env, n):
    for i in range(n):
        env.wp.users[f"p{i}@example.com"] = {"id": i + 1}
        env.wp.add_event("account.deleted", {"email": f"p{i}@example.com"})
    env.pull()


def test_claims_grow_with_fast_steps_and_shrink_with_slow_ones(env):
    worker = Worker(env.store, env.clients, env.policy, clock=env.clock, worker_id="w", export_dir=env.tmp,
                    concurrency=4, max_claim=100, rng=random.Random(1))
    try:
        assert worker.claim_size == 8  # nothing measured yet: twice the threads
        for _ in range(50):
            worker._step_s.add(0.001)  # a millisecond a step: a second's work is 4,000 steps
        assert worker.claim_size == 100  # capped
        for _ in range(50):
            worker._step_s.add(0.25)  # waiting for the ActiveCampaign budget
        assert worker.claim_size == 16
        for _ in range(50):
            worker._step_s.add(5.0)
        assert worker.claim_size == 8  # never fewer than twice the threads
    finally:
        worker.close()


def test_a_pass_records_each_batch_of_finished_steps_in_one_transaction(env):
    _deletions(env, 30)
    calls = []
    real = env.store.finish_steps

    def counting(worker, now, finished):
        calls.append(len(finished))
        return real(worker, now, finished)

    env.store.finish_steps = counting
    worker = Worker(env.store, env.clients, env.policy, clock=env.clock, worker_id="w", export_dir=env.tmp,
                    concurrency=4, rng=random.Random(1))
    try:
        for _ in range(20):
            worker._step_s.add(0.001)  # fast steps: large claims
        stats = worker.run_pass()
    finally:
        worker.close()
    assert stats.done == 90 and stats.dead == 0 and sum(calls) == 90
    assert len(calls) < 90 / 4 and max(calls) > 4  # several steps per transaction
    assert env.store.counts()["requests_done"] == 30
    assert len({a.email_hash for a in env.store.audit(site="shop", limit=1000) if a.system == "suppression"}) == 30
    assert len(env.store.suppressed("shop")) == 30


def test_when_a_batch_cannot_be_recorded_each_step_is_recorded_alone(env):
    _deletions(env, 3)

    def broken(worker, now, finished):
        raise errors.StoreError("database is locked")

    env.store.finish_steps = broken
    stats = env.worker().run_pass()
    assert stats.done == 9 and stats.dead == 0
    assert env.store.counts()["requests_done"] == 3


def test_stopping_gives_unstarted_steps_back_at_once(env):
    import threading

    _deletions(env, 12)
    started, release = threading.Event(), threading.Event()
    real_erase = env.wp.erase

    in_flight = []

    def slow(email, dry_run=False, exclude=()):
        in_flight.append(email)
        started.set()
        release.wait(5)
        return real_erase(email, dry_run=dry_run, exclude=exclude)

    env.wp.erase = slow
    for _ in range(2):  # the batch call fails: each step erases on its own (slowly)
        env.wp.fail["erase_batch"].append(errors.ServerError("HTTP 502", system="wordpress", status=502))
    stop = threading.Event()
    worker = Worker(env.store, env.clients, env.policy, clock=env.clock, worker_id="w", export_dir=env.tmp,
                    concurrency=1, rng=random.Random(1), stop=stop)
    result = {}
    runner = threading.Thread(target=lambda: result.setdefault("stats", worker.run_pass()))
    runner.start()
    assert started.wait(5)
    stop.set()
    release.set()
    runner.join(10)
    worker.close()
    assert not runner.is_alive()
    steps = [s for r in env.store.list_requests(site="shop") for s in env.store.steps_of(r.id)]
    done = [s for s in steps if s.status == "done"]
    assert result["stats"].done == len(done) < len(steps) == 36  # it stopped early
    # every erasure that had started when the stop came finished and was recorded
    assert in_flight
    for email in in_flight:
        (req,) = [r for r in env.store.list_requests(site="shop") if r.email_hash == email_hash(SECRET, email)]
        assert [s.status for s in env.store.steps_of(req.id) if s.system == "wordpress"] == ["done"]
    assert not [s for s in steps if s.status == "running"]  # none left leased to a stopped worker
    # another worker takes the rest at once, not after the lease
    assert len(env.store.claim_steps("other", env.clock(), limit=100, lease_s=60)) >= 1


def _flood_then_deletion(env, n):
    for i in range(n):
        env.ac.add(f"c{i}@example.com", {1: 1})
        env.wp.add_event("newsletter.unsubscribed", {"email": f"c{i}@example.com", "list_id": 1})
    env.wp.users["late@example.com"] = {"id": 999}
    env.ac.add("late@example.com", {1: 1})
    env.wp.add_event("account.deleted", {"email": "late@example.com"})
    env.pull()
    (erasure,) = env.store.requests_for_hash(email_hash(SECRET, "late@example.com"))
    return erasure


def test_an_erasures_next_step_overtakes_the_consent_changes_already_in_hand(env):
    erasure = _flood_then_deletion(env, 60)
    real_set_consent = env.wp.set_consent

    def slow_set_consent(email, subscribed):
        time.sleep(0.01)  # a consent change takes a while; the erasure's steps are not slowed
        return real_set_consent(email, subscribed)

    env.wp.set_consent = slow_set_consent
    worker = Worker(env.store, env.clients, env.policy, clock=env.clock, worker_id="w", export_dir=env.tmp,
                    concurrency=1, max_claim=100, rng=random.Random(1))
    order = []
    try:
        for _ in range(20):
            worker._step_s.add(0.001)  # fast steps: one claim takes the whole flood in hand
        stats = worker.run_pass(on_step=lambda step, verdict: order.append(step.request_id))
    finally:
        worker.close()
    assert stats.dead == 0 and env.store.get_request(erasure.id).status == "done"
    positions = len({s.position for s in env.store.steps_of(erasure.id)})
    assert positions >= 2  # a later step is claimable only once the one before is recorded
    last = max(i for i, rid in enumerate(order) if rid == erasure.id)
    overtaken_by = sum(1 for rid in order[:last] if rid != erasure.id)
    # each later step is claimed at once and run before the waiting consent changes: only
    # what a thread had already started (or had finished, waiting to be recorded) goes first
    assert overtaken_by <= 2 * positions, (overtaken_by, order[:last + 1])
