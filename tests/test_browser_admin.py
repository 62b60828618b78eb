"""Tools → Privacy Sync and WordPress's own Tools → Erase Personal Data, clicked through in
headless Chromium against the real WordPress, the local ActiveCampaign server and the daemon.

One browser for the module, a fresh page (no cookies) per test, a screenshot per step under
test-artifacts/browser/<test>/.
"""

from __future__ import annotations

import json
import re

import pytest

from support.browser import reload_until, run_daemon, wp_login
from wpprivsync import __version__, services
from wpprivsync.engine import plan
from wpprivsync.identity import email_hash

pytestmark = pytest.mark.browser

GREEN = "rgb(0, 138, 32)"   # assets/admin.css: .wpprivsync-ok, done systems
RED = "rgb(214, 54, 56)"    # .wpprivsync-stale, failed systems


def open_admin(page, wp):
    wp.php("delete_transient('_wc_activation_redirect');")  # WooCommerce's one-off setup-wizard redirect
    wp_login(page, wp, wp.admin_user, wp.admin_password)
    return open_privacy_sync(page, wp)


def open_privacy_sync(page, wp):
    resp = page.goto(f"{wp.url}/wp-admin/tools.php?page=wpprivsync")
    assert resp is not None and resp.status == 200, resp and resp.status
    assert page.locator("#wpprivsync-admin h1").inner_text() == "Privacy Sync"
    return page


def color(page, selector: str) -> str:
    return page.locator(selector).first.evaluate("el => getComputedStyle(el).color")


def request_row(page, request_id: int):
    return page.locator(f"tr.wpprivsync-request[data-request-id='{request_id}']")


def systems_of(row) -> dict[str, str]:
    spans = row.locator(".wpprivsync-system")
    return {spans.nth(i).get_attribute("data-system"): spans.nth(i).get_attribute("data-state")
            for i in range(spans.count())}


def listed_requests(page) -> list[dict]:
    """The rows of "Recent requests" as the browser renders them."""
    return page.eval_on_selector_all("tr.wpprivsync-request", """rows => rows.map(r => ({
        id: r.dataset.requestId,
        action: r.cells[1].innerText,
        person: r.cells[2].innerText,
        status: r.querySelector('.wpprivsync-status').innerText,
        systems: Object.fromEntries([...r.querySelectorAll('.wpprivsync-system')]
                                    .map(s => [s.dataset.system, s.dataset.state])),
    }))""")


def only_request(system, action: str):
    (req,) = [r for r in system.app.store.list_requests(site="test") if r.action == action]
    return req


def test_heartbeat_and_queue(browser_system, browser_page, shots):
    system, page = browser_system, browser_page
    open_admin(page, system.wp)
    beat = page.locator("#wpprivsync-heartbeat")
    assert "wpprivsync-stale" in beat.get_attribute("class")
    assert "never" in beat.inner_text()
    assert color(page, "#wpprivsync-heartbeat") == RED
    assert page.locator("#wpprivsync-queue").inner_text() == "—"
    shots(page, "no heartbeat yet")

    # Work for the daemon: two requests queued in its store; the heartbeat reports the queue.
    for email in ("queue.one@example.com", "queue.two@example.com"):
        services.queue_request(system.app, "test", plan.ERASE, email)
    queue = services.status(system.app, site="test")["queue"]
    assert queue > 0
    # A daemon's texts are shown as text, never as markup: a failure whose error text is HTML
    # (as an upstream error page might be) rides along in the heartbeat.
    nasty = "<img src=x onerror=\"document.title='pwned'\"> & <b>bold</b>"
    body = json.loads(json.dumps(services.heartbeat_body(system.app, "test", last_error=nasty), default=str))
    body["failed"].append({"step_id": 999, "request_id": 1, "site": "test", "system": "<i>ac</i>",
                           "action": "delete_contact", "error": nasty, "attempts": 1})
    system.app.clients("test").wordpress.heartbeat(body)

    page.reload()
    assert "wpprivsync-ok" in beat.get_attribute("class")
    assert 0 <= int(beat.get_attribute("data-age")) <= 300
    assert f"(daemon {__version__})" in beat.inner_text()
    assert color(page, "#wpprivsync-heartbeat") == GREEN
    assert page.locator("#wpprivsync-queue").get_attribute("data-count") == str(queue)
    assert page.locator("#wpprivsync-queue").inner_text() == str(queue)
    pending = system.app.clients("test").wordpress.status()["outbox"]["pending"]
    assert page.locator("#wpprivsync-outbox").inner_text() == str(pending)
    cells = page.locator("tr.wpprivsync-failed-step[data-step-id='999'] td")
    assert cells.nth(1).inner_text() == "<i>ac</i>"
    assert cells.nth(3).inner_text() == nasty
    assert "bold" in page.locator("#wpprivsync-last-error").inner_text()  # the plugin strips tags on intake
    assert page.locator("#wpprivsync-admin img, #wpprivsync-admin b, #wpprivsync-admin i").count() == 0
    assert page.title() != "pwned"
    # requests queued but not run: listed as open, no email on the page
    rows = page.locator("tr.wpprivsync-request")
    assert rows.count() == 2
    assert "queue.one@example.com" not in page.content()
    shots(page, "fresh heartbeat with queue")


