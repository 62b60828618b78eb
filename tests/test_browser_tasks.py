"""Manual tasks on Tools → Privacy Sync in headless Chromium against the real WordPress and the
daemon: an overdue task shows red, a person closes it with a note, the daemon records it (audit)
and the request it kept open completes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.browser import wp_login
from wpprivsync import services
from wpprivsync.identity import email_hash
from wpprivsync.store.api import NewRequest, NewTask

pytestmark = pytest.mark.browser

RED = "rgb(214, 54, 56)"  # .wpprivsync-stale


def test_overdue_task_is_red_and_closing_it_completes_the_request(browser_system, browser_page, shots):
    system, page = browser_system, browser_page
    store, now = system.app.store, system.app.clock()
    digest = email_hash(system.app.secret, "kai.task@example.com")
    req = store.add_request(NewRequest(site="test", action="erase", email="kai.task@example.com", email_hash=digest,
                                       source="cli", received_at=now - timedelta(days=40),
                                       due_at=now - timedelta(days=10), steps=[]))
    tid, _ = store.add_task(NewTask(site="test", system="webinarjam", rule="webinars",
                                    what="Delete the person's registrations in WebinarJam: webinar 7 lead 1001",
                                    why="erasure request; the WebinarJam API cannot delete", due_at=now - timedelta(days=10),
                                    dedupe_key=f"webinarjam-erase:{req}", request_id=req, email_hash=digest), now)
    services.send_heartbeat(system.app, "test")

    system.wp.php("delete_transient('_wc_activation_redirect');")
    wp_login(page, system.wp, system.wp.admin_user, system.wp.admin_password)
    page.goto(f"{system.wp.url}/wp-admin/tools.php?page=wpprivsync")
    row = page.locator(f"#wpprivsync-tasks tr[data-task-id='{tid}']")
    assert "webinar 7 lead 1001" in row.inner_text() and "overdue" in row.inner_text()
    assert row.evaluate("el => getComputedStyle(el).color") == RED
    shots(page, "overdue task")

    row.get_by_role("button", name="Done").click()  # no note: the browser keeps the form (required)
    assert row.locator("input[name=note]").evaluate("el => el.validity.valueMissing") is True
    row.locator("input[name=note]").fill("deleted in WebinarJam, told kai.task@example.com")
    with page.expect_navigation():
        row.get_by_role("button", name="Done").click()
    assert page.locator(".notice", has_text="handed to the daemon as done").count() == 1
    shots(page, "task handed to the daemon")

    system.sync()
    task = store.get_task(tid)
    assert task.status == "done" and "kai.task@" not in (task.note or "") and "deleted in WebinarJam" in task.note
    assert store.get_request(req).status == "done"
    assert [a.action for a in store.audit(email_hash=digest)] == ["task_done"]
    services.send_heartbeat(system.app, "test")
    page.goto(f"{system.wp.url}/wp-admin/tools.php?page=wpprivsync")
    assert "No open tasks." in page.locator("#wpprivsync-tasks").inner_text()
    shots(page, "no open tasks")
