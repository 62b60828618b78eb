"""The planner: each event type becomes the requests and steps the policy asks for; malformed
events are kept visible as a dead-letter request instead of being dropped."""

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from wpprivsync.clients.protocols import Event
from wpprivsync.engine.plan import Planner, steps_for
from wpprivsync.identity import email_hash

SECRET = "s" * 32
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def due(received):
    return received + timedelta(days=30)


def planner(comment_data=False):
    return Planner("shop", SECRET, due, comment_data=comment_data)


def ev(type_, payload, id_=7, created="2026-11-20T10:00:00Z"):
    return Event(id=id_, type=type_, payload=payload, created_at=created)


def shape(req):
    return [(s.system, s.action, s.position) for s in req.steps]


def test_account_deleted_erases_everywhere_and_suppresses():
    plan = planner().plan(ev("account.deleted", {"email": " Ann@Example.com ", "user_id": 3}), NOW)
    (req,) = plan.requests
    assert req.action == "erase" and req.email == "ann@example.com"
    assert req.email_hash == email_hash(SECRET, "ann@example.com")
    assert shape(req) == [("wordpress", "erase", 0), ("activecampaign", "delete_contact", 0), ("suppression", "add", 1)]
    assert req.received_at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    assert req.due_at == req.received_at + timedelta(days=30)
    assert req.event_id == 7 and req.dedupe_key == f"erase:{req.email_hash}"
    assert all("ann" not in str(s.params) for s in req.steps)


def test_erasure_from_privacy_tools_leaves_wordpress_erasers_to_the_admin_screen():
    plan = planner().plan(ev("erasure.requested", {"email": "a@b.co", "request_id": 5, "source": "privacy-tools"}), NOW)
    assert [s.system for s in plan.requests[0].steps] == ["activecampaign", "suppression"]
    plan = planner().plan(ev("erasure.requested", {"email": "a@b.co", "source": "admin-page"}), NOW)
    assert plan.requests[0].steps[0].system == "wordpress"


def test_unsubscribe_from_activecampaign_clears_wordpress_consent_and_deletes():
    plan = planner().plan(ev("newsletter.unsubscribed", {"email": "a@b.co", "list_id": 1}), NOW)
    assert shape(plan.requests[0]) == [("wordpress", "set_consent", 0), ("activecampaign", "delete_contact", 1),
                                       ("suppression", "add", 2)]
    assert plan.requests[0].steps[0].params == {"subscribed": False}


def test_consent_withdrawn_in_wordpress_unsubscribes_then_deletes():
    plan = planner().plan(ev("consent.changed", {"email": "a@b.co", "consent": False, "source": "profile"}), NOW)
    # the delete step reads the contact's lists and unsubscribes it itself when it keeps it
    assert shape(plan.requests[0]) == [("activecampaign", "delete_contact", 1), ("suppression", "add", 2)]
    assert plan.requests[0].steps[0].params == {"keep_if_other_lists": True}
    plan = planner().plan(ev("consent.changed", {"email": "a@b.co", "consent": True}), NOW)
    assert shape(plan.requests[0]) == [("suppression", "remove", 0), ("activecampaign", "subscribe", 1)]


def test_comment_deleted_is_audited_and_only_queues_work_when_comment_data_is_configured():
    plan = planner().plan(ev("comment.deleted", {"email": "a@b.co", "comment_id": 9, "post_id": 1}), NOW)
    assert plan.requests == [] and len(plan.audit) == 1
    assert plan.audit[0].email_hash == email_hash(SECRET, "a@b.co") and plan.audit[0].items_removed == 1
    plan = planner(comment_data=True).plan(ev("comment.deleted", {"email": "a@b.co", "comment_id": 9}), NOW)
    assert shape(plan.requests[0]) == [("activecampaign", "remove_comment_data", 0)]


def test_retry_events_name_steps():
    assert planner().plan(ev("retry.requested", {"step_id": 12}), NOW).retry_step_ids == [12]
    assert planner().plan(ev("retry.requested", {"all": True}), NOW).retry_all


@pytest.mark.parametrize("type_,payload,problem", [
    ("account.deleted", {}, "no valid email"),
    ("account.deleted", {"email": "not-an-email"}, "no valid email"),
    ("consent.changed", {"email": "a@b.co", "consent": "yes"}, "consent must be true or false"),
    ("comment.deleted", {"email": "a@b.co", "comment_id": "x"}, "comment_id must be an integer"),
    ("retry.requested", {"step_id": -1}, "must not be negative"),
    ("mystery.event", {"email": "a@b.co"}, "unknown event type"),
])
def test_malformed_events_become_a_visible_dead_letter(type_, payload, problem):
    plan = planner().plan(ev(type_, payload), NOW)
    (req,) = plan.requests
    assert req.action == "invalid_event" and req.email is None
    (step,) = req.steps
    assert step.action == "invalid_event" and problem in step.params["problem"]


def test_event_without_a_time_uses_now():
    plan = planner().plan(ev("account.deleted", {"email": "a@b.co"}, created="garbage"), NOW)
    assert plan.requests[0].received_at == NOW


def test_unknown_action_is_refused():
    with pytest.raises(ValueError):
        steps_for("teleport")