def test_erase_everywhere_from_the_page_completes_when_the_daemon_runs(browser_system, browser_page, shots):
    system, page = browser_system, browser_page
    email = "erin.browser@example.com"
    system.create_user(email, consent=True)
    system.add_comment(email)
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["customer"])
    open_admin(page, system.wp)
    waiting = int(page.locator("#wpprivsync-outbox").get_attribute("data-count"))  # the new user's consent event

    page.fill("#wpprivsync-erase-email", email)
    with page.expect_navigation():
        page.click("#wpprivsync-erase-form button[type=submit]")
    notice = page.locator("#wpprivsync-notice")
    assert notice.get_attribute("data-notice") == "wpprivsync_erase"
    assert "handed to the daemon" in notice.inner_text()
    assert page.locator("#wpprivsync-outbox").inner_text() == str(waiting + 1)
    assert "wpprivsync_notice" not in page.url  # shown once: a reload does not repeat it
    shots(page, "erase handed to the daemon")

    digest = email_hash(system.app.secret, email)
    with run_daemon(system.app.settings):
        reload_until(page, lambda p: [r["status"] for r in listed_requests(p) if r["action"] == "erase"] == ["done"])

    req = only_request(system, plan.ERASE)
    (listed,) = [r for r in listed_requests(page) if r["id"] == str(req.id)]
    assert listed["systems"] == {"wordpress": "done", "activecampaign": "done", "suppression": "done"}
    assert listed["person"] == digest[:12]
    assert color(page, f"tr.wpprivsync-request[data-request-id='{req.id}'] .wpprivsync-system") == GREEN
    assert page.locator("#wpprivsync-outbox").inner_text() == "0"
    assert page.locator("#wpprivsync-queue").inner_text() == "0"
    assert email not in page.content()
    assert page.locator("#wpprivsync-notice").count() == 0
    shots(page, "erase done everywhere")

    assert system.ac.contact_view(email) is None
    assert system.count_comments(email) == 0  # WordPress's erasers anonymised the comment
    assert system.app.store.is_suppressed("test", digest)
    assert req.source == "admin-page"


