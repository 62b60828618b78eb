"""Proof of erasure over the real stack (WordPress with WooCommerce and the real Thrive plugins,
the local ActiveCampaign server): after an erasure the residue scan finds nothing but what the
policy keeps (each place reported as retained, with its clause and end date); what it finds
before the erasure is all in the person's export; a residue left by a plugin shows in the audit,
`status` and `residues` until a fix and `verify` resolve it."""

from __future__ import annotations

import json


from support import thrive
from support.wordpress import requires_thrive, requires_woocommerce
from support.reliability import cli as run_cli

from wpprivsync import services, verification
from wpprivsync.engine import plan
from wpprivsync.identity import email_hash

SECRET = "test-site-secret-0123456789"
pytestmark = [requires_thrive, requires_woocommerce]


def seed_person(system, email, name="Vera Verify"):
    """The person everywhere the site keeps people: account, comments, an order under
    retention, and every Thrive location."""
    uid = system.create_user(email, consent=True, name=name)
    system.add_comment(email, "A plain comment")
    thrive.seed_everywhere(system.wp, email, name)
    order = int(system.php(f"""$o = wc_create_order(); $o->set_billing_email({json.dumps(email)});
        $o->set_billing_first_name('Vera'); $o->set_customer_id({uid}); $o->save(); echo $o->get_id();"""))
    system.ac.add_contact(email, lists={system.list_id: 1})
    return uid, order


def erase(system, email):
    rid = services.queue_request(system.app, "test", plan.ERASE, email)
    return services.run_request(system.app, rid)


def scan_step(view):
    (step,) = [s for s in view["steps"] if (s["system"], s["action"]) == ("wordpress", "verify")]
    return step


def test_after_erasure_nothing_is_left_but_what_the_policy_keeps(system):
    email = "vera.verify@example.com"
    seed_person(system, email)
    view = erase(system, email)
    assert view["status"] == "done", view
    step = scan_step(view)
    assert step["status"] == "done"
    digest = email_hash(SECRET, email)
    open_ = system.app.store.residues(email_hash=digest, status="open")
    assert open_ == [], [(r.table, r.column, r.row_key, r.kind) for r in open_]
    kept = system.app.store.residues(email_hash=digest, status="retained")
    assert kept and {r.clause for r in kept} <= {"orders", "requests"}
    assert "orders" in {r.clause for r in kept}
    assert all(r.retained_until for r in kept)
    assert step["result"]["residues"]["open"] == 0 and step["result"]["unscanned"] == []
    (entry,) = [a for a in services.audit_view(system.app, email) if a["action"] == "residue_scan"]
    assert entry["reason"] == "nothing left but what the policy keeps"
    # the admin page finds the scan by the daemon's keyed hash (the one its requests list shows)
    latest = system.wp.php_json(f"echo json_encode(Wpprivsync_Residue_Scan::latest_for_hash('{digest}'));")
    assert latest["scanned_at"] and latest["open"] == 0 and latest["retained"] >= 1
    assert email not in json.dumps(entry, default=str)


def test_every_place_found_before_erasure_is_in_the_export(system):
    email = "xena.export@example.com"
    seed_person(system, email, "Xena Export")
    found = verification.verify(system.app, "test", [email])["people"][0]
    assert not found["erased"] and found["recorded"] is None
    places = found["open"] + found["retained"]
    assert len({p["table"] for p in places}) >= 8
    export = system.app.clients("test").wordpress.export(email)
    item_ids = {(gid, str(item.get("item_id", ""))) for gid, g in export["groups"].items() for item in g["items"]}
    prefix = system.php("global $wpdb; echo $wpdb->prefix;")
    missing = [p for p in places if not exported(system, prefix, p, item_ids, email)]
    assert missing == [], missing


