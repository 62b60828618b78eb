"""Fixtures for the local ActiveCampaign server (wpprivsync_devkit.acfake).

    ac_server_session   one server for the whole session (5 requests per second, like the real one)
    ac_server           the same server, reset (data, counters, faults, deliveries) before each test
    ac_server_fast      a server without the rate limit (rate=0), reset before each test
    ac_client           an ActiveCampaignClient for ``ac_server`` with the account's shared budget
    ac_contract_dir     the contract folder (shared/contracts/activecampaign beside the repo), or skip
    webhook_receiver    an HTTP server recording the webhook POSTs it receives
"""

from __future__ import annotations

import os
import pathlib

import pytest
import requests

from wpprivsync_devkit.acfake import ActiveCampaignServer
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


@pytest.fixture(scope="session")
def _ac_server_fast_session():
    server = ActiveCampaignServer(port=0, token=AC_TOKEN, rate=0, seed=7)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ac_server_fast(_ac_server_fast_session):
    """Like ``ac_server`` but without the rate limit, for tests about behaviour, not pacing."""
    _ac_server_fast_session.reset()
    yield _ac_server_fast_session
    _ac_server_fast_session.clear_faults()


@pytest.fixture
def ac_client(ac_server):
    session = requests.Session()
    client = ActiveCampaignClient(ac_server.url, ac_server.token, session=session,
                                  budget=rate_budget(ac_server.url), timeout=5)
    yield client
    session.close()


# -- a webhook receiver ------------------------------------------------------------------------
class WebhookReceiver:
    """A tiny HTTP server recording form POSTs; ``status`` is what it answers."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        self.status = 200
        self.received: list[dict] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                with receiver._cond:
                    receiver.received.append({"path": self.path, "form": form,
                                              "content_type": self.headers.get("Content-Type")})
                    receiver._cond.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def reset(self) -> None:
        with self._cond:
            self.received.clear()
        self.status = 200

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture(scope="session")
def _webhook_receiver_session():
    receiver = WebhookReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def webhook_receiver(_webhook_receiver_session):
    _webhook_receiver_session.reset()
    return _webhook_receiver_session
