"""The client against the local ActiveCampaign server: semantics, contract conformance (OpenAPI
and AsyncAPI files in shared/contracts/activecampaign), faults, and the shared rate budget.

Most tests use a server without a rate limit (``fast``) so they take no time; the rate tests
use the session server at 5 requests per second (``ac_server``)."""

from __future__ import annotations

import os
import pathlib
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
import yaml

from wpprivsync import errors
from wpprivsync_devkit.acfake import ActiveCampaignServer
from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.clients.protocols import BulkContact
from wpprivsync.clients.ratebudget import rate_budget

TOKEN = "fast-token-abcdef0123456789"


@pytest.fixture(scope="module")
def fast_server():
    server = ActiveCampaignServer(port=0, token=TOKEN, rate=0, accounts={"other": TOKEN + "-other"}, seed=3)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fast(fast_server):
    fast_server.reset()
    yield fast_server
    fast_server.clear_faults()


class Sleeps(list):
    """Records waits and waits only a moment, so fault tests do not take real seconds."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(min(seconds, 0.005))


def make_client(server, *, sleep=time.sleep, timeout=5.0, session=None, budget=None, account=None, **kw):
    url = server.url_for(account) if account else server.url
    token = server.account(account).token
    return ActiveCampaignClient(url, token, session=session or requests.Session(), budget=budget,
                                sleep=sleep, timeout=timeout, **kw)


# -- semantics -----------------------------------------------------------------------------
def test_contact_round_trip(fast):
    news = fast.add_list("Newsletter")
    topic = fast.add_field("Comment topic", "COMMENT_TOPIC")
    fast.add_contact("jane@example.org", lists={news: 1}, tags=["commenter", "vip"], fields={topic: "cats"},
                     first_name="Jane")
    ac = make_client(fast)
    contact = ac.find_contact("JANE@example.org")
    assert contact is not None and contact.email == "jane@example.org"
    details = ac.contact_details(contact.id)
    assert details["contact"]["firstName"] == "Jane"
    assert details["lists"] == [{"list": news, "name": "Newsletter", "status": 1}]
    assert details["fields"] == [{"field": topic, "title": "Comment topic", "value": "cats"}]
    assert sorted(t["tag"] for t in details["tags"]) == ["commenter", "vip"]

    vip = next(t for t in details["tags"] if t["tag"] == "vip")
    assert ac.remove_contact_tag(vip["id"]) is True
    assert ac.remove_contact_tag(vip["id"]) is False
    ac.clear_field_value(contact.id, topic)
    ac.set_list_status(contact.id, news, 2)
    assert fast.contact_view("jane@example.org") == {
        "id": contact.id, "email": "jane@example.org", "first_name": "Jane", "last_name": "",
        "lists": {news: 2}, "tags": ["commenter"], "fields": {topic: ""}}

    assert ac.delete_contact(contact.id) is True
    assert ac.delete_contact(contact.id) is False  # already gone: still success
    assert ac.find_contact("jane@example.org") is None
    with pytest.raises(errors.NotFound):
        ac.contact_details(contact.id)


def test_sync_contact_creates_then_updates(fast):
    ac = make_client(fast)
    first = ac.sync_contact("sam@example.org", first_name="Sam")
    again = ac.sync_contact("Sam@Example.org", last_name="Smith")
    assert first.id == again.id
    assert fast.contact_view("sam@example.org")["last_name"] == "Smith"


def test_wrong_or_missing_token_is_403_and_authentication_failed(fast):
    fast.add_list("Newsletter")
    bad = ActiveCampaignClient(fast.url, "wrong-token-value", session=requests.Session())
    with pytest.raises(errors.AuthenticationFailed) as info:
        bad.check()
    assert info.value.status == 403 and "wrong-token-value" not in str(info.value)
    resp = requests.get(f"{fast.url}/lists")
    assert resp.status_code == 403 and resp.json() == {"message": "Forbidden"}


def test_accounts_are_separate(fast):
    fast.add_list("Main news")
    fast.add_list("Other news", account="other")
    fast.add_contact("o@example.org", account="other")
    other = make_client(fast, account="other")
    assert other.get_list(1)["name"] == "Other news"
    assert other.find_contact("o@example.org") is not None
    assert make_client(fast).find_contact("o@example.org") is None
    main_token_on_other = ActiveCampaignClient(fast.url_for("other"), TOKEN, session=requests.Session())
    with pytest.raises(errors.AuthenticationFailed):
        main_token_on_other.check()


def test_get_list_of_unknown_list_is_not_found(fast):
    with pytest.raises(errors.NotFound):
        make_client(fast).get_list(99)


def test_list_members_pages_through_every_member_with_status(fast):
    news = fast.add_list("Newsletter")
    for i in range(230):
        fast.add_contact(f"m{i:03d}@example.org", lists={news: 2 if i % 10 == 0 else 1})
    fast.add_contact("elsewhere@example.org", lists={fast.add_list("Other"): 1})
    ac = make_client(fast)
    members = list(ac.list_members(news))
    assert len(members) == 230
    assert {m.email for m in members if m.status == 2} == {f"m{i:03d}@example.org" for i in range(0, 230, 10)}
    assert len({m.contact_id for m in members}) == 230
    assert fast.counters()["requests"]["GET /contacts"] == 3 + 1  # 100+100+7 subscribed, 23 unsubscribed


def test_bulk_import_is_asynchronous_and_never_resubscribes(fast):
    news = fast.add_list("Newsletter")
    gone = fast.add_contact("gone@example.org", lists={news: 2})
    ac = make_client(fast)
    people = [BulkContact(f"b{i}@example.org", subscribe=[news]) for i in range(260)]
    people.append(BulkContact("gone@example.org", subscribe=[news], fields={"first_name": "G"}))
    batches = ac.bulk_import(people)
    assert len(batches) == 2
    ac.wait_bulk_import(batches, poll=0.01)
    status = ac.bulk_import_status(batches[1])
    assert status["status"] == "completed" and str(gone) in status["success"]
    view = fast.contact_view("gone@example.org")
    assert view["lists"] == {news: 2} and view["first_name"] == "G"  # updated, not re-subscribed
    assert fast.contact_view("b259@example.org")["lists"] == {news: 1}


def test_wait_bulk_import_gives_up_after_its_timeout(fast):
    news = fast.add_list("Newsletter")
    fast.import_delay_s = 0.3
    try:
        ac = make_client(fast)
        batches = ac.bulk_import([BulkContact("slow@example.org", subscribe=[news])])
        with pytest.raises(errors.ServerError, match="still outstanding") as info:
            ac.wait_bulk_import(batches, timeout=0.0, poll=0.01)
        assert info.value.retryable
        assert ac.bulk_import_status(batches[0])["status"] == "pending"
        done = ac.wait_bulk_import(batches, timeout=10, poll=0.05, details=True)
        assert done["batches"][batches[0]]["status"] == "completed"
    finally:
        fast.import_delay_s = 0.0


def test_find_contacts_by_tag(fast):
    for i in range(130):
        fast.add_contact(f"t{i:03d}@example.org", tags=["commenter"] if i % 2 else [])
    tag_id = fast.account().tag_id("commenter")
    found = list(make_client(fast).find_contacts_by_tag(tag_id))
    assert [c.email for c in found] == [f"t{i:03d}@example.org" for i in range(1, 130, 2)]


def test_bulk_import_over_250_is_refused(fast):
    news = fast.add_list("Newsletter")
    rows = [{"email": f"x{i}@example.org", "subscribe": [{"listid": str(news)}]} for i in range(251)]
    resp = requests.post(f"{fast.url}/import/bulk_import", json={"contacts": rows}, headers={"Api-Token": TOKEN})
    assert resp.status_code == 400 and resp.json()["success"] == 0
    assert fast.contact_view("x0@example.org") is None


def test_bulk_import_with_a_bad_row_queues_nothing(fast):
    news = fast.add_list("Newsletter")
    rows = [{"email": "fine@example.org"}, {"email": "broken"}, {"email": "x@example.org",
                                                                 "subscribe": [{"listid": "77"}]}]
    resp = requests.post(f"{fast.url}/import/bulk_import", json={"contacts": rows}, headers={"Api-Token": TOKEN})
    assert resp.status_code == 400
    assert [r["contact"] for r in resp.json()["failureReasons"]] == [1, 2]
    assert fast.contact_view("fine@example.org") is None and news


# -- webhooks ------------------------------------------------------------------------------
def test_unsubscribe_click_is_delivered_as_a_form_post(fast, webhook_receiver):
    news = fast.add_list("Newsletter")
    fast.add_contact("ann@example.org", lists={news: 1}, first_name="Ann", tags=["reader"])
    ac = make_client(fast)
    hook = ac.create_webhook("wpprivsync", f"{webhook_receiver.url}/hook/s3cret", ["unsubscribe", "subscribe"],
                             ["public", "admin", "system"], list_id=news)
    assert hook["events"] == ["unsubscribe", "subscribe"] and hook["listid"] == str(news)
    assert [w["id"] for w in ac.list_webhooks()] == [hook["id"]]
    fast.unsubscribe_click("ann@example.org", news, reason="too many emails")
    [got] = webhook_receiver.wait_for(1)
    assert got["path"] == "/hook/s3cret"
    assert got["content_type"] == "application/x-www-form-urlencoded"
    form = got["form"]
    assert form["type"] == "unsubscribe" and form["initiated_from"] == "public"
    assert form["list"] == str(news) and form["contact[email]"] == "ann@example.org"
    assert form["contact[first_name]"] == "Ann" and form["contact[tags]"] == "reader"
    assert form["unsubscribe[reason]"] == "too many emails" and form["date_time"]


def test_webhooks_respect_events_sources_and_lists(fast, webhook_receiver):
    news, other = fast.add_list("Newsletter"), fast.add_list("Other")
    cid = fast.add_contact("bo@example.org", lists={news: 1, other: 1})
    ac = make_client(fast)
    ac.create_webhook("public only", f"{webhook_receiver.url}/public", ["unsubscribe"], ["public"])
    ac.create_webhook("api, news", f"{webhook_receiver.url}/api", ["unsubscribe", "update"], ["api"], list_id=news)
    ac.set_list_status(cid, other, 2)   # api, other list: no hook wants it
    ac.set_list_status(cid, news, 2)    # api, news: → /api
    ac.set_list_status(cid, news, 2)    # no change: no event
    fast.unsubscribe_click("bo@example.org", other)  # already 2: no change, no event
    fast.subscribe_form("bo@example.org", other)     # subscribe event: nobody listens
    fast.unsubscribe_click("bo@example.org", other)  # public → /public
    got = webhook_receiver.wait_for(2)
    assert fast.deliverer.wait_idle()
    got = webhook_receiver.received
    assert sorted((g["path"], g["form"]["initiated_from"], g["form"]["list"]) for g in got) == [
        ("/api", "api", str(news)), ("/public", "public", str(other))]


def test_bulk_import_fires_no_webhooks(fast, webhook_receiver):
    news = fast.add_list("Newsletter")
    fast.add_contact("cy@example.org", lists={news: 1})
    ac = make_client(fast)
    ac.create_webhook("all", f"{webhook_receiver.url}/all", ["subscribe", "unsubscribe", "update"],
                      ["public", "admin", "api", "system"])
    batches = ac.bulk_import([BulkContact("cy@example.org", unsubscribe=[news], fields={"first_name": "C"}),
                              BulkContact("new@example.org", subscribe=[news])])
    ac.wait_bulk_import(batches, poll=0.01)
    fast.unsubscribe_click("new@example.org", news)  # a marker event after the import
    webhook_receiver.wait_for(1)
    assert fast.deliverer.wait_idle()
    assert [(g["form"]["type"], g["form"]["contact[email]"]) for g in webhook_receiver.received] == [
        ("unsubscribe", "new@example.org")]


def test_a_410_answer_deactivates_the_webhook(fast, webhook_receiver):
    news = fast.add_list("Newsletter")
    fast.add_contact("di@example.org", lists={news: 1})
    ac = make_client(fast)
    ac.create_webhook("gone", f"{webhook_receiver.url}/gone", ["unsubscribe", "subscribe"], ["public"])
    webhook_receiver.status = 410
    fast.unsubscribe_click("di@example.org", news)
    webhook_receiver.wait_for(1)
    assert fast.deliverer.wait_idle()
    fast.subscribe_form("di@example.org", news)
    assert fast.deliverer.wait_idle()
    assert len(webhook_receiver.received) == 1
    assert [d["status"] for d in fast.deliveries()] == [410]


def test_delivery_is_at_least_once_duplicates_can_happen(fast, webhook_receiver):
    news = fast.add_list("Newsletter")
    fast.add_contact("eve@example.org", lists={news: 1})
    make_client(fast).create_webhook("dup", f"{webhook_receiver.url}/dup", ["unsubscribe"], ["public"])
    fast.set_faults(duplicate_rate=1.0)
    fast.unsubscribe_click("eve@example.org", news)
    got = webhook_receiver.wait_for(2)
    assert len(got) == 2 and got[0]["form"] == got[1]["form"]


def test_delete_webhook(fast, webhook_receiver):
    ac = make_client(fast)
    hook = ac.create_webhook("x", f"{webhook_receiver.url}/x", ["unsubscribe"], ["public"])
    assert ac.delete_webhook(int(hook["id"])) is True
    assert ac.delete_webhook(int(hook["id"])) is False
    assert ac.list_webhooks() == []


def test_webhook_with_an_unknown_source_is_refused(fast):
    with pytest.raises(errors.ApiError, match="unknown webhook sources"):
        make_client(fast).create_webhook("x", "http://127.0.0.1:9/x", ["unsubscribe"], ["email"])


# -- control plane -------------------------------------------------------------------------
def test_control_endpoints_seed_fault_and_count(fast):
    root = fast.root
    lid = requests.post(f"{root}/__fake/lists", json={"name": "News"}).json()["id"]
    cid = requests.post(f"{root}/__fake/contacts", json={"email": "ed@example.org", "lists": {str(lid): 1},
                                                          "tags": ["t"]}).json()["id"]
    assert requests.post(f"{root}/__fake/unsubscribe", json={"email": "ed@example.org", "list": lid}).json() == {"id": cid}
    assert requests.get(f"{root}/__fake/contacts", params={"email": "ed@example.org"}).json()["lists"] == {str(lid): 2}
    bad = requests.post(f"{root}/__fake/faults", json={"error_rate": 3})
    assert bad.status_code == 400 and fast.faults.as_dict()["error_rate"] == 0.0  # nothing changed
    assert requests.post(f"{root}/__fake/faults", json={"burst_429": 2, "retry_after": 0}).json()["burst_429"] == 2
    hdr = {"Api-Token": TOKEN}
    codes = [requests.get(f"{fast.url}/lists", headers=hdr).status_code for _ in range(3)]
    assert codes == [429, 429, 200]
    stats = requests.get(f"{root}/__fake/stats").json()
    assert stats["requests"] == {"GET /lists": 3} and stats["http429"] == 2 and stats["http429_injected"] == 2
    assert requests.post(f"{root}/__fake/reset").json() == {"reset": True}
    assert requests.get(f"{root}/__fake/stats").json()["total"] == 0


# -- faults --------------------------------------------------------------------------------
def test_everything_completes_under_5xx_timeouts_and_429_bursts(fast):
    news = fast.add_list("Newsletter")
    fast.set_faults(error_rate=0.2, timeout_rate=0.05, hang_s=0.4, burst_429=3, retry_after=0, seed=11)
    sleeps = Sleeps()
    ac = make_client(fast, sleep=sleeps, timeout=0.2, max_retries=8, rng=random.Random(5))
    emails = [f"f{i}@example.org" for i in range(20)]
    for email in emails:
        contact = ac.sync_contact(email)
        ac.set_list_status(contact.id, news, 1)
    for email in emails[:10]:
        ac.set_list_status(ac.find_contact(email).id, news, 2)
    batches = ac.bulk_import([BulkContact(f"g{i}@example.org", unsubscribe=[news]) for i in range(300)])
    ac.wait_bulk_import(batches, poll=0.01)
    members = list(ac.list_members(news))
    assert sum(1 for m in members if m.status == 1) == 10
    assert sum(1 for m in members if m.status == 2) == 310
    counters = fast.counters()
    assert counters["http429_injected"] == 3 and ac.stats.http429 == 3
    # faults did happen and each was waited out (the import poll may add a wait of its own)
    assert ac.stats.retries > 5 and len(sleeps) >= ac.stats.retries


def test_latency_fault_delays_answers(fast):
    fast.add_list("Newsletter")
    fast.set_faults(latency_s=0.05)
    ac = make_client(fast)
    started = time.monotonic()
    ac.check()
    assert time.monotonic() - started >= 0.05


def test_burst_429_is_waited_out_per_retry_after(fast):
    fast.add_list("Newsletter")
    fast.set_faults(burst_429=2, retry_after=4)
    sleeps = Sleeps()
    ac = make_client(fast, sleep=sleeps)
    assert ac.check()["ok"]
    assert sleeps == [4.0, 4.0]


# -- rate limit ----------------------------------------------------------------------------
def test_server_enforces_five_per_second_with_retry_after(ac_server):
    ac_server.add_list("Newsletter")
    hdr = {"Api-Token": ac_server.token}
    with requests.Session() as s:
        answers = [s.get(f"{ac_server.url}/lists/1", headers=hdr) for _ in range(7)]
    codes = [a.status_code for a in answers]
    assert codes[:5] == [200] * 5 and 429 in codes[5:]
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1 and limited.headers["RateLimit-Limit"] == "5"
    assert ac_server.counters()["max_per_second"] == 5


def test_a_client_without_the_budget_is_throttled_and_waits_retry_after(ac_server):
    ac_server.add_list("Newsletter")
    ac = make_client(ac_server)  # no budget: it will run into the limit
    for _ in range(7):
        ac.get_list(1)
    counters = ac_server.counters()
    assert counters["http429"] >= 1 and ac.stats.http429 == counters["http429"]
    assert counters["requests"]["GET /lists/{id}"] == 7 + counters["http429"]
    assert counters["max_per_second"] <= 5


def test_two_threads_sharing_the_budget_never_exceed_the_limit(ac_server):
    ac_server.add_list("Newsletter")
    budget = rate_budget(ac_server.url)
    clients = [make_client(ac_server, budget=budget) for _ in range(2)]
    failures = []

    def work(client):
        try:
            for _ in range(8):
                client.get_list(1)
        except Exception as exc:  # noqa: BLE001 — surfaced below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not failures
    counters = ac_server.counters()
    assert counters["requests"]["GET /lists/{id}"] == 16
    assert counters["http429"] == 0 and counters["max_per_second"] <= 5
    assert sum(c.stats.http429 for c in clients) == 0


_WORKER = """
import sys, requests
from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.clients.ratebudget import rate_budget
url, token, store, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = ActiveCampaignClient(url, token, session=requests.Session(), budget=rate_budget(url, store_url=store))
sys.stdin.readline()  # start together
for _ in range(n):
    client.get_list(1)
