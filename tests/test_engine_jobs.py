"""Reconcile and retention over a real store and Protocol-level fakes."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from fakes import FakeActiveCampaign, FakeWordPress
from wpprivsync.engine.plan import Planner
from wpprivsync.engine.reconcile import reconcile
from wpprivsync.engine.retention import latest_due_creation, sweep_exports, sweep_orders
from wpprivsync.identity import email_hash
from wpprivsync.policy import load_policy
from wpprivsync.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SECRET = "k" * 32
NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


class Site:
    name = "shop"
    newsletter_list_ids = [1]


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    yield s
    s.close()


@pytest.fixture
def policy():
    return load_policy(ROOT / "config" / "policy.toml")


def test_reconcile_fixes_every_kind_of_drift_in_bulk(store, policy):
    wp, ac = FakeWordPress(), FakeActiveCampaign()
    # withdrawn in WordPress, still subscribed in ActiveCampaign
    wp.users["no@example.com"] = {"id": 1, "subscribed": False}
    ac.add("no@example.com", {1: 1})
    # unsubscribed in ActiveCampaign, WordPress still says yes
    wp.users["gone@example.com"] = {"id": 2, "subscribed": True}
    ac.add("gone@example.com", {1: 2})
    # consent in WordPress, missing from ActiveCampaign
    wp.users["new@example.com"] = {"id": 3, "subscribed": True}
    # suppressed person re-imported by hand
    ac.add("ghost@example.com", {1: 1})
    store.suppress("shop", email_hash(SECRET, "ghost@example.com"), "erasure", NOW)
    # in line: left alone; unknown consent: left alone
    wp.users["ok@example.com"] = {"id": 4, "subscribed": True}
    ac.add("ok@example.com", {1: 1})
    wp.users["formonly@example.com"] = {"id": 5, "subscribed": None}
    ac.add("formonly@example.com", {1: 1})

    planner = Planner("shop", SECRET, policy.response_due)
    dry = reconcile(Site(), wp, ac, store, planner, SECRET, lambda: NOW, dry_run=True)
    assert (dry.unsubscribe_in_activecampaign, dry.subscribe_in_activecampaign, dry.unsubscribe_in_wordpress) == (2, 1, 1)
    assert ac.imports == [] and store.list_requests() == []

    report = reconcile(Site(), wp, ac, store, planner, SECRET, lambda: NOW)
    assert report.import_calls == 1
    (batch,) = ac.imports
    assert {b.email for b in batch if b.unsubscribe} == {"no@example.com", "ghost@example.com"}
    assert {b.email for b in batch if b.subscribe} == {"new@example.com"}
    assert ac.contacts[ac.by_email("ok@example.com")]["lists"] == {1: 1}
    assert ac.contacts[ac.by_email("formonly@example.com")]["lists"] == {1: 1}
    queued = store.list_requests()
    assert len(queued) == 3 and {r.action for r in queued} == {"unsubscribe"}
    steps = {r.email: [(s.system, s.action) for s in store.steps_of(r.id)] for r in queued}
    assert steps["gone@example.com"][0] == ("wordpress", "set_consent")
    assert ("activecampaign", "unsubscribe") not in steps["no@example.com"]  # done in bulk already
    # linked records (issue 12.3): the list pages' contact ids, for proven emails and repairs
    ok = store.person("shop", email_hash=email_hash(SECRET, "ok@example.com"))
    assert ok.wp_user_id == 4 and ok.contact_ids == [ac.by_email("ok@example.com")]
    ghost = store.person("shop", email_hash=email_hash(SECRET, "ghost@example.com"))
    assert ghost.wp_user_id is None and ghost.contact_ids == [ac.by_email("ghost@example.com")]
    assert store.person("shop", email_hash=email_hash(SECRET, "formonly@example.com")) is None  # unproven


def test_reconcile_chunks_large_differences_at_250(store, policy):
    wp, ac = FakeWordPress(), FakeActiveCampaign()
    for i in range(600):
        wp.users[f"p{i}@example.com"] = {"id": i, "subscribed": True}
    report = reconcile(Site(), wp, ac, store, Planner("shop", SECRET, policy.response_due), SECRET, lambda: NOW)
    assert report.subscribe_in_activecampaign == 600 and report.import_calls == 3
    assert [len(c) for c in ac.imports] == [250, 250, 100]


def test_latest_due_creation_is_the_exact_boundary(policy):
    today = date(2026, 11, 25)
    boundary = latest_due_creation(policy, today)
    assert policy.is_order_due(date.fromordinal(boundary.toordinal() - 1), today)
    assert not policy.is_order_due(boundary, today)


def test_retention_anonymises_only_orders_past_their_end(store, policy):
    wp = FakeWordPress()
    today = date(2026, 11, 25)
    old = policy.order_retained_until(date(2020, 6, 1))
    assert old < today
    wp.order_rows += [
        {"id": 1, "email": "a@x.io", "created": "2020-06-01", "retained_until": ""},   # due
        {"id": 2, "email": "a@x.io", "created": "2021-12-31", "retained_until": ""},   # until 2026-12-31
        {"id": 3, "email": "b@x.io", "created": "2025-01-10", "retained_until": ""},   # recent
    ]
    dry = sweep_orders(Site(), wp, store, policy, today, NOW, dry_run=True)
    assert [o["id"] for o in dry.due_orders] == [1] and wp.anonymized == []
    report = sweep_orders(Site(), wp, store, policy, today, NOW)
    assert report.anonymized == 1 and wp.anonymized == [1]
    (entry,) = store.audit(site="shop")
    assert entry.action == "anonymize_order" and entry.detail["order_id"] == 1
    # the day after order 2's retention ends it is due too
    later = date(2027, 1, 1)
    assert sweep_orders(Site(), wp, store, policy, later, NOW).anonymized == 1 and wp.anonymized == [1, 2]


def test_expired_exports_are_deleted(tmp_path):
    d = tmp_path / "exports"
    d.mkdir()
    old, new = d / "export-shop-1-aa.zip", d / "export-shop-2-bb.zip"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    import os

    os.utime(old, (NOW.timestamp() - 8 * 86400,) * 2)
    os.utime(new, (NOW.timestamp() - 1 * 86400,) * 2)
    assert sweep_exports(d, 7, NOW) == 1
    assert not old.exists() and new.exists()
