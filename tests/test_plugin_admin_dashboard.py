"""Issue 16.3 and 16.4: the Dashboard (requests per month by action, median and p95 time to
done, share within the deadline, open and overdue requests and tasks, dead steps, heartbeat,
ActiveCampaign budget use; charts as inline SVG readable without colour) and the Schedule
(orders due for anonymisation by month, WebinarJam deletions due), from the plugin's requests
mirror and the daemon's heartbeat. Real WordPress and plugin; the daemon's real services."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from support.wordpress import rest_session
from test_flows_woocommerce import make_order
from test_plugin_admin import login
from test_plugin_admin_requests import mirror_url, row
from wpprivsync import services


@pytest.fixture
def admin(wp):
    wp.php("delete_transient('_wc_activation_redirect');")
    return login(wp, wp.admin_user, wp.admin_password)


def view(wp, session, tab: str) -> str:
    resp = session.get(f"{wp.url}/wp-admin/tools.php", params={"page": "wpprivsync", "tab": tab}, timeout=60)
    assert resp.status_code == 200
    return resp.text


def card(body: str, name: str) -> str:
    m = re.search(rf'id="wpprivsync-dash-{name}"><span>[^<]*</span><strong[^>]*>([^<]*)</strong>(?:<small>([^<]*)</small>)?', body)
    assert m, name
    return f"{m.group(1)} | {m.group(2) or ''}"


def set_beat(wp, **extra) -> None:
    body = {"at": "__NOW__", "version": "1", "queue": 0, "last_error": None, "failed": [], "requests": [], **extra}
    wp.php(f"$b = json_decode({json.dumps(json.dumps(body))}, true); $b['at'] = time() - 4; update_option('wpprivsync_heartbeat', $b);")


def test_dashboard_figures_and_charts(wp, admin):
    now = datetime.now(timezone.utc)
    this_month = now.replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    rows = []
    # ten erasures done this month in 1..10 hours, the tenth after its deadline
    for i in range(1, 11):
        received = this_month
        rows.append(row(i, status="done", received_at=received.isoformat(),
                        completed_at=(received + timedelta(hours=i)).isoformat(),
                        due_at=(received + timedelta(hours=9.5)).isoformat()))
    last_month = (this_month - timedelta(days=20)).replace(day=1)
    rows += [row(11 + i, action="export", status="open", received_at=last_month.isoformat(),
                 due_at=(now - timedelta(days=1) if i == 0 else now + timedelta(days=5)).isoformat()) for i in range(3)]
    daemon = rest_session(wp.service_user, wp.service_app_password)
    assert daemon.post(mirror_url(wp), json={"requests": rows}, timeout=60).json() == {"stored": 13}
    set_beat(wp, tasks=[{"id": 1, "overdue": True}, {"id": 2, "overdue": False}], counts={"steps_dead": 4},
             activecampaign={"calls": 120, "http429": 0, "use": 0.9034, "rate_per_s": 5})

    body = view(wp, admin, "dashboard")
    assert card(body, "median").startswith("5 hours")          # the 5th of 1..10 hours
    assert card(body, "p95").startswith("10 hours")
    assert card(body, "open") == "3 | 1 overdue"
    assert card(body, "tasks") == "2 | 1 overdue"
    assert card(body, "dead").startswith("4 |")
    assert card(body, "ac").startswith("90.3 % | 120 calls, 0 refused (429)")
    assert card(body, "heartbeat").startswith("4 s ago") or card(body, "heartbeat").startswith("5 s ago")
    assert card(body, "residues") == "— | no scan yet"
    within = re.search(r'<svg class="wpprivsync-chart" id="wpprivsync-dash-within"[^>]*aria-label="([^"]+)"', body)
    assert within and within.group(1).endswith(": 90.0 %")       # 9 of 10 within the deadline
    chart = re.search(r'<svg class="wpprivsync-chart" id="wpprivsync-dash-months".*?</svg>', body, re.S).group(0)
    bars = {(m.group(1), m.group(2)): m.group(3) for m in
            re.finditer(r'data-series="([^"]+)" data-category="([^"]+)" data-value="([^"]+)"', chart)}
    assert bars[("erase", this_month.strftime("%Y-%m"))] == "10"
    assert bars[("export", last_month.strftime("%Y-%m"))] == "3"
    # readable without colour: a pattern per series, numbers on the bars, a data table
    assert 'fill="url(#wpprivsync-dash-months-p0)"' in chart and 'fill="url(#wpprivsync-dash-months-p1)"' in chart
    assert "<path" in chart and ">10</text>" in chart
    assert 'id="wpprivsync-dash-months-data"' in body
    # drawn by the plugin itself: nothing loaded from another host
    assert not re.search(r'<(script|link|img)[^>]*(src|href)="https?://(?!' + re.escape(wp.url.split("//")[1]) + ')', chart)
    assert "<script" not in chart


def test_empty_dashboard_and_schedule_say_so(wp, admin):
    body = view(wp, admin, "dashboard")
    assert "No requests in the last 12 months." in body and card(body, "heartbeat").startswith("never")
    assert card(body, "median").startswith("no data yet")
    schedule = view(wp, admin, "schedule")
    assert "Not counted yet" in schedule and "No WebinarJam deletion is due." in schedule


def test_schedule_shows_orders_by_month_and_webinarjam_deletions(wp, admin):
    set_beat(wp, schedule={"orders_at": "2026-12-04T03:00:00+00:00", "orders_by_month": {"2027-12": 2, "2031-12": 5},
                           "webinarjam": [{"id": 9, "what": "Delete <b>2</b> registrations", "due_at": "2026-12-01T00:00:00+00:00",
                                           "overdue": True}]})
    body = view(wp, admin, "schedule")
    chart = re.search(r'<svg class="wpprivsync-chart" id="wpprivsync-schedule-orders".*?</svg>', body, re.S).group(0)
    assert 'data-category="2031-12" data-value="5"' in chart and 'data-category="2027-12" data-value="2"' in chart
    task = re.search(r'<tr class="wpprivsync-schedule-task wpprivsync-overdue" data-task-id="9">.*?</tr>', body, re.S).group(0)
    assert "Delete &lt;b&gt;2&lt;/b&gt; registrations" in task and "overdue" in task


@pytest.mark.woocommerce
def test_daemon_counts_orders_by_retention_month_and_sends_it_in_the_heartbeat(system, admin):
    for created in ("2024-03-01", "2024-07-01", "2025-01-15"):
        make_order(system, created, "olga@example.com")
    today = datetime(2026, 12, 4, tzinfo=timezone.utc).date()
    assert services.order_schedule(system.app, "test", today) == {"2029-12": 2, "2030-12": 1}
    body = services.heartbeat_body(system.app, "test")
    assert body["schedule"]["orders_by_month"] == {"2029-12": 2, "2030-12": 1}
    assert set(body["activecampaign"]) == {"calls", "http429", "use", "rate_per_s"}
    services.send_heartbeat(system.app, "test")
    assert "2030-12" in view(system.wp, admin, "schedule")
