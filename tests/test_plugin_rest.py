"""Every route of the plugin's REST API (docs/PROTOCOL.md) against a real WordPress:
the daemon's user succeeds, a subscriber gets 403, nobody gets 401, bad arguments get 400."""

from __future__ import annotations

import pytest
import requests

from support.wordpress import rest_session

NS = "wpprivsync/v1"
EMAIL = "someone@example.test"

# (method, route, a valid body or query, a bad body or query)
ROUTES = [
    ("GET", "events", {"after": 0, "limit": 10}, {"limit": 5001}),
    ("POST", "events/ack", {"ids": [1]}, {"ids": "twelve"}),
    ("POST", "events/pull", {"after": 0, "limit": 10, "ids": [1]}, {"after": -1}),
    ("POST", "erase", {"email": EMAIL, "dry_run": True}, {"email": "not an email"}),
    ("POST", "export", {"email": EMAIL}, {"email": EMAIL, "page": 0}),
    ("POST", "comments/remove", {"email": EMAIL, "dry_run": True}, {}),
    ("POST", "consent", {"email": "admin@example.test", "subscribed": True}, {"email": EMAIL, "subscribed": "maybe"}),
    ("GET", "consents", {"after": 0}, {"limit": 0}),
    ("GET", "orders", {"before": "2020-01-01"}, {"before": "2020-13-45"}),
    ("POST", "orders/anonymize", {"order_ids": [999999]}, {"order_ids": []}),
    ("POST", "requests/scrub", {"older_than_days": 30}, {"older_than_days": -1}),
    ("GET", "retention", {}, None),
    ("POST", "retention", {"order_years": 5, "tax_year_start_month": 1}, {"order_years": 5, "tax_year_start_month": 13}),
    ("POST", "heartbeat", {"version": "0.1.0", "queue": 0}, {"version": "0.1.0", "queue": -1}),
    ("GET", "status", {}, None),
    ("POST", "exports", {"content": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}, {"content": 12}),
]
WOO_ROUTES = {"orders", "orders/anonymize"}
ACK_ROUTES = {"events/ack", "events/pull"}  # acknowledge id 1: an outbox that recorded it
IDS = [f"{m} {r}" for m, r, _, _ in ROUTES]


def call(stack, session: requests.Session, method: str, route: str, data: dict | None) -> requests.Response:
    url = f"{stack.url}/?rest_route=/{NS}/{route}"
    if method == "GET":
        return session.get(url, params=data, timeout=60)
    return session.request(method, url, json=data, timeout=60)


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


@pytest.fixture(scope="module")
def subscriber(wp_stack):
    return rest_session(wp_stack.subscriber_user, wp_stack.subscriber_app_password)


@pytest.mark.parametrize(("method", "route", "good", "bad"), ROUTES, ids=IDS)
def test_daemon_user_succeeds(wp, daemon, method, route, good, bad):
    if route in ACK_ROUTES:
        assert int(wp.php("echo Wpprivsync_Outbox::record('retry.requested', ['all' => true]);")) >= 1
    resp = call(wp, daemon, method, route, good)
    if route in WOO_ROUTES and wp.woocommerce_dir is None:
        assert resp.status_code == 501
        assert resp.json()["code"] == "woocommerce_missing"
    else:
        assert resp.status_code == 200, resp.text
        assert isinstance(resp.json(), dict)


@pytest.mark.parametrize(("method", "route", "good", "bad"), ROUTES, ids=IDS)
def test_subscriber_is_forbidden(wp, subscriber, method, route, good, bad):
    resp = call(wp, subscriber, method, route, good)
    assert resp.status_code == 403
    assert resp.json()["code"] == "rest_forbidden"


@pytest.mark.parametrize(("method", "route", "good", "bad"), ROUTES, ids=IDS)
def test_anonymous_is_not_logged_in(wp, method, route, good, bad):
    resp = call(wp, requests.Session(), method, route, good)
    assert resp.status_code == 401
    assert resp.json()["code"] == "rest_not_logged_in"


@pytest.mark.parametrize(("method", "route", "good", "bad"),
                         [r for r in ROUTES if r[3] is not None], ids=[i for i, r in zip(IDS, ROUTES) if r[3] is not None])
def test_bad_arguments_are_rejected(wp, daemon, method, route, good, bad):
    resp = call(wp, daemon, method, route, bad)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] in {"rest_invalid_param", "rest_missing_callback_param"}


