"""Issue 16.5: the admin page's capabilities fit WordPress. The daemon's capability opens the
REST routes only; people act through core's privacy capabilities (erasing needs
erase_others_personal_data, exporting export_others_personal_data); the webhook URL and its
rotation need manage_options; the daemon's service account never opens the page. Every attack
is a real log-in and a real form post against the real WordPress.

The test plugin tests/wp-plugins/test-privacy-caps lets a role hold one privacy capability
without manage_options, as a role-editor plugin would."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from types import SimpleNamespace

import pytest

from test_plugin_admin import form_fields, login, outbox, page
from wpprivsync import services
from wpprivsync.policy.loader import load_policy

ROOT = Path(__file__).resolve().parents[1]


def make_user(wp, login_name: str, caps: list[str]) -> str:
    """A user with a role of exactly these capabilities (plus read, and WooCommerce's
    view_admin_dashboard, without which WooCommerce sends a non-editor out of wp-admin);
    returns the password."""
    password = secrets.token_urlsafe(16)
    caps = [*caps, "view_admin_dashboard"]
    wp.php(
        f"$caps = array_fill_keys(json_decode({json.dumps(json.dumps(['read', *caps]))}, true), true);"
        f" add_role('{login_name}-role', '{login_name}', $caps);"
        f" $id = wp_insert_user(['user_login' => '{login_name}', 'user_email' => '{login_name}@example.test',"
        f" 'user_pass' => '{password}', 'role' => '{login_name}-role']);"
        " if (is_wp_error($id)) { throw new Exception($id->get_error_message()); }")
    return password


def service_login(wp):
    password = secrets.token_urlsafe(16)
    wp.php(f"$u = get_user_by('login', '{wp.service_user}'); wp_set_password('{password}', $u->ID);")
    return login(wp, wp.service_user, password)


@pytest.fixture
def admin(wp):
    wp.php("delete_transient('_wc_activation_redirect');")
    return login(wp, wp.admin_user, wp.admin_password)


def refused(resp) -> bool:
    # 403 from WordPress, or (with WooCommerce) a redirect out of wp-admin to "My account"
    return (resp.status_code == 403 or "/wp-admin/" not in resp.url) and 'id="wpprivsync-admin"' not in resp.text


def test_service_account_cannot_open_the_page_or_post_its_forms(wp, admin):
    fields = form_fields(page(wp, admin).text, "wpprivsync-erase-form")
    fields["email"] = "fay@example.test"
    daemon = service_login(wp)
    assert refused(page(wp, daemon))
    for action in ("wpprivsync_erase", "wpprivsync_export", "wpprivsync_rotate", "wpprivsync_retry", "wpprivsync_lookup"):
        resp = daemon.post(f"{wp.url}/wp-admin/admin-post.php", data={**fields, "action": action}, timeout=60)
        assert resp.status_code in (400, 403), (action, resp.status_code)
    assert outbox(wp) == []
    # the service account still has the daemon's REST routes
    assert wp.php(f"$u = get_user_by('login', '{wp.service_user}'); echo user_can($u, 'wpprivsync_sync') ? 'yes' : 'no';") == "yes"


def test_service_account_is_refused_even_with_privacy_capabilities(wp):
    wp.php(f"$u = get_user_by('login', '{wp.service_user}'); $u->add_cap('erase_others_personal_data'); $u->add_cap('manage_options');")
    assert refused(page(wp, service_login(wp)))


def test_eraser_only_can_erase_but_not_export_nor_see_the_webhook(wp):
    password = make_user(wp, "eraser", ["erase_others_personal_data"])
    s = login(wp, "eraser", password)
    body = page(wp, s).text
    assert 'id="wpprivsync-admin"' in body
    assert 'id="wpprivsync-erase-form"' in body and 'id="wpprivsync-remove-comments-form"' in body
    assert 'id="wpprivsync-export-form"' not in body
    secret = wp.php("echo get_option('wpprivsync_webhook_secret');")
    assert secret not in body and 'id="wpprivsync-rotate-form"' not in body
    fields = form_fields(body, "wpprivsync-erase-form")
    fields["email"] = "fay@example.test"
    for action in ("wpprivsync_export", "wpprivsync_rotate"):
        assert s.post(f"{wp.url}/wp-admin/admin-post.php", data={**fields, "action": action}, timeout=60).status_code == 403
    assert outbox(wp) == []
    assert wp.php("echo get_option('wpprivsync_webhook_secret');") == secret
    resp = s.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60)
    assert "notice-success" in resp.text
    assert [r["type"] for r in outbox(wp)] == ["erasure.requested"]


def test_exporter_only_can_export_but_not_erase(wp):
    password = make_user(wp, "exporter", ["export_others_personal_data"])
    s = login(wp, "exporter", password)
    body = page(wp, s).text
    assert 'id="wpprivsync-export-form"' in body
    assert 'id="wpprivsync-erase-form"' not in body and 'id="wpprivsync-remove-comments-form"' not in body
    fields = form_fields(body, "wpprivsync-export-form")
    fields["email"] = "fay@example.test"
    for action in ("wpprivsync_erase", "wpprivsync_remove_comments", "wpprivsync_task_done"):
        assert s.post(f"{wp.url}/wp-admin/admin-post.php", data={**fields, "action": action, "task_id": "1",
                                                                  "note": "x"}, timeout=60).status_code == 403
    assert outbox(wp) == []
    assert "notice-success" in s.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60).text
    assert [r["type"] for r in outbox(wp)] == ["export.requested"]


def test_daemon_capability_alone_opens_no_page(wp):
    password = make_user(wp, "syncer", ["wpprivsync_sync"])
    assert refused(page(wp, login(wp, "syncer", password)))


def test_policy_guide_offers_a_section_generated_from_policy_toml(wp, admin):
    guide = admin.get(f"{wp.url}/wp-admin/options-privacy.php", params={"tab": "policyguide"}, timeout=60).text
    assert "has not reported its policy yet" in guide
    app = SimpleNamespace(policy=load_policy(ROOT / "config" / "policy.toml"))
    summary = services.policy_summary(app)  # type: ignore[arg-type]
    assert {r["id"] for r in summary["rules"]} >= {"account", "orders", "newsletter", "comments"}
    summary["rules"][0]["why"] = "<script>alert(1)</script>"
    wp.php("update_option('wpprivsync_heartbeat', ['at' => time(), 'version' => '1', 'queue' => 0, 'last_error' => null,"
           f" 'failed' => [], 'requests' => [], 'policy' => json_decode({json.dumps(json.dumps(summary))}, true)]);")
    guide = admin.get(f"{wp.url}/wp-admin/options-privacy.php", params={"tab": "policyguide"}, timeout=60).text
    assert "invoices must be kept 5 years from the end of the tax year" in guide.replace("Invoices", "invoices")
    assert "until the end of the tax year + 5 years" in guide
    assert "GDPR art. 6(1)(c)" in guide
    assert "<script>alert(1)</script>" not in guide
