"""One contract for every store backend: each test runs on an SQLite file and on PostgreSQL
(a fresh database per test on the session's private server)."""

from __future__ import annotations

import itertools

import json
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from wpprivsync.errors import StoreError
from wpprivsync.store import AuditEntry, NewRequest, NewStep, open_store
from wpprivsync.store import migrations, schema
from wpprivsync.store.api import CANCELLED, DONE, FAILED, OPEN, PENDING, RUNNING, STEP_DONE
from wpprivsync.store.sql import SqlStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SITE = "shop"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("pg_fresh_url")


@pytest.fixture
def store(url: str):
    s = open_store(url)
    yield s
    s.close()


def req(key: str | None = "erase:h1", *, site: str = SITE, email: str | None = "ann@example.com",
        email_hash: str | None = "h1", steps=None, received: datetime = T0, action: str = "erase",
        source: str = "event") -> NewRequest:
    if steps is None:
        steps = [NewStep("wordpress", "erase", {"page": 1}, 0), NewStep("activecampaign", "delete_contact", {}, 0),
                 NewStep("suppression", "add", {"reason": "erasure"}, 1)]
    return NewRequest(site=site, action=action, email=email, email_hash=email_hash, source=source,
                      received_at=received, due_at=received + timedelta(days=30), steps=steps, dedupe_key=key)


_people = itertools.count(100)


def one_step(key: str | None = None, **kw) -> NewRequest:
    """A one-step request of a person of its own (one person's requests run in order)."""
    kw.setdefault("email_hash", f"h{next(_people)}")
    return req(key, steps=[NewStep("wordpress", "erase", {}, 0)], **kw)


def claim_all(store, worker="w1", now=T0, **kw):
    kw.setdefault("lease_s", 3600)
    return store.claim_steps(worker, now, limit=100, **kw)


# -- ingest, cursor, dedupe -----------------------------------------------------------------
def test_ingest_is_idempotent_and_moves_the_cursor(store):
    assert store.get_cursor(SITE) == 0
    audit = [AuditEntry(site=SITE, email_hash="h1", system="wordpress", action="comment_deleted", items_removed=1)]
    ids = store.ingest(SITE, 7, [req()], audit)
    assert len(ids) == 1
    assert store.get_cursor(SITE) == 7
    assert store.get_request(ids[0]).event_id == 7
    assert store.ingest(SITE, 7, [req(), one_step("other")], audit) == []
    assert len(store.steps_of(ids[0])) == 3
    assert store.counts()["requests_open"] == 1
    assert len(store.audit(site=SITE)) == 1
    # an older event arriving late is recorded but never moves the cursor back
    assert len(store.ingest(SITE, 3, [one_step("late")])) == 1
    assert store.get_cursor(SITE) == 7
    assert store.get_cursor("elsewhere") == 0
    # an event that plans nothing still counts as ingested
    assert store.ingest(SITE, 8, []) == []
    assert store.get_cursor(SITE) == 8


def test_dedupe_merges_into_the_open_request_only(store):
    first = store.add_request(req("erase:h1"))
    assert store.add_request(req("erase:h1")) == first
    assert store.ingest(SITE, 1, [req("erase:h1")]) == [first]
    assert len(store.steps_of(first)) == 3
    assert store.add_request(req("erase:h1", site="other-site")) != first
    assert store.add_request(req(None)) != store.add_request(req(None))  # no key, no merge
    for step in claim_all(store):
        store.finish_step(step.id, "w1", T0, result={})
    for step in claim_all(store):
        store.finish_step(step.id, "w1", T0, result={})
    assert store.get_request(first).status == DONE
    assert store.add_request(req("erase:h1")) != first  # the old one is closed: a new request


def test_concurrent_requests_with_one_key_merge_into_one(store):
    """Workers recording the same request at the same moment (on PostgreSQL the unique index
    catches the race and the loser merges)."""
    for round_ in range(5):
        gate = threading.Barrier(6)
        ids: list[int] = []
        seen = set()

        def add(i):
            gate.wait()
            ids.append(store.add_request(req(f"erase:r{round_}", email_hash=f"r{round_}")))
            seen.add(store.ingest(SITE, 1000 * round_ + i, [req(f"unsub:r{round_}", email_hash=f"r{round_}")])[0])

        threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(ids) == 6 and len(set(ids)) == 1 and len(seen) == 1
    assert store.counts()["requests_open"] == 10


def test_request_without_steps_is_answered_at_once(store):
    rid = store.add_request(req("nothing", steps=[]))
    got = store.get_request(rid)
    assert got.status == DONE and got.email is None and got.email_hash == "h1"


def test_rejects_naive_timestamps_and_non_json_params(store):
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(StoreError, match="timezone-aware"):
        store.add_request(req(received=naive))
    with pytest.raises(StoreError, match="JSON"):
        store.add_request(req(steps=[NewStep("wordpress", "erase", {"x": object()}, 0)]))
    assert store.counts()["requests_open"] == 0  # nothing half-written


# -- claiming ---------------------------------------------------------------------------------
def test_steps_run_in_position_order(store):
    rid = store.add_request(req())
    first = claim_all(store)
    assert sorted((s.system, s.position) for s in first) == [("activecampaign", 0), ("wordpress", 0)]
    assert all(s.status == RUNNING and s.lease_owner == "w1" for s in first)
    assert claim_all(store, "w2") == []
    assert store.finish_step(first[0].id, "w1", T0, result={"ok": 1})
    assert claim_all(store, "w2") == []  # a position-0 step is still running
    assert store.finish_step(first[1].id, "w1", T0, result={"ok": 2})
    last = claim_all(store, "w2")
    assert [(s.system, s.action, s.position) for s in last] == [("suppression", "add", 1)]
    assert last[0].params == {"reason": "erasure"}
    assert store.get_request(rid).status == OPEN


def test_one_persons_requests_run_in_the_order_they_came(store):
    first = store.add_request(req("subscribe:h1", action="subscribe",
                                  steps=[NewStep("activecampaign", "subscribe", {}, 0)]))
    second = store.add_request(req("erase:h1", received=T0 + timedelta(seconds=1)))
    other = store.add_request(req("erase:h9", email_hash="h9"))
    got = claim_all(store)
    assert {s.request_id for s in got} == {first, other}
    (sub,) = [s for s in got if s.request_id == first]
    assert store.fail_step(sub.id, "w1", T0, error="x", retry_at=T0 + timedelta(minutes=1))
    assert claim_all(store) == []  # still waiting for its retry: the erasure waits too
    (sub,) = claim_all(store, now=T0 + timedelta(minutes=2))
    assert store.fail_step(sub.id, "w1", T0, error="x", retry_at=None)  # dead: no longer blocks
    assert {s.request_id for s in claim_all(store, now=T0 + timedelta(minutes=2))} == {second}


