"""Orders under WooCommerce: retention on erasure (end of tax year + N years, date in the
eraser's message), listing and anonymising with WooCommerce's own code."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from support.wordpress import rest_session
from wpprivsync.clients.wordpress import WordPressClient

pytestmark = pytest.mark.woocommerce

NS = "wpprivsync/v1"
EMAIL = "olga@example.test"


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def api(stack, session, method, route, **kw):
    resp = session.request(method, f"{stack.url}/?rest_route=/{NS}/{route}", timeout=120, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()


def make_order(stack, created: str, email: str = EMAIL) -> int:
    return int(stack.php(f"""
        $o = wc_create_order();
        $o->set_billing_first_name('Olga'); $o->set_billing_last_name('Order');
        $o->set_billing_email('{email}'); $o->set_billing_address_1('1 Main St'); $o->set_billing_phone('555-0101');
        $o->set_date_created(strtotime('{created} 12:00:00 UTC'));
        $o->set_status('completed');
        $o->save();
        echo $o->get_id();"""))


def order(stack, order_id: int) -> dict:
    return stack.php_json(f"$o = wc_get_order({order_id}); echo json_encode(['email' => $o->get_billing_email(),"
                          " 'name' => $o->get_billing_first_name(), 'anonymized' => $o->get_meta('_anonymized')]);")


def this_year() -> int:
    return dt.date.today().year


def test_erasure_keeps_orders_under_retention_with_their_end_date(wp, daemon):
    recent = make_order(wp, f"{this_year() - 1}-03-01")
    old = make_order(wp, f"{this_year() - 7}-03-01")  # retention over: the person's erasure applies
    answer = api(wp, daemon, "POST", "erase", json={"email": EMAIL})
    until = f"{this_year() - 1 + 5}-12-31"
    eraser = next(e for e in answer["erasers"] if e["id"] == "woocommerce-customer-orders")
    assert eraser["items_retained"] is True and eraser["items_removed"] is True
    assert any(str(recent) in m and until in m for m in eraser["messages"]), eraser["messages"]
    assert answer["retained"] == [{"kind": "order", "id": recent, "until": until}]
    assert order(wp, recent) == {"email": EMAIL, "name": "Olga", "anonymized": ""}
    assert order(wp, old)["anonymized"] == "yes"
    stored = wp.php_json(f"echo json_encode(get_post_meta({answer['request_id']}, '_wpprivsync_erasure_messages', true));")
    assert any(until in m for m in stored)


def test_retention_rule_from_the_daemon_moves_the_date(wp, daemon):
    recent = make_order(wp, f"{this_year() - 1}-05-10")
    api(wp, daemon, "POST", "retention", json={"order_years": 7, "tax_year_start_month": 4})
    answer = api(wp, daemon, "POST", "erase", json={"email": EMAIL})
    assert answer["retained"] == [{"kind": "order", "id": recent, "until": f"{this_year() - 1 + 1 + 7}-03-31"}]


def test_dry_run_lists_retained_orders_and_changes_nothing(wp, daemon):
    recent = make_order(wp, f"{this_year() - 1}-03-01")
    old = make_order(wp, f"{this_year() - 7}-03-01")
    answer = api(wp, daemon, "POST", "erase", json={"email": EMAIL, "dry_run": True})
    assert answer["would_touch"]["orders"] == 2
    assert answer["retained"] == [{"kind": "order", "id": recent, "until": f"{this_year() + 4}-12-31"}]
    assert order(wp, old)["anonymized"] == ""


def test_orders_lists_by_email_and_date(wp, daemon):
    a = make_order(wp, "2018-06-01")
    b = make_order(wp, "2023-06-01")
    c = make_order(wp, "2018-07-01", email="someone-else@example.test")
    body = api(wp, daemon, "GET", "orders", params={"before": "2020-01-01"})
    assert sorted(o["id"] for o in body["orders"]) == sorted([a, c]) and body["total"] == 2
    assert next(o for o in body["orders"] if o["id"] == a) == {"id": a, "created": "2018-06-01", "status": "completed",
                                                                 "retained_until": "2023-12-31"}
    mine = api(wp, daemon, "GET", "orders", params={"email": EMAIL})
    assert sorted(o["id"] for o in mine["orders"]) == sorted([a, b])


def test_anonymize_uses_woocommerce_and_skips_what_it_cannot(wp, daemon):
    a = make_order(wp, "2018-06-01")
    answer = api(wp, daemon, "POST", "orders/anonymize", json={"order_ids": [a, 999999]})
    assert answer["anonymized"] == [a]
    assert answer["skipped"] == [{"id": 999999, "reason": "not_found"}]
    after = order(wp, a)
    assert after["anonymized"] == "yes" and after["email"] != EMAIL and after["name"] != "Olga"
    again = api(wp, daemon, "POST", "orders/anonymize", json={"order_ids": [a]})
    assert again == {"anonymized": [], "skipped": [{"id": a, "reason": "already_anonymized"}]}
    # anonymised orders no longer show up for the retention sweep
    assert a not in [o["id"] for o in api(wp, daemon, "GET", "orders", params={"before": "2020-01-01"})["orders"]]


def test_checkout_consent_records_an_event(wp):
    uid = int(wp.php("echo wp_insert_user(['user_login' => 'olga', 'user_email' => 'olga@example.test', 'user_pass' => wp_generate_password(), 'role' => 'customer']);"))
    wp.php(f"""$o = wc_create_order(['customer_id' => {uid}]); $o->set_billing_email('olga@example.test'); $o->save();
               $_POST['wpprivsync_newsletter'] = '1';
               do_action('woocommerce_checkout_order_processed', $o->get_id(), [], $o);""")
    rows = wp.php_json("global $wpdb; echo json_encode($wpdb->get_results(\"SELECT type, payload FROM {$wpdb->prefix}wpprivsync_outbox\", ARRAY_A));")
    assert [r["type"] for r in rows] == ["consent.changed"]
    assert '"source":"checkout"' in rows[0]["payload"] and '"consent":true' in rows[0]["payload"]


def test_client_orders_generator_and_anonymize(wp):
    client = WordPressClient(wp.url, wp.service_user, wp.service_app_password, session=requests.Session(), timeout=120)
    ids = [make_order(wp, "2017-02-01") for _ in range(3)]
    listed = list(client.orders(before="2018-01-01"))
    assert [o["id"] for o in listed] == sorted(ids)
    assert all(o["retained_until"] == "2022-12-31" for o in listed)
    assert client.anonymize_orders(ids)["anonymized"] == ids
    assert list(client.orders(before="2018-01-01")) == []


def test_woocommerce_customer_deletion_records_account_deleted(wp):
    uid = int(wp.php("echo wc_create_new_customer('wcdel@example.test', 'wcdel', 'pw-' . wp_generate_password());"))
    admin = rest_session(wp.admin_user, wp.admin_app_password)
    resp = admin.delete(f"{wp.url}/?rest_route=/wc/v3/customers/{uid}", params={"force": "true"}, timeout=120)
    assert resp.status_code == 200, resp.text
    rows = wp.php_json("global $wpdb; echo json_encode($wpdb->get_results(\"SELECT type, payload FROM {$wpdb->prefix}wpprivsync_outbox WHERE type = 'account.deleted'\", ARRAY_A));")
    assert len(rows) == 1
    assert '"email":"wcdel@example.test"' in rows[0]["payload"] and '"customer"' in rows[0]["payload"]


def test_export_includes_woocommerce_exporters(wp, daemon):
    order_id = make_order(wp, "2024-02-02")
    groups = api(wp, daemon, "POST", "export", json={"email": EMAIL})["groups"]
    orders = groups.get("woocommerce_orders", {}).get("items", [])
    assert [i["item_id"] for i in orders] == [f"order-{order_id}"]
    assert {"name": "Email Address", "value": EMAIL} in orders[0]["data"]
