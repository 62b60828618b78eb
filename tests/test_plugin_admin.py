"""Tools → Privacy Sync and the profile checkbox, driven over HTTP with a logged-in browser session."""

from __future__ import annotations

import html
import re

import pytest
import requests


def login(stack, user: str, password: str) -> requests.Session:
    s = requests.Session()
    s.cookies.set("wordpress_test_cookie", "WP Cookie check")
    resp = s.post(f"{stack.url}/wp-login.php", data={"log": user, "pwd": password, "wp-submit": "Log In",
                                                     "redirect_to": f"{stack.url}/wp-admin/", "testcookie": "1"},
                  timeout=60, allow_redirects=False)
    assert resp.status_code == 302, resp.text[:500]
    return s


def page(stack, session) -> requests.Response:
    return session.get(f"{stack.url}/wp-admin/tools.php", params={"page": "wpprivsync"}, timeout=60)


def form_fields(page_html: str, form_id: str) -> dict[str, str]:
    form = re.search(rf'<form[^>]*id="{re.escape(form_id)}".*?</form>', page_html, re.S)
    assert form, f"no form #{form_id}"
    return {html.unescape(m.group(1)): html.unescape(m.group(2))
            for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(0))}


def outbox(stack) -> list[dict]:
    return stack.php_json(
        "global $wpdb; $rows = $wpdb->get_results(\"SELECT type, payload FROM {$wpdb->prefix}wpprivsync_outbox ORDER BY id\", ARRAY_A);"
        " foreach ($rows as &$r) { $r['payload'] = json_decode($r['payload'], true); } echo json_encode($rows);")


@pytest.fixture
def admin(wp):
    # WooCommerce sends an administrator's first admin page to its setup wizard once.
    wp.php("delete_transient('_wc_activation_redirect');")
    return login(wp, wp.admin_user, wp.admin_password)


def test_page_shows_status_and_webhook_url(wp, admin):
    resp = page(wp, admin)
    assert resp.status_code == 200
    body = resp.text
    for element in ("wpprivsync-heartbeat", "wpprivsync-queue", "wpprivsync-outbox", "wpprivsync-failed",
                    "wpprivsync-requests", "wpprivsync-webhook-url", "wpprivsync-erase-form", "wpprivsync-export-form",
                    "wpprivsync-remove-comments-form", "wpprivsync-rotate-form"):
        assert f'id="{element}"' in body, element
    secret = wp.php("echo get_option('wpprivsync_webhook_secret');")
    assert secret in body
    assert "wpprivsync-stale" in body  # no heartbeat yet: red
    assert "wpprivsync/assets/admin.css" in body


def test_heartbeat_feeds_the_page_escaped(wp, admin):
    wp.php("""update_option('wpprivsync_heartbeat', ['at' => time() - 5, 'version' => '1.0', 'queue' => 7, 'last_error' => null,
        'failed' => [['step_id' => 42, 'system' => 'activecampaign', 'action' => 'delete_contact', 'error' => '<script>alert(1)</script>', 'attempts' => 5]],
        'requests' => [['id' => 9, 'action' => 'erase', 'email_hash' => str_repeat('ab', 32), 'received_at' => '2026-11-25T10:00:00Z',
                        'due_at' => '2026-12-25T10:00:00Z', 'status' => 'partial', 'systems' => ['wordpress' => 'done', 'activecampaign' => 'failed'],
                        'retained_until' => '2031-12-31']]]);""")
    body = page(wp, admin).text
    assert "wpprivsync-ok" in body
    assert re.search(r'id="wpprivsync-queue"[^>]*data-count="7"', body)
    assert 'data-step-id="42"' in body and 'id="wpprivsync-retry-42"' in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "2031-12-31" in body and "activecampaign: failed" in body


@pytest.mark.parametrize(("form_id", "event"), [
    ("wpprivsync-erase-form", "erasure.requested"),
    ("wpprivsync-export-form", "export.requested"),
    ("wpprivsync-remove-comments-form", "comments.removal_requested"),
])
def test_email_forms_record_an_event_and_show_a_notice(wp, admin, form_id, event):
    fields = form_fields(page(wp, admin).text, form_id)
    fields["email"] = " Fay@Example.test "
    resp = admin.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60)
    assert resp.status_code == 200
    assert 'id="wpprivsync-notice"' in resp.text and "notice-success" in resp.text
    rows = outbox(wp)
    assert [r["type"] for r in rows] == [event]
    assert rows[0]["payload"]["email"] == "fay@example.test" and rows[0]["payload"]["source"] == "admin-page"


