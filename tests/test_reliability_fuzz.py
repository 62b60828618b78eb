"""Bad input, property-based (hypothesis): the webhook intake and every REST route of the plugin
take arbitrary bodies and arguments. Never a 5xx; never a bogus event: the outbox only grows for
a well-formed subscribe/unsubscribe payload with a valid email, by as many events as the intake
says it recorded, and every recorded event carries a valid email."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import json
import re
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.reliability import outbox_rows
from support.wordpress import rest_session
from wpprivsync.identity import is_email

pytestmark = pytest.mark.slow

NS = "/wpprivsync/v1"
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
FUZZ_ROUTE = settings(FUZZ, max_examples=60)

# -- value strategies --------------------------------------------------------------------------
texts = st.text(max_size=40)
unicode_texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
huge = st.integers(min_value=10_000, max_value=120_000).map(lambda n: "x" * n)
emails = st.one_of(
    st.emails(),
    st.sampled_from(["someone@example.com", "UPPER.Case@Example.COM", " spaced@example.com ", "a@b", "@example.com",
                     "no-at-sign", "two@@example.com", "ünï@exämple.com", "x@example.com\x00", "x@example.com\n",
                     "<script>@example.com", "a" * 300 + "@example.com", ""]),
    unicode_texts.map(lambda t: t + "@example.com"),
)
numbers = st.one_of(st.integers(min_value=-2**63, max_value=2**63), st.floats(allow_nan=True).map(str),
                    st.sampled_from(["1", "0", "-1", "1e3", "0x10", "٣", "99999999999999999999999"]))
scalars = st.one_of(texts, unicode_texts, huge, emails, numbers.map(str), st.sampled_from(["", "true", "null"]))
dates = st.one_of(st.sampled_from(["2026-11-25 10:00:00", "2026-02-30 25:61:00", "yesterday", "now", "", "0",
                                   "2026-11-25T10:00:00Z"]), texts)
form_keys = st.one_of(
    st.sampled_from(["type", "date_time", "initiated_by", "contact[email]", "contact[id]", "contact", "list",
                     "list[0][id]", "list[1][id]", "list[id]", "list[]", "contact[email][]", "type[]",
                     "contact[email][x]", "list[0]"]),
    texts, unicode_texts,
)
known_values = {
    "type": st.one_of(st.sampled_from(["unsubscribe", "subscribe", "UNSUBSCRIBE", "update", "sub scribe", ""]), texts),
    "date_time": dates,
    "contact[email]": emails,
    "contact[id]": numbers.map(str),
    "list": numbers.map(str),
    "list[0][id]": numbers.map(str),
}


_HOUR_AGO = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
valid_emails = st.one_of(
    st.sampled_from(["someone@example.com", "UPPER.Case@Example.COM", " spaced@example.com "]),
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}@[a-z0-9-]{1,12}\.(com|org|net|de)", fullmatch=True),
)
valid_delivery = st.fixed_dictionaries({
    "type": st.sampled_from(["unsubscribe", "subscribe"]),
    # inside the plugin's replay window (issue 13): an hour ago, in the formats ActiveCampaign uses
    "date_time": st.sampled_from([_HOUR_AGO.strftime("%Y-%m-%d %H:%M:%S"), _HOUR_AGO.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                  _HOUR_AGO.astimezone(timezone(timedelta(hours=-6))).isoformat()]),
    "contact[email]": valid_emails,
    "contact[id]": st.integers(0, 10**6).map(str),
    "list": st.integers(0, 10**6).map(str),
})


@st.composite
def form_bodies(draw) -> list[tuple[str, str]]:
    """A form body as (key, value) pairs: a real-looking delivery with extra keys, one with its
    fields damaged or missing, or something nothing like one."""
    pairs: list[tuple[str, str]] = []
    kind = draw(st.integers(0, 2))
    if kind == 2:
        pairs += list(draw(valid_delivery).items())
    elif kind == 1:
        for key, strategy in known_values.items():
            if draw(st.integers(0, 9)) > 0:
                pairs.append((key, draw(strategy)))
    for _ in range(draw(st.integers(0, 6 if kind < 2 else 2))):
        pairs.append((draw(form_keys), draw(scalars)))
    return draw(st.permutations(pairs)) if pairs else pairs


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts, emails),
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=12,
)
json_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"type": known_values["type"], "date_time": dates},
                          optional={"contact": st.one_of(st.fixed_dictionaries({"email": emails}, optional={
                              "id": st.one_of(numbers, json_values)}), json_values),
                              "list": st.one_of(numbers, st.lists(st.fixed_dictionaries({"id": numbers}), max_size=3),
                                                json_values)}),
)


# -- helpers -----------------------------------------------------------------------------------
def pending(service: requests.Session, url: str) -> int:
    r = service.get(url, params={"rest_route": f"{NS}/status"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return int(r.json()["outbox"]["pending"])


def well_formed(type_: object, email: object) -> bool:
    """What may record an event: a subscribe/unsubscribe type (after WordPress's sanitize_key,
    which lower-cases and drops other characters) and an email the daemon accepts."""
    return (isinstance(type_, str) and re.sub(r"[^a-z0-9_\-]", "", type_.lower()) in ("unsubscribe", "subscribe")
            and isinstance(email, str) and is_email(email))


def check_outbox(wp, expected: int) -> None:
    rows = outbox_rows(wp)
    assert len(rows) == expected
    for row in rows:
        assert row["type"] in ("newsletter.unsubscribed", "newsletter.subscribed"), row["type"]
        payload = json.loads(row["payload"])
        assert is_email(payload["email"]) and payload["email"] == payload["email"].strip().lower(), payload
        assert isinstance(payload["list_id"], int) and payload["list_id"] >= 0


@pytest.fixture
def service(wp):
    s = rest_session(wp.service_user, wp.service_app_password)
    yield s
    s.close()


@pytest.fixture
def intake(wp):
    secret = wp.php("echo Wpprivsync_Webhook::secret();")
    return f"{NS}/webhook/activecampaign/{secret}"


# -- the webhook intake --------------------------------------------------------------------------
def test_webhook_form_bodies_never_5xx_never_a_bogus_event(wp, service, intake):
    started = time.monotonic()
    visitor = requests.Session()
    state = {"events": pending(service, wp.url), "examples": 0, "recorded": 0}

    @FUZZ
    @given(form_bodies())
    def one(pairs):
        r = visitor.post(wp.url, params={"rest_route": intake}, data=[(k.encode(), v.encode()) for k, v in pairs],
                         timeout=60)
        assert r.status_code < 500, (r.status_code, r.text[:300])
        now = pending(service, wp.url)
        grown = now - state["events"]
        state["events"] = now
        state["examples"] += 1
        if grown:
            form = dict(pairs)
            assert r.status_code == 200 and r.json()["recorded"] == grown
            assert well_formed(form.get("type"), form.get("contact[email]")), pairs
            state["recorded"] += grown
        elif r.status_code == 200:
            assert r.json().get("recorded", 0) == 0

    one()
    assert state["recorded"] > 0  # the generator does reach the well-formed case
    check_outbox(wp, state["events"])
    print(f"\nfuzz webhook form: {state['examples']} bodies, {state['recorded']} events recorded, "
          f"{time.monotonic() - started:.1f} s")


def test_webhook_json_bodies_never_5xx_never_a_bogus_event(wp, service, intake):
    visitor = requests.Session()
    state = {"events": pending(service, wp.url)}

    @settings(FUZZ, max_examples=80)
    @given(json_bodies)
    def one(body):
        r = visitor.post(wp.url, params={"rest_route": intake}, data=json.dumps(body),
                         headers={"Content-Type": "application/json"}, timeout=60)
        assert r.status_code < 500, (r.status_code, r.text[:300])
        now = pending(service, wp.url)
        grown, state["events"] = now - state["events"], now
        if grown:
            contact = body.get("contact") if isinstance(body, dict) else None
            email = contact.get("email") if isinstance(contact, dict) else None
            assert well_formed(body.get("type"), email), body
            assert r.json()["recorded"] == grown

    one()
    check_outbox(wp, state["events"])


# -- every REST route, as the service user ----------------------------------------------------------
def routes(wp) -> list[tuple[str, str, dict]]:
    """(route, method, args) for every endpoint of the namespace except the webhook intake."""
    index = requests.get(wp.url, params={"rest_route": NS}, timeout=60).json()
    out = []
    for route, spec in index["routes"].items():
        if route == NS or "webhook" in route:
            continue
        for endpoint in spec["endpoints"]:
            for method in endpoint["methods"]:
                if method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
                    out.append((route, method, endpoint.get("args") or {}))
    return out


def arg_values(spec: dict) -> st.SearchStrategy:
    kinds = spec.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    options = [scalars, json_values, emails, numbers]
    if "integer" in kinds or "number" in kinds:
        options.append(st.integers(min_value=-10**12, max_value=10**12))
    if "array" in kinds:
        options.append(st.lists(st.one_of(st.integers(-5, 10**9), texts, emails), max_size=30))
    if "boolean" in kinds:
        options.append(st.booleans())
    return st.one_of(options)


@st.composite
def arguments(draw, args: dict) -> dict:
    out = {}
    for name, spec in args.items():
        if draw(st.integers(0, 4)):
            out[name] = draw(arg_values(spec))
    for _ in range(draw(st.integers(0, 2))):
        out[draw(texts)] = draw(scalars)
    return out


def test_every_rest_route_takes_any_arguments_without_5xx(wp, service):
    found = routes(wp)
    assert {f"{NS}/events", f"{NS}/erase", f"{NS}/heartbeat", f"{NS}/status"} <= {r for r, _, _ in found}
    wp.php("for ($i = 0; $i < 3; $i++) { Wpprivsync_Outbox::record('account.deleted', "
           "['email' => \"fuzz$i@example.com\", 'user_id' => $i]); }")
    started = time.monotonic()
    counts = {}
    for route, method, args in found:
        counts[(route, method)] = 0

        @FUZZ_ROUTE
        @given(arguments(args))
        def one(values):
            counts[(route, method)] += 1
            params = {"rest_route": route}
            if method == "GET":
                # a query string stays under the few kB web servers accept in a request line
                # (beyond, a server answers 414 or drops the connection before WordPress runs)
                flat = {k: (json.dumps(v) if isinstance(v, (dict, list)) else str(v))[:2000] for k, v in values.items()}
                r = service.get(wp.url, params={**flat, **params}, timeout=60)
            else:
                r = service.request(method, wp.url, params=params, json=values, timeout=60)
            if r.status_code == 501:  # the protocol's answer for order routes without WooCommerce
                assert r.json()["code"] == "woocommerce_missing" and "/orders" in route
                return
            assert r.status_code < 500, (route, method, values, r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert "code" in r.json(), r.text[:300]  # a clear error, not a crash page

        one()
    # the daemon's calls never come back as events: the outbox holds only the three seeded ones
    rows = outbox_rows(wp)
    assert [r["type"] for r in rows] == ["account.deleted"] * 3, [(r["type"], r["payload"][:80]) for r in rows]
    print(f"\nfuzz REST: {len(counts)} endpoints, {sum(counts.values())} calls, {time.monotonic() - started:.1f} s")
