"""The residue scan as the engine runs it: after an erasure the verify step scans WordPress
page by page, records each place (open or retained) without values, resumes a scan a crash
interrupted, counts an unreadable table as open (never as clean), waits for core's own flow to
finish its erasers, and a later clean scan resolves what a fix removed."""

from __future__ import annotations

import json

import pytest

from fakes import FakeWordPress
from test_engine_worker import SECRET, Env
from wpprivsync import errors
from wpprivsync.engine import residues
from wpprivsync.engine.plan import VERIFY_SETTLE_S, Planner, steps_for
from wpprivsync.identity import email_hash

EMAIL = "ann@example.com"
HASH = email_hash(SECRET, EMAIL)
GRAVATAR = {"table": "wp_commentmeta", "column": "meta_value", "key": "12", "kind": "md5"}


@pytest.fixture
def env(tmp_path):
    e = Env(tmp_path)
    e.planner = Planner("shop", SECRET, e.policy.response_due, residue_scan=True)
    yield e
    e.store.close()


def erase(env, source=None):
    payload = {"email": EMAIL} if source is None else {"email": EMAIL, "source": source, "request_id": 9}
    env.wp.add_event("account.deleted" if source is None else "erasure.requested", payload,
                     created=env.clock().isoformat())
    env.pull()
    return env.worker().run_pass()


def test_every_erasure_plans_a_scan_once_wordpress_has_erased():
    steps = steps_for("erase", residue_scan=True)
    assert ("wordpress", "verify", 1) in [(s.system, s.action, s.position) for s in steps]
    assert all(s.action != "verify" for s in steps_for("erase"))
    core = steps_for("erase", residue_scan=True, wordpress_erasure=False)
    assert [s.params for s in core if s.action == "verify"] == [{"settle_s": VERIFY_SETTLE_S}]


def test_a_clean_erasure_records_nothing_open_and_says_so(env):
    env.wp.order_rows.append({"id": 42, "email": EMAIL, "created": "2024-03-01", "retained_until": "2031-12-31"})
    stats = erase(env)
    assert stats.dead == 0
    (entry,) = [a for a in env.store.audit(email_hash=HASH) if a.action == "residue_scan"]
    assert entry.reason == "nothing left but what the policy keeps"
    assert entry.items_retained == 1 and str(entry.retained_until) == "2031-12-31"
    kept = env.store.residues(email_hash=HASH)
    assert [(r.status, r.clause) for r in kept] == [("retained", "orders")]
    assert env.store.counts()["residues_open"] == 0
    assert env.store.counts()["requests_done"] == 1


def test_a_place_left_behind_is_an_open_residue_in_the_audit_without_its_value(env):
    env.wp.residue[EMAIL].append(GRAVATAR)
    erase(env)
    (entry,) = [a for a in env.store.audit(email_hash=HASH) if a.action == "residue_scan"]
    assert entry.reason.startswith("1 place(s) still hold the person: wp_commentmeta.meta_value #12 (md5)")
    assert env.store.counts()["residues_open"] == 1
    assert EMAIL not in json.dumps(entry.detail) and EMAIL not in entry.reason
    # the request is answered (its email dropped); the residue stays open for the operator
    (req,) = env.store.requests_for_hash(HASH)
    assert req.status == "done" and req.email is None


def test_an_unreadable_table_counts_as_open_not_clean(env):
    env.wp.unreadable.append("wp_thrive_secret")
    erase(env)
    (open_,) = env.store.residues(email_hash=HASH, status="open")
    assert (open_.table, open_.kind) == ("wp_thrive_secret", residues.UNSCANNED)
    (entry,) = [a for a in env.store.audit(email_hash=HASH) if a.action == "residue_scan"]
    assert "could not be read" in entry.reason


def test_an_interrupted_scan_resumes_from_its_last_page(env):
    # pages 1 and 2 answer, page 3 fails: the step retries and goes on at page 3, not page 1
    env.wp.scan_pages = 4
    calls = []
    real = env.wp.scan

    def scan(emails, *, cursor="", evidence_days=30, budget_ms=2000, hashes=()):
        calls.append(cursor)
        if len(calls) == 3:
            raise errors.Unreachable("WordPress went away", system="wordpress")
        return real(emails, cursor=cursor, evidence_days=evidence_days, budget_ms=budget_ms, hashes=hashes)

    env.wp.scan = scan
    first = erase(env)
    assert first.failed == 1
    env.clock.advance(3600)
    env.worker().run_pass()
    assert calls == ["", "1", "2", "2", "3"]
    assert env.store.counts()["requests_done"] == 1
    (entry,) = [a for a in env.store.audit(email_hash=HASH) if a.action == "residue_scan"]
    assert entry.detail["resumed"] is True and entry.detail["pages"] == 4


def test_cores_own_flow_is_given_time_before_a_place_counts(env):
    env.wp.residue[EMAIL].append(GRAVATAR)
    stats = erase(env, source="privacy-tools")
    assert stats.failed == 0 and stats.dead == 0 and env.store.counts()["residues_open"] == 0
    (step,) = [s for r in env.store.list_requests() for s in env.store.steps_of(r.id) if s.action == "verify"]
    assert step.status == "pending" and step.attempts == 0  # waiting is not failing
    env.wp.residue[EMAIL].clear()  # the admin's browser finished core's erasers meanwhile
    env.clock.advance(60)
    env.worker().run_pass()
    assert env.store.counts()["requests_done"] == 1 and env.store.counts()["residues_open"] == 0


