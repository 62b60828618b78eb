"""The WooCommerce flows end to end: an account deletion keeps orders under legal retention
(reported with their end date, explained by the policy rule), and the retention sweep
anonymises exactly the orders whose retention has ended."""

from __future__ import annotations

import datetime as dt

import pytest

from wpprivsync import services
from wpprivsync.engine.retention import sweep_orders

pytestmark = pytest.mark.woocommerce


def make_order(system, created: str, email: str) -> int:
    return int(system.php(f"""
        $o = wc_create_order();
        $o->set_billing_first_name('Olga'); $o->set_billing_last_name('Order');
        $o->set_billing_email('{email}'); $o->set_billing_address_1('1 Main St');
        $o->set_date_created(strtotime('{created} 12:00:00 UTC'));
        $o->set_status('completed');
        $o->save();
        echo $o->get_id();"""))


def order(system, order_id: int) -> dict:
    return system.wp.php_json(f"$o = wc_get_order({order_id}); echo json_encode(['email' => $o->get_billing_email(),"
                              " 'anonymized' => $o->get_meta('_anonymized')]);")


def test_account_deletion_keeps_orders_under_retention(system):
    email = "olga.flow@example.com"
    year = dt.date.today().year
    uid = system.create_user(email)
    recent = make_order(system, f"{year - 1}-06-15", email)
    system.php(f"$o = wc_get_order({recent}); $o->set_customer_id({uid}); $o->save();")
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")

    system.sync()

    until = f"{year - 1 + 5}-12-31"
    assert not system.user_exists(email)
    assert order(system, recent) == {"email": email, "anonymized": ""}
    (req,) = [r for r in system.app.store.list_requests() if r.action == "erase"]
    view = services.request_view(system.app, req.id)
    assert view["status"] == "done" and view["retained_until"] == until
    (entry,) = [a for a in services.audit_view(system.app, email) if a["action"] == "erase"]
    assert entry["retained"] == 1 and str(entry["retained_until"]) == until
    assert until in entry["reason"]

    why = services.explain(system.app, "test", email)
    (kept,) = why["kept"]
    assert kept["what"] == f"order {recent}" and kept["until"] == until and not kept["due"]


def test_retention_sweep_anonymises_only_what_is_due(system):
    year = dt.date.today().year
    old = make_order(system, f"{year - 7}-03-01", "old.buyer@example.com")
    edge = make_order(system, f"{year - 5}-01-10", "edge.buyer@example.com")   # retained until {year}-12-31
    recent = make_order(system, f"{year - 1}-03-01", "new.buyer@example.com")
    c = system.app.clients("test")
    services.push_retention(system.app, "test")
    today = dt.date.today()
    now = system.app.clock()

    dry = sweep_orders(c.site, c.wordpress, system.app.store, system.app.policy, today, now, dry_run=True)
    assert [o["id"] for o in dry.due_orders] == [old]
    assert order(system, old)["anonymized"] == ""

    report = sweep_orders(c.site, c.wordpress, system.app.store, system.app.policy, today, now)
    assert report.anonymized == 1
    assert order(system, old)["anonymized"] == "yes"
    assert order(system, edge) == {"email": "edge.buyer@example.com", "anonymized": ""}
    assert order(system, recent) == {"email": "new.buyer@example.com", "anonymized": ""}

    new_year = dt.date(year + 1, 1, 1)  # the day after the edge order's retention ends
    later = sweep_orders(c.site, c.wordpress, system.app.store, system.app.policy, new_year, now)
    assert later.anonymized == 1 and order(system, edge)["anonymized"] == "yes"
    assert order(system, recent)["anonymized"] == ""
