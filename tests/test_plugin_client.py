"""The Python client (src/wpprivsync/clients/wordpress.py) against the real plugin: the
contract both sides implement, end to end."""

from __future__ import annotations

import pytest
import requests

from support import thrive
from support.wordpress import requires_thrive
from wpprivsync import errors
from wpprivsync.clients.wordpress import WordPressClient


@pytest.fixture
def client(wp) -> WordPressClient:
    return WordPressClient(wp.url, wp.service_user, wp.service_app_password, session=requests.Session(), timeout=60)


def test_index_and_me(client):
    assert "wpprivsync/v1" in client.index()["namespaces"]
    me = client.me()
    assert me["capabilities"].get("wpprivsync_sync") is True


def test_events_ack_round_trip(wp, client):
    wp.php("wp_delete_comment(wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'Kim@Example.test', 'comment_content' => 'x']), true);")
    events, pending = client.events(0)
    assert [e.type for e in events] == ["comment.deleted"] and pending == 0
    assert events[0].payload["email"] == "kim@example.test"
    assert client.ack([events[0].id], {events[0].id: "cd" * 32}) == 1
    assert client.events(0) == ([], 0)


@requires_thrive
def test_export_merges_real_pages(wp, client):
    wp.php("""global $tvedb; foreach (range(1, 530) as $i) {
        $log = $tvedb->insert_event(['event_type' => TVE_LEADS_CONVERSION, 'main_group_id' => 0, 'form_type_id' => 0,
                                     'variation_key' => 0, 'user' => 'kim@example.test'], 0, false);
        $tvedb->tve_leads_register_contact($log, 'Kim', 'kim@example.test', []); }""")
    thrive.add_testimonial(wp, "kim@example.test", "Kim")
    merged = client.export("KIM@example.test")
    assert len(merged["groups"]["tve-leads-user-privacy"]["items"]) == 530
    assert len(merged["groups"]["tvo-user-privacy"]["items"]) == 1


def test_consents_iterate_every_user(wp, client):
    wp.php("foreach (range(1, 12) as $i) { wp_insert_user(['user_login' => \"k$i\", 'user_email' => \"k$i@example.test\", 'user_pass' => 'x']); }")
    users = list(client.consents())
    assert len(users) == 15 and len({u["id"] for u in users}) == 15


def test_consent_erase_remove_comments(wp, client):
    wp.php("wp_insert_user(['user_login' => 'kim', 'user_email' => 'kim@example.test', 'user_pass' => 'x']);"
           " wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'kim@example.test', 'comment_content' => 'x']);")
    assert client.set_consent("kim@example.test", True)["changed"] is True
    assert client.remove_comments("kim@example.test", dry_run=True)["would_delete"]["comments"] == 1
    assert client.remove_comments("kim@example.test")["comments_deleted"] == 1
    answer = client.erase("kim@example.test", exclude=["wordpress-comments"])
    assert answer["request_id"] > 0 and "wordpress-comments" not in {e["id"] for e in answer["erasers"]}
    with pytest.raises(errors.NotFound):
        client.set_consent("nobody@example.test", True)


def test_retention_and_heartbeat(client):
    assert client.set_retention(6, 7) == {"order_years": 6, "tax_year_start_month": 7}
    assert client.retention() == {"order_years": 6, "tax_year_start_month": 7}
    client.heartbeat({"version": "0.0.1", "queue": 2})
    assert client.status()["heartbeat"]["queue"] == 2


def test_orders_without_woocommerce_raise_woocommerce_missing(wp, client):
    if wp.woocommerce_dir is not None:
        wp.deactivate_plugin("woocommerce")  # the next test's database restore brings it back
    with pytest.raises(errors.WooCommerceMissing):
        list(client.orders(before="2020-01-01"))
    with pytest.raises(errors.WooCommerceMissing):
        client.anonymize_orders([1])


def test_wrong_password_and_missing_capability(wp):
    wrong = WordPressClient(wp.url, wp.service_user, "aaaa bbbb cccc dddd eeee ffff", session=requests.Session())
    with pytest.raises(errors.AuthenticationFailed):
        wrong.status()
    sub = WordPressClient(wp.url, wp.subscriber_user, wp.subscriber_app_password, session=requests.Session())
    with pytest.raises(errors.PermissionDenied):
        sub.events(0)
    with pytest.raises(errors.ApiError) as bad:
        WordPressClient(wp.url, wp.service_user, wp.service_app_password, session=requests.Session()).erase("not-an-email")
    assert bad.value.status == 400
