"""HTTP sessions that read the environment once.

With ``trust_env`` on (the default), requests looks up the proxy variables, ``NO_PROXY`` and the
CA-bundle variables on every request, walking the whole process environment each time; for a
daemon making hundreds of thousands of calls to one server that lookup costs more CPU than the
rest of a local request. ``settle_environment`` does it once, for the server a session talks to,
and pins the answer on the session.
"""

from __future__ import annotations

import os

import requests
from requests.utils import get_environ_proxies


def settle_environment(session: requests.Session, url: str) -> requests.Session:
    """Pin the environment's proxies (unless ``NO_PROXY`` names the host of ``url``) and CA
    bundle (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) on ``session``, then stop requests from
    looking them up again. A session whose ``trust_env`` is already off is left as it is."""
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
