"""Issue 16.6: the privacy desk in headless Chromium against the real WordPress, the local
ActiveCampaign server and the daemon: every view (Overview, Requests, Find a person, Dashboard,
Schedule), the actions (filter, sort, screen options, lookup, erase from the person view), every
refusal (a subscriber, the service account, a user with only one privacy capability), and each
view at 360 px wide. Screenshots under test-artifacts/browser/<test>/."""

from __future__ import annotations

import secrets

import pytest

from support.browser import reload_until, run_daemon, wp_login
from test_plugin_admin_caps import make_user
from wpprivsync import services
from wpprivsync.engine import plan

pytestmark = pytest.mark.browser

VIEWS = ("overview", "requests", "person", "dashboard", "schedule")


def goto(page, wp, tab: str = "overview", **params):
    query = "&".join(f"{k}={v}" for k, v in {"page": "wpprivsync", "tab": tab, **params}.items())
    return page.goto(f"{wp.url}/wp-admin/tools.php?{query}")


def as_admin(page, wp):
    wp.php("delete_transient('_wc_activation_redirect');")
    wp_login(page, wp, wp.admin_user, wp.admin_password)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def too_wide(page) -> list[str]:
    """The innermost page elements reaching past the window's right edge (for the message)."""
    return page.evaluate("""() => [...document.querySelectorAll('#wpbody *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.children.length === 0)
        .slice(0, 8).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")


def test_refusals_for_subscriber_service_account_and_single_capabilities(wp, browser_page, shots):
    page = browser_page
    wp_login(page, wp, wp.subscriber_user, wp.subscriber_password)
    resp = goto(page, wp)
    assert page.locator("#wpprivsync-admin").count() == 0 and (resp.status == 403 or "/wp-admin/" not in page.url)
    shots(page, "subscriber refused")

    page.context.clear_cookies()
    password = secrets.token_urlsafe(16)
    wp.php(f"$u = get_user_by('login', '{wp.service_user}'); wp_set_password('{password}', $u->ID);")
    wp_login(page, wp, wp.service_user, password)
    resp = goto(page, wp, "person")
    assert page.locator("#wpprivsync-admin").count() == 0
    assert resp.status == 403 or "/wp-admin/" not in page.url
    shots(page, "service account refused")

    page.context.clear_cookies()
    wp_login(page, wp, "eraser", make_user(wp, "eraser", ["erase_others_personal_data"]))
    goto(page, wp)
    assert page.locator("#wpprivsync-erase-form").is_visible()
    assert page.locator("#wpprivsync-export-form").count() == 0 and page.locator("#wpprivsync-webhook-url").count() == 0
    shots(page, "eraser only: no export, no webhook")

    page.context.clear_cookies()
    wp_login(page, wp, "exporter", make_user(wp, "exporter", ["export_others_personal_data"]))
    goto(page, wp)
    assert page.locator("#wpprivsync-export-form").is_visible()
    assert page.locator("#wpprivsync-erase-form").count() == 0 and page.locator("#wpprivsync-remove-comments-form").count() == 0
    shots(page, "exporter only: no erase")
    # a forged erase post from the exporter is refused by WordPress
    status = page.evaluate("""async (url) => {
        const body = new URLSearchParams({action: 'wpprivsync_erase', email: 'fay@example.test',
                                           _wpnonce: document.querySelector('#wpprivsync-export-form [name=_wpnonce]').value});
        return (await fetch(url, {method: 'POST', body})).status; }""", f"{wp.url}/wp-admin/admin-post.php")
    assert status == 403


def test_every_view_and_action_with_the_daemon_running(browser_system, browser_page, shots):
    system, page = browser_system, browser_page
    wp = system.wp
    email = "desk.person@example.com"
    system.create_user(email, consent=True)
    system.add_comment(email)
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["customer"])
    for i in range(25):
        services.queue_request(system.app, "test", plan.EXPORT if i % 5 == 0 else plan.ERASE, f"desk.{i}@example.com")

    with run_daemon(system.app.settings):
        as_admin(page, wp)
        goto(page, wp, "requests")
        reload_until(page, lambda p: p.locator("tr.wpprivsync-request-row").count() == 20)
        assert page.locator("#wpprivsync-tab-requests").get_attribute("aria-current") == "page"
        assert email not in page.content() and "desk.1@example.com" not in page.content()
        shots(page, "requests list page 1")

        page.select_option("#wpprivsync-filter-action", "export")
        with page.expect_navigation():
            page.click("#wpprivsync-filter-submit")
        actions = page.locator("tr.wpprivsync-request-row td.column-action").all_inner_texts()
        assert actions and set(actions) == {"export"}
        shots(page, "filtered by action")

        goto(page, wp, "requests", orderby="id", order="asc")
        ids = [int(x) for x in page.eval_on_selector_all("tr.wpprivsync-request-row", "rs => rs.map(r => r.dataset.requestId)")]
        assert ids == sorted(ids)
        page.click("#show-settings-link")
        page.fill("#wpprivsync_requests_per_page, input[name='wp_screen_options[value]']", "5")
        with page.expect_navigation():
            page.click("#screen-options-apply")
        assert page.locator("tr.wpprivsync-request-row").count() == 5
        shots(page, "five rows per page")

        goto(page, wp, "person")
        page.fill("#wpprivsync-lookup-email", email)
        with page.expect_navigation():
            page.click("#wpprivsync-lookup-form button[type=submit]")
        assert page.locator("#wpprivsync-person").get_attribute("data-state") in ("waiting", "answered")
        assert email not in page.url
        shots(page, "looking up")
        page.wait_for_selector("#wpprivsync-person[data-state='answered']", timeout=60_000)  # the page reloads itself
        systems = page.locator("#wpprivsync-person-systems").inner_text()
        assert "activecampaign" in systems and "customer" in systems
        assert page.locator("#wpprivsync-person-residue").inner_text().strip() == "No scan yet."
        assert email not in page.content()
        shots(page, "person found")
        page.fill("#wpprivsync-person-erase-email", email)
        with page.expect_navigation():
            page.click("#wpprivsync-person-erase button")
        assert page.locator("#wpprivsync-notice.notice-success").count() == 1
        shots(page, "erasure handed to the daemon")
        reload_until(page, lambda p: not system.user_exists(email), timeout_s=90)

        goto(page, wp, "dashboard")
        reload_until(page, lambda p: p.locator("#wpprivsync-dash-months").count() == 1)
        assert page.locator("#wpprivsync-dash-heartbeat .wpprivsync-ok").count() == 1
        assert page.locator("#wpprivsync-dash-months rect[data-series='erase']").count() >= 1
        shots(page, "dashboard")

        goto(page, wp, "schedule")
        assert page.locator("#wpprivsync-schedule-webinarjam").is_visible()
        shots(page, "schedule")

        page.set_viewport_size({"width": 360, "height": 780})
        for tab in VIEWS:
            goto(page, wp, tab)
            assert page.locator("#wpprivsync-admin h1").inner_text() == "Privacy Sync"
            assert no_sideways_scroll(page), f"{tab} scrolls sideways at 360 px: {too_wide(page)}"
            shots(page, f"{tab} at 360 px")
