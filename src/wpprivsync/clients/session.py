"""HTTP sessions that read the environment once.

With ``trust_env`` on (the default), requests looks up the proxy variables, ``NO_PROXY`` and the
CA-bundle variables on every request, walking the whole process environment each time; for a
daemon making hundreds of thousands of calls to one server that lookup costs more CPU than the
rest of a local request. ``settle_environment`` does it once, for the server a session talks to,
and pins the answer on the session.

``keep_credentials_home`` makes a session refuse any redirect that leaves the host it was made
for: requests itself only drops ``Authorization`` on such a redirect, and would carry custom
credential headers (ActiveCampaign's ``Api-Token``) and a 307/308's body (WebinarJam's
``api_key``) to whatever host a response names.
"""

from __future__ import annotations

import os
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies


class CrossHostRedirect(requests.exceptions.RequestException):
    """A response redirected to another host; the redirect was not followed."""

    def __init__(self, from_url: str, to_url: str):
        self.from_host = _origin(from_url)
        self.to_host = _origin(to_url)
        super().__init__(f"redirected from {self.from_host} to {self.to_host}; not followed")


def _parts(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def _origin(url: str) -> str:
    scheme, host, port = _parts(url)
    return f"{scheme}://{host}:{port}"


def _same_origin(old_url: str, new_url: str) -> bool:
    """Same scheme, host and port, or the one upgrade requests also allows: http:80 to https:443
    on the same host."""
    old, new = _parts(old_url), _parts(new_url)
    return old == new or (old[1] == new[1] and (old[0], old[2], new[0], new[2]) == ("http", 80, "https", 443))


def keep_credentials_home(session: requests.Session) -> requests.Session:
    """Make ``session`` raise ``CrossHostRedirect`` instead of following a redirect to another
    host (or port, or down from https), before anything is sent there. Same-host redirects are
    followed as before. Idempotent."""
    if getattr(session, "_wpprivsync_guarded", False):
        return session
    original: Callable[[requests.PreparedRequest, requests.Response], None] = session.rebuild_auth

    def rebuild_auth(prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        old_url = str(response.request.url)
        if not _same_origin(old_url, str(prepared_request.url)):
            raise CrossHostRedirect(old_url, str(prepared_request.url))
        original(prepared_request, response)

    session.rebuild_auth = rebuild_auth  # type: ignore[method-assign]
    session._wpprivsync_guarded = True  # type: ignore[attr-defined]
    return session


class _SettledAdapter(HTTPAdapter):
    """An adapter that works out a server's connection-pool settings once: requests parses the
    URL again and checks whether the CA bundle is a directory (a ``stat``) on every request,
    for the same answer each time."""

    def __init__(self) -> None:
        super().__init__()
        self._pool_keys: dict[tuple[str, str, str], Any] = {}

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest, verify: Any,
                                             cert: Any = None) -> Any:
        origin = "/".join(str(request.url).split("/", 3)[:3]).lower()  # scheme://host:port
        key = (origin, repr(verify), repr(cert))
        hit = self._pool_keys.get(key)
        if hit is None:
            hit = super().build_connection_pool_key_attributes(request, verify, cert)
            if len(self._pool_keys) < 64:
                self._pool_keys[key] = hit
        return dict(hit[0]), dict(hit[1])  # copies: urllib3 may change what it is given


def settle_environment(session: requests.Session, url: str) -> requests.Session:
    """Pin the environment's proxies (unless ``NO_PROXY`` names the host of ``url``) and CA
    bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) on ``session``, then stop requests from
    looking them up again. A session whose ``trust_env`` is already off is left as it is. The
    server's own adapter, when it is requests' default one, becomes one that works out the
    connection settings once (``_SettledAdapter``)."""
    origin = "/".join(url.split("/", 3)[:3]) + "/"
    if type(session.get_adapter(url)) is HTTPAdapter and "://" in origin:
        session.mount(origin, _SettledAdapter())
    if not session.trust_env:
        return session
    for scheme, proxy in get_environ_proxies(url).items():
        session.proxies.setdefault(scheme, proxy)
    if session.verify is True:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
    session.trust_env = False
    return session
