"""A real WordPress for the tests (pytest plugin, loaded by tests/conftest.py).

The stack runs one *profile* (``wpprivsync_devkit.devstack.profiles``) per pytest run:

    current  WordPress 7.1 + WooCommerce 9.9.5 with HPOS (sync off) + Thrive Comments/Leads/Ovation
    legacy   Debian's WordPress 6.1.9 + WooCommerce 7.8.2 on posts storage + Thrive
    debian   Debian's WordPress 6.1.9 alone, when ../shared/thirdparty is not beside the checkout

``--profile NAME`` (or ``$WPPRIVSYNC_PROFILE``) picks it; the default is ``current`` when the
third-party archives are there, else ``debian``. ``--both-profiles-only`` keeps just the tests that
must pass on both full profiles (plugin, flow, WooCommerce, browser and reliability tests):
``scripts/test`` runs the whole suite on ``current`` and then that part on ``legacy``.

Fixtures:
    wp_stack   session: one WordPress + MariaDB + PHP server for the whole run, with the
               profile's plugins (WooCommerce, Thrive), the wpprivsync plugin and every plugin
               under tests/wp-plugins/, all active. A database snapshot is taken right after
               set-up. At the end of the run its debug log must hold nothing from wpprivsync's
               own files.
    wp         function: the same stack with the database put back to that snapshot, so each
               test starts from the freshly set-up site.
    wp_profile session: the Profile the run uses.
    wp_multisite_stack / wp_multisite
               the same for a multisite network (``WordPressStack(multisite=True)``): the
               profile's plugins and wpprivsync activated on the main site and on a second
               site at /site2/; started only when a test asks for it.

Markers:
    woocommerce   needs WooCommerce (skipped on a profile without it, saying why)
    thrive        needs the real Thrive plugins (likewise)

Helpers:
    rest_session(user, app_password)  a requests.Session that authenticates with an
                           Application Password

Nothing starts unless a test asks for ``wp`` or ``wp_stack``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

from wpprivsync_devkit.devstack import WordPressStack
from wpprivsync_devkit.devstack.profiles import NAMES, Profile, ProfileUnavailable, default_name, resolve
from wpprivsync_devkit.devstack.thirdparty import ThirdPartyShelf

PROFILE_ENV = "WPPRIVSYNC_PROFILE"
REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "wp-plugin" / "wpprivsync"
TEST_PLUGINS_DIR = REPO / "tests" / "wp-plugins"
# Test files that run on both full profiles (besides every WooCommerce test).
BOTH_PROFILES = re.compile(r"test_(plugin|flows|browser|reliability)_?")

requires_woocommerce = pytest.mark.woocommerce
requires_thrive = pytest.mark.thrive


def extra_plugin_dirs() -> list[Path]:
    """Every plugin directory under tests/wp-plugins/, by name."""
    if not TEST_PLUGINS_DIR.is_dir():
        return []
    return sorted(d for d in TEST_PLUGINS_DIR.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wpprivsync")
    group.addoption("--profile", choices=NAMES, default=os.environ.get(PROFILE_ENV) or None,
                    help="WordPress stack profile (default: current with ../shared/thirdparty, else debian)")
    group.addoption("--both-profiles-only", action="store_true",
                    help="only the tests that run on both profiles (plugin, flow, WooCommerce, browser, reliability)")


_profile: Profile | None = None


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--profile"):
        run_profile(config)  # a profile asked for by name must exist before anything runs


def run_profile(config: pytest.Config) -> Profile:
    """The run's profile, its third-party trees unpacked (once per run)."""
    global _profile
    if _profile is None:
        name = config.getoption("--profile") or default_name(REPO)
        try:
            _profile = resolve(name, REPO)
        except ProfileUnavailable as exc:
            raise pytest.UsageError(str(exc)) from None
    return _profile