print(client.stats.http429)
"""


def test_two_processes_sharing_a_sqlite_budget_never_exceed_the_limit(ac_server, tmp_path):
    ac_server.add_list("Newsletter")
    outs = _run_workers(ac_server, f"sqlite:///{tmp_path / 'store.sqlite3'}", 2, 6)
    assert [o[0].strip() for o in outs] == ["0", "0"]
    counters = ac_server.counters()
    assert counters["requests"]["GET /lists/{id}"] == 12
    assert counters["http429"] == 0 and counters["max_per_second"] <= 5
    assert (tmp_path / "store.sqlite3.ratebudget.sqlite").exists()


def _run_workers(ac_server, store: str, count: int, per_worker: int) -> list[tuple[str, str]]:
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, ac_server.url, ac_server.token, store, str(per_worker)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True) for _ in range(count)]
    try:
        for p in procs:  # the first line of stdin releases them together
            p.stdin.write("go\n")
            p.stdin.flush()
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    assert [p.returncode for p in procs] == [0] * count, [o[1][-800:] for o in outs]
    return outs


def test_two_processes_sharing_a_postgres_budget_never_exceed_the_limit(ac_server, pg_fresh_url):
    ac_server.add_list("Newsletter")
    outs = _run_workers(ac_server, pg_fresh_url, 2, 5)
    assert [o[0].strip() for o in outs] == ["0", "0"]
    counters = ac_server.counters()
    assert counters["requests"]["GET /lists/{id}"] == 10
    assert counters["http429"] == 0 and counters["max_per_second"] <= 5


def test_runs_as_a_module_and_stops_on_sigterm(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "wpprivsync_devkit.acfake", "--port", str(port), "--token", "cli-token",
                             "--list", "Newsletter", "--list", "Offers"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"fake ActiveCampaign serving http://127.0.0.1:{port}/api/3"
        ac = ActiveCampaignClient(f"http://127.0.0.1:{port}/api/3", "cli-token", session=requests.Session())
        assert ac.check() == {"ok": True, "lists": 2}
        assert ac.get_list(2)["name"] == "Offers"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- contract ------------------------------------------------------------------------------
_SPECS = ("activecampaign-contacts-api-openapi.yml", "activecampaign-lists-api-openapi.yml",
          "activecampaign-webhooks-api-openapi.yml", "activecampaign-bulk-import-api-openapi.yml")


def _openapis(contract_dir: pathlib.Path, base_url: str):
    from openapi_core import Config, OpenAPI

    apis = []
    for name in _SPECS:
        spec = yaml.safe_load((contract_dir / name).read_text())
        spec["servers"] = [{"url": base_url}]
        # the published profile has schema quirks the strict spec validator rejects; the
        # response schemas themselves are still enforced below
        apis.append((name, OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))))
    return apis


def _validate(apis, resp) -> str | None:
    """The spec that documents this response's operation (validated), or None if none does."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound

    request, response = RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp)
    for name, api in apis:
        try:
            api.validate_response(request, response)
            return name
        except (PathNotFound, OperationNotFound, ServerNotFound):
            continue
    return None


