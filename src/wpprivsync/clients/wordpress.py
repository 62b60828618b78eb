"""Client of the wpprivsync plugin's REST API (docs/PROTOCOL.md) and a few core routes.

The caller passes a ``requests.Session``; this module adds the Application Password and maps
every failure to ``wpprivsync.errors`` at one place (``_call``).
"""

from __future__ import annotations

from typing import Any

import requests

from .. import errors

NAMESPACE = "wpprivsync/v1"
SYSTEM = "wordpress"


class WordPressClient:
    def __init__(self, base_url: str, user: str, app_password: str, *, session: requests.Session,
                 timeout: float = 30.0, verify: bool = True):
        self.base_url = base_url.rstrip("/")
        self._auth = (user, app_password)
        self._session = session
        self._timeout = timeout
        self._verify = verify

    # -- transport ---------------------------------------------------------------------
    def _url(self, route: str) -> str:
        # ?rest_route= works with and without pretty permalinks
        return f"{self.base_url}/?rest_route=/{route.lstrip('/')}"

    def _call(self, method: str, route: str, *, params: dict[str, Any] | None = None,
              json: Any = None, auth: bool = True) -> Any:
        try:
            resp = self._session.request(
                method, self._url(route), params=params, json=json,
                auth=self._auth if auth else None, timeout=self._timeout, verify=self._verify,
            )
        except requests.exceptions.Timeout:
            raise errors.Unreachable(f"timed out after {self._timeout:g} s", system=SYSTEM) from None
        except requests.exceptions.ConnectionError:
            raise errors.Unreachable(f"not reachable at {self.base_url}", system=SYSTEM) from None
        return _decode(resp)

    # -- core --------------------------------------------------------------------------
    def index(self) -> dict[str, Any]:
        return self._call("GET", "/", auth=False)

    def me(self) -> dict[str, Any]:
        return self._call("GET", "wp/v2/users/me", params={"context": "edit"})

    # -- plugin ------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        return self._call("GET", f"{NAMESPACE}/status")


def _decode(resp: requests.Response) -> Any:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code < 400:
        if body is None:
            raise errors.BadResponse(f"HTTP {resp.status_code} without a JSON body", system=SYSTEM, status=resp.status_code)
        return body
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    text = message or f"HTTP {resp.status_code}"
    kw = {"system": SYSTEM, "status": resp.status_code, "code": code}
    if resp.status_code == 401 or code in {"invalid_username", "incorrect_password", "rest_not_logged_in"}:
        raise errors.AuthenticationFailed(f"authentication failed ({code or resp.status_code})", **kw)
    if resp.status_code == 403:
        raise errors.PermissionDenied(f"permission denied ({code or 403})", **kw)
    if resp.status_code == 404:
        raise errors.NotFound(text, **kw)
    if resp.status_code == 501 and code == "woocommerce_missing":
        raise errors.WooCommerceMissing(text, **kw)
    if resp.status_code == 429:
        raise errors.RateLimited(text, system=SYSTEM, code=code)
    if resp.status_code >= 500:
        raise errors.ServerError(text, **kw)
    raise errors.ApiError(text, **kw)
