"""Issue 16.1: Tools → Privacy Sync → Find a person, asynchronously: the page queues a
lookup.requested event, the daemon answers through POST /lookups with what each system holds
(keyed hash only), and the page shows "looking up…" and then the answer. Real WordPress, the
local ActiveCampaign server, the daemon's real services over HTTP."""

from __future__ import annotations

import html
import re
import secrets

import pytest
import requests

from support.wordpress import rest_session
from test_plugin_admin import form_fields, login, outbox
from test_plugin_admin_caps import make_user
from wpprivsync import services
from wpprivsync.clients.protocols import Event
from wpprivsync.engine import plan
from wpprivsync.identity import email_hash

EMAIL = "lou.lookup@example.com"


@pytest.fixture
def admin(wp):
    wp.php("delete_transient('_wc_activation_redirect');")
    return login(wp, wp.admin_user, wp.admin_password)


def person_page(wp, session, **params) -> requests.Response:
    return session.get(f"{wp.url}/wp-admin/tools.php", params={"page": "wpprivsync", "tab": "person", **params},
                       timeout=60)


def ask(wp, session, email: str) -> requests.Response:
    fields = form_fields(person_page(wp, session).text, "wpprivsync-lookup-form")
    fields["email"] = email
    return session.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60)


def state(body: str) -> str:
    m = re.search(r'id="wpprivsync-person" data-state="([a-z]+)"', body)
    assert m, "no person view"
    return m.group(1)


def test_lookup_waits_then_shows_what_each_system_holds(system, admin):
    wp = system.wp
    system.create_user(EMAIL, consent=True)
    system.add_comment(EMAIL)
    system.ac.add_contact(EMAIL, lists={system.list_id: 1}, tags=["customer"])
    services.queue_request(system.app, "test", plan.EXPORT, EMAIL)

    waiting = ask(wp, admin, " Lou.Lookup@Example.com ")
    assert waiting.status_code == 200 and "lookup=" in waiting.url
    assert EMAIL not in waiting.url.lower() and EMAIL not in waiting.text.lower()
    assert state(waiting.text) == "waiting"
    assert 'http-equiv="refresh"' in waiting.text and "Looking up" in waiting.text
    (event,) = [r for r in outbox(wp) if r["type"] == "lookup.requested"]
    assert event["payload"]["email"] == EMAIL
    # no transient, option or log line of WordPress holds the email
    assert wp.php(f"global $wpdb; echo (int) $wpdb->get_var(\"SELECT COUNT(*) FROM {{$wpdb->options}} WHERE option_value LIKE '%{EMAIL}%'\");") == "0"

    assert services.pull(system.app, "test")["lookups"] == 1
    answered = admin.get(waiting.url, timeout=60).text
    assert state(answered) == "answered"
    digest = email_hash(system.app.secret, EMAIL)
    assert f'<code id="wpprivsync-person-hash">{digest[:12]}</code>' in answered
    systems = re.search(r'id="wpprivsync-person-systems".*?</table>', answered, re.S).group(0)
    assert "activecampaign" in systems and "customer" in systems and "wordpress" in systems
    assert "contact deleted" in html.unescape(systems)
    requests_table = re.search(r'id="wpprivsync-person-requests".*?</table>', answered, re.S).group(0)
    assert ">export<" in requests_table
    assert "No scan yet." in answered  # no residue scan class on this branch
    for form in ("wpprivsync-person-erase", "wpprivsync-person-export", "wpprivsync-person-remove-comments"):
        assert f'id="{form}"' in answered
    assert EMAIL not in answered.lower()
    # the event was acknowledged: the outbox holds the daemon's keyed hash, not the email
    (event,) = [r for r in outbox(wp) if r["type"] == "lookup.requested"]
    assert "email" not in event["payload"] and EMAIL not in str(event["payload"])
    # acting from the person view: the email is typed again
    fields = form_fields(answered, "wpprivsync-person-erase")
    fields["email"] = EMAIL
    assert "notice-success" in admin.post(f"{wp.url}/wp-admin/admin-post.php", data=fields, timeout=60).text


def test_another_user_cannot_read_a_lookup_by_its_id(system, admin):
    wp = system.wp
    waiting = ask(wp, admin, EMAIL)
    services.pull(system.app, "test")
    lookup = re.search(r"lookup=([A-Za-z0-9]+)", waiting.url).group(1)
    other = login(wp, "exporter", make_user(wp, "exporter", ["export_others_personal_data"]))
    body = person_page(wp, other, lookup=lookup).text
    assert state(body) == "expired" and "wpprivsync-person-hash" not in body


def test_lookup_answer_route_refuses_strangers_unknown_ids_and_emails(wp, admin):
    url = f"{wp.url}/wp-json/wpprivsync/v1/lookups"
    body = {"lookup_id": "A" * 24, "answer": {"email_hash": "ab" * 32}}
    assert requests.post(url, json=body, timeout=60).status_code == 401
    assert rest_session(wp.subscriber_user, wp.subscriber_app_password).post(url, json=body, timeout=60).status_code == 403
    daemon = rest_session(wp.service_user, wp.service_app_password)
    assert daemon.post(url, json=body, timeout=60).status_code == 404           # nobody waits for it
    assert daemon.post(url, json={**body, "lookup_id": "../x"}, timeout=60).status_code == 400
    waiting = ask(wp, admin, EMAIL)
    lookup = re.search(r"lookup=([A-Za-z0-9]+)", waiting.url).group(1)
    leak = daemon.post(url, json={"lookup_id": lookup, "answer": {"audit": [{"reason": f"by {EMAIL}"}]}}, timeout=60)
    assert leak.status_code == 400
    assert state(admin.get(waiting.url, timeout=60).text) == "waiting"
    nasty = {"email_hash": "ab" * 32, "explain": {"systems": [{"system": "<img src=x onerror=alert(1)>", "holds": None}]}}
    assert daemon.post(url, json={"lookup_id": lookup, "answer": nasty}, timeout=60).json() == {"ok": True}
    shown = admin.get(waiting.url, timeout=60).text
    assert "<img src=x" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown


def test_an_unanswered_lookup_says_so(wp, admin):
    waiting = ask(wp, admin, EMAIL)
    lookup = re.search(r"lookup=([A-Za-z0-9]+)", waiting.url).group(1)
    wp.php(f"$l = get_transient('wpprivsync_lookup_{lookup}'); $l['asked_at'] = time() - 300; set_transient('wpprivsync_lookup_{lookup}', $l, 600);")
    body = admin.get(waiting.url, timeout=60).text
    assert state(body) == "timeout" and "never reported" in body and 'http-equiv="refresh"' not in body


def test_bad_lookup_email_records_nothing(wp, admin):
    resp = ask(wp, admin, "not an email")
    assert "notice-error" in resp.text and outbox(wp) == []


def test_planner_refuses_a_malformed_lookup():
    planner = plan.Planner("test", secrets.token_hex(16), lambda t: t)
    ok = planner.plan(Event(1, "lookup.requested", {"email": EMAIL, "lookup_id": "a" * 24}, None), None)
    assert ok.lookups == [("a" * 24, EMAIL)] and ok.requests == []
    bad = planner.plan(Event(2, "lookup.requested", {"email": EMAIL, "lookup_id": "x/../y"}, None), None)
    assert bad.lookups == [] and bad.requests[0].action == plan.INVALID