def test_wrong_application_password_is_401(wp):
    resp = call(wp, rest_session(wp.service_user, "aaaa bbbb cccc dddd eeee ffff"), "GET", "status", {})
    assert resp.status_code == 401


def test_administrator_has_the_capability(wp):
    admin = rest_session(wp.admin_user, wp.admin_app_password)
    resp = call(wp, admin, "GET", "status", {})
    assert resp.status_code == 200
    assert resp.json()["capability"] is True


def test_daemon_role_has_read_and_sync_only(wp):
    caps = wp.php_json("echo json_encode(get_role('wpprivsync_daemon')->capabilities);")
    assert caps == {"read": True, "wpprivsync_sync": True}


def test_consent_for_unknown_email_is_404(wp, daemon):
    resp = call(wp, daemon, "POST", "consent", {"email": "nobody@example.test", "subscribed": True})
    assert resp.status_code == 404
    assert resp.json()["code"] == "wpprivsync_no_user"


def test_heartbeat_shows_in_status(wp, daemon):
    body = {"version": "9.9.9", "queue": 3, "last_error": None,
            "failed": [{"step_id": 4, "system": "activecampaign", "action": "delete_contact",
                        "error": "HTTP 500", "attempts": 5}],
            "requests": [{"id": 1, "action": "erase", "email_hash": "ab" * 32, "received_at": "2026-11-25T10:00:00Z",
                          "due_at": "2026-12-25T10:00:00Z", "status": "partial",
                          "systems": {"wordpress": "done", "activecampaign": "failed"},
                          "retained_until": "2031-12-31"}],
            "near_deadline": [{"id": 1, "action": "erase", "due_at": "2026-12-25T10:00:00Z", "overdue": False}]}
    assert call(wp, daemon, "POST", "heartbeat", body).json() == {"ok": True}
    status = call(wp, daemon, "GET", "status", None).json()
    assert status["heartbeat"]["queue"] == 3
    assert status["heartbeat"]["failed"][0]["step_id"] == 4
    assert status["heartbeat"]["requests"][0]["retained_until"] == "2031-12-31"
    assert status["heartbeat"]["age_s"] >= 0
    assert status["heartbeat"]["near_deadline"] == body["near_deadline"]  # undocumented keys are kept
    assert status["version"] and status["woocommerce"] is (wp.woocommerce_dir is not None)


def test_retention_round_trip(wp, daemon):
    assert call(wp, daemon, "POST", "retention", {"order_years": 7, "tax_year_start_month": 4}).json() == {
        "order_years": 7, "tax_year_start_month": 4}
    assert call(wp, daemon, "GET", "retention", None).json() == {"order_years": 7, "tax_year_start_month": 4}


def test_bad_retention_keeps_the_old_rule(wp, daemon):
    assert call(wp, daemon, "POST", "retention", {"order_years": -1}).status_code == 400
    assert call(wp, daemon, "GET", "retention", None).json() == {"order_years": 5, "tax_year_start_month": 1}


def test_consents_page_by_id(wp, daemon):
    wp.php("""foreach (range(1, 5) as $i) { $u = wp_insert_user(['user_login' => "c$i", 'user_email' => "C$i@Example.test",
              'user_pass' => wp_generate_password()]); update_user_meta($u, 'wpprivsync_newsletter', $i % 2 ? '1' : '0'); }""")
    seen, after = [], 0
    while True:
        body = call(wp, daemon, "GET", "consents", {"after": after, "limit": 3}).json()
        if not body["users"]:
            break
        seen.extend(body["users"])
        after = body["last_id"]
    ids = [u["id"] for u in seen]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 8  # 3 stack users + 5
    mine = {u["email"]: u["subscribed"] for u in seen if u["email"].startswith("c")}
    assert mine == {"c1@example.test": True, "c2@example.test": False, "c3@example.test": True,
                    "c4@example.test": False, "c5@example.test": True}
    never_asked = [u["subscribed"] for u in seen if u["email"].endswith("@example.test") and u["email"][0] != "c"]
    assert never_asked and set(never_asked) == {None}  # no meta: unknown, not "no"


def test_routes_are_listed_in_the_index(wp):
    index = requests.get(f"{wp.url}/?rest_route=/", timeout=30).json()
    assert NS in index["namespaces"]
    routes = {r for r in index["routes"] if r.startswith(f"/{NS}/")}
    for _, route, _, _ in ROUTES:
        assert f"/{NS}/{route}" in routes