def test_retry_a_failed_step_from_the_page(browser_system, browser_page, shots):
    system, page = browser_system, browser_page
    email = "fay.browser@example.com"
    system.ac.add_contact(email, lists={system.list_id: 1})
    system.ac.set_faults(error_rate=1.0)
    rid = services.queue_request(system.app, "test", plan.ERASE, email)
    system.sync()
    (dead,) = system.app.store.dead_steps("test", limit=10)
    assert (dead.system, dead.action) == ("activecampaign", "delete_contact")
    services.send_heartbeat(system.app, "test")

    open_admin(page, system.wp)
    failed = page.locator(f"tr.wpprivsync-failed-step[data-step-id='{dead.id}']")
    cells = failed.locator("td")
    assert [cells.nth(i).inner_text() for i in range(1, 3)] == ["activecampaign", "delete_contact"]
    assert re.search(r"HTTP 5\d\d", cells.nth(3).inner_text())  # the server's errors are 500, 502 or 503
    assert email not in page.content()
    row = request_row(page, rid)
    assert systems_of(row)["activecampaign"] == "failed"
    assert color(page, f"tr.wpprivsync-request[data-request-id='{rid}'] "
                       ".wpprivsync-system[data-system='activecampaign']") == RED
    shots(page, "failed step listed")

    system.ac.clear_faults()
    with page.expect_navigation():
        page.click(f"#wpprivsync-retry-{dead.id} button[type=submit]")
    assert page.locator("#wpprivsync-notice").get_attribute("data-notice") == "wpprivsync_retry"
    assert page.locator("#wpprivsync-outbox").inner_text() == "1"
    shots(page, "retry handed to the daemon")

    system.sync()
    services.send_heartbeat(system.app, "test")
    page.goto(f"{system.wp.url}/wp-admin/tools.php?page=wpprivsync")
    assert page.locator("#wpprivsync-failed .wpprivsync-empty").inner_text() == "Nothing has failed."
    row = request_row(page, rid)
    assert row.locator(".wpprivsync-status").inner_text() == "done"
    assert set(systems_of(row).values()) == {"done"}
    shots(page, "retried step done")

    assert system.ac.contact_view(email) is None
    assert system.app.store.is_suppressed("test", email_hash(system.app.secret, email))


def test_a_subscriber_cannot_open_the_page(browser_system, browser_page, shots):
    system, page = browser_system, browser_page
    wp = system.wp
    services.send_heartbeat(system.app, "test")
    wp_login(page, wp, wp.subscriber_user, wp.subscriber_password)
    resp = page.goto(f"{wp.url}/wp-admin/tools.php?page=wpprivsync")
    assert resp is not None and resp.status == 403
    assert "Sorry, you are not allowed" in page.locator("body").inner_text()
    assert page.locator("#wpprivsync-admin").count() == 0
    secret = wp.php("echo get_option('wpprivsync_webhook_secret');")
    assert secret and secret not in page.content()
    shots(page, "subscriber refused")


def test_wordpress_erase_personal_data_reaches_activecampaign(browser_system, browser_page, shots):
    system, page = browser_system, browser_page
    email = "gus.browser@example.com"
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["customer"])
    system.create_user(email, name="Gus Browser")
    open_admin(page, system.wp)

    page.goto(f"{system.wp.url}/wp-admin/erase-personal-data.php")
    page.fill("#username_or_email_for_privacy_request", email)
    page.uncheck("#send_confirmation_email")
    shots(page, "erasure request form")
    with page.expect_navigation():
        page.click("#submit")
    assert page.locator(".notice", has_text="Request added successfully").count() == 1
    row = page.locator("#the-list tr", has_text=email)
    assert row.count() == 1
    shots(page, "request confirmed")

    row.get_by_role("button", name="Erase personal data").click()
    row.locator(".remove-personal-data-success").wait_for(state="visible")
    assert row.locator(".remove-personal-data-failed").is_hidden()
    shots(page, "erasure completed")

    page.reload()
    row = page.locator("#the-list tr", has_text=email)
    # erased in WordPress, the account too; not "Completed" while ActiveCampaign is pending
    assert "Confirmed" in row.inner_text() and "Completed" not in row.inner_text()
    assert "ActiveCampaign and the other systems are pending" in page.locator(".wpprivsync-waiting").inner_text()
    assert not system.user_exists(email)
    shots(page, "request waits for the other systems")

    assert system.ac.contact_view(email) is not None  # nothing reached ActiveCampaign yet
    system.sync()
    services.send_heartbeat(system.app, "test")
    page.reload()
    assert "Completed" in page.locator("#the-list tr", has_text=email).inner_text()
    assert page.locator(".wpprivsync-waiting").count() == 0
    shots(page, "request completed once the daemon is done")
    assert system.ac.contact_view(email) is None
    assert system.app.store.is_suppressed("test", email_hash(system.app.secret, email))
    req = only_request(system, plan.ERASE)
    assert req.status == "done" and req.source == "privacy-tools"

    services.send_heartbeat(system.app, "test")
    open_privacy_sync(page, system.wp)
    assert systems_of(request_row(page, req.id)) == {"activecampaign": "done", "suppression": "done", "wordpress": "done"}  # wordpress: the residue scan
    shots(page, "privacy sync shows it done")
