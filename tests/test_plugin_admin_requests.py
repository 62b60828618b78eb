"""Issue 16.2: Tools → Privacy Sync → Requests. The daemon mirrors its requests into the plugin's
table (POST /requests/mirror, pages of up to 500, keyed hashes only) and the page lists them as a
WordPress list table: sorted, filtered, paged by SQL, overdue and near-deadline rows marked in
words too. Real WordPress, real plugin, the daemon's real client."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import requests

from support.wordpress import rest_session
from test_plugin_admin import login
from wpprivsync import services
from wpprivsync.engine import plan


@pytest.fixture
def admin(wp):
    wp.php("delete_transient('_wc_activation_redirect');")
    return login(wp, wp.admin_user, wp.admin_password)


def mirror_url(wp) -> str:
    return f"{wp.url}/wp-json/wpprivsync/v1/requests/mirror"


def row(i: int, **kw) -> dict:
    now = datetime.now(timezone.utc)
    base = {"id": i, "action": "erase", "status": "open", "source": "event", "email_hash": f"{i:064x}",
            "received_at": (now - timedelta(days=20)).isoformat(), "due_at": (now + timedelta(days=10)).isoformat(),
            "completed_at": None, "systems": {"wordpress": "done", "activecampaign": "pending"},
            "retained_until": None, "export_url": None, "tasks": []}
    base.update(kw)
    return base


def requests_page(wp, session, **params) -> str:
    resp = session.get(f"{wp.url}/wp-admin/tools.php", params={"page": "wpprivsync", "tab": "requests", **params},
                       timeout=60)
    assert resp.status_code == 200
    return resp.text


def row_ids(body: str) -> list[int]:
    return [int(m) for m in re.findall(r'<tr class="wpprivsync-request-row[^"]*" data-request-id="(\d+)"', body)]


def mirrored(wp) -> list[dict]:
    return wp.php_json("global $wpdb; echo json_encode($wpdb->get_results(\"SELECT * FROM {$wpdb->prefix}wpprivsync_requests ORDER BY id\", ARRAY_A));")


def test_mirror_route_is_the_daemons_only(wp):
    body = {"requests": [row(1)]}
    assert requests.post(mirror_url(wp), json=body, timeout=60).status_code == 401
    sub = rest_session(wp.subscriber_user, wp.subscriber_app_password)
    assert sub.post(mirror_url(wp), json=body, timeout=60).status_code == 403
    assert mirrored(wp) == []


def test_mirror_refuses_a_bad_page_whole_and_upserts_a_good_one(wp):
    daemon = rest_session(wp.service_user, wp.service_app_password)
    bad = daemon.post(mirror_url(wp), json={"requests": [row(1), row(2, due_at="next tuesday-ish")]}, timeout=60)
    assert bad.status_code == 400 and "requests[1]" in bad.json()["message"]
    assert daemon.post(mirror_url(wp), json={"requests": [row(3, email_hash="someone@example.com")]},
                       timeout=60).status_code == 400
    assert daemon.post(mirror_url(wp), json={"requests": [row(i) for i in range(1, 502)]}, timeout=60).status_code == 400
    assert mirrored(wp) == []
    assert daemon.post(mirror_url(wp), json={"requests": [row(1), row(2)]}, timeout=60).json() == {"stored": 2}
    assert daemon.post(mirror_url(wp), json={"requests": [row(2, status="done", systems={"wordpress": "done"})]},
                       timeout=60).json() == {"stored": 1}
    rows = mirrored(wp)
    assert [(int(r["id"]), r["status"]) for r in rows] == [(1, "open"), (2, "done")]
    assert json.loads(rows[1]["systems"]) == {"wordpress": "done"}
    assert "email" not in rows[0]


def test_list_sorts_filters_pages_and_marks_deadlines(wp, admin):
    now = datetime.now(timezone.utc)
    rows = [row(i, received_at=(now - timedelta(days=40 - i)).isoformat()) for i in range(1, 31)]
    rows[0].update(due_at=(now - timedelta(days=2)).isoformat(), status="failed",
                   systems={"activecampaign": "failed"})                                   # overdue
    rows[1].update(due_at=(now + timedelta(days=3)).isoformat())                           # near
    rows[2].update(action="export", status="done", source="admin-page", due_at=(now - timedelta(days=5)).isoformat(),
                   systems={"webinarjam": "done"}, retained_until="2031-12-31",
                   tasks=[{"id": 7, "system": "webinarjam", "what": "Delete the registration", "due_at": now.isoformat(),
                           "overdue": True}])
    rows[3].update(action="<script>x</script>")
    daemon = rest_session(wp.service_user, wp.service_app_password)
    assert daemon.post(mirror_url(wp), json={"requests": rows}, timeout=60).json() == {"stored": 30}

    body = requests_page(wp, admin)
    assert 'id="wpprivsync-tab-requests"' in body and "nav-tab-active" in body
    assert row_ids(body) == list(range(30, 10, -1))           # newest received first, 20 a page
    assert "30 items" in body
    assert "<script>x</script>" not in body
    assert row_ids(requests_page(wp, admin, paged=2)) == list(range(10, 0, -1))
    assert row_ids(requests_page(wp, admin, orderby="id", order="asc"))[:3] == [1, 2, 3]
    assert row_ids(requests_page(wp, admin, orderby="due_at", order="asc"))[:2] == [3, 1]
    assert row_ids(requests_page(wp, admin, wpprivsync_action="export")) == [3]
    assert row_ids(requests_page(wp, admin, wpprivsync_status="failed")) == [1]
    assert row_ids(requests_page(wp, admin, wpprivsync_system="webinarjam")) == [3]
    assert row_ids(requests_page(wp, admin, wpprivsync_source="admin-page")) == [3]
    assert row_ids(requests_page(wp, admin, wpprivsync_source="'; DROP TABLE x; --")) == row_ids(body)
    assert row_ids(requests_page(wp, admin, wpprivsync_hash=f"{5:064x}")) == [5]

    marked = requests_page(wp, admin, orderby="id", order="asc")
    overdue = re.search(r'<tr class="wpprivsync-request-row wpprivsync-overdue" data-request-id="1".*?</tr>', marked, re.S)
    assert overdue and "overdue by 2 days" in overdue.group(0)
    near = re.search(r'<tr class="wpprivsync-request-row wpprivsync-near" data-request-id="2".*?</tr>', marked, re.S)
    assert near and re.search(r"[23] days left", near.group(0))
    done = re.search(r'data-request-id="3".*?</tr>', marked, re.S).group(0)
    assert 'data-deadline=""' in done and "2031-12-31" in done and "#7 Delete the registration — overdue" in done


def test_screen_option_sets_rows_per_page(wp, admin):
    daemon = rest_session(wp.service_user, wp.service_app_password)
    daemon.post(mirror_url(wp), json={"requests": [row(i) for i in range(1, 13)]}, timeout=60)
    body = requests_page(wp, admin)
    assert 'id="wpprivsync_requests_per_page"' in body or 'name="wp_screen_options[value]"' in body
    nonce = re.search(r'id="screenoptionnonce" name="screenoptionnonce" value="([^"]+)"', body).group(1)
    admin.post(f"{wp.url}/wp-admin/tools.php?page=wpprivsync&tab=requests",
               data={"screenoptionnonce": nonce, "wp_screen_options[option]": "wpprivsync_requests_per_page",
                     "wp_screen_options[value]": "5", "screen-options-apply": "Apply"}, timeout=60)
    assert len(row_ids(requests_page(wp, admin))) == 5


def test_daemon_pushes_its_requests_in_pages_and_then_only_changes(system, admin):
    for i in range(7):
        services.queue_request(system.app, "test", plan.ERASE, f"mirror.{i}@example.com")
    assert services.push_requests_mirror(system.app, "test", page=3, max_pages=2) == 6   # a backlog: resumes
    assert len(mirrored(system.wp)) == 6
    assert services.push_requests_mirror(system.app, "test", page=3, max_pages=2) == 1
    rows = mirrored(system.wp)
    assert len(rows) == 7 and all(len(r["email_hash"]) == 64 for r in rows)
    assert "mirror.0@example.com" not in json.dumps(rows)
    # nothing changed: the next pass sends nothing
    assert services.push_requests_mirror(system.app, "test", page=3, max_pages=2) == 0
    first = min(system.app.store.list_requests(site="test"), key=lambda r: r.id)
    system.app.store.cancel_request(first.id, system.app.clock())
    assert services.push_requests_mirror(system.app, "test") >= 1
    assert {int(r["id"]): r["status"] for r in mirrored(system.wp)}[first.id] == "cancelled"
    body = requests_page(system.wp, admin)
    assert len(row_ids(body)) == 7 and "mirror.0@example.com" not in body
