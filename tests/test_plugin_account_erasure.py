"""POST /erase deletes the person's WordPress account after the erasers (core leaves it), without
recording an account.deleted event, and never deletes editors or administrators."""

from __future__ import annotations

import pytest

from support.wordpress import rest_session

NS = "wpprivsync/v1"


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def erase(stack, session, body):
    resp = session.post(f"{stack.url}/?rest_route=/{NS}/erase", json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.json()


def add_user(stack, email, role):
    return int(stack.php(f"echo wp_insert_user(['user_login' => '{email.split('@')[0]}', 'user_email' => '{email}', "
                         f"'user_pass' => wp_generate_password(), 'role' => '{role}']);"))


def outbox_types(stack):
    return stack.php("global $wpdb; echo implode(',', $wpdb->get_col(\"SELECT type FROM {$wpdb->prefix}wpprivsync_outbox\"));")


def test_erase_deletes_a_customer_account_without_an_event(wp, daemon):
    uid = add_user(wp, "pat@example.test", "subscriber")
    dry = erase(wp, daemon, {"email": "pat@example.test", "dry_run": True})
    assert dry["account"] == {"user_id": uid, "deleted": False, "would_delete": True, "reason": "account would be deleted"}
    assert wp.php(f"echo get_userdata({uid}) ? 1 : 0;") == "1"

    answer = erase(wp, daemon, {"email": "Pat@Example.test"})
    assert answer["account"] == {"user_id": uid, "deleted": True, "reason": "account deleted"}
    assert answer["items_removed"] is True
    assert wp.php(f"echo get_userdata({uid}) ? 1 : 0;") == "0"
    assert "account.deleted" not in outbox_types(wp)


@pytest.mark.parametrize("role", ["editor", "administrator", "author"])
def test_erase_never_deletes_people_who_write_or_run_the_site(wp, daemon, role):
    uid = add_user(wp, f"{role}.person@example.test", role)
    answer = erase(wp, daemon, {"email": f"{role}.person@example.test"})
    assert answer["account"]["deleted"] is False and "delete it by hand" in answer["account"]["reason"]
    assert wp.php(f"echo get_userdata({uid}) ? 1 : 0;") == "1"


def test_erase_can_leave_the_account(wp, daemon):
    uid = add_user(wp, "kept@example.test", "subscriber")
    answer = erase(wp, daemon, {"email": "kept@example.test", "delete_account": False})
    assert answer["account"] == {"user_id": uid, "deleted": False, "reason": "account deletion not asked for"}
    assert wp.php(f"echo get_userdata({uid}) ? 1 : 0;") == "1"


def test_erase_of_an_unknown_email_has_no_account(wp, daemon):
    answer = erase(wp, daemon, {"email": "nobody@example.test"})
    assert answer["account"] == {"user_id": 0, "deleted": False, "reason": "no account"}
