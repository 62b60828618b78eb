"""A tour of the plugin's code paths leaves no PHP warning, notice or error from its files."""

from __future__ import annotations

from datetime import datetime, timezone

import requests

from support import thrive
from support.wordpress import own_log_lines, rest_session

NS = "wpprivsync/v1"


def test_no_php_notices_from_the_plugin(wp):
    start = len(wp.debug_log())
    daemon = rest_session(wp.service_user, wp.service_app_password)
    wp.php("""$u = wp_insert_user(['user_login' => 'tour', 'user_email' => 'tour@example.test', 'user_pass' => 'x']);
              update_user_meta($u, 'wpprivsync_newsletter', '1'); delete_user_meta($u, 'wpprivsync_newsletter');
              $c = wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'tour@example.test', 'comment_content' => 'x']);
              add_comment_meta($c, 'k', 'v');""")
    if thrive.active(wp):
        thrive.add_testimonial(wp, "tour@example.test", "Tour")
        thrive.add_lead(wp, "tour@example.test", "Tour")
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
    assert own_log_lines(new) == []


def test_own_log_lines_finds_entries_that_name_the_plugin():
    log = ("[03-Dec-2026 10:00:00 UTC] PHP Deprecated:  x is deprecated in /s/wp-content/plugins/woocommerce/a.php on line 3\n"
           "[03-Dec-2026 10:00:01 UTC] PHP Warning:  Undefined array key \"a\" in /s/wp-content/plugins/wpprivsync/includes/x.php on line 9\n"
           "[03-Dec-2026 10:00:02 UTC] PHP Fatal error:  Uncaught TypeError: boom in /s/wp-includes/y.php:5\n"
           "Stack trace:\n#0 /s/wp-content/plugins/wpprivsync/includes/z.php(12): y()\n"
           "[03-Dec-2026 10:00:03 UTC] PHP Notice:  Function _load_textdomain_just_in_time was called incorrectly\n")
    found = own_log_lines(log)
    assert len(found) == 2
    assert "Undefined array key" in found[0] and "Uncaught TypeError" in found[1]
    assert own_log_lines(log.replace("plugins/wpprivsync/", "plugins/other/")) == []
