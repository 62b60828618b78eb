"""Proof of consent (GDPR art. 7(1)) and restriction of processing (art. 18), issue 12 points 5
and 6, over real HTTP: the real WordPress with the real plugin, the local ActiveCampaign server,
the daemon's services and its SQLite store."""

from __future__ import annotations

import json
import zipfile

from click.testing import CliRunner

from test_plugin_admin import form_fields, login, page
from wpprivsync import services
from wpprivsync.cli.main import cli
from wpprivsync.identity import email_hash

SECRET = "test-site-secret-0123456789"


def digest(email: str) -> str:
    return email_hash(SECRET, email)


def set_consent(system, uid: int, value: bool, source: str) -> None:
    system.php(f"Wpprivsync_Consent::set({uid}, {'true' if value else 'false'}, '{source}');")


def list_status(system, email: str) -> int:
    view = system.ac.contact_view(email)
    assert view is not None, "the contact must be kept"
    return int(view["lists"].get(system.list_id, 0))


def restricted_meta(system, uid: int) -> str:
    return system.php(f"echo get_user_meta({uid}, '_wpprivsync_restricted', true);")


# -- 12.5 proof of consent ----------------------------------------------------------------------------
def test_each_consent_is_recorded_with_source_wording_and_proof_exported_and_explained(system, tmp_path):
    email = "consent.history@example.com"
    uid = system.create_user(email, consent=True)            # registration proves the email
    system.sync()
    system.php("update_option('wpprivsync_consent_wording', '2026-12');")  # the site rewords its checkbox
    try:
        set_consent(system, uid, False, "profile")
        system.sync()
    finally:
        system.php("delete_option('wpprivsync_consent_wording');")

    history = services.consent_history(system.app, "test", email)
    assert [(c["given"], c["source"], c["wording_version"], c["proof"], c["erased"]) for c in history] == [
        (True, "meta", "1", "registration", False), (False, "profile", "2026-12", "registration", False)]
    assert history[0]["wording"] == "Send me the newsletter"  # quoted from the policy's [consent.wording]
    assert history[1]["wording"] is None                      # a version the policy does not name
    actions = [a.action for a in system.app.store.audit(email_hash=digest(email), site="test")]
    assert "consent_given" in actions and "consent_withdrawn" in actions

    archive = services.export_now(system.app, "test", email, tmp_path / "person.zip")["path"]
    with zipfile.ZipFile(archive) as zf:
        data = json.loads(zf.read("export.json"))
        page_html = zf.read("export.html").decode()
    assert [c["source"] for c in data["consents"]] == ["meta", "profile"]
    assert data["summary"]["consent_records"] == 2
    assert "Newsletter consents" in page_html and "Send me the newsletter" in page_html

    explained = services.explain(system.app, "test", email)
    assert [c["given"] for c in explained["consents"]] == [True, False]


def test_after_erasure_only_hashes_and_times_of_the_consents_remain(system):
    email = "erased.consent@example.com"
    system.create_user(email, consent=True)
    system.sync()
    (before,) = system.app.store.consents("test", digest(email))
    request_id = services.queue_request(system.app, "test", "erase", email)
    assert services.run_request(system.app, request_id)["status"] == "done"

    (after,) = system.app.store.consents("test", digest(email))
    assert (after.email_hash, after.given, after.at) == (before.email_hash, True, before.at)
    assert (after.source, after.wording, after.proof) == (None, None, None) and after.erased_at is not None
    row = system.app.store.consents("test", digest(email))[0]
    assert email not in repr(row)
    assert services.consent_history(system.app, "test", email)[0]["erased"] is True