def _missing(what: str, profile: Profile) -> str:
    shelf = ThirdPartyShelf.beside(REPO)
    if profile.name == "debian" and not shelf.available:
        return f"needs {what}: {shelf.missing_reason()}"
    return f"needs {what}, which the {profile.name} profile does not have"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--both-profiles-only"):
        keep = [i for i in items if BOTH_PROFILES.match(i.path.name) or i.get_closest_marker("woocommerce")]
        dropped = [i for i in items if i not in keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep
    needs = [(m, w) for m, w in (("woocommerce", "WooCommerce"), ("thrive", "the Thrive plugins"))
             if any(i.get_closest_marker(m) for i in items)]
    if not needs:
        return
    profile = run_profile(config)
    has = {"woocommerce": profile.has_woocommerce, "thrive": profile.has_thrive}
    for marker, what in needs:
        if has[marker]:
            continue
        skip = pytest.mark.skip(reason=_missing(what, profile))
        for item in items:
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)


def rest_session(user: str, app_password: str) -> requests.Session:
    """A session that sends ``user`` and its Application Password with every request."""
    session = requests.Session()
    session.auth = (user, app_password)
    session.headers["Accept"] = "application/json"
    return session


@pytest.fixture(scope="session")
def wp_profile(pytestconfig: pytest.Config) -> Profile:
    return run_profile(pytestconfig)


@pytest.fixture(scope="session")
def wp_stack(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config,
             wp_profile: Profile) -> Iterator[WordPressStack]:
    stack = WordPressStack(
        tmp_path_factory.mktemp("wordpress") / "stack",
        plugin_dirs=[*wp_profile.plugin_dirs, PLUGIN_DIR, *extra_plugin_dirs()],
        **wp_profile.stack_options(),
    )
    with _sigterm_stops_the_session():
        try:
            stack.start()
            stack.snapshot()
            _report(pytestconfig, f"WordPress stack ({wp_profile.name} profile: WordPress {stack.wp_version}"
                                  + (f", WooCommerce {stack.wc_version} on {stack.order_storage} storage" if stack.wc_version else "")
                                  + f") up in {stack.startup_seconds:.1f} s at {stack.url} "
                                  f"(plugins: {', '.join(stack.plugins)})")
            yield stack
            ours = own_log_lines(stack.debug_log())
            if ours:
                pytest.fail(f"WordPress's debug log holds {len(ours)} line(s) from wpprivsync's own files, e.g.:\n"
                            + "\n".join(ours[:5]), pytrace=False)
        finally:
            stack.stop()


_OWN_FILE = re.compile(r"/plugins/wpprivsync/")
_LOG_ENTRY = re.compile(r"^\[\d{2}-\w{3}-\d{4} [\d:]+ UTC\] ", re.M)


def own_log_lines(log: str) -> list[str]:
    """Entries of a WordPress debug log (notices, warnings, deprecations, errors) that name a
    file of the wpprivsync plugin: in the message, or anywhere in the entry's stack trace."""
    starts = [m.start() for m in _LOG_ENTRY.finditer(log)] + [len(log)]
    entries = [log[a:b].strip() for a, b in zip(starts, starts[1:])]
    return [e.splitlines()[0][:400] for e in entries if _OWN_FILE.search(e)]


@pytest.fixture
def wp(wp_stack: WordPressStack) -> WordPressStack:
    """The session's stack, database restored to the state right after set-up."""
    if wp_stack.db is not None and not wp_stack.db.running:
        wp_stack.start_db()  # a previous test stopped it
    wp_stack.restore()
    return wp_stack


@pytest.fixture(scope="session")
def wp_multisite_stack(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config,
                       wp_profile: Profile) -> Iterator[WordPressStack]:
    stack = WordPressStack(tmp_path_factory.mktemp("wordpress-multisite") / "stack",
                           plugin_dirs=[*wp_profile.plugin_dirs, PLUGIN_DIR], multisite=True,
                           **wp_profile.stack_options())
    with _sigterm_stops_the_session():
        try:
            stack.start()
            stack.snapshot()
            _report(pytestconfig, f"WordPress multisite stack ({wp_profile.name} profile) up in "
                                  f"{stack.startup_seconds:.1f} s at {stack.url} (second site {stack.second_site_url})")
            yield stack
        finally:
            stack.stop()


@pytest.fixture
def wp_multisite(wp_multisite_stack: WordPressStack) -> WordPressStack:
    """The session's multisite stack, database restored to the state right after set-up."""
    wp_multisite_stack.restore()
    return wp_multisite_stack


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
