"""Issue 17.1–17.2: the ActiveCampaign calls each operation makes, pinned at the local server's
counters (so a later change cannot add calls silently). Each step handler runs against the real
client over HTTP, the local ActiveCampaign server and a real store; the person's contact id is
linked the way the daemon learns it (subscribe answer, webhook, look-up), or not.

Issue 12.3: a step that knows the contact id does not look it up; a stale link (the person
re-subscribed under a new id) is still found and erased."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from wpprivsync.clients.activecampaign import ActiveCampaignClient
from wpprivsync.engine.plan import Planner
from wpprivsync.engine.steps import HANDLERS, StepContext
from wpprivsync.identity import email_hash
from wpprivsync.policy.loader import load_policy
from wpprivsync.store import open_store
from wpprivsync.store.api import PersonLink

REPO = Path(__file__).resolve().parents[1]
SECRET = "calls-secret-0123456789"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
SITE = "test"


@dataclass
class Site:
    newsletter_list_ids: list[int]
    name: str = SITE
    webinarjam_webinar_ids: tuple[int, ...] = ()


@dataclass
class Policy:
    """The project's policy, with the comment-data settings a test chooses."""

    base: Any
    comment_tags: tuple[str, ...] = ()
    comment_field_ids: tuple[int, ...] = ()

    def rule(self, rule_id: str) -> Any:
        return self.base.rule(rule_id)


@dataclass
class Env:
    ac_server: Any
    client: ActiveCampaignClient
    store: Any
    site: Site
    policy: Policy
    planner: Planner = field(init=False)

    def __post_init__(self) -> None:
        self.planner = Planner(SITE, SECRET, lambda t: t + timedelta(days=30))

    def total(self) -> int:
        return int(self.ac_server.counters()["total"])

    def link(self, email: str, **kw: Any) -> None:
        self.store.link_people([PersonLink(SITE, email, email_hash(SECRET, email), **kw)], NOW)

    def run(self, action: str, email: str, system: str, step_action: str, *, params: dict | None = None,
            request: Any = None, **plan_kw: Any) -> tuple[dict, int, list]:
        """Queue the request, run its one ActiveCampaign step; (result, calls, audit)."""
        req = request or self.planner.request(action, email, source="test", received_at=NOW, **plan_kw)
        rid = self.store.add_request(req)
        step = next(s for s in self.store.steps_of(rid) if (s.system, s.action) == (system, step_action))
        if params:
            step = replace(step, params={**step.params, **params})
        ctx = StepContext(site=self.site, request=self.store.get_request(rid), step=step, wordpress=None,
                          activecampaign=self.client, store=self.store, policy=self.policy, now=NOW,
                          export_dir=Path("."))
        before = self.total()
        outcome = HANDLERS[(system, step_action)](ctx)
        return outcome.result, self.total() - before, outcome.audit

    def step(self, system: str, step_action: str, action: str, email: str, **kw: Any) -> tuple[dict, int, list]:
        return self.run(action, email, system, step_action, **kw)


@pytest.fixture
def env(ac_server_fast, tmp_path):
    session = requests.Session()
    list_id = ac_server_fast.add_list("Newsletter")
    client = ActiveCampaignClient(ac_server_fast.url, ac_server_fast.token, session=session, timeout=5)
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    e = Env(ac_server_fast, client, store, Site([list_id]), Policy(load_policy(REPO / "config" / "policy.toml")))
    yield e
    store.close()
    session.close()


def lid(env: Env) -> int:
    return env.site.newsletter_list_ids[0]


# -- erasure (17.1) ----------------------------------------------------------------------------
def test_an_erasure_with_a_linked_contact_id_is_one_call(env):
    cid = env.ac_server.add_contact("linked@example.com", lists={lid(env): 1})
    env.link("linked@example.com", contact_id=cid, wp_user_id=3, current=True)
    result, calls, audit = env.step("activecampaign", "delete_contact", "erase", "linked@example.com")
    assert calls == 1 and result["contact_ids"] == [cid] and result["looked_up"] == 0
    assert env.ac_server.contact_view("linked@example.com") is None
    assert audit[0].items_removed == 1


def test_an_erasure_without_a_link_looks_up_then_deletes_two_calls(env):
    env.ac_server.add_contact("unlinked@example.com", lists={lid(env): 1})
    result, calls, _ = env.step("activecampaign", "delete_contact", "erase", "unlinked@example.com")
    assert calls == 2 and result["deleted"] is True
    assert env.ac_server.contact_view("unlinked@example.com") is None
    # nobody at all: one look-up, nothing deleted
    result, calls, _ = env.step("activecampaign", "delete_contact", "erase", "nobody@example.com")
    assert calls == 1 and result["found"] is False