# -- 12.6 restriction of processing -------------------------------------------------------------------
def test_restriction_unsubscribes_keeps_the_contact_flags_the_account_and_blocks_a_new_consent(system):
    email = "restricted.person@example.com"
    uid = system.create_user(email, consent=True)
    system.sync()
    assert list_status(system, email) == 1

    request_id = services.queue_request(system.app, "test", "restrict", email)
    assert services.run_request(system.app, request_id)["status"] == "done"
    assert list_status(system, email) == 2                  # unsubscribed, contact kept
    assert restricted_meta(system, uid) != ""               # the account is flagged
    assert system.user_exists(email) and not system.app.store.is_suppressed("test", digest(email))

    # a new consent while restricted: the stored flag changes ('1' → 'yes', both "subscribed"), so
    # the plugin records consent.changed as for a ticked box
    system.php(f"update_user_meta({uid}, 'wpprivsync_newsletter', 'yes');")
    system.sync()
    assert [r.action for r in system.app.store.list_requests(site="test")].count("subscribe") == 2
    assert list_status(system, email) == 2                  # not re-subscribed
    refused = [a for a in system.app.store.audit(email_hash=digest(email), site="test")
               if a.system == "activecampaign" and a.action == "subscribe"]
    assert refused and all("restricted" in a.reason for a in refused if a.detail.get("restricted"))
    assert any(a.detail.get("restricted") for a in refused)

    lift = services.queue_request(system.app, "test", "lift_restriction", email)
    assert services.run_request(system.app, lift)["status"] == "done"
    assert restricted_meta(system, uid) == ""
    lifted = [a for a in system.app.store.audit(email_hash=digest(email), site="test") if a.action == "lift_restriction"]
    assert len(lifted) == 1 and lifted[0].detail["was_restricted"] is True
    assert list_status(system, email) == 2                  # lifting resumes nothing by itself


def test_the_admin_form_restricts_and_lifts_through_the_daemon(system):
    email = "admin.restricted@example.com"
    uid = system.create_user(email, consent=True)
    system.sync()
    admin = login(system.wp, system.wp.admin_user, system.wp.admin_password)
    fields = form_fields(page(system.wp, admin).text, "wpprivsync-restrict-form")
    fields.pop("lift")
    resp = admin.post(f"{system.wp.url}/wp-admin/admin-post.php", data={**fields, "email": email}, timeout=60)
    assert "Restriction of processing was handed to the daemon." in resp.text
    system.sync()
    assert restricted_meta(system, uid) != "" and list_status(system, email) == 2
    assert system.app.store.restricted_since("test", digest(email)) is not None

    fields = form_fields(page(system.wp, admin).text, "wpprivsync-restrict-form")
    resp = admin.post(f"{system.wp.url}/wp-admin/admin-post.php", data={**fields, "email": email}, timeout=60)
    assert "Lifting the restriction was handed to the daemon." in resp.text
    system.sync()
    assert restricted_meta(system, uid) == "" and system.app.store.restricted_since("test", digest(email)) is None


def test_the_form_refuses_a_bad_email_a_missing_nonce_and_a_subscriber(system):
    admin = login(system.wp, system.wp.admin_user, system.wp.admin_password)
    fields = form_fields(page(system.wp, admin).text, "wpprivsync-restrict-form")
    before = system.app.clients("test").wordpress.status()["outbox"]["pending"]
    resp = admin.post(f"{system.wp.url}/wp-admin/admin-post.php", data={**fields, "email": "not-an-email"}, timeout=60)
    assert "Please enter a valid email address." in resp.text
    no_nonce = {k: v for k, v in fields.items() if k != "_wpnonce"}
    resp = admin.post(f"{system.wp.url}/wp-admin/admin-post.php", data={**no_nonce, "email": "a@example.com"},
                      timeout=60)
    assert resp.status_code == 403
    system.php("wp_insert_user(['user_login' => 'plainsub', 'user_email' => 'plainsub@example.com', "
               "'user_pass' => 'sub-pass-123', 'role' => 'subscriber']);")
    sub = login(system.wp, "plainsub", "sub-pass-123")
    resp = sub.post(f"{system.wp.url}/wp-admin/admin-post.php", data={**fields, "email": "a@example.com"}, timeout=60)
    assert resp.status_code == 403
    assert system.app.clients("test").wordpress.status()["outbox"]["pending"] == before  # nothing recorded


def test_the_restrict_route_needs_the_plugins_capability_and_a_known_account(system):
    import requests

    url = f"{system.wp.url}/?rest_route=/wpprivsync/v1/restrict"
    assert requests.post(url, json={"email": "a@example.com", "restricted": True}, timeout=60).status_code == 401
    wp = system.app.clients("test").wordpress
    from wpprivsync import errors

    try:
        wp.restrict("nobody.here@example.com", True)
    except errors.NotFound:
        pass
    else:
        raise AssertionError("an unknown email must be 404")


def test_the_restrict_command_runs_and_lifts(system, tmp_path):
    email = "cli.restricted@example.com"
    uid = system.create_user(email, consent=True)
    system.sync()
    config = system.write_config(tmp_path / "wpprivsync.toml")
    runner = CliRunner()
    result = runner.invoke(cli, ["--config", str(config), "--json", "restrict", email])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output[result.output.index("\n{") + 1:])["action"] == "restrict"
    assert restricted_meta(system, uid) != "" and list_status(system, email) == 2
    result = runner.invoke(cli, ["--config", str(config), "restrict", "--lift", email])
    assert result.exit_code == 0, result.output
    assert "lift_restriction" in result.output and restricted_meta(system, uid) == ""
    bad = runner.invoke(cli, ["--config", str(config), "restrict", "not-an-email"])
    assert bad.exit_code != 0 and "not a valid email address" in bad.output


