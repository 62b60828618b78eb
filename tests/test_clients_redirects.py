"""No credential follows a redirect to another host (issue 13, point 2).

Two real local HTTP servers: the "home" one answers every request with a redirect to the
"elsewhere" one, which records every request it receives. Each client must end with one clear
error, and elsewhere must have received nothing.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from wpprivsync import errors
from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.clients.session import keep_credentials_home
from wpprivsync.clients.wordpress import WordPressClient

TOKEN = "ac-token-" + "x" * 40
APP_PASSWORD = "abcd efgh ijkl mnop qrst uvwx"


class _Server:
    def __init__(self, answer):
        self.seen: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, headers, payload = answer(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def elsewhere():
    server = _Server(lambda h: (200, {"Content-Type": "application/json"}, b"{}"))
    yield server
    server.close()


@pytest.fixture
def redirector(elsewhere, request):
    status = getattr(request, "param", 302)
    # "localhost" is another host than 127.0.0.1 as far as the URL goes
    server = _Server(lambda h: (status, {"Location": elsewhere.url + h.path}, b""))
    yield server
    server.close()


@pytest.mark.parametrize("redirector", [301, 302, 307, 308], indirect=True)
def test_activecampaign_token_does_not_follow_a_redirect(redirector, elsewhere):
    client = ActiveCampaignClient(redirector.url + "/api/3", TOKEN, session=requests.Session(),
                                  sleep=lambda s: None, max_retries=0)
    with pytest.raises(errors.RedirectRefused) as exc:
        client.find_contact("someone@example.com")
    assert elsewhere.seen == []
    assert redirector.seen and redirector.seen[0]["headers"]["Api-Token"] == TOKEN
    assert TOKEN not in str(exc.value) and "someone@example.com" not in str(exc.value)
    assert "not sent" in str(exc.value)


@pytest.mark.parametrize("redirector", [302, 307], indirect=True)
def test_wordpress_application_password_does_not_follow_a_redirect(redirector, elsewhere):
    client = WordPressClient(redirector.url, "svc", APP_PASSWORD, session=requests.Session())
    with pytest.raises(errors.RedirectRefused):
        client.erase("someone@example.com")
    assert elsewhere.seen == []
    assert "Authorization" in redirector.seen[0]["headers"]


def test_a_redirect_on_the_same_host_is_still_followed(elsewhere):
    home = _Server(lambda h: ((302, {"Location": "/moved" + h.path}, b"") if not h.path.startswith("/moved")
                              else (200, {"Content-Type": "application/json"}, b'{"ok": true}')))
    try:
        session = keep_credentials_home(requests.Session())
        resp = session.get(home.url + "/a", headers={"Api-Token": TOKEN})
        assert resp.json() == {"ok": True}
        assert home.seen[-1]["path"] == "/moved/a" and home.seen[-1]["headers"]["Api-Token"] == TOKEN
    finally:
        home.close()


def test_another_port_on_the_same_host_is_another_host(elsewhere):
    home = _Server(lambda h: (302, {"Location": elsewhere.url + "/x"}, b""))
    try:
        session = keep_credentials_home(requests.Session())
        with pytest.raises(requests.exceptions.RequestException):
            session.get(home.url + "/a", headers={"X-Secret": "s"})
        assert elsewhere.seen == []
    finally:
        home.close()


def test_the_guard_is_applied_once():
    session = requests.Session()
    assert keep_credentials_home(keep_credentials_home(session)) is session
