"""Sessions read the proxy and CA-bundle environment once, for the server they talk to."""

from __future__ import annotations

import requests

from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.clients.session import settle_environment
from wpprivsync.clients.wordpress import WordPressClient


def test_proxies_and_ca_bundle_are_read_once_and_pinned(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/site-ca.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = settle_environment(requests.Session(), "https://acct.api-us1.com/api/3")
    assert session.trust_env is False
    assert session.proxies["https"] == "http://proxy.internal:3128"
    assert session.verify == "/etc/ssl/site-ca.pem"
    # later changes to the environment are not looked up on every request any more
    monkeypatch.setenv("HTTPS_PROXY", "http://other:1")
    settings = session.merge_environment_settings("https://acct.api-us1.com/api/3/contacts", {}, None, None, None)
    assert settings["proxies"]["https"] == "http://proxy.internal:3128"


def test_no_proxy_for_the_server_pins_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    session = settle_environment(requests.Session(), "http://127.0.0.1:8080")
    assert session.proxies == {} and session.trust_env is False


def test_a_session_that_ignores_the_environment_is_left_alone(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    session = requests.Session()
    session.trust_env = False
    session.verify = "/mine.pem"
    assert settle_environment(session, "https://x.test") is session
    assert session.proxies == {} and session.verify == "/mine.pem"


def test_the_clients_settle_their_sessions(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    wp_session, ac_session = requests.Session(), requests.Session()
    WordPressClient("https://shop.test", "svc", "pw", session=wp_session)
    ActiveCampaignClient("https://acct.api-us1.com/api/3", "t" * 40, session=ac_session)
    for s in (wp_session, ac_session):
        assert s.trust_env is False and s.proxies["https"] == "http://proxy.internal:3128"