def test_a_later_scan_resolves_what_a_fix_removed(env):
    env.wp.residue[EMAIL].append(GRAVATAR)
    erase(env)
    env.wp.residue[EMAIL].clear()
    report = residues.scan(env.wp, [EMAIL], evidence_days=30)
    counts = env.store.record_scan("shop", HASH, report.findings[0], env.clock())
    assert counts == {"open": 0, "retained": 0, "resolved": 1}
    assert env.store.counts()["residues_open"] == 0


def test_a_malformed_answer_is_a_bad_response(env):
    class Broken(FakeWordPress):
        def scan(self, emails, **kw):
            return {"done": True, "found": [{"email": 5, "table": "t", "column": "c", "key": "1", "kind": "md5"}]}

    with pytest.raises(errors.BadResponse, match="not asked about"):
        residues.scan(Broken(), [EMAIL], evidence_days=30)
    with pytest.raises(ValueError):
        residues.scan(Broken(), [], evidence_days=30)


def test_erasures_finishing_together_share_one_scan_pass(env):
    people = [f"p{i}@example.com" for i in range(6)]
    env.wp.residue["p3@example.com"].append(GRAVATAR)
    for email in people:
        env.wp.add_event("account.deleted", {"email": email}, created=env.clock().isoformat())
    env.pull()
    calls = []
    real = env.wp.scan

    def scan(emails, **kw):
        calls.append(list(emails))
        return real(emails, **kw)

    env.wp.scan = scan
    worker = env.worker()
    worker.concurrency = 4
    stats = worker.run_pass()
    assert stats.dead == 0 and env.store.counts()["requests_done"] == 6
    assert sorted(e for c in calls for e in c) == sorted(people)  # each person read once
    assert len(calls) < len(people)  # several people in one reading
    open_ = env.store.residues(status="open")
    assert [r.email_hash for r in open_] == [email_hash(SECRET, "p3@example.com")]


def _backlog(env, n):
    people = [f"b{i}@example.com" for i in range(n)]
    for email in people:
        env.wp.add_event("account.deleted", {"email": email}, created=env.clock().isoformat())
    env.pull()
    return people


def _watch_scans(env):
    """Each scan's emails, with how many other (non-verify) steps were still open when it began."""
    seen = []
    real = env.wp.scan

    def scan(emails, **kw):
        if not kw.get("cursor"):
            requests = env.store.list_requests(limit=1000)
            steps = env.store.steps_of_many(r.id for r in requests)
            open_ = sum(1 for ss in steps.values() for s in ss if s.action != "verify" and s.status != "done")
            seen.append((list(emails), open_))
        return real(emails, **kw)

    env.wp.scan = scan
    return seen


def test_the_proof_waits_until_every_erasure_of_a_backlog_is_done(env):
    people = _backlog(env, 12)
    seen = _watch_scans(env)
    worker = env.worker()
    worker.concurrency = 2
    stats = worker.run_pass()
    assert stats.dead == 0 and env.store.counts()["requests_done"] == 12
    assert seen and all(open_ == 0 for _, open_ in seen)  # no pass took time from an erasure
    assert sorted(e for emails, _ in seen for e in emails) == sorted(people)
    assert len(seen) == 1  # and the backlog was proved in one reading
    assert len([a for a in env.store.audit() if a.action == "residue_scan"]) == 12


def test_a_proof_that_has_waited_long_enough_runs_during_the_backlog(env):
    _backlog(env, 12)
    seen = _watch_scans(env)
    worker = env.worker()
    worker.concurrency = 2
    worker.scan_max_wait_s, worker.scan_share = 0.0, 1.0  # never wait, never paced
    stats = worker.run_pass()
    assert stats.dead == 0 and env.store.counts()["requests_done"] == 12
    assert any(open_ > 0 for _, open_ in seen)  # a pass ran while erasures were still open
    assert len([a for a in env.store.audit() if a.action == "residue_scan"]) == 12


def test_waited_out_passes_are_paced_to_their_share_of_the_time(env):
    _backlog(env, 12)
    seen = _watch_scans(env)
    worker = env.worker()
    worker.concurrency = 2
    # every proof may go at once, but after one pass the next must wait 999 times its length:
    # the rest of the backlog is proved in the one pass that comes when the worker is idle
    worker.scan_max_wait_s, worker.scan_share = 0.0, 0.001
    stats = worker.run_pass()
    assert stats.dead == 0 and env.store.counts()["requests_done"] == 12
    assert len(seen) == 2 and seen[0][1] > 0 and seen[1][1] == 0


def test_the_wait_is_a_setting(tmp_path):
    from wpprivsync.settings import Settings
    assert Settings().residue_scan_max_wait_s == 900.0
    with pytest.raises(ValueError):
        Settings(residue_scan_max_wait_s=-1)
