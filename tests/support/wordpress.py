"""A real WordPress for the tests (pytest plugin, loaded by tests/conftest.py).

Fixtures:
    wp_stack   session: one WordPress + MariaDB + PHP server for the whole run, with the
               wpprivsync plugin, every plugin under tests/wp-plugins/ and, when
               WPPRIVSYNC_WOOCOMMERCE_DIR names a WooCommerce tree, WooCommerce; all active.
               A database snapshot is taken right after set-up.
    wp         function: the same stack with the database put back to that snapshot, so each
               test starts from the freshly set-up site.

Helpers:
    requires_woocommerce   marker for tests that need WooCommerce (skipped when
                           WPPRIVSYNC_WOOCOMMERCE_DIR is unset); same as ``pytest.mark.woocommerce``
    rest_session(user, app_password)  a requests.Session that authenticates with an
                           Application Password

Nothing starts unless a test asks for ``wp`` or ``wp_stack``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from wpprivsync.devstack import WordPressStack

WOOCOMMERCE_ENV = "WPPRIVSYNC_WOOCOMMERCE_DIR"
REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "wp-plugin" / "wpprivsync"
TEST_PLUGINS_DIR = REPO / "tests" / "wp-plugins"

requires_woocommerce = pytest.mark.woocommerce


def woocommerce_dir() -> Path | None:
    value = os.environ.get(WOOCOMMERCE_ENV, "").strip()
    return Path(value) if value else None


def extra_plugin_dirs() -> list[Path]:
    """Every plugin directory under tests/wp-plugins/, by name."""
    if not TEST_PLUGINS_DIR.is_dir():
        return []
    return sorted(d for d in TEST_PLUGINS_DIR.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))



def rest_session(user: str, app_password: str) -> requests.Session:
    """A session that sends ``user`` and its Application Password with every request."""
    session = requests.Session()
    session.auth = (user, app_password)
    session.headers["Accept"] = "application/json"
    return session


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if woocommerce_dir() is not None:
        return
    skip = pytest.mark.skip(reason=f"needs WooCommerce: set {WOOCOMMERCE_ENV} to a WooCommerce plugin directory")
    for item in items:
        if item.get_closest_marker("woocommerce") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def wp_stack(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[WordPressStack]:
    stack = WordPressStack(
        tmp_path_factory.mktemp("wordpress") / "stack",
        plugin_dirs=[PLUGIN_DIR, *extra_plugin_dirs()],
        woocommerce_dir=woocommerce_dir(),
    )
    with _sigterm_stops_the_session():
        try:
            stack.start()
            stack.snapshot()
            _report(pytestconfig, f"WordPress stack up in {stack.startup_seconds:.1f} s at {stack.url} "
                                  f"(plugins: {', '.join(stack.plugins)})")
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def wp(wp_stack: WordPressStack) -> WordPressStack:
    """The session's stack, database restored to the state right after set-up."""
    if wp_stack.db is not None and not wp_stack.db.running:
        wp_stack.start_db()  # a previous test stopped it
    wp_stack.restore()
    return wp_stack


@contextlib.contextmanager
def _sigterm_stops_the_session() -> Iterator[None]:
    """A SIGTERM (a CI time-out, a closed terminal) would end Python without running any
    clean-up; while the stack runs it interrupts the session instead, like Ctrl-C, so the
    fixture's teardown stops the servers."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _report(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