def exported(system, prefix, place, item_ids, email):
    """Whether the export holds the row behind ``place``: the exporter item that stands for that
    row (or for the record it belongs to: a meta row's post, comment or order), by group and
    item id. A table this does not know fails the test: a new location needs an exporter."""
    table = place["table"][len(prefix):] if place["table"].startswith(prefix) else place["table"]
    key = place["key"]

    def has(group, item):
        return (group, item) in item_ids

    def parent(column, id_column):
        return system.php(f"global $wpdb; echo (int) $wpdb->get_var($wpdb->prepare("
                          f"'SELECT {column} FROM {place['table']} WHERE {id_column} = %d', {int(key)}));")

    if place["clause"] == "requests":
        return True  # WordPress's and the plugin's records of this very request, not the person's data
    if table in ("users", "usermeta"):
        uid = key if table == "users" else parent("user_id", "umeta_id")
        return has("user", f"user-{uid}")
    if table == "comments":
        return has("comments", f"comment-{key}")
    if table == "commentmeta":
        return has("wpprivsync-thrive-comment_meta", f"comment_meta-{key}")
    if table in ("wc_orders", "posts") and place["clause"] == "orders":
        return has("woocommerce_orders", f"order-{key}")
    if table in ("wc_order_addresses", "wc_orders_meta"):
        return has("woocommerce_orders", f"order-{parent('order_id', 'id')}")
    if table == "wc_customer_lookup":
        return has("wpprivsync-woocommerce-customer", f"customer-{key}")
    if table == "postmeta":
        post = parent("post_id", "meta_id")
        kind = system.php(f"echo get_post_type({post});")
        meta = system.php(f"global $wpdb; echo $wpdb->get_var('SELECT meta_key FROM {place['table']} WHERE meta_id = {int(key)}');")
        if kind == "tvo_testimonials":
            return has("wpprivsync-thrive-testimonial", f"testimonial-{post}") or has("tvo-user-privacy", post)
        if meta == "tcm_post_subscribers":
            return has("wpprivsync-thrive-post_subscription", f"post_subscription-{key}")
        if place["clause"] == "orders":
            return has("woocommerce_orders", f"order-{post}")
        return False
    if table == "tve_leads_contacts":
        return has("wpprivsync-thrive-leads_contact", f"leads_contact-{key}") or \
            has("tve-leads-user-privacy", f"{key}-{email}")
    thrive = {"tcb_api_error_log": "api_error_log", "tcm_logs": "tcm_logs", "tcm_email_hash": "tcm_email_hash",
              "tve_leads_event_log": "leads_event", "tvo_activity_log": "ovation_activity"}
    if table in thrive:
        return has(f"wpprivsync-thrive-{thrive[table]}", f"{thrive[table]}-{key}")
    return False


def test_a_residue_shows_until_a_fix_and_verify_resolve_it(system, tmp_path):
    email = "rita.residue@example.com"
    system.create_user(email, consent=False)
    # a plugin the erasers do not know keeps the person in an option
    system.php(f"update_option('someplugin_last_signup', ['email' => {json.dumps(email.upper())}, 'at' => time()]);")
    view = erase(system, email)
    assert view["status"] == "done"
    digest = email_hash(SECRET, email)
    (residue,) = system.app.store.residues(email_hash=digest, status="open")
    assert residue.table.endswith("options") and residue.kind == "email"
    why = services.explain(system.app, "test", email)["residues"]
    assert why["scanned"] and len(why["open"]) == 1 and why["open"][0].endswith("(email)")
    config = system.write_config(tmp_path / "wpprivsync.toml")
    status = run_cli(config, "status")
    assert status.returncode == 1 and "residue" in status.stdout
    listed = run_cli(config, "--json", "residues")
    assert listed.returncode == 1 and email not in listed.stdout
    assert json.loads(listed.stdout)[0]["email_hash"] == digest
    # the fix: the option goes; verify proves it and resolves the residue
    system.php("delete_option('someplugin_last_signup');")
    again = run_cli(config, "verify", email)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 earlier residue(s) now resolved" in again.stdout
    assert system.app.store.residues(email_hash=digest, status="open") == []
    assert run_cli(config, "residues").returncode == 0


def test_an_account_deletion_leaves_no_plain_email_in_the_plugins_own_outbox(system):
    # The residue scan found the plugin's own dedupe keys holding "account.deleted:<email>".
    email = "otto.outbox@example.com"
    uid = system.create_user(email, consent=True)
    system.add_comment(email)
    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")
    system.sync()
    digest = email_hash(SECRET, email)
    (req,) = [r for r in system.app.store.requests_for_hash(digest) if r.action == "erase"]
    assert req.status == "done"
    open_ = system.app.store.residues(email_hash=digest, status="open")
    assert open_ == [], [(r.table, r.column, r.row_key, r.kind) for r in open_]
    keys = system.php("global $wpdb; echo implode(' ', $wpdb->get_col(\"SELECT dedupe_key FROM "
                      "{$wpdb->prefix}wpprivsync_outbox WHERE dedupe_key IS NOT NULL\"));")
    assert email not in keys and keys.startswith("k:")
