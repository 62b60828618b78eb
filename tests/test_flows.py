"""End to end, one test per flow of the design, against the real WordPress (with the real plugin)
and the local ActiveCampaign server, over real HTTP; plus crash-and-restart and bad inputs."""

from __future__ import annotations

import datetime as dt
import json
import zipfile

import pytest

from support import thrive

from wpprivsync import errors, services
from wpprivsync.engine import plan
from wpprivsync.identity import email_hash

SECRET = "test-site-secret-0123456789"


def audit_actions(system, email):
    return {(a["system"], a["action"]) for a in services.audit_view(system.app, email)}


def test_account_deletion_erases_everywhere_and_suppresses(system):
    email = "ann.flow@example.com"
    uid = system.create_user(email, consent=True)
    system.add_comment(email)
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["customer"])
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")

    system.sync()

    assert not system.user_exists(email)
    assert system.ac.contact_view(email) is None
    assert system.app.store.is_suppressed("test", email_hash(SECRET, email))
    (req,) = [r for r in system.app.store.list_requests(site="test") if r.action == "erase"]
    assert req.status == "done" and req.email is None
    assert {("wordpress", "erase"), ("activecampaign", "delete_contact"), ("suppression", "add")} <= \
        audit_actions(system, email)
    # the plugin's copy of the event is scrubbed: our keyed hash instead of the email
    scrubbed = system.php("global $wpdb; echo $wpdb->get_var(\"SELECT payload FROM {$wpdb->prefix}wpprivsync_outbox "
                          "ORDER BY id DESC LIMIT 1\");")
    assert email not in scrubbed and email_hash(SECRET, email) in scrubbed


def test_comment_removal_deletes_the_comments_and_their_meta(system):
    email = "cal.flow@example.com"
    ids = [system.add_comment(email, f"comment {i}") for i in range(3)]
    other = system.add_comment("someone.else@example.com")
    rid = services.queue_request(system.app, "test", plan.REMOVE_COMMENTS, email)
    view = services.run_request(system.app, rid)
    assert view["status"] == "done"
    assert system.count_comments(email) == 0
    meta_left = system.php("global $wpdb; echo $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->commentmeta} "
                           f"WHERE comment_id IN ({','.join(map(str, ids))})\");")
    assert meta_left == "0"
    assert system.count_comments("someone.else@example.com") == 1 and other
    (wp_step,) = [s for s in view["steps"] if s["system"] == "wordpress"]
    assert wp_step["result"]["comments_deleted"] == 3


def test_unsubscribe_in_activecampaign_reaches_wordpress(system):
    email = "dan.flow@example.com"
    system.create_user(email, consent=True)
    system.ac.add_contact(email, lists={system.list_id: 1})
    system.ac.unsubscribe_click(email, system.list_id)
    system.ac.wait_deliveries(1)
    assert system.wait_outbox(1) >= 1

    system.sync()

    assert system.consent(email) == "0"
    assert system.ac.contact_view(email) is None  # policy: unsubscribing deletes the data
    assert system.app.store.is_suppressed("test", email_hash(SECRET, email))


def test_consent_withdrawn_in_wordpress_reaches_activecampaign(system):
    email = "eva.flow@example.com"
    uid = system.create_user(email, consent=True)
    system.ac.add_contact(email, lists={system.list_id: 1})
    system.php(f"update_user_meta({uid}, 'wpprivsync_newsletter', '0');")

    system.sync()

    assert system.ac.contact_view(email) is None
    assert system.app.store.is_suppressed("test", email_hash(SECRET, email))
    # one step reads the contact's lists and deletes it (issue 17.2: no separate unsubscribe first)
    assert ("activecampaign", "delete_contact") in audit_actions(system, email)
    assert ("activecampaign", "unsubscribe") not in audit_actions(system, email)


def test_export_contains_every_system(system, tmp_path):
    email = "fin.flow@example.com"
    system.create_user(email, name="Fin Flow")
    system.add_comment(email, "exported comment")
    if thrive.active(system.wp):
        thrive.add_testimonial(system.wp, email, "Fin Flow", text="Fin's testimonial")
        thrive.add_lead(system.wp, email, "Fin Flow", phone="+48 600 999 111")
    field = system.ac.add_field("Company")
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["webinar-2026"], fields={field: "Fin Ltd"})

    out = services.export_now(system.app, "test", email, tmp_path / "fin.zip")

    with zipfile.ZipFile(out["path"]) as zf:
        assert set(zf.namelist()) >= {"export.json", "export.html"}
        data = json.loads(zf.read("export.json"))
        page = zf.read("export.html").decode()
    groups = data["wordpress"]["groups"]
    flat = json.dumps(groups)
    assert "exported comment" in flat and email in flat
    assert any("comment" in g for g in groups) and any("user" in g for g in groups)
    ac = data["activecampaign"]
    assert [t["tag"] for t in ac["tags"]] == ["webinar-2026"]
    assert any(f["value"] == "Fin Ltd" for f in ac["fields"])
    assert any(int(l["list"]) == system.list_id and int(l["status"]) == 1 for l in ac["lists"])
    assert "Fin Ltd" in page and "exported comment" in page
    if thrive.active(system.wp):
        assert "Fin's testimonial" in flat and "+48 600 999 111" in flat


