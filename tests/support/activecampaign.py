"""Fixtures for the local ActiveCampaign server (wpprivsync.acfake).

    ac_server_session   one server for the whole session (5 requests per second, like the real one)
    ac_server           the same server, reset (data, counters, faults, deliveries) before each test
    ac_client           an ActiveCampaignClient for ``ac_server`` with the account's shared budget
    ac_contract_dir     the contract folder (shared/contracts/activecampaign beside the repo), or skip
"""

from __future__ import annotations

import os
import pathlib

import pytest
import requests

from wpprivsync.acfake import ActiveCampaignServer
from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.clients.ratebudget import rate_budget

AC_TOKEN = "test-ac-token-0123456789abcdef"
_REPO = pathlib.Path(__file__).resolve().parents[2]


def find_contract_dir() -> pathlib.Path | None:
    """shared/contracts/activecampaign: $WPPRIVSYNC_CONTRACTS_DIR, else ../shared beside the repo."""
    candidates = []
    if os.environ.get("WPPRIVSYNC_CONTRACTS_DIR"):
        candidates.append(pathlib.Path(os.environ["WPPRIVSYNC_CONTRACTS_DIR"]) / "activecampaign")
    candidates += [_REPO.parent / "shared" / "contracts" / "activecampaign",
                   _REPO / "shared" / "contracts" / "activecampaign"]
    for c in candidates:
        if (c / "activecampaign-contacts-api-openapi.yml").is_file():
            return c
    return None


@pytest.fixture(scope="session")
def ac_contract_dir() -> pathlib.Path:
    found = find_contract_dir()
    if found is None:
        pytest.skip("ActiveCampaign contract files not found: expected shared/contracts/activecampaign "
                    "beside the repository (or WPPRIVSYNC_CONTRACTS_DIR)")
    return found


@pytest.fixture(scope="session")
def ac_server_session():
    server = ActiveCampaignServer(port=0, token=AC_TOKEN, accounts={"second": AC_TOKEN + "-2"}, seed=7)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ac_server(ac_server_session):
    ac_server_session.reset()
    yield ac_server_session
    ac_server_session.clear_faults()


@pytest.fixture
def ac_client(ac_server):
    session = requests.Session()
    client = ActiveCampaignClient(ac_server.url, ac_server.token, session=session,
                                  budget=rate_budget(ac_server.url), timeout=5)
    yield client
    session.close()