def test_a_request_received_earlier_but_recorded_later_still_runs_first(store):
    later = store.add_request(req("unsubscribe:h1", action="unsubscribe", received=T0 + timedelta(minutes=5),
                                  steps=[NewStep("activecampaign", "unsubscribe", {}, 0)]))
    earlier = store.add_request(req("subscribe:h1", action="subscribe", received=T0,
                                    steps=[NewStep("activecampaign", "subscribe", {}, 0)]))
    now = T0 + timedelta(minutes=10)
    (first,) = claim_all(store, now=now)
    assert first.request_id == earlier
    assert store.finish_step(first.id, "w1", now, result={})
    (second,) = claim_all(store, now=now)
    assert second.request_id == later


def test_not_due_steps_and_system_filter(store):
    store.add_request(one_step(received=T0 + timedelta(minutes=5)))
    store.add_request(req(None, email_hash="h2", steps=[NewStep("activecampaign", "unsubscribe", {}, 0)]))
    assert [s.system for s in claim_all(store, systems=["wordpress"])] == []
    assert [s.system for s in claim_all(store, systems=["activecampaign"], lease_s=600)] == ["activecampaign"]
    assert [s.system for s in claim_all(store, now=T0 + timedelta(minutes=5))] == ["wordpress"]


def test_claim_respects_limit_and_due_order(store):
    for i in range(5):
        store.add_request(one_step(received=T0 - timedelta(minutes=i)))
    got = store.claim_steps("w1", T0, limit=2)
    assert len(got) == 2
    assert [s.next_attempt_at for s in got] == [T0 - timedelta(minutes=4), T0 - timedelta(minutes=3)]
    assert store.queue_depth() == 5


def test_expired_lease_is_claimed_again_and_the_old_owner_loses(store):
    store.add_request(one_step())
    (step,) = store.claim_steps("w1", T0, lease_s=60)
    assert step.lease_until == T0 + timedelta(seconds=60)
    assert store.claim_steps("w2", T0 + timedelta(seconds=59)) == []
    (again,) = store.claim_steps("w2", T0 + timedelta(seconds=61))
    assert again.id == step.id and again.lease_owner == "w2"
    assert store.finish_step(step.id, "w1", T0 + timedelta(seconds=62), result={"by": "w1"}) is False
    assert store.fail_step(step.id, "w1", T0 + timedelta(seconds=62), error="x", retry_at=None) is False
    assert store.finish_step(step.id, "w2", T0 + timedelta(seconds=63), result={"by": "w2"}) is True
    (done,) = store.steps_of(step.request_id)
    assert done.status == STEP_DONE and done.result == {"by": "w2"} and done.lease_owner is None


def test_lease_owner_is_checked(store):
    store.add_request(one_step())
    (step,) = claim_all(store, "w1")
    audit = [AuditEntry(site=SITE, email_hash="h1", system="wordpress", action="erase")]
    assert store.finish_step(step.id, "intruder", T0, result={}, audit=audit) is False
    assert store.fail_step(step.id, "intruder", T0, error="boom", retry_at=None) is False
    (same,) = store.steps_of(step.request_id)
    assert same.status == RUNNING and same.lease_owner == "w1" and same.attempts == 0
    assert store.audit(site=SITE) == []  # a refused finish writes nothing
    assert store.finish_step(12345, "w1", T0, result={}) is False


# -- failures, dead-letter, retry ----------------------------------------------------------------
def test_retry_later_then_dead_letter_then_retry(store):
    rid = store.add_request(req())
    steps = {s.system: s for s in claim_all(store)}
    wp, ac = steps["wordpress"], steps["activecampaign"]
    later = T0 + timedelta(minutes=2)
    assert store.fail_step(wp.id, "w1", T0, error="503 from WordPress", retry_at=later)
    after = {s.id: s for s in store.steps_of(rid)}[wp.id]
    assert (after.status, after.attempts, after.last_error, after.next_attempt_at) == (PENDING, 1, "503 from WordPress", later)
    assert after.lease_owner is None
    assert claim_all(store, now=later - timedelta(seconds=1)) == []
    (wp,) = claim_all(store, now=later)
    assert wp.attempts == 1
    assert store.fail_step(wp.id, "w1", later, error="401 wrong password", retry_at=None)
    assert store.get_request(rid).status == FAILED
    assert [s.id for s in store.dead_steps()] == [wp.id]
    assert store.dead_steps(site="other-site") == []
    # the independent sibling still finishes; the later position waits for the dead one
    assert store.finish_step(ac.id, "w1", later, result={})
    assert claim_all(store, now=later + timedelta(hours=1)) == []
    assert store.get_request(rid).status == FAILED
    assert store.queue_depth() == 1  # the position-1 step, still pending
    counts = store.counts()
    assert counts["steps_dead"] == 1 and counts["requests_failed"] == 1

    assert store.retry_step(wp.id, later) is True
    assert store.retry_step(wp.id, later) is False  # no longer dead
    revived = {s.id: s for s in store.steps_of(rid)}[wp.id]
    assert (revived.status, revived.attempts, revived.next_attempt_at) == (PENDING, 0, later)
    assert store.get_request(rid).status == OPEN
    (wp,) = claim_all(store, now=later)
    assert store.finish_step(wp.id, "w1", later, result={})
    (last,) = claim_all(store, now=later)
    assert store.finish_step(last.id, "w1", later, result={})
    assert store.get_request(rid).status == DONE


def test_retry_all_dead(store):
    rids = [store.add_request(one_step(f"k{i}")) for i in range(3)]
    for s in claim_all(store):
        assert store.fail_step(s.id, "w1", T0, error="gone", retry_at=None)
    assert store.counts()["steps_dead"] == 3
    store.cancel_request(rids[2], T0)  # a cancelled request's steps stay where they are
    assert store.retry_all_dead(T0) == 2
    assert store.retry_all_dead(T0) == 0
    assert [store.get_request(r).status for r in rids] == [OPEN, OPEN, CANCELLED]
    assert len(claim_all(store)) == 2


