"""Erasure and export with WebinarJam: the engine over a real store, Protocol-level fakes of
WordPress/ActiveCampaign and the real WebinarJam client against the local WebinarJam server."""

from __future__ import annotations

import json
import random
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from fakes import FakeActiveCampaign, FakeWordPress
from wpprivsync.clients.webinarjam import WebinarJamClient
from wpprivsync.engine.ingest import pull_events
from wpprivsync.engine.plan import Planner
from wpprivsync.engine.worker import Worker
from wpprivsync.identity import email_hash
from wpprivsync.policy import load_policy
from wpprivsync.store import open_store
from wpprivsync_devkit.wjfake import WebinarJamServer

ROOT = Path(__file__).resolve().parents[1]
SECRET = "k" * 32
KEY = "w" * 64


class Site:
    name = "shop"
    newsletter_list_ids = [1]
    wordpress_url = "http://shop.test"
    webinarjam_webinar_ids = [7, 8]


class Env:
    def __init__(self, tmp_path: Path, wj: WebinarJamServer):
        self.now = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
        self.store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        self.policy = load_policy(ROOT / "config" / "policy.toml")
        self.wordpress = FakeWordPress()
        self.activecampaign = FakeActiveCampaign()
        self.webinarjam = WebinarJamClient(wj.url, KEY, session=requests.Session(), sleep=lambda s: None)
        self.site = Site()
        self.planner = Planner("shop", SECRET, self.policy.response_due, webinarjam=True)
        self.tmp = tmp_path

    def worker(self):
        return Worker(self.store, lambda name: self, self.policy, clock=lambda: self.now, worker_id="w1",
                      export_dir=self.tmp / "exports", max_attempts=3, lease_s=60.0, concurrency=1,
                      rng=random.Random(1))

    def pull(self):
        return pull_events("shop", self.wordpress, self.store, self.planner, SECRET, lambda: self.now)


@pytest.fixture(scope="module")
def wj_server():
    with WebinarJamServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def env(tmp_path, wj_server):
    wj_server.reset()
    e = Env(tmp_path, wj_server)
    yield e
    e.store.close()


def test_erasure_unsubscribes_every_registration_and_says_deletion_is_manual(env, wj_server):
    (s7,) = wj_server.add_webinar(7, "Taxes", ["2026-11-01 18:00"])
    (s8,) = wj_server.add_webinar(8, "VAT", ["2026-11-20 18:00"])
    a = wj_server.add_registrant(7, s7, "ann@example.com")
    b = wj_server.add_registrant(8, s8, "ANN@example.com")
    other = wj_server.add_registrant(7, s7, "bob@example.com")
    env.wordpress.add_event("account.deleted", {"email": "ann@example.com"})
    env.pull()
    done = env.worker().run_pass()
    assert done.dead == 0 and done.done == 4
    assert wj_server.lead(a)["subscribed"] is False and wj_server.lead(b)["subscribed"] is False
    assert wj_server.lead(other)["subscribed"] is True
    digest = email_hash(SECRET, "ann@example.com")
    entry = next(x for x in env.store.audit(email_hash=digest) if x.system == "webinarjam")
    assert entry.action == "unsubscribe" and entry.items_retained == 2
    assert "30 days" in entry.reason and "Registrants" in entry.detail["manual_task"]
    assert "ann@" not in repr(entry)


def test_status_error_fails_the_step_with_the_message_and_a_retry_completes_it(env, wj_server):
    (s7,) = wj_server.add_webinar(7, "Taxes", ["2026-11-01 18:00"])
    wj_server.add_webinar(8, "VAT", ["2026-11-20 18:00"])
    lead = wj_server.add_registrant(7, s7, "cy@example.com")
    env.wordpress.add_event("account.deleted", {"email": "cy@example.com"})
    env.pull()
    wj_server.set_faults(error=1)
    w = env.worker()
    first = w.run_pass()
    assert first.failed == 1
    step = next(s for req in env.store.list_requests(site="shop") for s in env.store.steps_of(req.id)
                if s.system == "webinarjam")
    assert step.status == "pending" and "Temporary failure" in (step.last_error or "")
    assert KEY not in (step.last_error or "")
    env.now = env.now.replace(hour=23)
    w.run_pass()
    assert wj_server.lead(lead)["subscribed"] is False


def test_export_holds_the_registrations(env, wj_server):
    (s7,) = wj_server.add_webinar(7, "Taxes", ["2026-11-01 18:00"])
    wj_server.add_webinar(8, "VAT", ["2026-11-20 18:00"])
    wj_server.add_registrant(7, s7, "dee@example.com", first_name="Dee")
    env.wordpress.add_event("export.requested", {"email": "dee@example.com"})
    env.pull()
    assert env.worker().run_pass().done == 1
    (zip_path,) = (env.tmp / "exports").glob("*.zip")
    with zipfile.ZipFile(zip_path) as zf:
        data = json.loads(zf.read("export.json"))
        page = zf.read("export.html").decode()
    (reg,) = data["webinarjam"]["registrations"]
    assert reg["webinar"] == "Taxes" and reg["first_name"] == "Dee" and reg["webinar_id"] == 7
    assert data["summary"]["webinarjam_registrations"] == 1 and "Taxes" in page