def test_bad_email_records_nothing(wp, admin):
    fields = form_fields(page(wp, admin).text, "wpprivsync-erase-form")
    fields["email"] = "not an email"
    resp = admin.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60)
    assert "notice-error" in resp.text
    assert outbox(wp) == []


def test_an_address_wordpress_refuses_is_not_quietly_changed_into_another(wp, admin):
    # sanitize_email() would drop the space and act on "annsmith@example.test", someone else
    fields = form_fields(page(wp, admin).text, "wpprivsync-erase-form")
    fields["email"] = "ann smith@example.test"
    resp = admin.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60)
    assert "notice-error" in resp.text
    assert outbox(wp) == []


def test_forms_without_a_valid_nonce_are_refused(wp, admin):
    fields = form_fields(page(wp, admin).text, "wpprivsync-export-form")
    fields["_wpnonce"] = "0000000000"
    fields["email"] = "fay@example.test"
    resp = admin.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60)
    assert resp.status_code == 403
    assert outbox(wp) == []


def test_retry_and_rotate(wp, admin):
    wp.php("update_option('wpprivsync_heartbeat', ['at' => time(), 'version' => '1', 'queue' => 0, 'last_error' => null,"
           " 'failed' => [['step_id' => 42, 'system' => 'activecampaign', 'action' => 'delete_contact', 'error' => 'x', 'attempts' => 5]], 'requests' => []]);")
    body = page(wp, admin).text
    admin.post(f"{wp.url}/wp-admin/admin-post.php", data=form_fields(body, "wpprivsync-retry-42"), timeout=60)
    admin.post(f"{wp.url}/wp-admin/admin-post.php", data=form_fields(body, "wpprivsync-retry-all"), timeout=60)
    assert [r["payload"] for r in outbox(wp)] == [{"step_id": 42}, {"all": True}]

    old = wp.php("echo get_option('wpprivsync_webhook_secret');")
    resp = admin.post(f"{wp.url}/wp-admin/admin-post.php", data=form_fields(body, "wpprivsync-rotate-form"), timeout=60)
    new = wp.php("echo get_option('wpprivsync_webhook_secret');")
    assert new != old and new in resp.text and old not in resp.text


def test_subscriber_cannot_open_the_page_or_post_forms(wp, admin):
    fields = form_fields(page(wp, admin).text, "wpprivsync-erase-form")
    fields["email"] = "fay@example.test"
    sub = login(wp, wp.subscriber_user, wp.subscriber_password)
    refused = page(wp, sub)
    # 403 from WordPress, or (with WooCommerce) a redirect out of wp-admin to "My account"
    assert refused.status_code == 403 or "/wp-admin/" not in refused.url
    assert 'id="wpprivsync-admin"' not in refused.text
    assert sub.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60).status_code == 403
    assert outbox(wp) == []


def test_profile_checkbox_records_consent_changed(wp, admin):
    sub = admin  # WooCommerce keeps subscribers out of wp-admin; an administrator's own profile works everywhere
    profile = sub.get(f"{wp.url}/wp-admin/profile.php", timeout=60).text
    assert 'id="wpprivsync-newsletter"' in profile
    form = re.search(r'<form id="your-profile".*?</form>', profile, re.S).group(0)
    fields = {html.unescape(m.group(1)): html.unescape(m.group(2))
              for m in re.finditer(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)
              if "checkbox" not in m.group(0) and "radio" not in m.group(0)}
    fields["email"] = wp.admin_email
    fields["wpprivsync_newsletter"] = "1"
    fields.pop("pass1", None), fields.pop("pass2", None)
    resp = sub.post(f"{wp.url}/wp-admin/profile.php", data=fields, timeout=60)
    assert resp.status_code == 200
    rows = outbox(wp)
    assert [r["type"] for r in rows] == ["consent.changed"]
    assert rows[0]["payload"]["consent"] is True and rows[0]["payload"]["source"] == "profile"
    # saving the profile again with the box still ticked changes nothing
    sub.post(f"{wp.url}/wp-admin/profile.php", data=fields, timeout=60)
    assert len(outbox(wp)) == 1