def test_responses_follow_the_openapi_contract(fast, ac_contract_dir, webhook_receiver):
    news = fast.add_list("Newsletter")
    topic = fast.add_field("Topic")
    fast.add_contact("kim@example.org", lists={news: 1}, tags=["t"], fields={topic: "v"})
    recorded: list[requests.Response] = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, *a, **k: recorded.append(r))
    ac = make_client(fast, session=session)
    hdr = {"Api-Token": TOKEN}

    kim = ac.find_contact("kim@example.org")
    ac.contact_details(kim.id)
    session.get(f"{fast.url}/contacts/{kim.id}/contactLists", headers=hdr)
    session.get(f"{fast.url}/contacts/{kim.id}/fieldValues", headers=hdr)
    session.post(f"{fast.url}/contacts", json={"contact": {"email": "new@example.org", "firstName": "N"}}, headers=hdr)
    session.post(f"{fast.url}/contacts", json={"contact": {"email": "new@example.org"}}, headers=hdr)  # 422
    ac.sync_contact("kim@example.org", first_name="Kim")
    ac.set_list_status(kim.id, news, 2)
    session.post(f"{fast.url}/contactLists", json={"contactList": {"list": str(news), "contact": "999",
                                                                   "status": "2"}}, headers=hdr)  # 400
    session.post(f"{fast.url}/contact/sync", json={"contact": {"email": "not-an-email"}}, headers=hdr)  # 400
    ac.get_list(news)
    ac.check()
    session.post(f"{fast.url}/lists", json={"list": {"name": "Second", "sender_url": "https://x.example",
                                                     "sender_reminder": "r"}}, headers=hdr)
    list(ac.list_members(news))
    batches = ac.bulk_import([BulkContact(f"c{i}@example.org", subscribe=[news]) for i in range(12)])
    ac.wait_bulk_import(batches, poll=0.01, details=True)
    session.get(f"{fast.url}/import/info", headers=hdr)  # 400: batchId missing
    session.post(f"{fast.url}/import/bulk_import", json={"contacts": [{"email": "bad"}]}, headers=hdr)  # 400
    hook = ac.create_webhook("w", f"{webhook_receiver.url}/w", ["unsubscribe"], ["public"], list_id=news)
    session.get(f"{fast.url}/webhooks/{hook['id']}", headers=hdr)
    session.put(f"{fast.url}/webhooks/{hook['id']}", json={"webhook": {"name": "w2"}}, headers=hdr)
    ac.list_webhooks()
    ac.delete_webhook(int(hook["id"]))
    tag_id = ac.contact_details(kim.id)["tags"][0]["id"]
    ac.remove_contact_tag(tag_id)
    ac.remove_contact_tag(tag_id)  # 404
    ac.delete_contact(kim.id)
    ac.delete_contact(kim.id)  # 404
    session.get(f"{fast.url}/contacts/{kim.id}", headers=hdr)  # 404

    apis = _openapis(ac_contract_dir, fast.url)
    covered = set()
    for resp in recorded:
        spec = _validate(apis, resp)  # raises on any contract violation
        if spec:
            covered.add((resp.request.method, resp.request.path_url.split("?")[0].split("/api/3", 1)[1], resp.status_code))
    operations = {(m, "/".join("{id}" if p.isdigit() else p for p in path.split("/")), s) for m, path, s in covered}
    assert operations >= {
        ("GET", "/contacts", 200), ("GET", "/contacts/{id}", 200), ("GET", "/contacts/{id}", 404),
        ("GET", "/contacts/{id}/contactLists", 200), ("GET", "/contacts/{id}/fieldValues", 200),
        ("POST", "/contacts", 201), ("POST", "/contacts", 422), ("POST", "/contact/sync", 201),
        ("POST", "/contact/sync", 400), ("POST", "/contactLists", 200), ("POST", "/contactLists", 400), ("DELETE", "/contacts/{id}", 200), ("DELETE", "/contacts/{id}", 404),
        ("DELETE", "/contactTags/{id}", 200), ("DELETE", "/contactTags/{id}", 404),
        ("GET", "/lists", 200), ("GET", "/lists/{id}", 200), ("POST", "/lists", 200),
        ("POST", "/import/bulk_import", 200), ("POST", "/import/bulk_import", 400),
        ("GET", "/import/bulk_import", 200), ("GET", "/import/info", 200), ("GET", "/import/info", 400),
        ("POST", "/webhooks", 201), ("GET", "/webhooks", 200), ("GET", "/webhooks/{id}", 200),
        ("PUT", "/webhooks/{id}", 200), ("DELETE", "/webhooks/{id}", 200),
    }


