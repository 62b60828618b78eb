"""Identity attacks (issue 12), replayed over real HTTP against the real WordPress with the real
plugin and the local ActiveCampaign server: a subscriber gives their account someone else's
email through core's REST API (`POST /wp/v2/users/me`, no confirmation) and then acts on it.
The victim must stay untouched; the attempt is audited under a keyed hash only."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from support.wordpress import rest_session
from wpprivsync.identity import email_hash

SECRET = "test-site-secret-0123456789"


def attacker(system, email: str) -> tuple[int, object]:
    """A subscriber of the site with an application password (REST access as themselves)."""
    uid = system.create_user(email, consent=False)
    pw = system.php(f"wp_update_user(['ID' => {uid}, 'role' => 'subscriber']);"
                    f" $r = WP_Application_Passwords::create_new_application_password({uid}, ['name' => 'attack']);"
                    " echo $r[0];")
    login = system.php(f"echo get_userdata({uid})->user_login;")
    return uid, rest_session(login, pw)


def take_email(system, session, victim: str) -> None:
    resp = session.post(f"{system.wp.url}/?rest_route=/wp/v2/users/me", json={"email": victim}, timeout=60)
    assert resp.status_code == 200, resp.text
    assert resp.json().get("email", victim) == victim  # core took it at once


def set_newsletter(system, session, uid: int, value: bool) -> None:
    # the REST API (meta is not exposed there) — the attacker ticks the box on their profile;
    # the plugin's meta hook is what fires, so write the meta as profile.php does
    system.php(f"wp_set_current_user({uid}); update_user_meta({uid}, 'wpprivsync_newsletter', '{int(value)}');")


def unproven_audit(system, victim: str) -> list[dict]:
    """The audit entries of refused attempts, oldest first, as dicts with their detail."""
    rows = system.app.store.audit(email_hash=email_hash(SECRET, victim), site="test", limit=200)
    found = [{"action": a.action, "detail": a.detail, "reason": a.reason, "id": a.id} for a in rows
             if a.action == "unproven_email"]
    assert all(victim not in r["reason"] for r in found)
    return sorted(found, key=lambda r: r["id"])


def test_rest_email_change_then_consent_does_not_lift_an_erased_persons_suppression(system):
    victim = "erased.victim@example.com"
    system.app.store.suppress("test", email_hash(SECRET, victim), "erasure", dt.datetime.now(dt.timezone.utc))
    uid, session = attacker(system, "mallory1@example.com")
    take_email(system, session, victim)
    set_newsletter(system, session, uid, True)

    system.sync()

    assert system.app.store.is_suppressed("test", email_hash(SECRET, victim))
    assert system.ac.contact_view(victim) is None  # never subscribed
    assert not [r for r in system.app.store.list_requests(site="test") if r.action == "subscribe"]
    (entry,) = [a for a in unproven_audit(system, victim) if a["detail"]["attempt"] == "consent-given"]
    assert entry["detail"]["user_id"] == uid


def test_rest_email_change_then_unticking_keeps_a_subscribers_contact(system):
    victim = "newsletter.only@example.com"
    system.ac.add_contact(victim, lists={system.list_id: 1})
    uid, session = attacker(system, "mallory2@example.com")
    take_email(system, session, victim)
    set_newsletter(system, session, uid, True)
    set_newsletter(system, session, uid, False)

    system.sync()

    view = system.ac.contact_view(victim)
    assert view is not None  # not deleted
    assert int(view["lists"].get(system.list_id, 0)) == 1
    assert not system.app.store.is_suppressed("test", email_hash(SECRET, victim))
    assert {a["detail"]["attempt"] for a in unproven_audit(system, victim)} >= {"email-changed", "consent-withdrawn"}


def test_deleting_an_account_with_a_taken_email_leaves_the_victims_contact(system):
    victim = "contact.victim@example.com"
    system.ac.add_contact(victim, lists={system.list_id: 1}, tags=["customer"])
    uid, session = attacker(system, "mallory3@example.com")
    take_email(system, session, victim)
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")

    system.sync()

    assert system.ac.contact_view(victim) is not None
    assert not system.app.store.is_suppressed("test", email_hash(SECRET, victim))
    assert not [r for r in system.app.store.list_requests(site="test") if r.action == "erase"]
    assert [a["detail"]["attempt"] for a in unproven_audit(system, victim)][-1:] == ["account-deleted"]


def test_the_audit_and_the_outbox_keep_no_plain_address(system):
    victim = "plain.check@example.com"
    uid, session = attacker(system, "mallory4@example.com")
    take_email(system, session, victim)
    system.sync()
    rows = system.php("global $wpdb; echo $wpdb->get_var(\"SELECT GROUP_CONCAT(payload) FROM "
                      "{$wpdb->prefix}wpprivsync_outbox WHERE type = 'identity.unproven'\");")
    assert rows and victim not in rows and email_hash(SECRET, victim) in rows
    meta = system.php(f"echo json_encode(get_user_meta({uid}, '_wpprivsync_proven_emails', true));")
    assert victim not in meta


def test_a_proven_change_still_reaches_activecampaign(system):
    """Control: the owner of a registration email is followed as before."""
    email = "owner.ok@example.com"
    uid = system.create_user(email, consent=False)
    system.php(f"update_user_meta({uid}, 'wpprivsync_newsletter', '1');")
    system.sync()
    view = system.ac.contact_view(email)
    assert view is not None and int(view["lists"].get(system.list_id, 0)) == 1


def test_an_email_confirmed_through_cores_link_is_proven(system):
    old, new = "conf.old@example.com", "conf.new@example.com"
    uid = system.create_user(old, consent=False)
    # core's profile.php flow: the pending address in _new_email, then the confirmed update
    system.php(f"wp_set_current_user({uid}); update_user_meta({uid}, '_new_email', ['hash' => 'h', 'newemail' => '{new}']);"
               f" wp_update_user(['ID' => {uid}, 'user_email' => '{new}']); delete_user_meta({uid}, '_new_email');"
               f" update_user_meta({uid}, 'wpprivsync_newsletter', '1');")
    system.sync()
    assert system.ac.contact_view(new) is not None
    assert not unproven_audit(system, new)


def test_reconcile_does_not_see_consent_on_a_taken_email(system):
    victim = "reconcile.victim@example.com"
    system.ac.add_contact(victim, lists={system.list_id: 1})
    uid, session = attacker(system, "mallory5@example.com")
    take_email(system, session, victim)
    set_newsletter(system, session, uid, False)
    daemon = rest_session(system.wp.service_user, system.wp.service_app_password)
    resp = daemon.get(f"{system.wp.url}/?rest_route=/wpprivsync/v1/consents", params={"limit": 100}, timeout=60)
    assert resp.status_code == 200, resp.text
    (row,) = [u for u in resp.json()["users"] if u["id"] == uid]
    assert row["subscribed"] is None  # unproven: reconcile must not unsubscribe the victim from it


def confirmation_link(system, to: str) -> str:
    mails = [m for m in system.wp.sent_mail() if to in m["to"]]
    assert mails, f"no confirmation mail to {to}"
    (link,) = re.findall(r"https?://\S+", mails[-1]["message"])
    return link


def test_a_suppressed_email_is_subscribed_only_after_its_owner_confirms(system):
    """Double opt-in: ticking the box on a taken email mails a signed link to the address; only
    its owner following it lifts the suppression and subscribes."""
    victim = "optin.owner@example.com"
    digest = email_hash(SECRET, victim)
    system.app.store.suppress("test", digest, "unsubscribed", dt.datetime.now(dt.timezone.utc))
    uid, session = attacker(system, "mallory6@example.com")
    take_email(system, session, victim)
    set_newsletter(system, session, uid, True)
    system.sync()
    assert system.app.store.is_suppressed("test", digest) and system.ac.contact_view(victim) is None

    link = confirmation_link(system, victim)
    forged = re.sub(r"\.([0-9a-f]{6})", lambda m: "." + ("0" * 6 if m.group(1) != "0" * 6 else "1" * 6), link, count=1)
    assert requests.get(forged, timeout=60).status_code == 403
    assert requests.get(link, timeout=60).status_code == 200
    system.sync()

    assert not system.app.store.is_suppressed("test", digest)
    view = system.ac.contact_view(victim)
    assert view is not None and int(view["lists"].get(system.list_id, 0)) == 1
    assert system.php(f"echo Wpprivsync_Identity::proof({uid}, '{victim}');") == "link"


def test_an_expired_link_is_refused_and_changes_nothing(system):
    token = system.php("echo Wpprivsync_Identity::token(0, 'late.owner@example.com', 'checkout', time() - 1);")
    resp = requests.get(f"{system.wp.url}/?rest_route=/wpprivsync/v1/confirm", params={"t": token}, timeout=60)
    assert resp.status_code == 403 and "expired" in resp.json()["message"]
    assert system.php("global $wpdb; echo $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->prefix}wpprivsync_outbox "
                      "WHERE type = 'consent.changed'\");") == "0"


@pytest.mark.woocommerce
def test_guest_checkout_does_not_lift_anyones_suppression(system):
    victim = "guest.victim@example.com"
    digest = email_hash(SECRET, victim)
    system.app.store.suppress("test", digest, "erasure", dt.datetime.now(dt.timezone.utc))
    system.php(f"""$o = wc_create_order(); $o->set_billing_email('{victim}'); $o->save();
                  $_POST['wpprivsync_newsletter'] = '1';
                  do_action('woocommerce_checkout_order_processed', $o->get_id(), [], $o);""")
    system.sync()
    assert system.app.store.is_suppressed("test", digest)
    assert system.ac.contact_view(victim) is None
    assert [a["detail"]["attempt"] for a in unproven_audit(system, victim)] == ["guest-checkout"]
    # the owner confirms: only now
    assert requests.get(confirmation_link(system, victim), timeout=60).status_code == 200
    system.sync()
    assert not system.app.store.is_suppressed("test", digest)
    assert system.ac.contact_view(victim) is not None
