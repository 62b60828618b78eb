"""The ActiveCampaign webhook intake: secret URL, form-encoded bodies, duplicates, rotation."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

NS = "wpprivsync/v1"
CST = timezone(timedelta(hours=-6))


def recent(hours: float = -1) -> str:
    """A date_time inside the replay window (an hour ago by default), as ActiveCampaign writes it."""
    return (datetime.now(CST) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


WHEN = recent()


def secret(stack) -> str:
    return stack.php("echo get_option('wpprivsync_webhook_secret');")


def post(stack, token: str, data, **kw) -> requests.Response:
    return requests.post(f"{stack.url}/?rest_route=/{NS}/webhook/activecampaign/{token}", data=data, timeout=30, **kw)


def outbox(stack) -> list[dict]:
    return stack.php_json(
        "global $wpdb; $rows = $wpdb->get_results(\"SELECT type, payload, dedupe_key FROM {$wpdb->prefix}wpprivsync_outbox ORDER BY id\", ARRAY_A);"
        " foreach ($rows as &$r) { $r['payload'] = json_decode($r['payload'], true); } echo json_encode($rows);")


def delivery(kind="unsubscribe", **extra) -> dict:
    body = {"type": kind, "date_time": WHEN, "initiated_by": "customer",
            "initiated_from": "public", "list": "3", "contact[id]": "4711", "contact[email]": "Eve@Example.test",
            "contact[first_name]": "Eve", "contact[last_name]": "Example"}
    body.update(extra)
    return body


def test_secret_is_48_url_safe_characters(wp):
    assert re.fullmatch(r"[A-Za-z0-9_-]{48}", secret(wp))


def test_unsubscribe_becomes_one_event(wp):
    resp = post(wp, secret(wp), delivery())
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"recorded": 1}
    rows = outbox(wp)
    assert [r["type"] for r in rows] == ["newsletter.unsubscribed"]
    assert rows[0]["payload"] == {"email": "eve@example.test", "list_id": 3, "contact_id": 4711,
                                  "date_time": WHEN, "initiated_by": "customer"}


def test_subscribe_becomes_one_event(wp):
    assert post(wp, secret(wp), delivery("subscribe", **{"form[id]": "2"})).json() == {"recorded": 1}
    assert [r["type"] for r in outbox(wp)] == ["newsletter.subscribed"]


def test_update_becomes_one_contact_event_and_other_types_record_nothing(wp):
    # issue 12.4: an update (maybe a changed email) is sent on once, whatever its lists
    resp = post(wp, secret(wp), delivery("update", **{"contact[phone]": "555"}))
    assert resp.status_code == 200 and resp.json() == {"recorded": 1}
    assert post(wp, secret(wp), delivery("update", **{"contact[phone]": "555"})).json() == {"recorded": 0}  # duplicate
    rows = outbox(wp)
    assert [r["type"] for r in rows] == ["contact.updated"]
    assert rows[0]["payload"] == {"email": "eve@example.test", "contact_id": 4711, "date_time": WHEN}
    # without a contact id there is nothing to follow
    assert post(wp, secret(wp), delivery("update", **{"contact[id]": ""})).json() == {"recorded": 0}
    assert post(wp, secret(wp), delivery("open")).json() == {"recorded": 0}
    assert len(outbox(wp)) == 1


def test_unsubscribe_from_several_lists(wp):
    body = [(k, v) for k, v in delivery().items() if k != "list"] + [("list[][id]", "3"), ("list[][id]", "8")]
    assert post(wp, secret(wp), body).json() == {"recorded": 2}
    assert sorted(r["payload"]["list_id"] for r in outbox(wp)) == [3, 8]


def test_the_same_delivery_twice_is_one_event(wp):
    token = secret(wp)
    assert post(wp, token, delivery()).json() == {"recorded": 1}
    again = post(wp, token, delivery())
    assert again.status_code == 200 and again.json() == {"recorded": 0}
    later = post(wp, token, delivery(date_time=recent(-0.5)))
    assert later.json() == {"recorded": 1}
    assert len(outbox(wp)) == 2


@pytest.mark.parametrize("token", ["wrong", "A" * 48, "%20"])
def test_wrong_secret_is_403_and_writes_nothing(wp, token):
    resp = post(wp, token, delivery())
    assert resp.status_code == 403
    assert resp.json()["code"] == "wpprivsync_bad_secret"
    assert outbox(wp) == []


def test_wrong_secret_with_a_malformed_body_is_still_403(wp):
    assert post(wp, "nope", {"garbage": "1"}).status_code == 403


@pytest.mark.parametrize("body", [
    {},
    {"type": "unsubscribe"},
    delivery(**{"contact[email]": "not-an-email"}),
    delivery(date_time="yesterday-ish at teatime"),
    delivery(list="three"),
    {k: v for k, v in delivery().items() if k != "contact[email]"},
], ids=["empty", "no-date", "bad-email", "bad-date", "bad-list", "no-email"])
def test_malformed_body_is_400_and_writes_nothing(wp, body):
    resp = post(wp, secret(wp), body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "wpprivsync_bad_webhook"
    assert outbox(wp) == []


def test_get_is_not_accepted(wp):
    resp = requests.get(f"{wp.url}/?rest_route=/{NS}/webhook/activecampaign/{secret(wp)}", timeout=30)
    assert resp.status_code == 404
    assert outbox(wp) == []


def test_rotation_retires_the_old_url(wp):
    old = secret(wp)
    new = wp.php("echo Wpprivsync_Webhook::rotate();")
    assert new != old and re.fullmatch(r"[A-Za-z0-9_-]{48}", new)
    assert post(wp, old, delivery()).status_code == 403
    assert post(wp, new, delivery()).status_code == 200
    assert wp.php("echo Wpprivsync_Webhook::url();").endswith(new)


# -- replay window (issue 13, point 7) -------------------------------------------------------
@pytest.mark.parametrize("when", [
    "2026-01-02 03:04:05",                      # a captured delivery from long ago
    recent(-24 * 8),                            # just beyond the default 7 days
    recent(+24 * 8),                            # or claiming to come from the future
], ids=["long-ago", "8-days-ago", "8-days-ahead"])
def test_a_delivery_outside_the_replay_window_is_refused(wp, when):
    resp = post(wp, secret(wp), delivery(date_time=when))
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "wpprivsync_webhook_stale"
    assert "168 hours" in resp.json()["message"]
    assert outbox(wp) == []


def test_a_delivery_inside_the_window_is_recorded(wp):
    assert post(wp, secret(wp), delivery(date_time=recent(-24 * 6))).json() == {"recorded": 1}


def test_the_window_is_configurable_and_can_be_turned_off(wp):
    token = secret(wp)
    try:
        wp.php("update_option('wpprivsync_webhook_window', 2 * DAY_IN_SECONDS);")
        assert post(wp, token, delivery(date_time=recent(-72))).json()["code"] == "wpprivsync_webhook_stale"
        # below a day is raised to a day: ActiveCampaign may send local time without an offset
        wp.php("update_option('wpprivsync_webhook_window', 60);")
        assert wp.php("echo Wpprivsync_Webhook::window();") == "86400"
        wp.php("update_option('wpprivsync_webhook_window', 0);")
        assert post(wp, token, delivery(date_time="2020-01-01 00:00:00")).json() == {"recorded": 1}
    finally:
        wp.php("delete_option('wpprivsync_webhook_window');")