def test_retry_of_a_failed_request_whose_key_was_taken_again(store):
    old = store.add_request(one_step("erase:h1"))
    (s,) = claim_all(store)
    store.fail_step(s.id, "w1", T0, error="x", retry_at=None)
    new = store.add_request(one_step("erase:h1"))  # the failed one is not open: a new request
    assert new != old
    assert store.retry_step(s.id, T0)
    assert {store.get_request(old).status, store.get_request(new).status} == {OPEN}
    assert store.add_request(one_step("erase:h1")) == new


def test_error_text_is_bounded(store):
    store.add_request(one_step())
    (s,) = claim_all(store)
    store.fail_step(s.id, "w1", T0, error="x" * 10_000, retry_at=T0)
    assert len(store.steps_of(s.request_id)[0].last_error) == 2000


# -- email lifecycle ------------------------------------------------------------------------------
def test_completion_clears_the_email_and_keeps_the_hash(store):
    rid = store.add_request(req())
    assert store.get_request(rid).email == "ann@example.com"
    finish = T0 + timedelta(minutes=3)
    for _ in range(2):
        for s in claim_all(store):
            store.finish_step(s.id, "w1", finish, result={})
    got = store.get_request(rid)
    assert (got.status, got.email, got.email_hash, got.completed_at) == (DONE, None, "h1", finish)


def test_cancel_clears_the_email_and_stops_the_work(store):
    rid = store.add_request(req())
    (a, _b) = claim_all(store)
    assert store.cancel_request(rid, T0) is True
    assert store.cancel_request(rid, T0) is False
    got = store.get_request(rid)
    assert (got.status, got.email, got.email_hash) == (CANCELLED, None, "h1")
    assert claim_all(store, now=T0 + timedelta(days=1)) == []
    assert store.finish_step(a.id, "w1", T0, result={}) is False
    assert store.queue_depth() == 0


# -- audit, suppression, state ---------------------------------------------------------------------
def test_audit_entries(store, url):
    rid = store.add_request(one_step())
    (s,) = claim_all(store)
    store.finish_step(s.id, "w1", T0, result={}, audit=[AuditEntry(
        site=SITE, email_hash="h1", system="woocommerce", action="erase", items_removed=2, items_retained=3,
        retained_until=date(2031, 12, 31), reason="orders: invoices kept", detail={"orders": [11, 12, 13]})])
    store.add_audit([AuditEntry(site=SITE, email_hash="h2", system="activecampaign", action="delete_contact")])
    store.add_audit([AuditEntry(site="other", email_hash="h1", system="wordpress", action="erase",
                                at=T0 + timedelta(days=1))])
    (mine,) = store.audit(email_hash="h1", site=SITE)
    assert (mine.request_id, mine.step_id, mine.at) == (rid, s.id, T0)
    assert (mine.items_removed, mine.items_retained, mine.retained_until) == (2, 3, date(2031, 12, 31))
    assert mine.detail == {"orders": [11, 12, 13]} and mine.id > 0
    assert [a.site for a in store.audit(email_hash="h1")] == [SITE, "other"]  # oldest first
    h2 = store.audit(email_hash="h2")[0]
    assert h2.at.tzinfo is not None and h2.request_id is None
    assert [a.email_hash for a in store.audit(limit=2)] == ["h2", "h1"]  # the newest two
    assert len(store.audit(request_id=rid)) == 1
    # nothing plain in the stored rows: the audit table holds only the hash
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        dump = json.dumps([list(map(str, r)) for r in conn.execute(sa.select(schema.audit))])
    engine.dispose()
    assert "@" not in dump


def test_suppression_list(store):
    assert store.suppress(SITE, "h1", "erasure", T0) is True
    assert store.suppress(SITE, "h1", "unsubscribed", T0) is False
    assert store.suppress(SITE, "h2", "unsubscribed", T0) is True
    assert store.is_suppressed(SITE, "h1") and not store.is_suppressed("other", "h1")
    assert store.suppressed(SITE) == {"h1", "h2"} and store.suppressed("other") == set()
    assert store.unsuppress(SITE, "h1") is True
    assert store.unsuppress(SITE, "h1") is False
    assert store.suppressed(SITE) == {"h2"}
    assert store.counts()["suppressed"] == 1


def test_key_value_state(store):
    assert store.get_state("last_reconcile") is None
    store.set_state("last_reconcile", "2026-03-01T03:15:00+00:00")
    store.set_state("last_reconcile", "2026-03-02T03:15:00+00:00")
    assert store.get_state("last_reconcile") == "2026-03-02T03:15:00+00:00"


# -- reporting --------------------------------------------------------------------------------------
def test_reporting_queries(store):
    a = store.add_request(one_step("a", email_hash="ha", received=T0 - timedelta(days=40)))
    b = store.add_request(one_step("b", email_hash="hb", received=T0 - timedelta(days=2), action="export",
                                   source="cli"))
    c = store.add_request(one_step("c", email_hash="ha", received=T0 - timedelta(days=1), site="blog"))
    assert [r.id for r in store.recent_requests(2)] == [c, b]
    assert [r.id for r in store.list_requests(site=SITE)] == [b, a]
    assert [r.id for r in store.list_requests(action="export")] == [b]
    assert [r.id for r in store.list_requests(source="cli")] == [b]
    assert [r.id for r in store.list_requests(email_hash="ha")] == [c, a]
    assert [r.id for r in store.list_requests(due_before=T0)] == [a]
    assert [r.id for r in store.list_requests(limit=1, offset=1)] == [b]
    assert [r.id for r in store.overdue_requests(T0)] == [a]
    assert [r.id for r in store.requests_for_hash("ha")] == [a, c]
    assert [r.id for r in store.requests_for_hash("ha", site="blog")] == [c]
    assert store.oldest_open_request_age(T0) == timedelta(days=40)
    assert store.oldest_open_request_age(T0, site="blog") == timedelta(days=1)
    assert store.count_requests(status=OPEN) == 3 and store.count_requests(site="blog", status=OPEN) == 1
    assert store.count_requests(site="nowhere") == 0 and store.count_requests() == 3
    store.cancel_request(a, T0)
    assert store.oldest_open_request_age(T0) == timedelta(days=2)
    assert store.oldest_open_request_age(T0, site=SITE) == timedelta(days=2)
    assert store.count_requests(site=SITE, status=OPEN) == 1 and store.count_requests(status=CANCELLED) == 1
    assert [r.id for r in store.list_requests(status=CANCELLED)] == [a]
    assert store.queue_depth() == 2 and store.queue_depth(site="blog") == 1
    counts = store.counts()
    assert counts["requests_open"] == 2 and counts["requests_cancelled"] == 1 and counts["steps_pending"] == 2
    assert set(counts) >= {"requests_done", "requests_failed", "steps_running", "steps_done", "steps_dead",
                           "audit_entries", "suppressed"}
    store.cancel_request(b, T0)
    store.cancel_request(c, T0)
    assert store.oldest_open_request_age(T0) is None