def test_a_stale_link_is_still_found_and_erased(env):
    """The person re-subscribed under a new contact id: the linked id answers 404, the look-up
    finds the new contact, which is deleted and linked."""
    old = env.ac_server.add_contact("stale@example.com", lists={lid(env): 1})
    env.link("stale@example.com", contact_id=old, wp_user_id=4, current=True)
    env.ac_server.account().delete_contact(old)
    new = env.ac_server.add_contact("stale@example.com", lists={lid(env): 1})
    result, calls, _ = env.step("activecampaign", "delete_contact", "erase", "stale@example.com")
    assert calls == 3  # DELETE old (404), look-up, DELETE new
    assert result["contact_ids"] == [new]
    assert env.ac_server.contact_view("stale@example.com") is None


def test_an_erasure_covers_every_linked_contact_and_past_email(env):
    """A person with an old address (its own contact) and a new one: both contacts go, by id."""
    a = env.ac_server.add_contact("past@example.com", lists={lid(env): 1})
    b = env.ac_server.add_contact("now@example.com", lists={lid(env): 1})
    env.link("past@example.com", contact_id=a, wp_user_id=5)
    env.link("now@example.com", contact_id=b, wp_user_id=5, current=True,
             replaces_hash=email_hash(SECRET, "past@example.com"))
    result, calls, _ = env.step("activecampaign", "delete_contact", "erase", "now@example.com")
    assert calls == 2 and sorted(result["contact_ids"]) == sorted([a, b])
    # a past email with no linked contact is looked up (one call), and its contact erased
    c = env.ac_server.add_contact("older@example.com")
    env.link("older@example.com", wp_user_id=6)
    d = env.ac_server.add_contact("newest@example.com")
    env.link("newest@example.com", wp_user_id=6, contact_id=d, current=True)
    result, calls, _ = env.step("activecampaign", "delete_contact", "erase", "newest@example.com")
    assert calls == 3 and sorted(result["contact_ids"]) == sorted([c, d])


# -- unsubscribe (17.2) ------------------------------------------------------------------------
def test_an_unsubscribe_in_wordpress_with_a_linked_id_is_two_calls(env):
    cid = env.ac_server.add_contact("unsub@example.com", lists={lid(env): 1})
    env.link("unsub@example.com", contact_id=cid)
    result, calls, _ = env.step("activecampaign", "delete_contact", "unsubscribe", "unsub@example.com")
    assert calls == 2 and result == {"found": True, "deleted": True, "contact_id": cid}  # GET contact, DELETE


def test_kept_on_other_lists_uses_what_one_call_returns(env):
    other = env.ac_server.add_list("Customers")
    cid = env.ac_server.add_contact("kept@example.com", lists={lid(env): 1, other: 1})
    env.link("kept@example.com", contact_id=cid)
    result, calls, audit = env.step("activecampaign", "delete_contact", "unsubscribe", "kept@example.com")
    assert calls == 2  # GET contact (its lists), POST contactLists (unsubscribed from the newsletter)
    assert result["deleted"] is False and result["other_lists"] == [other]
    view = env.ac_server.contact_view("kept@example.com")
    assert view["lists"] == {lid(env): 2, other: 1}
    assert audit[0].action == "keep_contact"


def test_an_unsubscribe_from_the_webhook_uses_its_contact_id(env):
    cid = env.ac_server.add_contact("hook@example.com", lists={lid(env): 2})
    plan = env.planner.plan(_event("newsletter.unsubscribed", {"email": "hook@example.com", "contact_id": cid,
                                                               "list_id": lid(env)}), NOW)
    (delete,) = [s for s in plan.requests[0].steps if s.action == "delete_contact"]
    assert delete.params == {"keep_if_other_lists": True, "contact_id": cid}
    result, calls, _ = env.step("activecampaign", "delete_contact", "unsubscribe", "hook@example.com",
                                params=delete.params, from_activecampaign=True)
    assert calls == 2 and result["deleted"] is True
    assert env.store.person(SITE, email_hash=email_hash(SECRET, "hook@example.com")) is not None


def test_an_unsubscribe_without_a_link_is_three_calls(env):
    env.ac_server.add_contact("nolink@example.com", lists={lid(env): 1})
    _, calls, _ = env.step("activecampaign", "delete_contact", "unsubscribe", "nolink@example.com")
    assert calls == 3  # look-up, GET contact, DELETE


# -- subscribe, comment data, rectification ---------------------------------------------------
def test_subscribe_is_two_calls_and_links_the_contact_id(env):
    result, calls, _ = env.step("activecampaign", "subscribe", "subscribe", "new.sub@example.com")
    assert calls == 2  # POST contact/sync, POST contactLists
    person = env.store.person(SITE, email_hash=email_hash(SECRET, "new.sub@example.com"))
    assert person is not None and person.contact_ids == [result["contact_id"]]
    # the erasure that follows needs one call
    _, calls, _ = env.step("activecampaign", "delete_contact", "erase", "new.sub@example.com")
    assert calls == 1


