"""Headless Chromium for the admin-page tests (pytest plugin, loaded by tests/conftest.py).

Debian's Chromium (/usr/bin/chromium), driven by Playwright for Python; nothing downloads a
browser. Tests that use it carry the ``browser`` marker and are skipped, with the reason, when
that Chromium or Playwright is missing (``scripts/install-system-deps --browser`` installs it).

Fixtures:
    chromium         module: one browser for the test module
    browser_page     function: a fresh context (no cookies) and one page in it
    shots            function: ``Screenshots``: one PNG per step under
                     test-artifacts/browser/<test name>/
    browser_system   function: like ``system`` (tests/support/system.py), but a failed step goes
                     to the dead-letter list at its first failure and a daemon run in a thread
                     sends its heartbeat every half second

Helpers:
    wp_login(page, stack, user, password)    log in through wp-login.php
    reload_until(page, check, timeout_s)     reload until ``check(page)`` is true
    run_daemon(app)                          context manager: a ``Daemon`` in a thread
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from wpprivsync.app import App
from wpprivsync.daemon import Daemon

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
PAGE_TIMEOUT_MS = 30_000


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (scripts/install-system-deps --browser)"
    if importlib.util.find_spec("playwright") is None:
        return "needs Playwright for Python (the test extras)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing_browser()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = missing_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright gives every launch a fresh, temporary user-data-dir and removes it on close.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


class Screenshots:
    """Numbered full-page screenshots of one test: 01-<step>.png, 02-<step>.png, ..."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.taken: list[Path] = []

    def __call__(self, page: Any, step: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", step.lower()).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Screenshots:
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)  # only this test's pictures from an earlier run
    return Screenshots(folder)


def wp_login(page: Any, stack: Any, user: str, password: str) -> None:
    """Log in through wp-login.php's form; returns once WordPress has answered the post."""
    page.goto(f"{stack.url}/wp-login.php")
    # wp-login.php focuses (and may clear) its fields from a 200 ms timer after load: let that
    # happen first, or it can wipe a password typed in the meantime.
    page.wait_for_function("document.activeElement && document.activeElement.id === 'user_login'")
    page.fill("#user_login", user)
    page.fill("#user_pass", password)
    with page.expect_navigation():
        page.click("#wp-submit")
    if "wp-login.php" in page.url:
        error = page.locator("#login_error")
        raise AssertionError(f"log-in as {user!r} refused: {error.inner_text() if error.count() else page.url}")


def reload_until(page: Any, check: Callable[[Any], bool], timeout_s: float = 60.0, every_s: float = 0.5) -> None:
    """Reload ``page`` until ``check(page)`` holds (for work done by a daemon in a thread)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check(page):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"page {page.url} never showed the expected state")
        time.sleep(every_s)
        page.reload()


@contextlib.contextmanager
def run_daemon(settings: Any) -> Iterator[Daemon]:
    """The real daemon in a thread, with its own ``App`` over the same store; stopped (steps in
    flight finished) when the block ends."""
    daemon = Daemon(App(settings, sleep=lambda s: time.sleep(min(s, 0.2))), stop=threading.Event())
    thread = threading.Thread(target=daemon.run, kwargs={"install_signals": False}, name="wpprivsync-daemon",
                              daemon=True)
    thread.start()
    try:
        yield daemon
    finally:
        daemon.stop.set()
        thread.join(timeout=60)
        if thread.is_alive():
            raise AssertionError("the daemon thread did not stop")


@pytest.fixture
def browser_system(wp: Any, ac_server: Any, tmp_path: Path) -> Iterator[Any]:
    from support.system import System, build_settings  # at use: support.system is a plugin of its own

    list_id = ac_server.add_list("Newsletter")
    settings = build_settings(wp, ac_server, list_id, tmp_path, max_attempts=1, heartbeat_interval_s=0.5,
                              poll_interval_s=0.5)
    app = App(settings, sleep=lambda s: time.sleep(min(s, 0.2)))
    try:
        yield System(wp, ac_server, app, list_id, tmp_path)
    finally:
        app.close()
