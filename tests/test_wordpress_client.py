"""The WordPress client against canned answers (responses): URLs, bodies, paging, error mapping."""

from __future__ import annotations

import json
import socket
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from wpprivsync import errors
from wpprivsync.clients.protocols import Event, WordPressApi
from wpprivsync.clients.wordpress import PAGE_SIZE, WordPressClient

BASE = "https://shop.example.test"


def route_url(route: str) -> str:
    return f"{BASE}/?rest_route=/wpprivsync/v1/{route}"


def matches_route(route: str):
    """A responses matcher on the rest_route query parameter."""
    want = "/" + route.lstrip("/") if route.startswith(("wp/", "/")) else f"/wpprivsync/v1/{route}"

    def match(request):
        got = parse_qs(urlparse(request.url).query).get("rest_route", [""])[0]
        ok = got == want
        return ok, "" if ok else f"rest_route {got!r} != {route!r}"
    return match


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(call.request.url).query).items()}


@pytest.fixture
def client() -> WordPressClient:
    return WordPressClient(BASE + "/", "wpprivsync-daemon", "abcd efgh ijkl", session=requests.Session())


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def add(rsps, method, route, *, json_body=None, status=200, body=None):
    rsps.add(method, f"{BASE}/", match=[matches_route(route)], json=json_body, status=status, body=body)


def test_client_implements_the_protocol(client):
    needed = [n for n in dir(WordPressApi) if not n.startswith("_")]
    missing = [n for n in needed if not callable(getattr(client, n, None))]
    assert missing == []


def test_sends_application_password_as_basic_auth(client, rsps):
    add(rsps, "GET", "status", json_body={"version": "0.1.0", "woocommerce": False})
    assert client.status()["version"] == "0.1.0"
    auth = rsps.calls[0].request.headers["Authorization"]
    assert auth.startswith("Basic ")


def test_index_goes_without_auth(client, rsps):
    rsps.add("GET", f"{BASE}/", match=[matches_route("/")], json={"namespaces": ["wp/v2", "wpprivsync/v1"]})
    assert "wpprivsync/v1" in client.index()["namespaces"]
    assert "Authorization" not in rsps.calls[0].request.headers


@pytest.mark.parametrize(("status", "code", "error"), [
    (401, "rest_not_logged_in", errors.AuthenticationFailed),
    (401, "incorrect_password", errors.AuthenticationFailed),
    (403, "rest_forbidden", errors.PermissionDenied),
    (404, "wpprivsync_no_user", errors.NotFound),
    (501, "woocommerce_missing", errors.WooCommerceMissing),
    (400, "rest_invalid_param", errors.ApiError),
    (500, "internal_server_error", errors.ServerError),
    (502, None, errors.ServerError),
])
def test_error_mapping(client, rsps, status, code, error):
    body = {"code": code, "message": "nope", "data": {"status": status}} if code else None
    add(rsps, "GET", "status", json_body=body, status=status, body=None if body else "<html>bad gateway</html>")
    with pytest.raises(error) as caught:
        client.status()
    assert caught.value.system == "wordpress"
    assert caught.value.status == status
    if code:
        assert caught.value.code == code
    assert "abcd" not in str(caught.value)  # never the password


def test_woocommerce_missing_is_an_api_error(client, rsps):
    add(rsps, "GET", "orders", status=501, json_body={"code": "woocommerce_missing", "message": "no", "data": {"status": 501}})
    with pytest.raises(errors.ApiError):
        list(client.orders(before="2020-01-01"))


def test_connection_refused_is_unreachable():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = WordPressClient(f"http://127.0.0.1:{port}", "u", "p", session=requests.Session(), timeout=2)
    with pytest.raises(errors.Unreachable) as caught:
        client.status()
    assert caught.value.retryable