def test_the_request_completes_only_when_its_deletion_task_is_closed(env, wj_server):
    (s7,) = wj_server.add_webinar(7, "Taxes", ["2026-11-01 18:00"])
    wj_server.add_webinar(8, "VAT", ["2026-11-20 18:00"])
    lead = wj_server.add_registrant(7, s7, "eve@example.com")
    env.wordpress.add_event("account.deleted", {"email": "eve@example.com"})
    env.pull()
    env.worker().run_pass()
    (req,) = env.store.list_requests(site="shop")
    assert req.status == "open"  # every step done, the manual task still open
    (task,) = env.store.tasks(site="shop", status="open")
    assert task.request_id == req.id and task.due_at == req.due_at and task.system == "webinarjam"
    assert f"lead {lead}" in task.what and "30 days" in task.why and "eve@" not in repr(task)
    assert env.store.overdue_tasks(req.due_at.replace(year=2027)) == [task]
    wj_server.delete_registrant(lead)  # the person does it in WebinarJam's screens
    assert env.store.close_task(task.id, env.now, status="done", note="deleted in WebinarJam") is True
    assert env.store.close_task(task.id, env.now, status="done", note="again") is False  # harmless twice
    (req,) = env.store.list_requests(site="shop")
    assert req.status == "done" and req.email is None
    closed = [a for a in env.store.audit(email_hash=task.email_hash) if a.action == "task_done"]
    assert len(closed) == 1 and closed[0].detail["note"] == "deleted in WebinarJam"


def test_a_retried_step_does_not_open_the_task_twice(env, wj_server):
    (s7,) = wj_server.add_webinar(7, "Taxes", ["2026-11-01 18:00"])
    wj_server.add_webinar(8, "VAT", ["2026-11-20 18:00"])
    wj_server.add_registrant(7, s7, "fay@example.com")
    env.wordpress.add_event("account.deleted", {"email": "fay@example.com"})
    env.pull()
    wj_server.set_faults(error=0)
    w = env.worker()
    w.run_pass()
    (req,) = env.store.list_requests(site="shop")
    step = next(s for s in env.store.steps_of(req.id) if s.system == "webinarjam")
    from wpprivsync.engine.steps import HANDLERS, StepContext
    ctx = StepContext(site=env.site, request=env.store.get_request(req.id) or req, step=step, wordpress=None,
                      activecampaign=None, store=env.store, policy=env.policy, now=env.now,
                      export_dir=env.tmp, webinarjam=env.webinarjam)
    # the registration is already unsubscribed but still listed: a rerun finds the same task
    out = HANDLERS[("webinarjam", "unsubscribe")](ctx)
    assert len(env.store.tasks(site="shop")) == 1 and out.result["task_id"] == env.store.tasks()[0].id


def test_sessions_past_30_days_with_registrants_are_due_and_recorded_while_known(env, wj_server):
    from datetime import date

    from wpprivsync.engine.webinars import sweep_webinars

    (old,) = wj_server.add_webinar(7, "Taxes", ["2026-10-01 18:00"])
    series = wj_server.add_webinar(8, "VAT", ["2026-10-20 18:00", "2026-11-10 18:00"],
                                   type="Series of presentations")
    wj_server.add_registrant(7, old, "gus@example.com")
    wj_server.add_registrant(8, series[0], "hal@example.com")
    today = date(2026, 11, 25)
    dry = sweep_webinars(env.site, env.webinarjam, env.store, env.policy, today, env.now, dry_run=True)
    assert dry["sessions"] == 3
    assert [(d["webinar_id"], d["ended"], d["delete_by"], d["registrants"]) for d in dry["due"]] == [
        (7, "2026-10-01", "2026-10-31", 1)]  # the series' last session ended only 15 days ago
    assert env.store.tasks() == []  # a dry run opens nothing

    wj_server.hide_past_sessions(7)  # the API no longer shows the ended session's schedule id
    real = sweep_webinars(env.site, env.webinarjam, env.store, env.policy, today, env.now)
    assert [d["webinar_id"] for d in real["due"]] == [7]  # still known: it was recorded
    (task,) = env.store.tasks(status="open")
    assert task.due_at.date().isoformat() == "2026-10-31" and "1 registrants of webinar 7" in task.what
    assert "30 days" in task.why
    again = sweep_webinars(env.site, env.webinarjam, env.store, env.policy, today, env.now)
    assert again["due"][0]["task_id"] == task.id and len(env.store.tasks()) == 1

    later = sweep_webinars(env.site, env.webinarjam, env.store, env.policy, date(2026, 12, 11), env.now,
                           dry_run=True)
    assert sorted(d["webinar_id"] for d in later["due"]) == [7, 8]
    wj_server.reset()
    wj_server.add_webinar(7, "Taxes", [])
    wj_server.add_webinar(8, "VAT", [])
    # registrants deleted in WebinarJam: nothing is due any more
    assert sweep_webinars(env.site, env.webinarjam, env.store, env.policy, date(2026, 12, 11), env.now,
                          dry_run=True)["due"] == []


def test_manual_tasks_for_systems_without_an_api_keep_the_export_open_until_closed(env, wj_server):
    wj_server.add_webinar(7, "Taxes", [])
    wj_server.add_webinar(8, "VAT", [])
    env.site.manual_task_systems = ["correspondence"]
    env.planner = Planner("shop", SECRET, env.policy.response_due, webinarjam=True, manual_tasks=True)
    env.wordpress.add_event("export.requested", {"email": "jo@example.com"})
    env.pull()
    env.worker().run_pass()
    (req,) = env.store.list_requests(site="shop")
    tasks = env.store.tasks(request_id=req.id)
    assert sorted(t.rule for t in tasks) == ["complaints", "correspondence"]
    assert all(t.due_at == req.due_at and t.system == "correspondence" for t in tasks)
    assert req.status == "open"
    env.store.close_task(tasks[0].id, env.now, status="done", note="letters added to the copy")
    assert env.store.get_request(req.id).status == "open"
    env.store.close_task(tasks[1].id, env.now, status="waived", note="no complaints on file")
    assert env.store.get_request(req.id).status == "done"
