"""Reconcile's repairs take their contact id and other lists from the reconcile's own reads
(issue 17.3): one ActiveCampaign call per repaired contact, counted at the local server, and
nothing weaker: a contact on another list is kept, a stale id (the person re-subscribed under a
new contact) is still found by email, and lists read too long ago are read again."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from fakes import FakeWordPress
from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.engine import steps as steps_mod
from wpprivsync.engine.plan import Planner
from wpprivsync.engine.reconcile import reconcile
from wpprivsync.engine.steps import HANDLERS, StepContext
from wpprivsync.policy import load_policy
from wpprivsync.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SECRET = "k" * 32
NOW = datetime(2026, 11, 25, 12, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    yield s
    s.close()


@pytest.fixture
def policy():
    return load_policy(ROOT / "config" / "policy.toml")


def site_for(list_id):
    class Site:
        name = "shop"
        newsletter_list_ids = [list_id]
    return Site()


def run_ac_step(site, store, policy, ac, wp, request, now):
    (step,) = [s for s in store.steps_of(request.id) if s.system == "activecampaign"]
    ctx = StepContext(site=site, request=request, step=step, wordpress=wp, activecampaign=ac, store=store,
                      policy=policy, now=now, export_dir=Path("."))
    return HANDLERS[("activecampaign", "delete_contact")](ctx)


def calls(server, before):
    now = server.counters()["requests"]
    return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}


def test_repairs_make_one_call_each_and_keep_every_guarantee(ac_server_fast, store, policy):
    server = ac_server_fast
    news, other = server.add_list("Newsletter"), server.add_list("Webinars")
    wp = FakeWordPress()
    for i, email in enumerate(["plain@example.com", "other@example.com", "moved@example.com"]):
        wp.users[email] = {"id": i + 1, "subscribed": False}  # withdrawn in WordPress
    server.add_contact("plain@example.com", lists={news: 1})
    server.add_contact("other@example.com", lists={news: 1, other: 1})
    server.add_contact("moved@example.com", lists={news: 1})
    wp.users["back@example.com"] = {"id": 9, "subscribed": True}
    server.add_contact("back@example.com", lists={news: 2})  # unsubscribed in ActiveCampaign
    ac = ActiveCampaignClient(server.url, server.token, session=requests.Session(), timeout=5)
    site = site_for(news)

    before = server.counters()["requests"]
    report = reconcile(site, wp, ac, store, Planner("shop", SECRET, policy.response_due), SECRET, lambda: NOW)
    assert server.wait_imports(10)
    # the reconcile's own reads: two list pages per status, the import, the account's lists, and
    # one look at the one other list for all four repaired contacts
    assert report.requests_queued == 4 and report.other_list_calls == 2
    assert calls(server, before) == {"GET /contacts": 3, "POST /import/bulk_import": 1, "GET /lists": 1}

    queued = {r.email: r for r in store.list_requests()}
    # the person re-subscribed under a new contact id after the reconcile read the lists
    server.account().delete_contact(server.contact_view("moved@example.com")["id"])
    server.add_contact("moved@example.com", lists={news: 1})

    before = server.counters()["requests"]
    out = run_ac_step(site, store, policy, ac, wp, queued["plain@example.com"], NOW + timedelta(minutes=5))
    assert out.result["deleted"] is True and server.contact_view("plain@example.com") is None
    assert calls(server, before) == {"DELETE /contacts/{id}": 1}

    before = server.counters()["requests"]
    out = run_ac_step(site, store, policy, ac, wp, queued["other@example.com"], NOW + timedelta(minutes=5))
    assert out.result == {"found": True, "deleted": False, "other_lists": [other]}
    assert server.contact_view("other@example.com") is not None and calls(server, before) == {}

    before = server.counters()["requests"]
    out = run_ac_step(site, store, policy, ac, wp, queued["back@example.com"], NOW + timedelta(minutes=5))
    assert out.result["deleted"] is True and calls(server, before) == {"DELETE /contacts/{id}": 1}

    before = server.counters()["requests"]
    out = run_ac_step(site, store, policy, ac, wp, queued["moved@example.com"], NOW + timedelta(minutes=5))
    assert out.result["deleted"] is True and server.contact_view("moved@example.com") is None  # found by email
    assert calls(server, before)["DELETE /contacts/{id}"] == 2  # the stale id (404), then the new one


def test_lists_read_too_long_ago_are_read_again(ac_server_fast, store, policy):
    server = ac_server_fast
    news, other = server.add_list("Newsletter"), server.add_list("Webinars")
    wp = FakeWordPress()
    wp.users["late@example.com"] = {"id": 1, "subscribed": False}
    server.add_contact("late@example.com", lists={news: 1})
    ac = ActiveCampaignClient(server.url, server.token, session=requests.Session(), timeout=5)
    site = site_for(news)
    reconcile(site, wp, ac, store, Planner("shop", SECRET, policy.response_due), SECRET, lambda: NOW)
    assert server.wait_imports(10)
    (request,) = store.list_requests()
    # since the reconcile, the person joined another list: a step that runs after the freshness
    # window must see it and keep the contact
    cid = server.contact_view("late@example.com")["id"]
    ac.set_list_status(cid, other, 1)
    later = NOW + timedelta(seconds=steps_mod.RECONCILED_LISTS_FRESH_S + 1)
    out = run_ac_step(site, store, policy, ac, wp, request, later)
    assert out.result["deleted"] is False and out.result["other_lists"] == [other]
    assert server.contact_view("late@example.com") is not None


@pytest.mark.parametrize("params", [
    {"contact_id": "7", "other_lists": [], "lists_read_at": NOW.isoformat()},
    {"contact_id": True, "other_lists": [], "lists_read_at": NOW.isoformat()},
    {"contact_id": 7, "other_lists": "none", "lists_read_at": NOW.isoformat()},
    {"contact_id": 7, "other_lists": [], "lists_read_at": "yesterday"},
    {"contact_id": 7, "other_lists": [], "lists_read_at": (NOW + timedelta(hours=1)).isoformat()},  # future
])
def test_malformed_reconcile_params_are_not_trusted(params):
    class Ctx:
        now = NOW
    ctx = Ctx()
    ctx.step = type("S", (), {"params": {"keep_if_other_lists": True, **params}})()
    assert steps_mod._reconciled(ctx) is None
    good = {"contact_id": 7, "other_lists": [3], "lists_read_at": NOW.isoformat()}
    ctx.step = type("S", (), {"params": good})()
    assert steps_mod._reconciled(ctx) == (7, [3])