def test_reconcile_fixes_drift(system):
    said_no = "gil.flow@example.com"
    said_yes = "hana.flow@example.com"
    left_ac = "ivo.flow@example.com"
    system.create_user(said_no, consent=False)
    system.create_user(said_yes, consent=True)
    system.create_user(left_ac, consent=True)
    system.sync()  # both sides agree now
    assert system.ac.contact_view(said_yes)["lists"] == {system.list_id: 1}
    # drift: a hand import, a missed unsubscribe webhook, a contact deleted by hand
    system.ac.add_contact(said_no, lists={system.list_id: 1})
    system.ac.add_contact(left_ac, lists={system.list_id: 2})
    system.ac.account().delete_contact(system.ac.contact_view(said_yes)["id"])
    c = system.app.clients("test")
    planner = system.app.planner("test")
    from wpprivsync.engine.reconcile import reconcile

    report = reconcile(c.site, c.wordpress, c.activecampaign, system.app.store, planner, SECRET, system.app.clock)
    assert (report.unsubscribe_in_activecampaign, report.subscribe_in_activecampaign,
            report.unsubscribe_in_wordpress) == (1, 1, 1)
    assert report.import_calls == 1
    assert system.ac.wait_imports(10)
    assert system.ac.contact_view(said_yes)["lists"] == {system.list_id: 1}
    assert system.ac.contact_view(said_no)["lists"] == {system.list_id: 2}
    system.sync()
    assert system.consent(left_ac) == "0"
    assert system.ac.contact_view(said_no) is None  # then deleted, per policy
    assert system.ac.contact_view(left_ac) is None
    again = reconcile(c.site, c.wordpress, c.activecampaign, system.app.store, planner, SECRET, system.app.clock,
                      dry_run=True)
    assert (again.unsubscribe_in_activecampaign, again.subscribe_in_activecampaign,
            again.unsubscribe_in_wordpress) == (0, 0, 0)


def test_unknown_email_completes_with_nothing_to_erase(system):
    rid = services.queue_request(system.app, "test", plan.ERASE, "nobody.here@example.com")
    view = services.run_request(system.app, rid)
    assert view["status"] == "done"
    ac_step = next(s for s in view["steps"] if s["system"] == "activecampaign")
    assert ac_step["result"] == {"found": False}


def test_bad_email_is_refused_before_anything_is_queued(system):
    with pytest.raises(errors.ConfigError, match="valid email"):
        services.queue_request(system.app, "test", plan.ERASE, "not an email")
    assert system.app.store.list_requests() == []


def test_malformed_event_is_acked_and_shown_as_failed_work(system):
    system.php("Wpprivsync_Outbox::record('account.deleted', ['user_id' => 5]);")
    system.sync()
    st = services.status(system.app)
    assert len(st["failed"]) == 1 and "no valid email" in st["failed"][0]["error"]
    assert system.app.clients("test").wordpress.status()["outbox"]["pending"] == 0


def test_activecampaign_down_loses_nothing(system):
    email = "jo.flow@example.com"
    system.ac.add_contact(email, lists={system.list_id: 1})
    system.ac.set_faults(error_rate=1.0)
    rid = services.queue_request(system.app, "test", plan.ERASE, email)
    services.run_request(system.app, rid)
    req = system.app.store.get_request(rid)
    assert req.status in ("open", "failed")
    system.ac.clear_faults()
    system.app.store.retry_all_dead(system.app.clock())
    later = system.app.clock() + dt.timedelta(hours=2)  # every backoff has run out by then
    system.app.clock = lambda: later
    view = services.run_request(system.app, rid)
    assert view["status"] == "done"
    assert system.ac.contact_view(email) is None


def test_wordpress_down_keeps_events_until_it_is_back(system):
    email = "kim.flow@example.com"
    uid = system.create_user(email)
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")
    system.wp.stop_db()
    try:
        summary = services.sync_once(system.app)
        assert "error" in summary["sites"]["test"]
        assert [r for r in system.app.store.list_requests() if r.action == "erase"] == []
    finally:
        system.wp.start_db()
    system.sync()
    (req,) = [r for r in system.app.store.list_requests() if r.action == "erase"]
    assert req.status == "done"


def test_export_everywhere_from_the_admin_page_ends_in_a_download_link(system):
    import html
    import io
    import re

    import requests

    email = "lea.flow@example.com"
    system.create_user(email, name="Lea Flow")
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["reader"])
    system.php(f"Wpprivsync_Outbox::record('export.requested', ['email' => '{email}', 'source' => 'admin-page']);")
    system.sync()
    services.send_heartbeat(system.app, "test")
    page = system.php("wp_set_current_user(1); set_current_screen('tools_page_wpprivsync'); ob_start();"
                      " Wpprivsync_Admin::render(); echo ob_get_clean();")
    assert "Download export" in page
    (req,) = [r for r in system.app.store.list_requests() if r.action == "export"]
    url = services.request_view(system.app, req.id)["export_url"]
    assert url and "admin-post.php" in url
    link = html.unescape(re.search(r'class="wpprivsync-export-link" href="([^"]+)"', page).group(1))
    # served only to a logged-in exporter with the page's nonce (issue 13)
    admin = requests.Session()
    admin.cookies.set("wordpress_test_cookie", "WP Cookie check")
    admin.post(f"{system.wp.url}/wp-login.php", data={"log": system.wp.admin_user, "pwd": system.wp.admin_password,
                                                      "wp-submit": "Log In", "testcookie": "1"}, timeout=60)
    page = admin.get(f"{system.wp.url}/wp-admin/tools.php", params={"page": "wpprivsync"}, timeout=60).text
    link = html.unescape(re.search(r'class="wpprivsync-export-link" href="([^"]+)"', page).group(1))
    with zipfile.ZipFile(io.BytesIO(admin.get(link, timeout=30).content)) as zf:
        data = json.loads(zf.read("export.json"))
    assert data["subject"]["email"] == email and [t["tag"] for t in data["activecampaign"]["tags"]] == ["reader"]