def test_reconcile_neither_deletes_nor_resubscribes_a_restricted_person(system):
    from wpprivsync.engine.reconcile import reconcile

    kept = "restricted.kept@example.com"      # in ActiveCampaign, unsubscribed by the restriction; WordPress says yes
    absent = "restricted.absent@example.com"  # WordPress says yes, never in ActiveCampaign
    system.create_user(kept, consent=True)
    absent_id = system.create_user(absent)
    system.sync()
    for email in (kept, absent):
        assert services.run_request(system.app, services.queue_request(system.app, "test", "restrict", email))[
            "status"] == "done"
    system.php(f"update_user_meta({absent_id}, 'wpprivsync_newsletter', '1');")
    system.sync()
    assert system.ac.contact_view(absent) is None
    app = system.app
    c = app.clients("test")
    contacts_before = system.ac.contact_view(kept)
    report = reconcile(c.site, c.wordpress, c.activecampaign, app.store, app.planner("test"), app.secret, app.clock)
    system.sync()
    assert report.unsubscribe_in_wordpress == 0 and report.subscribe_in_activecampaign == 0
    assert system.ac.contact_view(kept) is not None and contacts_before is not None
    assert system.ac.contact_view(absent) is None and system.consent(absent) == "1"
    assert list_status(system, kept) == 2 and system.consent(kept) == "1"
    assert not system.app.store.is_suppressed("test", digest(kept))


def test_an_unsubscribe_by_the_operator_is_a_recorded_withdrawal(system):
    email = "objects@example.com"
    system.create_user(email, consent=True)
    system.sync()
    request_id = services.queue_request(system.app, "test", "unsubscribe", email)  # an objection (art. 21)
    assert services.run_request(system.app, request_id)["status"] == "done"
    history = services.consent_history(system.app, "test", email)
    assert [(c["given"], c["source"], c["proof"]) for c in history] == [
        (True, "meta", "registration"), (False, "cli", "operator")]


def test_an_administrator_changing_someone_elses_box_records_source_admin(system):
    email = "edited.by.admin@example.com"
    uid = system.create_user(email, consent=False)
    admin = login(system.wp, system.wp.admin_user, system.wp.admin_password)
    form = admin.get(f"{system.wp.url}/wp-admin/user-edit.php", params={"user_id": uid}, timeout=60).text
    import re

    nonce = re.search(r'name="wpprivsync_profile_consent" value="([^"]+)"', form).group(1)
    update_nonce = re.search(r'name="_wpnonce" value="([^"]+)"', form).group(1)
    resp = admin.post(f"{system.wp.url}/wp-admin/user-edit.php", timeout=60, data={
        "_wpnonce": update_nonce, "action": "update", "user_id": str(uid), "email": email, "nickname": "edited",
        "wpprivsync_profile_consent": nonce, "wpprivsync_newsletter": "1", "role": "customer"})
    assert resp.status_code in (200, 302), resp.text[:300]
    system.sync()
    history = services.consent_history(system.app, "test", email)
    assert [(c["given"], c["source"]) for c in history][-1] == (True, "admin")


def test_a_subscribe_in_activecampaign_while_restricted_is_put_back_and_recorded(system):
    email = "form.while.restricted@example.com"
    uid = system.create_user(email, consent=True)
    system.sync()
    assert services.run_request(system.app, services.queue_request(system.app, "test", "restrict", email))[
        "status"] == "done"
    system.php(f"update_user_meta({uid}, 'wpprivsync_newsletter', '0');")  # the person had unticked meanwhile
    system.sync()
    before = len(system.ac.deliveries())
    system.ac.subscribe_form(email, system.list_id)        # the person fills in an ActiveCampaign form
    system.ac.wait_deliveries(before + 1)
    assert system.wait_outbox(1) >= 1
    system.sync()

    assert list_status(system, email) == 2                 # put back to unsubscribed
    assert system.consent(email) == "0"                    # WordPress not switched to "subscribed"
    history = services.consent_history(system.app, "test", email)
    assert (history[-1]["given"], history[-1]["source"]) == (True, "webhook")  # the consent itself is on record
