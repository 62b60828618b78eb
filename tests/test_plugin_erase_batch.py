"""POST /erase/batch: several people erased in one request, one answer each, in order."""

from __future__ import annotations

import pytest

from support.wordpress import rest_session
from wpprivsync.clients.wordpress import WordPressClient

NS = "wpprivsync/v1"


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def test_batch_erases_each_person_and_answers_in_order(wp):
    for name in ("ada", "ben"):
        wp.php(f"$u = wp_insert_user(['user_login' => '{name}', 'user_email' => '{name}@example.test', 'user_pass' => 'x']);"
               f" wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => '{name}@example.test',"
               f" 'comment_content' => 'hi']);")
    client = WordPressClient(wp.url, wp.service_user, wp.service_app_password, session=rest_session(
        wp.service_user, wp.service_app_password))
    results = client.erase_batch(["Ben@Example.test", "ada@example.test", "nobody@example.test"])
    assert [r["account"]["reason"] for r in results] == ["account deleted", "account deleted", "no account"]
    assert all(r["request_id"] > 0 for r in results)
    assert wp.php("echo count(get_users(['search' => '*@example.test', 'search_columns' => ['user_email']]));") == "3"
    core = {r["id"]: r for r in results[0]["erasers"]}
    # the policy says comments are deleted: the plugin does it before core's eraser could anonymise them
    assert core["wpprivsync-comments"]["items_removed"] is True and core["wpprivsync-comments"]["comments"] == 1
    assert wp.php("global $wpdb; echo $wpdb->get_var(\"SELECT COUNT(*) FROM $wpdb->comments WHERE comment_content = 'hi'\");") == "0"
    assert wp.php("global $wpdb; echo $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->prefix}wpprivsync_outbox\");") == "0"


@pytest.mark.parametrize("body", [{"emails": []}, {"emails": ["ok@example.test", "not an email"]},
                                  {"emails": [f"p{i}@example.test" for i in range(26)]}, {}])
def test_bad_batches_are_refused_whole(wp, daemon, body):
    resp = daemon.post(f"{wp.url}/?rest_route=/{NS}/erase/batch", json=body, timeout=60)
    assert resp.status_code == 400
    assert wp.php("global $wpdb; echo $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->posts} "
                  "WHERE post_type = 'user_request'\");") == "0"
