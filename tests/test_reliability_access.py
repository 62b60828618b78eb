"""Access: every route of the plugin's namespace, found from the REST index (so a new route is
covered without touching this file), refuses an anonymous caller (401) and a logged-in
subscriber (403), whatever the method; the ActiveCampaign webhook intake is public by design
and refuses a wrong secret with 403. Refused calls change nothing."""

from __future__ import annotations

from datetime import datetime, timezone

import re

import pytest
import requests

from support.reliability import outbox_rows
from support.wordpress import rest_session

pytestmark = pytest.mark.slow

NS = "/wpprivsync/v1"


def endpoints(wp) -> list[tuple[str, str, dict]]:
    """(route, method, declared args) for every endpoint of the namespace."""
    index = requests.get(wp.url, params={"rest_route": NS}, timeout=60)
    assert index.status_code == 200
    out = []
    for route, spec in index.json()["routes"].items():
        if route == NS:
            continue  # the namespace index itself is WordPress's, public for every namespace
        for endpoint in spec["endpoints"]:
            out += [(route, m, endpoint.get("args") or {}) for m in endpoint["methods"]
                    if m in ("GET", "POST", "PUT", "PATCH", "DELETE")]
    return out


def valid_value(spec: dict):
    """A value that passes WordPress's schema check for one declared argument."""
    if spec.get("enum"):
        return spec["enum"][0]
    if "default" in spec:
        return spec["default"]
    kind = spec.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind in ("integer", "number"):
        return max(1, int(spec.get("minimum", 1)))
    if kind == "boolean":
        return False
    if kind == "array":
        return [valid_value(spec.get("items", {"type": "integer"}))]
    if kind == "object":
        props = spec.get("properties", {})
        required = spec.get("required") if isinstance(spec.get("required"), list) else []
        return {name: valid_value(props.get(name, {})) for name in required}
    if spec.get("format") == "date-time":
        return "2026-11-25T10:00:00Z"
    value = "access.probe@example.com"
    if len(value) < int(spec.get("minLength", 0)):
        value = "a" * int(spec["minLength"])
    return value[: int(spec.get("maxLength", len(value)))]


def concrete(route: str, secret: str) -> str:
    """A callable path for a route pattern: each named group gets a plausible value."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: secret if m.group(1) == "secret" else "1", route)


def body_for(args: dict) -> dict:
    """Every declared argument with a valid value: WordPress checks arguments before
    permissions, so only a well-formed call shows that the permission check refuses it."""
    return {name: NAMED.get(name, valid_value(spec)) for name, spec in args.items()}


# arguments checked by a callback the index does not describe
NAMED = {"before": "2026-01-01", "lookup_id": "A" * 24}


@pytest.fixture
def callers(wp):
    anonymous = requests.Session()
    # a subscriber logged in with an Application Password (a real account, no capability)
    subscriber = rest_session(wp.subscriber_user, wp.subscriber_app_password)
    yield {"anonymous": anonymous, "subscriber": subscriber}
    anonymous.close()
    subscriber.close()


def test_every_route_refuses_anonymous_and_subscriber(wp, callers):
    eps = endpoints(wp)
    routes = {r for r, _, _ in eps}
    for expected in ("events", "events/ack", "erase", "export", "comments/remove", "consent", "consents", "restrict", "heartbeat",
                     "status"):
        assert f"{NS}/{expected}" in routes, expected
    user_id = wp.php("echo get_user_by('login', 'subscriber')->ID;")
    assert user_id
    before = outbox_rows(wp)
    probed = 0
    for route, method, args in eps:
        if "webhook" in route or route.endswith("/confirm"):
            continue  # public by design, each guarded by its own secret: tested below
        path = concrete(route, "x")
        for who, session in callers.items():
            kw: dict = {"params": {"rest_route": path}}
            if method == "GET":
                kw["params"].update({k: v for k, v in body_for(args).items() if not isinstance(v, (list, dict))})
            else:
                kw["json"] = body_for(args)
            r = session.request(method, wp.url, timeout=60, **kw)
            expected = 401 if who == "anonymous" else 403
            assert r.status_code == expected, (who, method, route, r.status_code, r.text[:200])
            assert r.json().get("code"), r.text[:200]
            probed += 1
    assert probed >= 2 * 12
    # nothing happened: the subscriber still exists, no event was recorded or acknowledged
    assert wp.php(f"echo get_userdata({user_id}) ? 1 : 0;") == "1"
    assert outbox_rows(wp) == before


def test_the_double_opt_in_link_is_public_but_needs_a_valid_signed_token(wp, callers):
    (route,) = [r for r, m, _ in endpoints(wp) if r.endswith("/confirm")]
    before = outbox_rows(wp)
    for who, session in callers.items():
        for token in ("", "x", "a.b.c", "0" * 64):
            r = session.get(wp.url, params={"rest_route": route, "t": token}, timeout=60)
            assert r.status_code in (400, 403), (who, token, r.status_code, r.text[:200])
            assert r.json().get("code"), r.text[:200]
    assert outbox_rows(wp) == before  # nothing was subscribed or recorded


def test_webhook_intake_is_public_but_needs_the_secret(wp, callers):
    (route,) = [r for r, m, _ in endpoints(wp) if "webhook" in r and m == "POST"]
    secret = wp.php("echo Wpprivsync_Webhook::secret();")
    delivery = {"type": "unsubscribe", "date_time": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"), "contact[email]": "hook.probe@example.com",
                "contact[id]": "7", "list": "1"}
    wrong = [secret[:-1] + ("a" if secret[-1] != "a" else "b"), secret.upper() if secret.upper() != secret else "X",
             "0", secret + "x", "%20"]
    for who, session in callers.items():
        for bad in wrong:
            r = session.post(wp.url, params={"rest_route": concrete(route, bad)}, data=delivery, timeout=60)
            assert r.status_code == 403, (who, bad, r.status_code, r.text[:200])
    assert not [r for r in outbox_rows(wp) if r["type"].startswith("newsletter.")]
    ok = callers["anonymous"].post(wp.url, params={"rest_route": concrete(route, secret)}, data=delivery, timeout=60)
    assert ok.status_code == 200 and ok.json() == {"recorded": 1}
    (row,) = [r for r in outbox_rows(wp) if r["type"].startswith("newsletter.")]
    assert row["type"] == "newsletter.unsubscribed"
