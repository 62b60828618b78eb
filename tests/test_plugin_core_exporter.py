"""wpprivsync's exporter for core's Tools → Export Personal Data, against a real WordPress:
it asks the daemon through the outbox and says done=false while waiting, answers a clear
"not available" item after the bounded wait, returns what the daemon delivered (kept
encrypted at rest), and the delivery route refuses bad input and other users."""

from __future__ import annotations

import json

import pytest

from support.wordpress import rest_session

NS = "wpprivsync/v1"
EMAIL = "ivy.core@example.test"
ITEM = {"group_id": "wpprivsync-activecampaign", "group_label": "Newsletter (ActiveCampaign)",
        "item_id": "activecampaign-contact-9", "data": [{"name": "Tags", "value": "secret-tag-xyz"}]}


def _exporter(wp, page: int) -> dict:
    out = wp.php(f"wp_set_current_user(1); echo wp_json_encode(Wpprivsync_Core_Exporter::exporter('{EMAIL}', {page}));")
    return json.loads(out)


def _deliver(wp, session, body):
    return session.post(f"{wp.url}/?rest_route=/{NS}/core-export", json=body, timeout=60)


@pytest.fixture
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def test_waits_then_returns_the_delivered_data_encrypted_at_rest(wp, daemon):
    first = _exporter(wp, 1)
    assert first == {"data": [], "done": False}
    events = daemon.get(f"{wp.url}/?rest_route=/{NS}/events", params={"after": 0, "limit": 100}, timeout=60).json()
    asked = [e for e in events["events"] if e["type"] == "core_export.requested"]
    assert len(asked) == 1 and asked[0]["payload"]["email"] == EMAIL

    assert _deliver(wp, daemon, {"email": EMAIL, "groups": [ITEM]}).status_code == 200
    stored = wp.php("global $wpdb; echo $wpdb->get_var(\"SELECT option_value FROM {$wpdb->options} "
                    "WHERE option_name LIKE 'wpprivsync\\\\_cx\\\\_%'\");")
    assert "secret-tag-xyz" not in stored and EMAIL not in stored  # encrypted at rest
    second = _exporter(wp, 2)
    assert second["done"] is True and second["data"][0]["data"][0]["value"] == "secret-tag-xyz"


def test_after_the_bounded_wait_a_clear_item_instead(wp):
    assert _exporter(wp, 1)["done"] is False
    wp.php("global $wpdb; foreach ($wpdb->get_col(\"SELECT option_name FROM {$wpdb->options} WHERE option_name "
           "LIKE 'wpprivsync\\\\_cx\\\\_%'\") as $n) { update_option($n, array('asked' => time() - 61), false); }")
    late = _exporter(wp, 2)
    assert late["done"] is True
    assert late["data"][0]["data"][0]["value"] == "not available: the daemon did not answer in 60 s"


def test_delivery_refuses_bad_input_unasked_exports_and_other_users(wp, wp_stack, daemon):
    assert _deliver(wp, daemon, {"email": EMAIL, "groups": [ITEM]}).status_code == 404  # nothing waits
    _exporter(wp, 1)
    bad = _deliver(wp, daemon, {"email": EMAIL, "groups": [{"group_id": "x"}]})
    assert bad.status_code == 400 and "item_id" in bad.json()["message"]
    assert _deliver(wp, daemon, {"email": "not an email", "groups": []}).status_code == 400
    sub = rest_session(wp_stack.subscriber_user, wp_stack.subscriber_app_password)
    assert _deliver(wp, sub, {"email": EMAIL, "groups": [ITEM]}).status_code == 403
    assert _deliver(wp, rest_session("nobody", "aaaa bbbb cccc dddd eeee ffff"),
                    {"email": EMAIL, "groups": [ITEM]}).status_code == 401
    # the bad calls lost nothing: a good delivery still lands
    assert _deliver(wp, daemon, {"email": EMAIL, "groups": [ITEM]}).status_code == 200
