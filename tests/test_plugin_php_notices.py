"""A tour of the plugin's code paths leaves no PHP warning, notice or error from its files."""

from __future__ import annotations

from datetime import datetime, timezone

import requests

from support.wordpress import rest_session

NS = "wpprivsync/v1"


def test_no_php_notices_from_the_plugin(wp):
    start = len(wp.debug_log())
    daemon = rest_session(wp.service_user, wp.service_app_password)
    wp.php("""$u = wp_insert_user(['user_login' => 'tour', 'user_email' => 'tour@example.test', 'user_pass' => 'x']);
              update_user_meta($u, 'wpprivsync_newsletter', '1'); delete_user_meta($u, 'wpprivsync_newsletter');
              $c = wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'tour@example.test', 'comment_content' => 'x']);
              add_comment_meta($c, 'k', 'v');
              Thrive_Like_Fixture::add_testimonial('tour@example.test', 'Tour'); Thrive_Like_Fixture::add_lead('tour@example.test', 'Tour');""")
    calls = [("GET", "events", {"params": {"after": 0}}), ("GET", "status", {}), ("GET", "consents", {}),
             ("POST", "export", {"json": {"email": "tour@example.test"}}),
             ("POST", "erase", {"json": {"email": "tour@example.test", "dry_run": True}}),
             ("POST", "comments/remove", {"json": {"email": "tour@example.test"}}),
             ("POST", "consent", {"json": {"email": "tour@example.test", "subscribed": True}}),
             ("POST", "erase", {"json": {"email": "tour@example.test"}}),  # deletes the account too
             ("POST", "heartbeat", {"json": {"version": "1", "queue": 1, "requests": [{"id": 1, "systems": {"wordpress": "done"}}]}}),
             ("GET", "retention", {}), ("GET", "orders", {}), ("POST", "events/ack", {"json": {"ids": [1, 2, 3]}})]
    for method, route, kw in calls:
        resp = daemon.request(method, f"{wp.url}/?rest_route=/{NS}/{route}", timeout=60, **kw)
        assert resp.status_code in (200, 501), (route, resp.text)
    token = wp.php("echo get_option('wpprivsync_webhook_secret');")
    hook = f"{wp.url}/?rest_route=/{NS}/webhook/activecampaign/"
    requests.post(hook + token, data={"type": "unsubscribe", "date_time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "list": "1",
                                      "contact[email]": "tour@example.test", "contact[id]": "1"}, timeout=30)
    requests.post(hook + token, data={"type": "unsubscribe", "list[][id]": "x"}, timeout=30)
    requests.post(hook + "bad", data={}, timeout=30)
    wp.php("$u = wp_insert_user(['user_login' => 'tour2', 'user_email' => 'tour2@example.test', 'user_pass' => 'x']);"
           " wp_delete_user($u); do_action('wp_privacy_personal_data_erased', 999999);")
    new = wp.debug_log()[start:]
    ours = [line for line in new.splitlines() if "plugins/wpprivsync/" in line or "plugins/thrive-like/" in line]
    assert ours == []