# -- migrations ---------------------------------------------------------------------------------------
def test_migrations_are_versioned_and_idempotent(url):
    s = SqlStore(url)
    assert s.schema_version() == 0
    assert s.migrate_to(1) == 1
    assert s.schema_version() == 1
    assert s.migrate() == migrations.LATEST
    assert s.migrate() == migrations.LATEST
    with s.engine.connect() as conn:
        versions = [r.version for r in conn.execute(sa.select(schema.schema_version).order_by("version"))]
        inspector = sa.inspect(conn)
        for table in schema.metadata.sorted_tables:
            assert {c["name"] for c in inspector.get_columns(table.name)} == set(table.columns.keys()), table.name
        indexes = {i["name"] for t in ("audit", "steps") for i in inspector.get_indexes(t)}
    assert versions == [m.version for m in migrations.MIGRATIONS]
    assert {"ix_audit_email_hash", "ix_audit_site_at", "ix_steps_due", "ix_steps_lease"} <= indexes
    assert "ix_steps_status_next" not in indexes
    s.close()


def test_concurrent_migrations_from_threads(url):
    stores = [SqlStore(url) for _ in range(4)]
    results: list[int | BaseException] = []
    gate = threading.Barrier(len(stores))

    def go(s):
        gate.wait()
        try:
            results.append(s.migrate())
        except BaseException as exc:  # noqa: BLE001 - reported below
            results.append(exc)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [migrations.LATEST] * 4
    assert stores[0].schema_version() == migrations.LATEST
    for s in stores:
        s.close()


_MIGRATOR = r"""
import sys
from wpprivsync.store.sql import SqlStore
store = SqlStore(sys.argv[1])
print("ready", flush=True)
sys.stdin.readline()
print(store.migrate(), flush=True)
"""


def test_concurrent_migrations_from_processes(url):
    procs = [subprocess.Popen([sys.executable, "-c", _MIGRATOR, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [(p.returncode, out.strip()) for p, (out, _err) in zip(procs, results)] == [(0, str(migrations.LATEST))] * 3, [e[-1500:] for _o, e in results]
    s = SqlStore(url)
    with s.engine.connect() as conn:
        versions = list(conn.execute(sa.select(schema.schema_version.c.version)).scalars())
    assert sorted(versions) == [m.version for m in migrations.MIGRATIONS]  # each applied once
    s.close()


def test_a_newer_schema_is_refused(store):
    with store.engine.begin() as conn:
        conn.execute(sa.insert(schema.schema_version).values(version=99, description="from the future", applied_at=T0))
    with pytest.raises(StoreError, match="newer than this wpprivsync"):
        store.migrate()


# -- concurrency ----------------------------------------------------------------------------------------
def _fill(store, n_requests: int) -> int:
    for i in range(n_requests):
        store.add_request(req(f"k{i}", email_hash=f"p{i}", steps=[NewStep("wordpress", "erase", {}, 0),
                                              NewStep("activecampaign", "delete_contact", {}, 0),
                                              NewStep("suppression", "add", {}, 1)]))
    return n_requests * 3


def _claim_until_empty(store, worker: str) -> list[int]:
    got = []
    while True:
        steps = store.claim_steps(worker, T0, limit=4, lease_s=600)
        if not steps:
            # a position-1 step may wait for another worker's position-0 step
            if store.queue_depth() == 0:
                return got
            continue
        for s in steps:
            got.append(s.id)
            assert store.finish_step(s.id, worker, T0, result={"by": worker})


def test_threads_never_claim_the_same_step_twice(store):
    total = _fill(store, 60)
    claimed: dict[str, list[int]] = {}
    gate = threading.Barrier(8)

    def work(name):
        gate.wait()
        claimed[name] = _claim_until_empty(store, name)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for got in claimed.values() for i in got]
    assert len(ids) == total and len(set(ids)) == total
    assert store.counts()["steps_done"] == total and store.counts()["requests_done"] == 60
    by = {}
    for rid in range(1, 61):
        for s in store.steps_of(rid):
            by[s.id] = s.result["by"]
    assert all(by[i] == name for name, got in claimed.items() for i in got)


def test_last_two_steps_finished_at_once_close_the_request(store):
    """Sibling steps of one request finished by different workers at the same moment: the
    request is closed exactly when its last step is done."""
    systems = ["wordpress", "activecampaign", "thrive", "woocommerce"]
    rids = [store.add_request(req(f"k{i}", email_hash=f"p{i}", steps=[NewStep(s, "erase", {}, 0) for s in systems]))
            for i in range(50)]
    held = {s: claim_all(store, f"w-{s}", systems=[s]) for s in systems}
    assert all(len(v) == 50 for v in held.values())
    gate = threading.Barrier(len(systems))
    errors: list[BaseException] = []

    def finish(system):
        gate.wait()
        try:
            for step in held[system]:
                assert store.finish_step(step.id, f"w-{system}", T0, result={})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(s,)) for s in systems]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [store.get_request(r).status for r in rids] == [DONE] * 50
    assert all(store.get_request(r).email is None for r in rids)


_CLAIMER = r"""
import json, sys
from datetime import datetime
from wpprivsync.store.sql import SqlStore
url, worker, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
store = SqlStore(url)
store.schema_version()  # connected
print("ready", flush=True)
sys.stdin.readline()
got = []
while True:
    steps = store.claim_steps(worker, now, limit=4, lease_s=600)
    if not steps:
        if store.queue_depth() == 0:
            break
        continue
    for s in steps:
        got.append(s.id)
        if not store.finish_step(s.id, worker, now, result={"by": worker}):
            raise SystemExit(f"lost the lease of step {s.id}")
print(json.dumps(got), flush=True)
"""


