"""A private PostgreSQL for the suite (Debian's package): ``pg_url`` for the session,
``pg_fresh_url`` for a new empty database per test. Tests using them are marked ``postgres``."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from wpprivsync_devkit.devstack.postgres import PostgresServer, find_bin_dir

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    if find_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (scripts/install-system-deps installs it)")
    server = PostgresServer(tmp_path_factory.mktemp("postgres"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: PostgresServer) -> str:
    """URL of the ``wpprivsync`` database on the session's private server."""
    assert pg_server.url is not None
    return pg_server.url


@pytest.fixture
def pg_fresh_url(pg_server: PostgresServer) -> str:
    """URL of a new, empty database on the session's private server."""
    return pg_server.create_database(f"test_{next(_names)}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"pg_url", "pg_fresh_url", "pg_server"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)