def test_comment_data_removal_does_not_fetch_what_it_has(env):
    env.policy.comment_tags = ("commented",)
    env.planner.comment_data = True
    cid = env.ac_server.add_contact("talker@example.com", tags=["commented", "customer"])
    env.link("talker@example.com", contact_id=cid)
    result, calls, _ = env.step("activecampaign", "remove_comment_data", "remove_comments", "talker@example.com")
    # GET contactTags, GET tags (names; cached afterwards), DELETE contactTags/{id}
    assert calls == 3 and result["tags_removed"] == 1
    assert env.ac_server.contact_view("talker@example.com")["tags"] == ["customer"]
    env.ac_server.account().add_contact_tag(cid, env.ac_server.account().tag_id("commented"))
    _, calls, _ = env.step("activecampaign", "remove_comment_data", "remove_comments", "talker@example.com")
    assert calls == 2  # the tag names are known now


def test_rectification_with_a_linked_id_is_one_call(env):
    cid = env.ac_server.add_contact("rect.old@example.com", lists={lid(env): 1})
    env.link("rect.old@example.com", contact_id=cid, wp_user_id=8, current=True)
    plan = env.planner.plan(_event("identity.email_changed", {
        "user_id": 8, "email": "rect.new@example.com", "old_email": "rect.old@example.com",
        "proof": "core-confirmation", "first_name": "Rae", "last_name": "Ct"}), NOW)
    env.store.link_people(plan.links, NOW)
    result, calls, audit = env.step("activecampaign", "rectify", "rectify", "rect.new@example.com",
                                    request=plan.requests[0])
    assert calls == 1 and result["contact_id"] == cid  # PUT contacts/{id}
    view = env.ac_server.contact_view("rect.new@example.com")
    assert view["id"] == cid and (view["first_name"], view["last_name"]) == ("Rae", "Ct")
    assert audit[0].action == "rectify" and "example.com" not in repr(audit[0])


def test_rectification_without_a_link_finds_the_contact_under_the_old_email(env):
    cid = env.ac_server.add_contact("unl.old@example.com")
    plan = env.planner.plan(_event("identity.email_changed", {
        "user_id": 9, "email": "unl.new@example.com", "old_email": "unl.old@example.com", "proof": "admin"}), NOW)
    env.store.link_people(plan.links, NOW)
    result, calls, _ = env.step("activecampaign", "rectify", "rectify", "unl.new@example.com",
                                request=plan.requests[0])
    assert calls == 2 and result["contact_id"] == cid  # look-up (old email), PUT
    assert env.ac_server.contact_view("unl.new@example.com")["id"] == cid


def _event(type_: str, payload: dict) -> Any:
    from wpprivsync.clients.protocols import Event

    return Event(id=1, type=type_, payload=payload, created_at="2026-12-01T12:00:00Z")


def test_a_webhook_unsubscribe_of_a_contact_on_other_lists_is_one_call(env):
    other = env.ac_server.add_list("Customers")
    cid = env.ac_server.add_contact("hook.kept@example.com", lists={lid(env): 2, other: 1})
    result, calls, _ = env.step("activecampaign", "delete_contact", "unsubscribe", "hook.kept@example.com",
                                params={"contact_id": cid}, from_activecampaign=True)
    assert calls == 1 and result["deleted"] is False  # GET contact; already unsubscribed, nothing to send
    assert env.ac_server.contact_view("hook.kept@example.com")["lists"] == {lid(env): 2, other: 1}


def test_an_email_a_contact_took_in_activecampaign_is_not_erased_on_the_persons_behalf(env):
    """Attack: a subscriber changes their own contact's email to a victim's in ActiveCampaign
    (its public profile form), so the update webhook links the victim's address to them; then
    their contact id goes stale and they erase their account. The victim's contact stays and the
    victim's address is not suppressed."""
    mine = env.ac_server.add_contact("mallory@example.com", lists={lid(env): 1})
    env.link("mallory@example.com", wp_user_id=11, contact_id=mine, current=True, proof="registration")
    victim = env.ac_server.add_contact("victim@example.com", lists={lid(env): 1})
    env.ac_server.account().delete_contact(mine)  # the link goes stale
    env.link("victim@example.com", contact_id=mine, source="activecampaign-update")  # as relink records it
    assert env.store.person(SITE, wp_user_id=11).contact_ids == [mine]

    result, calls, _ = env.step("activecampaign", "delete_contact", "erase", "mallory@example.com")
    assert calls == 2 and result["found"] is False  # DELETE (404), look-up of mallory's own email only
    assert env.ac_server.contact_view("victim@example.com")["id"] == victim
    suppress, _, _ = env.step("suppression", "add", "erase", "mallory@example.com")
    assert suppress["past_emails_suppressed"] == 0
    assert not env.store.is_suppressed(SITE, email_hash(SECRET, "victim@example.com"))
