"""The WebinarJam client against the local WebinarJam server (semantics, OpenAPI conformance of
every answer, faults) and its error mapping (``responses``)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
import requests
import responses
import yaml

from wpprivsync import errors
from wpprivsync.clients.webinarjam import WebinarJamClient
from wpprivsync_devkit.wjfake import WebinarJamServer

KEY = "k" * 64
_REPO = pathlib.Path(__file__).resolve().parents[1]


def _contract() -> pathlib.Path:
    for c in (_REPO.parent / "shared" / "contracts" / "webinarjam", _REPO / "shared" / "contracts" / "webinarjam"):
        if (c / "webinarjam-api-openapi.yml").is_file():
            return c / "webinarjam-api-openapi.yml"
    pytest.skip("WebinarJam contract not found: expected shared/contracts/webinarjam beside the repository")


@pytest.fixture(scope="module")
def server_module():
    with WebinarJamServer(api_key=KEY) as server:
        yield server


@pytest.fixture
def wj(server_module):
    server_module.reset()
    return server_module


def client(server, *, key=KEY, session=None, sleeps=None, **kw):
    return WebinarJamClient(server.url, key, session=session or requests.Session(),
                            sleep=(sleeps.append if sleeps is not None else (lambda s: None)), **kw)


def test_finds_the_persons_registrations_by_exact_email_across_pages(wj):
    (sid,) = wj.add_webinar(7, "Taxes 101", ["2026-11-01 18:00"])
    for i in range(120):
        wj.add_registrant(7, sid, f"other{i}@example.org")
    mine = wj.add_registrant(7, sid, "Ann@Example.org")
    wj.add_registrant(7, sid, "xann@example.org.evil")  # a search hit that is not her
    c = client(wj)
    assert len(list(c.registrants(7))) == 122  # three pages of 50
    found = c.find_registrations(7, "ann@example.org")
    assert [r.lead_id for r in found] == [mine]
    assert found[0].fields["signup_date"] == "2026-01-01 10:00"


def test_bare_list_answer_is_accepted(wj):
    (sid,) = wj.add_webinar(7, "W", ["2026-11-01 18:00"])
    wj.add_registrant(7, sid, "ann@example.org")
    wj.set_faults(bare_list=1)
    assert [r.email for r in client(wj).registrants(7)] == ["ann@example.org"]


def test_sessions_and_unsubscribe(wj):
    sids = wj.add_webinar(8, "Series", ["2026-11-01 18:00", "2026-11-08 18:00"], type="Series of presentations")
    assert sids[0] == sids[1]  # a series shares one schedule id
    lead = wj.add_registrant(8, sids[0], "bo@example.org")
    c = client(wj)
    assert [(s.schedule, s.date) for s in c.sessions(8)] == [(sids[0], "2026-11-01 18:00"), (sids[0], "2026-11-08 18:00")]
    c.unsubscribe(8, lead)
    assert wj.lead(lead)["subscribed"] is False
    assert wj.lead(lead)["email"] == "bo@example.org"  # unsubscribed, not deleted: the API cannot delete
    wj.hide_past_sessions(8)
    assert c.sessions(8) == []


def test_faults_are_retried_and_status_error_fails_retryably_with_the_message(wj):
    wj.add_webinar(1, "W", ["2026-11-01 18:00"])
    sleeps: list[float] = []
    wj.set_faults(garbage=1, http500=2)
    assert client(wj, sleeps=sleeps).webinars()[0]["webinar_id"] == 1
    assert len(sleeps) == 3
    wj.set_faults(error=1)
    with pytest.raises(errors.ApiError) as exc:
        client(wj).webinars()
    assert "Temporary failure" in str(exc.value) and KEY not in str(exc.value)
    assert exc.value.retryable  # the engine retries the step
    wj.set_faults(garbage=10)
    with pytest.raises(errors.BadResponse) as exc:
        client(wj, max_retries=1).webinars()
    assert exc.value.retryable


def test_invalid_key_is_authentication_failed_without_the_key(wj):
    bad = "b" * 64
    with pytest.raises(errors.AuthenticationFailed) as exc:
        client(wj, key=bad, max_retries=0).check()
    assert bad not in str(exc.value) and "API key" in str(exc.value)


def test_unknown_webinar_and_bad_lead_are_api_errors(wj):
    wj.add_webinar(1, "W", ["2026-11-01 18:00"])
    with pytest.raises(errors.ApiError, match="Webinar not found"):
        client(wj, max_retries=0).webinar(99)
    with pytest.raises(errors.ApiError, match="Lead not found"):
        client(wj, max_retries=0).unsubscribe(1, 4242)


def test_every_answer_follows_the_openapi_contract(wj):
    from openapi_core import Config, OpenAPI
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

    spec = yaml.safe_load(_contract().read_text())
    spec["servers"] = [{"url": wj.url}]
    api = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
    recorded: list[requests.Response] = []
    session = requests.Session()
    session.hooks["response"].append(lambda r, *a, **k: recorded.append(r))
    (sid,) = wj.add_webinar(3, "W", ["2026-11-01 18:00"])
    lead = wj.add_registrant(3, sid, "ann@example.org")
    c = client(wj, session=session)
    c.webinars()
    c.webinar(3)
    list(c.registrants(3, search="ann@example.org"))
    c.unsubscribe(3, lead)
    session.post(f"{wj.url}/register", data={"api_key": KEY, "webinar_id": 3, "schedule": sid,
                                             "first_name": "Cy", "email": "cy@example.org"})
    wj.set_faults(bare_list=1)
    list(c.registrants(3))
    assert len(recorded) == 6
    for resp in recorded:
        api.validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))
    assert recorded[3].status_code == 204


def test_runs_on_its_own():
    proc = subprocess.Popen([sys.executable, "-m", "wpprivsync_devkit.wjfake", "--port", "0", "--key", KEY,
                             "--webinar", "5:Own:2026-11-01 18:00"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("local WebinarJam serving http://")
        url = line.split()[-1]
        c = WebinarJamClient(url, KEY, session=requests.Session(), sleep=lambda s: None)
        assert [w["webinar_id"] for w in c.webinars()] == [5]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@responses.activate
def test_error_mapping_and_scrubbing():
    url = "https://wj.test/webinarjam"
    responses.post(f"{url}/webinars", json={"status": "error", "message": f"key {KEY} bad for ann@example.org"})
    c = WebinarJamClient(url, KEY, session=requests.Session(), sleep=lambda s: None, max_retries=0)
    with pytest.raises(errors.ApiError) as exc:
        c.webinars()
    assert KEY not in str(exc.value) and "ann@example.org" not in str(exc.value)
    responses.replace(responses.POST, f"{url}/webinars", status=401, json={"status": "error", "message": "no"})
    with pytest.raises(errors.AuthenticationFailed):
        c.webinars()
    responses.replace(responses.POST, f"{url}/webinars", status=429)
    with pytest.raises(errors.RateLimited):
        c.webinars()
    responses.replace(responses.POST, f"{url}/webinars", json={"status": "success", "webinars": "nope"})
    with pytest.raises(errors.BadResponse):
        c.webinars()
    assert "api_key=" + KEY in responses.calls[0].request.body  # the key travels in the form body only