def test_the_contract_check_catches_a_drifted_response(fast, ac_contract_dir):
    """The harness is not vacuous: a response that breaks the schema fails validation."""
    import responses as responses_lib

    apis = _openapis(ac_contract_dir, fast.url)
    with responses_lib.RequestsMock() as mock:
        mock.get(f"{fast.url}/contacts/5", json={"contact": {"id": 5, "email": ["not", "a", "string"]}})
        resp = requests.get(f"{fast.url}/contacts/5")
    with pytest.raises(Exception) as info:
        _validate(apis, resp)
    assert "Invalid" in type(info.value).__name__ or "invalid" in str(info.value).lower()


def test_webhook_payloads_follow_the_asyncapi_contract(fast, ac_contract_dir, webhook_receiver):
    import jsonschema

    asyncapi = yaml.safe_load((ac_contract_dir / "activecampaign-webhooks-asyncapi.yml").read_text())
    components = asyncapi["components"]
    news = fast.add_list("Newsletter")
    topic = fast.add_field("Topic", "TOPIC")
    cid = fast.add_contact("lu@example.org", lists={news: 1}, tags=["a", "b"], fields={topic: "x"}, first_name="Lu")
    ac = make_client(fast)
    ac.create_webhook("all", f"{webhook_receiver.url}/all", ["subscribe", "unsubscribe", "update"],
                      ["public", "api"])
    fast.unsubscribe_click("lu@example.org", news, reason="bye")
    ac.set_list_status(cid, news, 1)
    ac.sync_contact("lu@example.org", first_name="Lucy")
    got = webhook_receiver.wait_for(3)
    schemas = {"unsubscribe": "UnsubscribePayload", "subscribe": "SubscribePayload", "update": "ContactUpdatePayload"}
    assert sorted(g["form"]["type"] for g in got) == ["subscribe", "unsubscribe", "update"]
    for g in got:
        name = schemas[g["form"]["type"]]
        schema = {"$ref": f"#/components/schemas/{name}", "components": components}
        jsonschema.validate(g["form"], schema)
        declared = _declared_keys(components, components["schemas"][name])
        undeclared = [k for k in g["form"] if k not in declared
                      and not k.startswith("contact[fields][") and not k.startswith("active_subscriptions[")
                      and not (k.startswith("list[") and k.endswith("][id]"))]
        assert undeclared == [], f"{name}: keys the contract does not declare: {undeclared}"


def _declared_keys(components, schema) -> set[str]:
    if "$ref" in schema:
        return _declared_keys(components, components["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        keys |= _declared_keys(components, part)
    return keys