@settings(max_examples=200, deadline=None)
@given(type_=st.sampled_from(["account.deleted", "erasure.requested", "comment.deleted", "consent.changed",
                              "newsletter.unsubscribed", "newsletter.subscribed", "export.requested",
                              "comments.removal_requested", "retry.requested", "erasure.completed", "x"]),
       payload=st.dictionaries(st.sampled_from(["email", "consent", "comment_id", "step_id", "all", "source"]),
                               st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))))
def test_no_payload_crashes_the_planner_and_no_step_carries_an_email(type_, payload):
    plan = planner().plan(ev(type_, payload), NOW)
    for req in plan.requests:
        for step in req.steps:
            if isinstance(payload.get("email"), str) and "@" in payload["email"]:
                assert payload["email"].strip().lower() not in str(step.params).lower() or req.action == "invalid_event"


def test_an_unproven_email_is_audited_and_planned_nowhere():
    plan = planner().plan(ev("identity.unproven", {"email": "Vic@Example.com", "user_id": 5,
                                                   "attempt": "consent-withdrawn"}), NOW)
    assert plan.requests == []
    (entry,) = plan.audit
    assert entry.action == "unproven_email" and entry.email_hash == email_hash(SECRET, "vic@example.com")
    assert entry.detail == {"user_id": 5, "attempt": "consent-withdrawn"}
    assert "vic@example.com" not in entry.reason.lower()


def test_an_unproven_event_without_an_email_is_a_dead_letter():
    (req,) = planner().plan(ev("identity.unproven", {"user_id": 5, "attempt": "x"}), NOW).requests
    assert req.action == "invalid_event" and "email" in req.steps[0].params["problem"]


# -- pre-flight: every system a request reaches must take the address (issue 13) ------------------
def test_a_consent_activecampaign_would_refuse_lifts_no_suppression_and_says_why():
    plan = planner().plan(ev("consent.changed", {"email": "o'brien@example.ie", "consent": True}), NOW)
    assert plan.requests == []
    (entry,) = plan.audit
    assert (entry.system, entry.action) == ("activecampaign", "refused_address")
    assert "apostrophe" in entry.reason and "o'brien" not in entry.reason
    assert entry.email_hash == email_hash(SECRET, "o'brien@example.ie")


def test_an_erasure_of_such_an_address_skips_only_the_system_that_cannot_hold_it():
    plan = planner().plan(ev("account.deleted", {"email": "o'brien@example.ie"}), NOW)
    (req,) = plan.requests
    assert [s.system for s in req.steps] == ["wordpress", "suppression"]


# -- proof of consent and restriction (issue 12.5/12.6) ----------------------------------------------
def test_a_consent_is_recorded_with_source_wording_and_proof_and_audited_without_detail():
    p = planner().plan(ev("consent.changed", {"email": "Ann@example.com", "consent": True, "source": "checkout",
                                              "wording": "2026-12", "proof": "registration"}), NOW)
    (record,) = p.consents
    assert (record.email_hash, record.given, record.source, record.wording, record.proof, record.event_id) == (
        email_hash(SECRET, "ann@example.com"), True, "checkout", "2026-12", "registration", 7)
    assert record.at == datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
    audit = [a for a in p.audit if a.action == "consent_given"]
    assert len(audit) == 1 and audit[0].detail == {} and "ann@" not in audit[0].reason


def test_an_unknown_source_and_a_label_carrying_an_email_are_not_recorded_as_given():
    p = planner().plan(ev("consent.changed", {"email": "ann@example.com", "consent": False, "source": "<script>",
                                              "wording": "bob@example.com", "proof": "x" * 200}), NOW)
    (record,) = p.consents
    assert record.source == "other" and record.wording is None and record.proof == "x" * 64
    assert record.given is False and p.audit[0].action == "consent_withdrawn"


def test_activecampaign_webhooks_record_a_consent_from_the_webhook():
    for type_, was_given in (("newsletter.subscribed", True), ("newsletter.unsubscribed", False)):
        (record,) = planner().plan(ev(type_, {"email": "ann@example.com"}), NOW).consents
        assert (record.given, record.source, record.proof) == (was_given, "webhook", "activecampaign")


def test_a_malformed_consent_records_nothing():
    p = planner().plan(ev("consent.changed", {"email": "ann@example.com", "consent": "yes"}), NOW)
    assert p.consents == [] and p.requests[0].action == "invalid_event"


def test_restriction_stops_marketing_flags_the_account_and_erases_nothing():
    (req,) = planner().plan(ev("restriction.requested", {"email": "ann@example.com", "source": "admin-page"}), NOW).requests
    assert req.action == "restrict" and shape(req) == [
        ("wpprivsync", "restrict", 0), ("wordpress", "restrict", 0), ("activecampaign", "unsubscribe", 1)]
    assert not {(s.system, s.action) for s in req.steps} & {("activecampaign", "delete_contact"), ("wordpress", "erase"),
                                                             ("suppression", "add")}
    (lift,) = planner().plan(ev("restriction.requested", {"email": "ann@example.com", "lift": True}), NOW).requests
    assert lift.action == "lift_restriction" and shape(lift) == [("wpprivsync", "lift_restriction", 0),
                                                                 ("wordpress", "restrict", 0)]
    assert lift.steps[1].params == {"restricted": False}
    bad = planner().plan(ev("restriction.requested", {"email": "ann@example.com", "lift": "no"}), NOW).requests
    assert bad[0].action == "invalid_event"
