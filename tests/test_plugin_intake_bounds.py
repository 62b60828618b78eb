"""Bounded intake, bounded poll, purged history (issue 13, point 1), over real HTTP against the
WordPress stack with the real plugin.

* a webhook body above the limit is 413 and stores nothing; an over-long field is 400 naming it;
* every string field the outbox stores is cut to its limit, and an oversized payload is not stored;
* GET /events pages by size as well as count, so a backlog of large (legacy) rows cannot break
  the poll, and the daemon's own client drains such a backlog;
* acknowledged rows are purged after the retention period, unacknowledged ones never.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from support.wordpress import rest_session
from wpprivsync.clients.wordpress import WordPressClient

NS = "wpprivsync/v1"


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def hook(stack) -> str:
    return f"{stack.url}/?rest_route=/{NS}/webhook/activecampaign/" + stack.php("echo Wpprivsync_Webhook::secret();")


def delivery(**extra) -> dict:
    body = {"type": "unsubscribe", "date_time": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
            "list": "3", "contact[id]": "9", "contact[email]": "flood@example.test", "initiated_by": "customer"}
    body.update(extra)
    return body


def rows(stack) -> list[dict]:
    return stack.php_json("global $wpdb; echo json_encode($wpdb->get_results(\"SELECT id, type, LENGTH(payload) AS size,"
                          " payload, acked_at FROM {$wpdb->prefix}wpprivsync_outbox ORDER BY id\", ARRAY_A));")


def events(stack, session, after=0, limit=500) -> dict:
    resp = session.get(f"{stack.url}/?rest_route=/{NS}/events", params={"after": after, "limit": limit}, timeout=120)
    assert resp.status_code == 200, resp.text[:300]
    return resp.json()


# -- intake ----------------------------------------------------------------------------------
def test_a_five_megabyte_field_is_413_and_stores_nothing(wp):
    resp = requests.post(hook(wp), data=delivery(initiated_by="x" * 5_000_000), timeout=120)
    assert resp.status_code == 413, resp.text[:300]
    assert resp.json()["code"] == "wpprivsync_webhook_too_large"
    assert rows(wp) == []


def test_a_body_just_under_the_limit_with_unknown_fields_is_accepted(wp):
    resp = requests.post(hook(wp), data=delivery(**{"contact[first_name]": "y" * 60_000}), timeout=60)
    assert resp.status_code == 200, resp.text[:300]
    assert resp.json() == {"recorded": 1}
    (row,) = rows(wp)
    assert int(row["size"]) < 1000  # unknown fields are never stored


@pytest.mark.parametrize("field, value", [
    ("contact[email]", "a" * 250 + "@example.test"),
    ("initiated_by", "z" * 65),
    ("date_time", "2026-12-03 10:00:00" + " " * 60),
    ("type", "unsubscribe" * 4),
])
def test_an_over_long_field_is_400_naming_it(wp, field, value):
    resp = requests.post(hook(wp), data=delivery(**{field: value}), timeout=60)
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json()["code"] == "wpprivsync_bad_webhook" and field in resp.json()["message"]
    assert rows(wp) == []


def test_too_many_lists_is_400(wp):
    body = [(k, v) for k, v in delivery().items() if k != "list"] + [("list[][id]", str(i)) for i in range(101)]
    resp = requests.post(hook(wp), data=body, timeout=60)
    assert resp.status_code == 400 and "list" in resp.json()["message"]
    assert rows(wp) == []


def test_stored_fields_are_cut_and_oversized_payloads_refused(wp):
    ids = wp.php_json(
        "echo json_encode([Wpprivsync_Outbox::record('account.deleted', ['email' => 'cut@example.test',"
        " 'display_name' => str_repeat('n', 5000)]),"
        " Wpprivsync_Outbox::record('account.deleted', ['email' => 'big@example.test',"
        " 'items' => array_fill(0, 40, str_repeat('i', 1000))])]);")
    assert ids[0] > 0 and ids[1] == 0
    (row,) = rows(wp)
    payload = json.loads(row["payload"])
    assert len(payload["display_name"]) == 1024 and payload["email"] == "cut@example.test"
    assert "payload is larger than 16384 bytes" in wp.debug_log()


# -- poll ------------------------------------------------------------------------------------
def legacy_rows(stack, count: int, size: int) -> None:
    """Rows as an older plugin stored them: whole, however large (written by SQL, no PHP memory)."""
    stack.php("global $wpdb; $t = $wpdb->prefix . 'wpprivsync_outbox';"
              f" for ($i = 0; $i < {count}; $i++) {{ $wpdb->query($wpdb->prepare(\"INSERT INTO $t (type, payload, created_at)"
              " VALUES ('newsletter.unsubscribed', CONCAT('{\\\"email\\\":\\\"big', %d, '@example.test\\\",\\\"initiated_by\\\":\\\"',"
              f" REPEAT('x', {size}), '\\\"}}'), UTC_TIMESTAMP())\", $i)); }}")


def test_events_page_by_size_so_large_rows_cannot_break_the_poll(wp, daemon):
    legacy_rows(wp, 12, 700_000)
    wp.php("Wpprivsync_Outbox::record('account.deleted', ['email' => 'small@example.test']);")
    seen, after, pages = [], 0, 0
    while True:
        page = events(wp, daemon, after)
        if not page["events"]:
            break
        pages += 1
        size = sum(len(json.dumps(e["payload"])) for e in page["events"])
        assert len(page["events"]) == 1 or size <= 1_048_576 + 1000, (len(page["events"]), size)
        seen += [e["id"] for e in page["events"]]
        after = page["last_id"]
        assert page["pending"] == 13 - len(seen)
    assert len(seen) == 13 and pages >= 7  # 12 rows of 0.7 MB: one a page, the small one shares


def test_the_daemons_client_drains_a_backlog_of_large_rows(wp, wp_stack):

    legacy_rows(wp, 6, 400_000)
    client = WordPressClient(wp.url, wp_stack.service_user, wp_stack.service_app_password, session=requests.Session())
    got, after = [], 0
    while True:
        page, pending = client.events(after, 500)
        if not page:
            break
        got += page
        after = page[-1].id
    assert len(got) == 6
    assert pending == 0


# -- purge -----------------------------------------------------------------------------------
def test_acknowledged_rows_are_purged_after_the_retention_period(wp, daemon):
    for i in range(5):
        wp.php(f"Wpprivsync_Outbox::record('account.deleted', ['email' => 'p{i}@example.test']);")
    ids = [int(r["id"]) for r in rows(wp)]
    resp = daemon.post(f"{wp.url}/?rest_route=/{NS}/events/ack", json={"ids": ids[:4]}, timeout=60)
    assert resp.status_code == 200 and resp.json()["acked"] == 4
    old = (datetime.now(timezone.utc) - timedelta(days=31)).strftime("%Y-%m-%d %H:%M:%S")
    wp.php("global $wpdb; $wpdb->query(\"UPDATE {$wpdb->prefix}wpprivsync_outbox SET acked_at = '" + old +
           "', created_at = '" + old + "' WHERE id IN (" + ",".join(map(str, ids[:3])) + ")\");"
           " delete_option('wpprivsync_outbox_purged_at');")
    # the next acknowledgement purges (at most once an hour)
    wp.php("Wpprivsync_Outbox::record('account.deleted', ['email' => 'p9@example.test']);")
    newest = int(rows(wp)[-1]["id"])
    assert daemon.post(f"{wp.url}/?rest_route=/{NS}/events/ack", json={"ids": [newest]}, timeout=60).status_code == 200
    left = {int(r["id"]): r for r in rows(wp)}
    assert set(left) == {ids[3], ids[4], newest}  # recent acked, unacked, just acked
    assert left[ids[4]]["acked_at"] is None


def test_retention_is_an_option_never_shorter_than_the_replay_window(wp):
    try:
        assert wp.php("echo Wpprivsync_Outbox::retention_days();") == "30"
        wp.php("update_option('wpprivsync_outbox_retention_days', 90);")
        assert wp.php("echo Wpprivsync_Outbox::retention_days();") == "90"
        wp.php("update_option('wpprivsync_outbox_retention_days', 1);")
        assert wp.php("echo Wpprivsync_Outbox::retention_days();") == "8"  # 7-day window + 1
    finally:
        wp.php("delete_option('wpprivsync_outbox_retention_days');")


def test_an_unacknowledged_row_is_never_purged(wp):
    wp.php("Wpprivsync_Outbox::record('account.deleted', ['email' => 'keep@example.test']);"
           " global $wpdb; $wpdb->query(\"UPDATE {$wpdb->prefix}wpprivsync_outbox SET created_at = '2020-01-01 00:00:00'\");")
    assert wp.php("echo Wpprivsync_Outbox::purge(0);") == "0"
    assert len(rows(wp)) == 1
