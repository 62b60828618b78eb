"""ActiveCampaignClient against mocked HTTP (responses): retries, Retry-After, chunking, error
mapping, redaction. No real waiting: sleep is a recorder."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timezone

import pytest
import requests
import responses
from responses import matchers

from wpprivsync import errors
from wpprivsync.clients.activecampaign import ActiveCampaignClient, retry_after_seconds
from wpprivsync.clients.protocols import BulkContact

BASE = "https://acme.api-us1.com/api/3"
TOKEN = "sekret-token-5f1c2a9e"
EMAIL = "jane.doe@example.org"
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=timezone.utc)


class CountingBudget:
    def __init__(self):
        self.acquired = 0

    def acquire(self):
        self.acquired += 1


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def budget():
    return CountingBudget()


@pytest.fixture
def client(sleeps, budget):
    return ActiveCampaignClient(BASE, TOKEN, session=requests.Session(), budget=budget, sleep=sleeps.append,
                                clock=lambda: 0.0, now=lambda: NOW, timeout=2, max_retries=3,
                                max_429_retries=3, rng=random.Random(1))


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


# -- Retry-After ---------------------------------------------------------------------------
def test_retry_after_seconds_reads_delta_seconds_and_http_dates():
    assert retry_after_seconds({"Retry-After": "30"}, NOW) == 30.0
    assert retry_after_seconds({"retry-after": " 2 "}, NOW) == 2.0
    assert retry_after_seconds({"Retry-After": "Wed, 25 Nov 2026 12:00:07 GMT"}, NOW) == 7.0
    # a date in the past means "now", never a negative wait
    assert retry_after_seconds({"Retry-After": "Wed, 25 Nov 2026 11:59:00 GMT"}, NOW) == 0.0


def test_retry_after_seconds_is_none_when_absent_or_unreadable():
    assert retry_after_seconds({}, NOW) is None
    assert retry_after_seconds({"Retry-After": ""}, NOW) is None
    assert retry_after_seconds({"Retry-After": "soon"}, NOW) is None
    assert retry_after_seconds({"Retry-After": "-5"}, NOW) is None


# -- retries -------------------------------------------------------------------------------
def test_429_waits_retry_after_then_retries(client, mock, sleeps, budget):
    mock.get(f"{BASE}/lists/3", status=429, headers={"Retry-After": "3"}, json={"message": "Too Many Requests"})
    mock.get(f"{BASE}/lists/3", json={"list": {"id": "3", "name": "News"}})
    assert client.get_list(3)["name"] == "News"
    assert sleeps == [3.0]
    assert client.stats.http429 == 1 and client.stats.calls == 2
    assert budget.acquired == 2  # every attempt takes a slot of the shared budget


def test_429_with_http_date_waits_until_that_date(client, mock, sleeps):
    mock.get(f"{BASE}/lists/3", status=429, headers={"Retry-After": "Wed, 25 Nov 2026 12:00:05 GMT"})
    mock.get(f"{BASE}/lists/3", json={"list": {"id": "3", "name": "News"}})
    client.get_list(3)
    assert sleeps == [5.0]


def test_429_until_retries_run_out_raises_rate_limited(client, mock, sleeps):
    mock.get(f"{BASE}/lists/3", status=429, headers={"Retry-After": "1"})
    with pytest.raises(errors.RateLimited) as info:
        client.get_list(3)
    assert info.value.retry_after == 1.0 and info.value.retryable
    assert client.stats.http429 == 4 and len(sleeps) == 3


def test_5xx_gets_bounded_exponential_backoff_then_succeeds(client, mock, sleeps):
    mock.get(f"{BASE}/lists/3", status=503)
    mock.get(f"{BASE}/lists/3", status=502)
    mock.get(f"{BASE}/lists/3", json={"list": {"id": "3", "name": "News"}})
    assert client.get_list(3)["id"] == "3"
    assert len(sleeps) == 2
    assert 0 < sleeps[0] <= 0.5 and 0 < sleeps[1] <= 1.0  # full jitter under base * 2**attempt
    assert client.stats.retries == 2


def test_5xx_until_retries_run_out_raises_server_error(client, mock, sleeps):
    mock.get(f"{BASE}/lists/3", status=500, json={"message": "oops"})
    with pytest.raises(errors.ServerError) as info:
        client.get_list(3)
    assert info.value.status == 500 and info.value.retryable
    assert client.stats.calls == 4 and len(sleeps) == 3
    assert all(s <= 30.0 for s in sleeps)


def test_timeouts_are_retried_then_reported_unreachable(client, mock, sleeps):
    mock.get(f"{BASE}/lists/3", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(errors.Unreachable) as info:
        client.get_list(3)
    assert "timed out" in str(info.value)
    assert client.stats.calls == 4


def test_a_timeout_then_success_completes(client, mock, sleeps):
    mock.get(f"{BASE}/lists/3", body=requests.exceptions.ConnectTimeout("connect timed out"))
    mock.get(f"{BASE}/lists/3", json={"list": {"id": "3", "name": "News"}})
    assert client.get_list(3)["name"] == "News"
    assert len(sleeps) == 1


# -- error mapping -------------------------------------------------------------------------
def test_wrong_token_is_authentication_failed_without_the_token(client, mock):
    mock.get(f"{BASE}/lists", status=403, json={"message": "Forbidden"})
    with pytest.raises(errors.AuthenticationFailed) as info:
        client.check()
    assert info.value.status == 403 and TOKEN not in str(info.value)


def test_missing_permission_is_permission_denied(client, mock):
    mock.get(f"{BASE}/lists/3", status=403, json={"errors": [
        {"status": 403, "title": "Forbidden", "detail": "You do not have permission to view lists."}]})
    with pytest.raises(errors.PermissionDenied, match="permission to view lists"):
        client.get_list(3)


def test_unknown_list_is_not_found(client, mock):
    mock.get(f"{BASE}/lists/9", status=404, json={"message": "No Result found for List with id 9"})
    with pytest.raises(errors.NotFound, match="No Result found for List with id 9"):
        client.get_list(9)


def test_other_4xx_is_api_error_with_the_api_message_and_no_email(client, mock):
    mock.post(f"{BASE}/contact/sync", status=422, json={"errors": [
        {"title": f"Email address {EMAIL} is not valid", "detail": f"{EMAIL} rejected", "code": "invalid"}]})
    with pytest.raises(errors.ApiError) as info:
        client.sync_contact(EMAIL)
    text = str(info.value)
    assert "rejected" in text and info.value.status == 422
    assert EMAIL not in text and "j***@***.org" in text


def test_no_token_or_email_in_logs_or_errors(client, mock, caplog):
    caplog.set_level(logging.DEBUG)
    mock.get(f"{BASE}/contacts", status=503)
    mock.get(f"{BASE}/contacts", body=requests.exceptions.ConnectionError(f"refused for {EMAIL} {TOKEN}"))
    mock.get(f"{BASE}/contacts", status=429)
    mock.get(f"{BASE}/contacts", status=400, json={"message": f"bad query for {EMAIL} with {TOKEN}"})
    with pytest.raises(errors.ApiError) as info:
        client.find_contact(EMAIL)
    assert "bad query" in str(info.value)
    everything = caplog.text + str(info.value)
    assert EMAIL not in everything and TOKEN not in everything
    assert "retrying" in caplog.text  # the retries were logged, just without secrets


def test_non_json_success_is_bad_response(client, mock):
    mock.get(f"{BASE}/lists/3", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(errors.BadResponse):
        client.get_list(3)


# -- contacts ------------------------------------------------------------------------------
def test_find_contact_searches_by_normalised_email(client, mock):
    mock.get(f"{BASE}/contacts", match=[matchers.query_param_matcher({"email": EMAIL})],
             json={"contacts": [{"id": "42", "email": EMAIL}], "meta": {"total": "1"}})
    assert client.find_contact("  Jane.Doe@Example.org ").id == 42


def test_find_contact_returns_none_when_absent(client, mock):
    mock.get(f"{BASE}/contacts", json={"contacts": [], "meta": {"total": "0"}})
    assert client.find_contact(EMAIL) is None


def test_delete_of_an_unknown_contact_is_false_not_an_error(client, mock):
    mock.delete(f"{BASE}/contacts/7", status=404, json={"message": "No result found for contact with id 7"})
    mock.delete(f"{BASE}/contacts/8", status=200, json={})
    assert client.delete_contact(7) is False
    assert client.delete_contact(8) is True


def test_remove_contact_tag_of_unknown_tag_is_false(client, mock):
    mock.delete(f"{BASE}/contactTags/5", status=404, json={"message": "No Result found for SubscriberTag with id 5"})
    assert client.remove_contact_tag(5) is False


def test_set_list_status_posts_contact_list(client, mock):
    mock.post(f"{BASE}/contactLists", match=[matchers.json_params_matcher(
        {"contactList": {"list": "3", "contact": "42", "status": "2"}})], json={"contactList": {"status": 2}})
    client.set_list_status(42, 3, 2)
    assert len(mock.calls) == 1


def test_set_list_status_refuses_other_statuses_without_a_call(client, mock):
    with pytest.raises(errors.WpprivsyncError, match="1 .* or 2"):
        client.set_list_status(42, 3, 0)
    assert len(mock.calls) == 0


def test_sync_contact_maps_snake_case_names(client, mock):
    mock.post(f"{BASE}/contact/sync", match=[matchers.json_params_matcher(
        {"contact": {"email": EMAIL, "firstName": "Jane"}})], status=201,
        json={"contact": {"id": "42", "email": EMAIL}, "fieldValues": []})
    assert client.sync_contact(EMAIL, first_name="Jane").id == 42


def test_contact_details_names_lists_fields_and_tags(client, mock):
    mock.get(f"{BASE}/contacts/42", json={
        "contact": {"id": "42", "email": EMAIL, "firstName": "Jane", "hash": "x"},
        "contactLists": [{"list": "3", "status": "2"}], "fieldValues": [{"field": "5", "value": "cats"}]})
    mock.get(f"{BASE}/contacts/42/contactTags", json={"contactTags": [{"id": "11", "tag": "9", "contact": "42"}]})
    mock.get(f"{BASE}/lists", json={"lists": [{"id": "3", "name": "Newsletter"}], "meta": {"total": "1"}})
    mock.get(f"{BASE}/fields", json={"fields": [{"id": "5", "title": "Pets"}], "meta": {"total": "1"}})
    mock.get(f"{BASE}/tags", json={"tags": [{"id": "9", "tag": "commenter"}], "meta": {"total": "1"}})
    details = client.contact_details(42)
    assert details["contact"] == {"id": "42", "email": EMAIL, "firstName": "Jane"}
    assert details["lists"] == [{"list": 3, "name": "Newsletter", "status": 2}]
    assert details["fields"] == [{"field": 5, "title": "Pets", "value": "cats"}]
    assert details["tags"] == [{"id": 11, "tag_id": 9, "tag": "commenter"}]
    client.contact_details(42)  # names are cached: the second call costs two requests, not five
    assert client.stats.calls == 7


# -- bulk import ---------------------------------------------------------------------------
def _import_callback(seen):
    def callback(request):
        body = json.loads(request.body)
        seen.append(body["contacts"])
        return 200, {}, json.dumps({"Success": 1, "queued_contacts": len(body["contacts"]),
                                    "batchId": f"batch-{len(seen)}", "message": "Contact import queued"})
    return callback


def test_bulk_import_chunks_at_250_and_returns_batch_ids(client, mock):
    seen: list = []
    mock.add_callback(responses.POST, f"{BASE}/import/bulk_import", callback=_import_callback(seen))
    people = [BulkContact(f"p{i}@example.com", unsubscribe=[3], fields={"first_name": "P", 7: "x"})
              for i in range(600)]
    assert client.bulk_import(people) == ["batch-1", "batch-2", "batch-3"]
    assert [len(chunk) for chunk in seen] == [250, 250, 100]
    assert seen[0][0] == {"email": "p0@example.com", "first_name": "P", "fields": [{"id": 7, "value": "x"}],
                          "unsubscribe": [{"listid": "3"}]}
    assert [c["email"] for chunk in seen for c in chunk] == [p.email for p in people]


def test_bulk_import_with_a_bad_email_sends_nothing(client, mock):
    people = [BulkContact("ok@example.com", subscribe=[1]), BulkContact("not-an-email", subscribe=[1])]
    with pytest.raises(errors.WpprivsyncError, match="1 of 2 .*nothing was sent") as info:
        client.bulk_import(people)
    assert "not-an-email" not in str(info.value)
    assert len(mock.calls) == 0


def test_bulk_import_of_nothing_makes_no_call(client, mock):
    assert client.bulk_import([]) == []
    assert len(mock.calls) == 0


def test_bulk_import_refused_by_the_api_is_an_error(client, mock):
    mock.post(f"{BASE}/import/bulk_import", status=400, json={
        "success": 0, "message": "JSON payload did not pass validation.", "failureReasons": []})
    with pytest.raises(errors.ApiError, match="did not pass validation"):
        client.bulk_import([BulkContact("ok@example.com")])


def test_wait_bulk_import_polls_one_status_call_until_nothing_is_outstanding(client, mock, sleeps):
    mock.get(f"{BASE}/import/bulk_import", json={"outstanding": [{"forDate": "2026-11-25", "batches": "2",
                                                                  "contacts": "500"}], "recentlyCompleted": []})
    mock.get(f"{BASE}/import/bulk_import", json={"outstanding": [], "recentlyCompleted": []})
    assert client.wait_bulk_import(["a", "b"], poll=0.5) == {"completed": True, "batches": {}}
    assert sleeps == [0.5] and client.stats.calls == 2


# -- paging ---------------------------------------------------------------------------------
def test_list_members_pages_by_id(client, mock):
    def page(request):
        q = dict(p.split("=", 1) for p in request.url.split("?", 1)[1].split("&"))
        assert q["orders%5Bid%5D"] == "ASC" and q["limit"] == "100" and q["listid"] == "3"
        start = int(q["id_greater"])
        count = {"1": 150, "2": 3}[q["status"]]
        base = 0 if q["status"] == "1" else 1000
        ids = [i for i in range(base + 1, base + count + 1) if i > start][:100]
        return 200, {}, json.dumps({"contacts": [{"id": str(i), "email": f"m{i}@example.com"} for i in ids],
                                    "meta": {"total": str(count)}})
    mock.add_callback(responses.GET, f"{BASE}/contacts", callback=page)
    members = list(client.list_members(3))
    assert [m.contact_id for m in members if m.status == 1] == list(range(1, 151))
    assert [m.contact_id for m in members if m.status == 2] == [1001, 1002, 1003]
    assert client.stats.calls == 3  # 100 + 50 subscribed, 3 unsubscribed


def test_client_implements_the_protocol_signatures():
    import inspect

    from wpprivsync.clients.protocols import ActiveCampaignApi

    wanted = [n for n, v in vars(ActiveCampaignApi).items() if callable(v) and not n.startswith("_")]
    assert "bulk_import" in wanted and len(wanted) == 19  # 14, + 3 for linked contacts (12.3), + 2 for reconcile (17.3)
    for name in wanted:
        proto = inspect.signature(getattr(ActiveCampaignApi, name))
        real = inspect.signature(getattr(ActiveCampaignClient, name))
        assert list(proto.parameters) == list(real.parameters), name
        assert [p.default for p in proto.parameters.values()] == [p.default for p in real.parameters.values()], name


# -- rate budget ------------------------------------------------------------------------------
def test_rate_budget_is_one_object_per_account_and_store(tmp_path):
    from wpprivsync.clients.ratebudget import rate_budget

    a = rate_budget("https://a.api-us1.com/api/3")
    assert rate_budget("https://a.api-us1.com/api/3/") is a  # trailing slash: same account
    assert rate_budget("https://b.api-us1.com/api/3") is not a
    store = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    on_disk = rate_budget("https://a.api-us1.com/api/3", store_url=store)
    assert on_disk is not a and on_disk.backend == "sqlite"
    assert rate_budget("https://a.api-us1.com/api/3", store_url=store) is on_disk
    assert (tmp_path / "store.sqlite3.ratebudget.sqlite").exists()
    assert rate_budget("https://c.api-us1.com/api/3", store_url="sqlite://").backend == "memory"
    # the server's one-second window, each slot bounded by its grant + the margin until answered
    assert a.rate == 5 and a.window_ms == 1000 and a.margin_ms == 100


def test_rate_budget_registry_is_thread_safe():
    import threading

    from wpprivsync.clients.ratebudget import rate_budget

    got = []
    threads = [threading.Thread(target=lambda: got.append(rate_budget("https://race.api-us1.com/api/3")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(b) for b in got}) == 1


def test_rate_budget_backend_for_store_urls():
    from wpprivsync.clients.ratebudget import _backend_for

    assert _backend_for(None) == ("memory", None)
    assert _backend_for("sqlite:////var/lib/wpprivsync/store.db") == (
        "sqlite", "/var/lib/wpprivsync/store.db.ratebudget.sqlite")
    assert _backend_for("postgresql+psycopg://u:p%40ss@db.local:5433/wps") == (
        "postgresql", "postgresql://u:p%40ss@db.local:5433/wps")
    with pytest.raises(errors.ConfigError, match="unsupported"):
        _backend_for("mysql://u@h/db")


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_rate_budget_stamps_a_slot_when_it_is_granted_not_when_it_queued(backend, tmp_path):
    # pyrate-limiter stamps an item before it waits; a slot recorded at that earlier time would
    # leave the window early, letting a sixth request reach the server within its second
    from pyrate_limiter import Rate, RateItem

    from wpprivsync.clients.ratebudget import _SharedSQLiteBucket, _StampedInMemoryBucket, _now_ms

    rates = [Rate(5, 1100)]
    bucket = (_StampedInMemoryBucket(rates) if backend == "memory" else
              _SharedSQLiteBucket.open(rates, "stamp", str(tmp_path / "b.sqlite")))
    queued_long_ago = _now_ms() - 60_000
    assert all(bucket.put(RateItem("ac", queued_long_ago)) for _ in range(5))
    assert bucket.put(RateItem("ac", _now_ms())) is False  # the five are in this window
    assert bucket.count() == 5


def _bounds(bucket):
    if hasattr(bucket, "conn"):
        return sorted(r[0] for r in bucket.conn.execute(f"SELECT item_timestamp FROM '{bucket.table}'"))
    return sorted(i.timestamp for i in bucket.items)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_a_slot_is_bounded_by_grant_plus_margin_until_its_answer_pulls_it_in(backend, tmp_path, request):
    # the window frees one second after the latest moment the request can have reached the
    # server: grant + margin while unanswered, the answer's time once answered; never later
    from pyrate_limiter import Rate, RateItem

    from wpprivsync.clients.ratebudget import (_LockedPostgresBucket, _SharedSQLiteBucket, _StampedInMemoryBucket,
                                               _now_ms)

    rates = [Rate(5, 1000)]
    if backend == "memory":
        bucket = _StampedInMemoryBucket(rates, 100)
    elif backend == "sqlite":
        bucket = _SharedSQLiteBucket.open(rates, "bound", str(tmp_path / "b.sqlite"), 100)
    else:
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(request.getfixturevalue("pg_fresh_url").replace("+psycopg", ""), min_size=1, max_size=2, open=True)
        bucket = _LockedPostgresBucket(pool, "bound", rates, 100)
    before = _now_ms()
    assert bucket.put(RateItem("ac", 0))
    first = bucket.granted()
    assert bucket.granted() is None  # handed out once
    assert bucket.put(RateItem("ac", 0))
    second = bucket.granted()
    after = _now_ms()
    if backend == "postgres":
        stamps = lambda: sorted(float(r[0]) for r in pool.connection().__enter__().execute(  # noqa: E731
            f"SELECT extract(EPOCH FROM item_timestamp) * 1000 FROM {bucket._full_tbl}").fetchall())
    else:
        stamps = lambda: _bounds(bucket)  # noqa: E731
    assert all(before + 100 <= round(t) <= after + 100 for t in stamps())
    bucket.answered(first, before + 3)  # answered 3 ms after the grant: pulled in
    bucket.answered(second, after + 500)  # answered after its provisional bound: pushed out
    assert [round(t) for t in stamps()] == [before + 3, after + 500]
    bucket.answered(first, before + 1)  # twice: the row no longer holds the bound it was granted
    assert [round(t) for t in stamps()] == [before + 3, after + 500]
    # a slot answered after it left the window (leaked) is put back at its answer
    assert bucket.put(RateItem("ac", 0))
    third = bucket.granted()
    bucket.leak(_now_ms() + 5000)
    assert stamps() == []
    bucket.answered(third, after + 4000)
    assert [round(t) for t in stamps()] == [after + 4000]


def test_sqlite_budget_does_not_move_a_slot_that_reused_a_rowid(tmp_path):
    from pyrate_limiter import Rate, RateItem

    from wpprivsync.clients.ratebudget import _SharedSQLiteBucket

    bucket = _SharedSQLiteBucket.open([Rate(5, 1000)], "reuse", str(tmp_path / "b.sqlite"), 100)
    assert bucket.put(RateItem("ac", 0))
    rowid, bound = bucket.granted()
    bucket.conn.execute("DELETE FROM 'reuse'")  # left the window, then another slot got its rowid
    later = bound + 1500
    bucket.conn.execute("INSERT INTO 'reuse' (rowid, name, item_timestamp) VALUES (?, 'ac', ?)", (rowid, later))
    bucket.answered((rowid, bound), bound - 50)
    assert _bounds(bucket) == [later]


def test_the_client_releases_each_answered_slot_and_keeps_an_unanswered_one(mock):
    slots = []

    class Budget:
        n = 0

        def acquire(self):
            self.n += 1
            return self.n

        def release(self, slot):
            slots.append(slot)

    mock.get(f"{BASE}/lists/1", body=requests.exceptions.ConnectionError("refused"))
    mock.get(f"{BASE}/lists/1", status=429, headers={"Retry-After": "0"}, json={"message": "slow"})
    mock.get(f"{BASE}/lists/1", json={"list": {"id": "1"}})
    client = ActiveCampaignClient(BASE, TOKEN, session=requests.Session(), budget=Budget(), sleep=lambda s: None,
                                  rng=random.Random(1))
    client.get_list(1)
    assert slots == [1, 2, 3]  # refused, 429 and the answer: each is back, so each request arrived before

    slots.clear()
    mock.get(f"{BASE}/lists/2", body=requests.exceptions.ReadTimeout("slow"))
    mock.get(f"{BASE}/lists/2", json={"list": {"id": "2"}})
    client.get_list(2)
    assert slots == [5]  # a timed-out request may still arrive: its slot keeps the provisional bound


def test_sqlite_budget_leaks_only_slots_that_left_the_window(tmp_path):
    # two processes share the file; a leak deletes by time in one statement, so whatever the
    # other process leaked or put meanwhile, only slots that left the window go
    from pyrate_limiter import Rate, RateItem

    from wpprivsync.clients.ratebudget import _SharedSQLiteBucket, _now_ms

    path = str(tmp_path / "b.sqlite")
    one, two = (_SharedSQLiteBucket.open([Rate(5, 1100)], "shared", path) for _ in range(2))
    now = _now_ms()
    one.conn.executemany("INSERT INTO 'shared' (name, item_timestamp) VALUES ('ac', ?)",
                         [(now - 5000,), (now - 4000,), (now - 3000,)])
    assert all(two.put(RateItem("ac", 0)) for _ in range(4))
    assert one.leak(now) == 3 and two.leak(now) == 0
    assert one.count() == two.count() == 4  # the four live slots stay
    assert two.put(RateItem("ac", 0)) is True and one.put(RateItem("ac", 0)) is False


def test_rate_budget_on_an_unusable_store_is_a_store_error(tmp_path):
    from wpprivsync.clients.ratebudget import rate_budget

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(errors.StoreError, match="rate budget"):
        rate_budget("https://d.api-us1.com/api/3", store_url=f"sqlite:///{blocker}/sub/store.db")
    with pytest.raises(errors.ConfigError):
        rate_budget("https://d.api-us1.com/api/3", rate=0)


def test_contact_details_reloads_names_when_an_id_is_new(client, mock):
    mock.get(f"{BASE}/contacts/42", json={"contact": {"id": "42", "email": EMAIL},
                                          "contactLists": [{"list": "3", "status": "1"}], "fieldValues": []})
    mock.get(f"{BASE}/contacts/42/contactTags", json={"contactTags": []})
    mock.get(f"{BASE}/lists", json={"lists": [{"id": "1", "name": "Old"}], "meta": {"total": "1"}})
    mock.get(f"{BASE}/lists", json={"lists": [{"id": "1", "name": "Old"}, {"id": "3", "name": "New"}],
                                    "meta": {"total": "2"}})
    assert client.contact_details(42)["lists"] == [{"list": 3, "name": "New", "status": 1}]
    assert client.stats.by_endpoint["GET /lists"] == 2
    assert "GET /fields" not in client.stats.by_endpoint  # nothing to name: no call


def test_a_retry_after_too_long_to_wait_is_raised_for_the_caller(client, mock, sleeps):
    mock.get(f"{BASE}/lists/3", status=429, headers={"Retry-After": "3600"})
    with pytest.raises(errors.RateLimited) as info:
        client.get_list(3)
    assert info.value.retry_after == 3600.0 and sleeps == []