def test_timeout_is_unreachable(client, rsps):
    rsps.add("GET", f"{BASE}/", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(errors.Unreachable):
        client.status()


def test_success_without_json_is_bad_response(client, rsps):
    add(rsps, "GET", "status", body="<html>maintenance</html>")
    with pytest.raises(errors.BadResponse):
        client.status()


def test_events_are_parsed(client, rsps):
    add(rsps, "GET", "events", json_body={
        "events": [{"id": 7, "type": "account.deleted", "created_at": "2026-11-25T10:00:00Z",
                    "payload": {"user_id": 3, "email": "a@example.test"}}],
        "last_id": 7, "pending": 4})
    events, pending = client.events(5, limit=1)
    assert events == [Event(id=7, type="account.deleted", payload={"user_id": 3, "email": "a@example.test"},
                            created_at="2026-11-25T10:00:00Z")]
    assert pending == 4
    assert params_of(rsps.calls[0])["after"] == "5"
    assert params_of(rsps.calls[0])["limit"] == "1"


def test_events_answer_off_contract_is_bad_response(client, rsps):
    add(rsps, "GET", "events", json_body={"events": [{"type": "x"}]})
    with pytest.raises(errors.BadResponse):
        client.events(0)


def test_pull_acknowledges_and_reads_in_one_request(client, rsps):
    add(rsps, "POST", "events/pull", json_body={
        "events": [{"id": 14, "type": "account.deleted", "created_at": "2026-11-25T10:00:00Z", "payload": {}}],
        "last_id": 14, "pending": 0, "acked": 2})
    events, pending, acked = client.pull(13, 5000, [12, 13], {12: "ab" * 32})
    assert [e.id for e in events] == [14] and pending == 0 and acked == 2
    assert json.loads(rsps.calls[0].request.body) == {"after": 13, "limit": 5000, "ids": [12, 13],
                                                      "hashes": {"12": "ab" * 32}}


def test_pull_refused_ack_is_an_api_error_with_the_plugins_code(client, rsps):
    add(rsps, "POST", "events/pull", status=400, json_body={
        "code": "wpprivsync_unknown_events", "message": "Nothing was acknowledged: never recorded (asked: 99)."})
    with pytest.raises(errors.ApiError) as caught:
        client.pull(0, 10, [99])
    assert caught.value.code == "wpprivsync_unknown_events" and "Nothing was acknowledged" in str(caught.value)


def test_pull_answer_off_contract_is_bad_response(client, rsps):
    add(rsps, "POST", "events/pull", json_body={"events": [], "pending": 0, "acked": "some"})
    with pytest.raises(errors.BadResponse):
        client.pull(0, 10)


def test_ack_sends_ids_and_hashes_with_string_keys(client, rsps):
    add(rsps, "POST", "events/ack", json_body={"acked": 2})
    assert client.ack([12, 13], {12: "ab" * 32}) == 2
    assert json.loads(rsps.calls[0].request.body) == {"ids": [12, 13], "hashes": {"12": "ab" * 32}}


def test_ack_of_nothing_sends_nothing(client, rsps):
    assert client.ack([]) == 0
    assert len(rsps.calls) == 0


def test_erase_normalises_the_email(client, rsps):
    add(rsps, "POST", "erase", json_body={"request_id": 5, "erasers": []})
    client.erase("  Ann@Example.TEST ", dry_run=True, exclude=["thrive-leads"])
    assert json.loads(rsps.calls[0].request.body) == {"email": "ann@example.test", "dry_run": True,
                                                      "exclude": ["thrive-leads"]}


def test_export_merges_every_page(client, rsps):
    add(rsps, "POST", "export", json_body={"groups": {
        "user": {"label": "User", "items": [{"item_id": "user-1", "data": [{"name": "Email", "value": "a@x.test"}]}]},
        "comments": {"label": "Comments", "items": [{"item_id": "comment-1", "data": [{"name": "A", "value": "1"}]}]}},
        "page": 1, "next": "1.2.wordpress-comments", "done": False})
    add(rsps, "POST", "export", json_body={"groups": {
        "comments": {"label": "Comments", "items": [{"item_id": "comment-1", "data": [{"name": "B", "value": "2"}]},
                                                    {"item_id": "comment-2", "data": []}]}},
        "page": 2, "next": "2.0.wordpress-comments", "done": False})
    add(rsps, "POST", "export", json_body={"groups": [], "page": 3, "next": None, "done": True})
    merged = client.export("a@x.test")
    assert set(merged["groups"]) == {"user", "comments"}
    comments = merged["groups"]["comments"]["items"]
    assert [i["item_id"] for i in comments] == ["comment-1", "comment-2"]
    # an item a page boundary split is one item again, its data in order
    assert comments[0]["data"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert merged["groups"]["comments"]["label"] == "Comments"
    bodies = [json.loads(c.request.body) for c in rsps.calls]
    assert [b["page"] for b in bodies] == [1, 2, 3]
    assert [b.get("cursor") for b in bodies] == [None, "1.2.wordpress-comments", "2.0.wordpress-comments"]


def test_export_page_without_a_next_cursor_is_refused(client, rsps):
    add(rsps, "POST", "export", json_body={"groups": [], "page": 1, "done": False})
    with pytest.raises(errors.BadResponse, match="next cursor"):
        client.export("a@x.test")
    assert len(rsps.calls) == 1


def test_export_that_lost_its_place_starts_again_from_the_first_page(client, rsps):
    lost = {"code": "wpprivsync_export_position_lost", "message": "the last comment sent is gone"}
    add(rsps, "POST", "export", json_body={"groups": {"comments": {"label": "Comments", "items": [
        {"item_id": "comment-1", "data": [{"name": "A", "value": "1"}]}]}}, "page": 1,
        "next": "k1.0.wordpress-comments", "done": False})
    add(rsps, "POST", "export", json_body=lost, status=409)
    add(rsps, "POST", "export", json_body={"groups": {"comments": {"label": "Comments", "items": [
        {"item_id": "comment-1", "data": [{"name": "A", "value": "1"}]},
        {"item_id": "comment-3", "data": [{"name": "A", "value": "3"}]}]}}, "page": 1, "next": None, "done": True})
    merged = client.export("a@x.test")
    # the first walk's page is not counted twice: the export is the second walk alone
    assert [i["item_id"] for i in merged["groups"]["comments"]["items"]] == ["comment-1", "comment-3"]
    assert merged["groups"]["comments"]["items"][0]["data"] == [{"name": "A", "value": "1"}]
    assert [json.loads(c.request.body).get("cursor") for c in rsps.calls] == [None, "k1.0.wordpress-comments", None]


def test_export_that_keeps_losing_its_place_fails_with_the_plugins_code(client, rsps):
    lost = {"code": "wpprivsync_export_position_lost", "message": "the last comment sent is gone"}
    for _ in range(4):
        add(rsps, "POST", "export", json_body={"groups": [], "page": 1, "next": "k1.0.wordpress-comments",
                                               "done": False})
        add(rsps, "POST", "export", json_body=lost, status=409)
    with pytest.raises(errors.ApiError) as caught:
        client.export("a@x.test")
    assert caught.value.code == "wpprivsync_export_position_lost"
    assert len(rsps.calls) == 8  # the first walk and three restarts, then no more


def test_export_other_errors_are_not_retried(client, rsps):
    add(rsps, "POST", "export", json_body={"code": "wpprivsync_bad_cursor", "message": "no"}, status=400)
    with pytest.raises(errors.ApiError, match="no"):
        client.export("a@x.test")
    assert len(rsps.calls) == 1


def test_consents_page_by_id(client, rsps):
    first = [{"id": i, "email": f"u{i}@x.test", "subscribed": i % 2 == 0} for i in range(1, PAGE_SIZE + 1)]
    add(rsps, "GET", "consents", json_body={"users": first, "last_id": PAGE_SIZE})
    add(rsps, "GET", "consents", json_body={"users": [{"id": 900, "email": "z@x.test", "subscribed": True}],
                                            "last_id": 900})
    users = list(client.consents())
    assert len(users) == PAGE_SIZE + 1
    assert users[-1]["id"] == 900
    assert [params_of(c)["after"] for c in rsps.calls] == ["0", str(PAGE_SIZE)]


def test_consents_is_lazy(client, rsps):
    add(rsps, "GET", "consents", json_body={"users": [{"id": 1, "email": "a@x.test", "subscribed": True}],
                                            "last_id": 1})
    it = client.consents()
    assert len(rsps.calls) == 0
    assert next(it)["id"] == 1


def test_orders_page_until_total(client, rsps):
    page1 = [{"id": i, "created": "2019-01-01", "status": "completed", "retained_until": "2024-12-31"}
             for i in range(1, PAGE_SIZE + 1)]
    add(rsps, "GET", "orders", json_body={"orders": page1, "page": 1, "total": PAGE_SIZE + 2})
    add(rsps, "GET", "orders", json_body={"orders": page1[-1:] + [
        {"id": 1001, "created": "2019-02-01", "status": "completed", "retained_until": "2024-12-31"}],
        "page": 2, "total": PAGE_SIZE + 2})
    orders = list(client.orders(before="2020-01-01", email="A@X.test"))
    assert [o["id"] for o in orders][-2:] == [PAGE_SIZE, 1001]
    assert len(orders) == PAGE_SIZE + 1  # the repeated order is yielded once
    first = params_of(rsps.calls[0])
    assert (first["before"], first["email"], first["page"], first["per_page"]) == ("2020-01-01", "a@x.test", "1", str(PAGE_SIZE))
    assert params_of(rsps.calls[1])["page"] == "2"


def test_anonymize_and_retention_and_heartbeat_bodies(client, rsps):
    add(rsps, "POST", "orders/anonymize", json_body={"anonymized": [4], "skipped": [{"id": 5, "reason": "not_found"}]})
    add(rsps, "POST", "retention", json_body={"order_years": 7, "tax_year_start_month": 4})
    add(rsps, "POST", "heartbeat", json_body={"ok": True})
    add(rsps, "POST", "consent", json_body={"user_id": 3, "changed": True})
    add(rsps, "POST", "comments/remove", json_body={"comments_deleted": 2, "meta_deleted": 1})
    assert client.anonymize_orders([4, 5])["anonymized"] == [4]
    assert client.set_retention(7, 4) == {"order_years": 7, "tax_year_start_month": 4}
    assert client.heartbeat({"version": "1", "queue": 0}) is None
    assert client.set_consent("B@x.test", False) == {"user_id": 3, "changed": True}
    assert client.remove_comments("b@x.test")["comments_deleted"] == 2
    bodies = [json.loads(c.request.body) for c in rsps.calls]
    assert bodies[0] == {"order_ids": [4, 5]}
    assert bodies[1] == {"order_years": 7, "tax_year_start_month": 4}
    assert bodies[3] == {"email": "b@x.test", "subscribed": False}
    assert bodies[4] == {"email": "b@x.test", "dry_run": False}


def test_heartbeat_answer_without_ok_is_bad_response(client, rsps):
    add(rsps, "POST", "heartbeat", json_body={"nope": 1})
    with pytest.raises(errors.BadResponse):
        client.heartbeat({"version": "1"})


def test_me_asks_for_edit_context(client, rsps):
    rsps.add("GET", f"{BASE}/", match=[matches_route("wp/v2/users/me")], json={"id": 2, "capabilities": {"wpprivsync_sync": True}})
    assert client.me()["capabilities"]["wpprivsync_sync"] is True
    assert params_of(rsps.calls[0])["context"] == "edit"