def test_processes_never_claim_the_same_step_twice(store, url):
    total = _fill(store, 40)
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, url, f"p{i}", T0.isoformat()],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for i in range(4)]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        outputs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * 4
    ids = [i for out in outputs for i in json.loads(out.strip().splitlines()[-1])]
    assert len(ids) == total and len(set(ids)) == total
    assert store.counts()["requests_done"] == 40


# -- errors ------------------------------------------------------------------------------------------------
def test_sqlite_path_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create its directory") as err:
        open_store(f"sqlite:///{blocker / 'sub' / 'store.sqlite3'}")
    assert str(blocker) in str(err.value)
    with pytest.raises(StoreError, match="is a directory"):
        open_store(f"sqlite:///{tmp_path}")


def test_sqlite_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 200)
    with pytest.raises(StoreError, match="not an SQLite database"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == b"this is not sqlite" * 200  # left as it was


@pytest.mark.parametrize("bad", ["mysql://root@localhost/db", "no url at all", "sqlite://", "sqlite:///:memory:",
                                 "postgresql://u@localhost"])
def test_bad_urls(bad):
    with pytest.raises(StoreError, match="sqlite:///PATH"):
        open_store(bad)


def test_unreachable_postgres_names_the_server_not_the_password():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens once closed
    with pytest.raises(StoreError) as err:
        SqlStore(f"postgresql://wp:Sup3rSecretPw@127.0.0.1:{port}/wpprivsync", connect_timeout_s=2).migrate()
    text = str(err.value)
    assert "Sup3rSecretPw" not in text
    assert f"127.0.0.1:{port}/wpprivsync" in text and "cannot connect" in text


@pytest.mark.postgres
def test_wrong_postgres_database_and_read_only_store(pg_server, pg_url):
    with pytest.raises(StoreError, match="cannot connect.*no_such_db"):
        open_store(pg_url.rsplit("/", 1)[0] + "/no_such_db")
    db = pg_server.create_database("read_only_store")
    open_store(db).close()
    read_only = SqlStore(db + "?options=-c%20default_transaction_read_only%3Don")
    with pytest.raises(StoreError, match="read-only transaction"):
        read_only.check_writable()
    with pytest.raises(StoreError, match="set_state failed"):
        read_only.set_state("k", "v")
    read_only.close()


def test_check_writable(store, tmp_path, url):
    store.check_writable()
    if url.startswith("sqlite"):
        store.path.unlink()
        for extra in store.path.parent.glob("store.sqlite3-*"):
            extra.unlink()
        store.path.parent.rmdir()
        with pytest.raises(StoreError, match="does not exist"):
            store.check_writable()


def test_sqlite_claim_queries_use_indexes(tmp_path):
    """A claim must not scan every queued step (nor sort them all): with thousands queued it
    would take seconds per claim. Checked on SQLite's query plans, not on a clock."""
    store = open_store(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    store.add_request(req())
    store.add_request(req("erase:h2", email_hash="h2"))
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "FOR UPDATE" not in statement:
            statements.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    assert store.claim_steps("w1", T0)
    sa.event.remove(store.engine, "before_cursor_execute", capture)
    plans = []
    with store.engine.connect() as conn:
        for statement, parameters in statements:
            plans += [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
    assert plans and any("ix_steps_due" in p for p in plans), plans
    assert not [p for p in plans if p.startswith("SCAN") or "TEMP B-TREE" in p], plans
    store.close()


def test_renewing_leases_keeps_steps_from_other_workers(store):
    store.add_request(one_step())
    (step,) = store.claim_steps("w1", T0, lease_s=60)
    assert store.renew_leases("w2", [step.id], T0 + timedelta(seconds=30), 60) == 0  # not the owner
    assert store.renew_leases("w1", [step.id], T0 + timedelta(seconds=30), 60) == 1
    assert store.claim_steps("w2", T0 + timedelta(seconds=80)) == []  # 30 + 60 > 80
    assert store.renew_leases("w1", [step.id], T0 + timedelta(seconds=100), 60) == 0  # already expired
    (taken,) = store.claim_steps("w2", T0 + timedelta(seconds=100))
    assert taken.id == step.id and taken.lease_owner == "w2"
    assert store.renew_leases("w1", [], T0, 60) == 0


# -- batches: a page of events, several finished steps, released claims ------------------------
def test_ingest_many_records_a_page_in_order_once(store):
    from wpprivsync.store.api import PlannedEvent

    audit = [AuditEntry(site=SITE, email_hash="h9", system="wordpress", action="comment_deleted", items_removed=1)]
    page = [PlannedEvent(11, [req("erase:h1")]), PlannedEvent(12, [], audit),
            PlannedEvent(13, [req("erase:h1")]),  # the same person again: merged into the open one
            PlannedEvent(14, [one_step("x1"), one_step("x2")])]
    ids = store.ingest_many(SITE, page)
    assert len(ids) == 4 and ids[0] == ids[1] and len(set(ids)) == 3
    assert store.get_cursor(SITE) == 14
    assert [r.event_id for r in store.get_requests(ids).values()] == [11, 14, 14]
    assert len(store.steps_of(ids[0])) == 3 and len(store.audit(site=SITE)) == 1
    # the page again, plus one new event: only the new one is added
    assert len(store.ingest_many(SITE, page + [PlannedEvent(15, [one_step("x3")])])) == 1
    assert store.counts()["requests_open"] == 4 and store.get_cursor(SITE) == 15
    assert store.ingest_many(SITE, []) == []


def test_ingest_many_is_all_or_nothing(store):
    from wpprivsync.store.api import PlannedEvent

    bad = req("bad", steps=[NewStep("wordpress", "erase", {"when": object()}, 0)])
    with pytest.raises(StoreError, match="not JSON"):
        store.ingest_many(SITE, [PlannedEvent(1, [one_step("ok")]), PlannedEvent(2, [bad])])
    assert store.get_cursor(SITE) == 0 and store.counts()["requests_open"] == 0


def test_get_requests_returns_those_that_exist(store):
    a, b = store.add_request(one_step()), store.add_request(one_step())
    found = store.get_requests([b, a, a, 999_999])
    assert sorted(found) == [a, b] and found[a].id == a and found[b].email == "ann@example.com"
    assert store.get_requests([]) == {}


def test_finish_steps_records_a_batch_and_closes_finished_requests(store):
    from wpprivsync.store.api import FinishedStep

    two = store.add_request(req("two", email_hash="h-two", steps=[NewStep("wordpress", "erase", {}, 0),
                                                                 NewStep("activecampaign", "delete_contact", {}, 0)]))
    one = store.add_request(one_step())
    lost = store.add_request(one_step())
    steps = claim_all(store)
    assert len(steps) == 4
    # the lease of one step went to another worker: that step is refused, nothing of it is written
    later = T0 + timedelta(hours=2)
    (taken,) = store.claim_steps("w2", later, limit=1, lease_s=60)
    entry = AuditEntry(site=SITE, email_hash="h", system="wordpress", action="erase", items_removed=1)
    batch = [FinishedStep(s.id, {"n": s.id}, [entry]) for s in steps]
    held = store.finish_steps("w1", later, batch)
    assert held == [s.id != taken.id for s in steps]
    assert len(store.audit(limit=100)) == 3
    done_requests = {two, one, lost} - {taken.request_id}
    for rid in done_requests:
        r = store.get_request(rid)
        assert r.status == DONE and r.email is None and r.completed_at is not None
        assert all(s.status == STEP_DONE and s.result == {"n": s.id} for s in store.steps_of(rid))
    assert store.get_request(taken.request_id).status == OPEN
    assert store.finish_steps("w1", later, []) == []


def test_release_steps_gives_unstarted_claims_back(store):
    rid = store.add_request(one_step())
    (step,) = claim_all(store)
    assert store.release_steps("w2", [step.id], T0) == 0  # not the owner
    assert store.release_steps("w1", [step.id], T0 + timedelta(seconds=5)) == 1
    (again,) = store.claim_steps("w2", T0 + timedelta(seconds=5))
    assert again.id == step.id and again.attempts == 0 and again.lease_owner == "w2"
    assert store.get_request(rid).status == OPEN
    assert store.release_steps("w1", [], T0) == 0


# -- priority (issue 13, point 1) ----------------------------------------------------------
def test_erasures_and_exports_are_claimed_before_a_backlog_of_consent_changes(store):
    for i in range(300):
        store.add_request(req(f"unsub:{i}", action="unsubscribe", email_hash=f"flood{i}",
                              steps=[NewStep("activecampaign", "unsubscribe", {}, 0)]))
    later = T0 + timedelta(minutes=5)  # received after the whole flood
    erase = store.add_request(req("erase:late", email_hash="late1", received=later,
                                  steps=[NewStep("wordpress", "erase", {}, 0)]))
    export = store.add_request(req("export:late", action="export", email_hash="late2", received=later,
                                   steps=[NewStep("wpprivsync", "export", {}, 0)]))
    got = store.claim_steps("w1", later, limit=3, lease_s=600)
    assert [s.request_id for s in got[:2]] == [erase, export]
    assert store.get_request(got[2].request_id).action == "unsubscribe"  # then the oldest consent change


def test_an_urgent_only_claim_takes_no_consent_change(store):
    for i in range(5):
        store.add_request(req(f"unsub:{i}", action="unsubscribe", email_hash=f"flood{i}",
                              steps=[NewStep("activecampaign", "unsubscribe", {}, 0)]))
    assert store.claim_steps("w1", T0, limit=5, lease_s=600, urgent_only=True) == []
    erase = store.add_request(req("erase:1", email_hash="e1",
                                  steps=[NewStep("wordpress", "erase", {}, 0), NewStep("activecampaign", "delete_contact", {}, 1)]))
    (first,) = store.claim_steps("w1", T0, limit=5, lease_s=600, urgent_only=True)
    assert (first.request_id, first.position) == (erase, 0)  # the later step waits for the first
    assert store.claim_steps("w1", T0, limit=5, lease_s=600, urgent_only=True) == []
    assert store.finish_step(first.id, "w1", T0, result={})
    (second,) = store.claim_steps("w1", T0, limit=5, lease_s=600, urgent_only=True)
    assert (second.request_id, second.position) == (erase, 1)
    assert len(store.claim_steps("w1", T0, limit=10, lease_s=600)) == 5  # the consent changes are still there


def test_a_priority_step_not_yet_due_waits_its_turn(store):
    store.add_request(req("unsub:1", action="unsubscribe", email_hash="c1",
                          steps=[NewStep("activecampaign", "unsubscribe", {}, 0)]))
    store.add_request(req("erase:future", email_hash="e1", received=T0 + timedelta(hours=1),
                          steps=[NewStep("wordpress", "erase", {}, 0)]))
    got = store.claim_steps("w1", T0, limit=5, lease_s=600)
    assert [store.get_request(s.request_id).action for s in got] == ["unsubscribe"]


def test_migration_5_gives_existing_erasure_steps_priority(url):
    from wpprivsync.store import baseline

    s = SqlStore(url)
    try:
        s.migrate_to(5)
        # a version-5 database as older code left it: steps have no priority column yet
        requests_, steps_ = baseline.V1.tables["requests"], baseline.V1.tables["steps"]
        with s.engine.begin() as conn:
            rid = conn.execute(sa.insert(requests_).values(
                site=SITE, action="erase", email_hash="o1", source="cli", status="open", received_at=T0,
                due_at=T0, dedupe_key="erase:old").returning(requests_.c.id)).scalar_one()
            conn.execute(sa.insert(steps_).values(
                request_id=rid, site=SITE, system="wordpress", action="erase", params={}, position=0,
                status="pending", attempts=0, next_attempt_at=T0, updated_at=T0))
        assert s.migrate() == migrations.LATEST
        with s.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT priority FROM steps").scalars().all() == [0]
    finally:
        s.close()


# -- residue scans -----------------------------------------------------------------------------
def test_a_scan_records_open_and_retained_places_and_a_later_scan_resolves(store):
    from wpprivsync.store.api import Finding

    users = Finding("wp_users", "user_email", "7", "email")
    gravatar = Finding("wp_commentmeta", "meta_value", "12", "md5")
    order = Finding("wp_wc_orders", "billing_email", "30", "email", clause="orders",
                    retained_until=date(2031, 12, 31))
    first = store.record_scan(SITE, "h1", [users, gravatar, order], T0, request_id=5)
    assert first == {"open": 2, "retained": 1, "resolved": 0}
    assert store.counts()["residues_open"] == 2
    # the same places again change nothing
    assert store.record_scan(SITE, "h1", [users, gravatar, order], T0 + timedelta(minutes=1)) == \
        {"open": 2, "retained": 1, "resolved": 0}
    assert len(store.residues(email_hash="h1")) == 3
    # a fix removed the Gravatar hash: it shows as resolved, with when
    later = T0 + timedelta(hours=1)
    assert store.record_scan(SITE, "h1", [users, order], later) == {"open": 1, "retained": 1, "resolved": 1}
    resolved = store.residues(email_hash="h1", status="resolved")
    assert [(r.table, r.column, r.row_key, r.kind, r.resolved_at) for r in resolved] == \
        [("wp_commentmeta", "meta_value", "12", "md5", later)]
    assert resolved[0].request_id == 5
    kept = store.residues(status="retained")
    assert kept[0].clause == "orders" and kept[0].retained_until == date(2031, 12, 31)
    assert store.counts()["residues_open"] == 1
    # another person's and another site's places are their own
    store.record_scan("other-site", "h1", [users], later)
    store.record_scan(SITE, "h2", [], later)
    assert store.counts()["residues_open"] == 2
    assert {r.site for r in store.residues(email_hash="h1", status="open")} == {SITE, "other-site"}
    # a place found again after it was resolved is open again
    store.record_scan(SITE, "h1", [users, gravatar, order], later + timedelta(hours=1))
    assert store.residues(email_hash="h1", site=SITE, status="resolved") == []

# -- linked records (issue 12.3) -------------------------------------------------------------
def test_links_join_user_contact_and_every_past_email(store):
    from wpprivsync.store.api import PersonLink

    pid = store.link_people([PersonLink(SITE, "ann@example.com", "ha", wp_user_id=5, current=True,
                                        proof="registration", source="consent")], T0)[0]
    # the contact id learned later (a subscribe answer) joins the same person by email
    assert store.link_people([PersonLink(SITE, "ann@example.com", "ha", contact_id=41, source="subscribe")],
                             T0 + timedelta(minutes=1)) == [pid]
    # a proven change: found through the old address, the new one becomes current
    assert store.link_people([PersonLink(SITE, "ann@new.example", "hb", wp_user_id=5, current=True,
                                         proof="core-confirmation", replaces_hash="ha")],
                             T0 + timedelta(minutes=2)) == [pid]
    p = store.person(SITE, email_hash="ha")
    assert p is not None and p.id == pid and p.wp_user_id == 5
    assert [(e.email, e.current) for e in p.emails] == [("ann@new.example", True), ("ann@example.com", False)]
    assert p.contact_ids == [41]
    assert p.current_email.proof == "core-confirmation"
    assert store.person(SITE, wp_user_id=5).id == pid
    assert store.person(SITE, contact_id=41).id == pid
    assert store.person("other-site", email_hash="ha") is None
    assert store.person(SITE, email_hash="nobody") is None


def test_an_email_another_account_had_is_not_that_accounts_person(store):
    from wpprivsync.store.api import PersonLink

    first = store.link_people([PersonLink(SITE, "a@example.com", "ha", wp_user_id=5, current=True)], T0)[0]
    store.link_people([PersonLink(SITE, "b@example.com", "hb", wp_user_id=5, current=True, replaces_hash="ha")], T0)
    second = store.link_people([PersonLink(SITE, "a@example.com", "ha", wp_user_id=9, current=True)], T0)[0]
    assert second != first
    assert store.person(SITE, wp_user_id=9).emails[0].email == "a@example.com"
    assert [e.email_hash for e in store.person(SITE, wp_user_id=5).emails] == ["hb", "ha"]


def test_forgetting_a_person_keeps_only_keyed_hashes(store, url):
    from wpprivsync.store.api import PersonLink

    pid = store.link_people([PersonLink(SITE, "old@example.com", "ho", wp_user_id=7, contact_id=3),
                             PersonLink(SITE, "new@example.com", "hn", wp_user_id=7, contact_id=4, current=True,
                                        replaces_hash="ho")], T0)[0]
    assert store.forget_person(SITE, pid, T0) is True
    assert store.forget_person(SITE, pid, T0) is False
    assert store.person(SITE, email_hash="ho") is None
    assert store.person(SITE, wp_user_id=7) is None
    store.close()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(schema.person_emails))]
        erased = conn.execute(sa.select(schema.people.c.erased_at)).scalars().all()
    engine.dispose()
    assert len(rows) == 2 and erased and all(e is not None for e in erased)
    dump = repr(rows)
    assert "example.com" not in dump and "ho" in dump and "hn" in dump
    # a new person with the same email afterwards starts a record of their own
    s = open_store(url)
    try:
        again = s.link_people([PersonLink(SITE, "old@example.com", "ho", wp_user_id=8)], T0)[0]
        assert again != pid and s.person(SITE, email_hash="ho").emails[0].contact_id is None
    finally:
        s.close()


def test_unlink_contact_and_links_recorded_with_their_event(store):
    from wpprivsync.store.api import PersonLink, PlannedEvent

    link = PersonLink(SITE, "ann@example.com", "ha", contact_id=12, source="webhook")
    store.ingest_many(SITE, [PlannedEvent(30, [], [], [link])])
    assert store.person(SITE, contact_id=12).emails[0].email == "ann@example.com"
    # a replayed event links nothing twice (and nothing new)
    store.ingest_many(SITE, [PlannedEvent(30, [], [], [PersonLink(SITE, "x@example.com", "hx")])])
    assert store.person(SITE, email_hash="hx") is None
    assert store.unlink_contact(SITE, 12, T0) == 1
    assert store.person(SITE, email_hash="ha").contact_ids == []
    with pytest.raises(StoreError):
        store.link_people([PersonLink(SITE, "y@example.com", "")], T0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_of_links_ends_as_the_same_links_one_by_one(tmp_path, seed):
    """A page's links are applied together (issue 17.6): colliding user ids, emails, contact
    ids, changes of email, names, another site and an erased person give the same rows, ids
    included, as one transaction per link."""
    import random

    from wpprivsync.store.api import PersonLink

    rnd = random.Random(seed)
    batch_url, one_url = (f"sqlite:///{tmp_path / name}" for name in ("batch.sqlite3", "one.sqlite3"))

    def link() -> PersonLink:
        e = rnd.randint(1, 12)
        return PersonLink(
            rnd.choice([SITE, SITE, SITE, "other"]), rnd.choice([f"p{e}@example.com", None]), f"h{e}",
            wp_user_id=rnd.choice([None, None, rnd.randint(1, 6)]),
            contact_id=rnd.choice([None, None, rnd.randint(1, 8)]), current=rnd.random() < 0.4,
            proof=rnd.choice(["", "registration", "core-confirmation"]), source=rnd.choice(["", "consent", "webhook"]),
            replaces_hash=rnd.choice([None, None, None, f"h{rnd.randint(1, 12)}"]),
            first_name=rnd.choice([None, None, f"F{e}"]), last_name=rnd.choice([None, "L" * 300]))

    seeded = [link() for _ in range(30)]
    pages = [[link() for _ in range(rnd.randint(1, 40))] for _ in range(6)]
    rows = []
    for target, batched in ((one_url, False), (batch_url, True)):
        s = open_store(target)
        try:
            got = s.link_people(seeded, T0)
            s.forget_person(SITE, got[0], T0)  # an erased person is never found again
            ids = []
            for n, page in enumerate(pages):
                at = T0 + timedelta(minutes=n + 1)
                ids += s.link_people(page, at) if batched else [s.link_people([x], at)[0] for x in page]
            with s.engine.connect() as conn:
                rows.append((ids, [tuple(r) for r in conn.execute(sa.select(schema.people).order_by("id"))],
                             [tuple(r) for r in conn.execute(sa.select(schema.person_emails).order_by("id"))]))
        finally:
            s.close()
    assert rows[1][0] == rows[0][0]
    assert rows[1][1] == rows[0][1] and len(rows[0][1]) > 10
    assert rows[1][2] == rows[0][2] and any(r[6] for r in rows[0][2])  # some email is current


# -- proof of consent and restriction (migration 8, issue 12.5/12.6) ---------------------------------
def test_consent_history_is_kept_per_person_and_an_erasure_leaves_only_hashes_and_times(store):
    from wpprivsync.store.api import ConsentRecord, PlannedEvent

    given = ConsentRecord(SITE, "h1", True, T0, source="profile", wording="1", proof="registration", event_id=1)
    store.ingest_many(SITE, [PlannedEvent(1, consents=[given])])
    store.ingest_many(SITE, [PlannedEvent(1, consents=[given])])  # the same event again records nothing
    store.add_consents([ConsentRecord(SITE, "h1", False, T0 + timedelta(days=1), source="webhook", proof="activecampaign"),
                        ConsentRecord(SITE, "h2", True, T0, source="checkout", wording="1", proof="link")])
    history = store.consents(SITE, "h1")
    assert [(c.given, c.source, c.wording, c.proof) for c in history] == [
        (True, "profile", "1", "registration"), (False, "webhook", None, "activecampaign")]
    assert store.consents("other", "h1") == []
    assert store.erase_consents(SITE, "h1", T0 + timedelta(days=2)) == 2
    assert store.erase_consents(SITE, "h1", T0 + timedelta(days=3)) == 0  # already erased: times unchanged
    erased = store.consents(SITE, "h1")
    assert [(c.email_hash, c.given, c.at, c.source, c.wording, c.proof) for c in erased] == [
        ("h1", True, T0, None, None, None), ("h1", False, T0 + timedelta(days=1), None, None, None)]
    assert all(c.erased_at == T0 + timedelta(days=2) for c in erased)
    assert store.consents(SITE, "h2")[0].source == "checkout"  # someone else's history untouched


def test_forgetting_a_person_erases_consents_and_suppresses_past_emails_in_the_same_call(store):
    from wpprivsync.store.api import ConsentRecord, PersonLink

    store.add_consents([ConsentRecord(SITE, "hn", True, T0, source="profile", wording="1", proof="registration"),
                        ConsentRecord(SITE, "hx", True, T0, source="checkout", wording="1", proof="link")])
    pid = store.link_people([PersonLink(SITE, "new@example.com", "hn", wp_user_id=7, current=True)], T0)[0]
    assert store.forget_person(SITE, pid, T0, consents_of="hn", suppress=["ho", "hp"], reason="erasure") is True
    assert store.consents(SITE, "hn")[0].source is None and store.consents(SITE, "hn")[0].erased_at == T0
    assert store.consents(SITE, "hx")[0].source == "checkout"  # someone else's history untouched
    assert store.is_suppressed(SITE, "ho") and store.is_suppressed(SITE, "hp")
    assert not store.is_suppressed(SITE, "hn")  # the step's own hash is added when the step is recorded
    assert store.person(SITE, wp_user_id=7) is None
    # done again (a step re-run after a crash): nothing new, nothing fails
    assert store.forget_person(SITE, pid, T0, consents_of="hn", suppress=["ho"], reason="erasure") is False
    assert store.suppressed(SITE) == {"ho", "hp"}


def test_restriction_is_set_once_and_lifted(store):
    assert store.restricted_since(SITE, "h1") is None
    assert store.restrict(SITE, "h1", "cli", T0) is True
    assert store.restrict(SITE, "h1", "cli", T0 + timedelta(days=1)) is False
    assert store.restricted_since(SITE, "h1") == T0 and store.restricted_since("other", "h1") is None
    assert store.restrict(SITE, "h2", "admin-page", T0) is True
    assert store.restricted(SITE) == {"h1", "h2"} and store.restricted("other") == set()
    assert store.lift_restriction(SITE, "h1") is True
    assert store.lift_restriction(SITE, "h1") is False
    assert store.restricted_since(SITE, "h1") is None and store.restricted(SITE) == {"h2"}


def test_a_deferred_step_waits_without_a_failed_attempt(store):
    rid = store.add_request(req(steps=[NewStep("wordpress", "verify", {}, 0)]))
    (step,) = store.claim_steps("w1", T0, limit=1)
    later = T0 + timedelta(seconds=5)
    assert store.defer_step(step.id, "w1", T0, retry_at=later, note="not yet") is True
    assert store.defer_step(step.id, "w1", T0, retry_at=later, note="again") is False  # no longer held
    (again,) = store.steps_of(rid)
    assert (again.status, again.attempts) == (PENDING, 0)
    assert store.claim_steps("w1", T0 + timedelta(seconds=4), limit=1) == []
    assert [s.id for s in store.claim_steps("w1", later, limit=1)] == [step.id]
