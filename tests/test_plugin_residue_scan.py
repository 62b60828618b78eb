"""The residue scan (POST /wpprivsync/v1/scan) on the real plugins: it finds a seeded person in
every table that holds them (email in any letter case, URL-encoded, md5 and sha256 digests),
reports places without their values, pages by a cursor and resumes from it, tells what the
policy keeps on purpose (orders under retention, request records in their evidence period) as
retained, and reports a table it cannot read as unscanned instead of clean."""

from __future__ import annotations

import json

import pytest

from support import thrive
from support.wordpress import requires_thrive, requires_woocommerce, rest_session

NS = "wpprivsync/v1"
EMAIL = "rhea.residue@example.com"
OTHER = "otto.other@example.com"


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def post(wp, daemon, route, body, status=200):
    resp = daemon.post(f"{wp.url}/?rest_route=/{NS}/{route}", json=body, timeout=300)
    assert resp.status_code == status, resp.text
    return resp.json()


def scan(wp, daemon, emails, *, budget_ms=5000, evidence_days=30):
    """Every page of a scan; the pages' findings and unscanned tables, and the page count."""
    cursor, found, unscanned, pages = "", [], [], 0
    while True:
        page = post(wp, daemon, "scan", {"emails": emails, "cursor": cursor, "budget_ms": budget_ms,
                                         "evidence_days": evidence_days})
        pages += 1
        found += page["found"]
        unscanned += page["unscanned"]
        if page["done"]:
            assert page["cursor"] is None
            return found, unscanned, pages
        cursor = page["cursor"]
        assert cursor


def places(found, *, retained=None):
    return {(f["table"], f["column"], f["key"], f["kind"]) for f in found
            if retained is None or bool(f.get("retained")) == retained}


def add_user(wp, email, name="Rhea Residue"):
    return int(wp.php(f"""$id = wp_insert_user(['user_login' => 'u' . wp_generate_password(8, false),
        'user_email' => {json.dumps(email)}, 'user_pass' => wp_generate_password(), 'display_name' => {json.dumps(name)},
        'role' => 'subscriber']); echo (int) $id;"""))


def add_comment(wp, email, text="A plain comment"):
    return int(wp.php(f"""echo (int) wp_insert_comment(['comment_post_ID' => 1, 'comment_author' => 'Rhea',
        'comment_author_email' => {json.dumps(email)}, 'comment_content' => {json.dumps(text)}, 'comment_approved' => 1]);"""))


def test_it_finds_each_kind_and_reports_no_values(wp, daemon):
    uid = add_user(wp, EMAIL.upper())
    cid = add_comment(wp, EMAIL.title())
    wp.php(f"""update_option('rr_serialized', ['list' => ['x', {json.dumps(EMAIL)}]]);
        update_option('rr_json', wp_json_encode(['who' => {json.dumps(EMAIL)}]));
        update_option('rr_gravatar', 'https://secure.gravatar.com/avatar/' . md5({json.dumps(EMAIL)}) . '?s=96');
        update_option('rr_sha', strtoupper(hash('sha256', {json.dumps(EMAIL)})));
        update_option('rr_url', 'https://example.com/?e=' . rawurlencode({json.dumps(EMAIL)}));
        update_option('rr_other', {json.dumps(OTHER)});
        update_option('zz_lookalike', 'jo' . {json.dumps(EMAIL)} . ' and ' . {json.dumps(EMAIL)} . '.evil.test');""")
    found, unscanned, _ = scan(wp, daemon, [EMAIL])
    assert unscanned == []
    p = wp.php("global $wpdb; echo $wpdb->prefix;")
    got = places(found)
    assert (f"{p}users", "user_email", str(uid), "email") in got
    assert (f"{p}comments", "comment_author_email", str(cid), "email") in got
    kinds = {(f["column"], f["kind"]) for f in found if f["table"] == f"{p}options"}
    assert {("option_value", "email"), ("option_value", "md5"), ("option_value", "sha256"),
            ("option_value", "email-urlencoded")} <= kinds
    option_names = set(wp.php_json("""global $wpdb; echo json_encode($wpdb->get_col("SELECT option_id FROM $wpdb->options WHERE option_name LIKE 'rr\\\\_%' AND option_name <> 'rr_other'"));"""))
    option_keys = {f["key"] for f in found if f["table"] == f"{p}options"}
    assert option_names <= option_keys
    # an email is matched whole: "jo" + it, or it with more domain, is someone else
    lookalike = wp.php("global $wpdb; echo $wpdb->get_var(\"SELECT option_id FROM $wpdb->options WHERE option_name = 'zz_lookalike'\");")
    assert lookalike not in option_keys
    flat = json.dumps(found)
    assert EMAIL not in flat.lower() and OTHER not in flat.lower()
    # the other person is not found
    assert not [f for f in found if f["email"] != 0]


def test_pages_resume_from_the_cursor_and_cover_the_same(wp, daemon):
    for i in range(30):
        wp.php(f"add_post_meta(1, 'rr_meta_{i}', {json.dumps(EMAIL if i % 7 == 0 else 'nothing')});")
    whole, _, pages_whole = scan(wp, daemon, [EMAIL], budget_ms=20000)
    # a budget of 0 ends a page after each part, whatever the machine's speed
    paged, _, pages = scan(wp, daemon, [EMAIL], budget_ms=0)
    assert pages_whole == 1 and pages > 10
    assert places(paged) == places(whole)
    assert len(paged) == len(whole)  # no row reported twice across pages


def test_several_emails_in_one_pass(wp, daemon):
    add_comment(wp, EMAIL)
    add_comment(wp, OTHER)
    found, _, _ = scan(wp, daemon, [EMAIL, OTHER])
    assert {f["email"] for f in found} == {0, 1}


def test_a_bad_cursor_and_bad_emails_are_refused(wp, daemon):
    post(wp, daemon, "scan", {"emails": [EMAIL], "cursor": "bm90IGEgY3Vyc29y"}, status=400)
    post(wp, daemon, "scan", {"emails": ["not-an-email"]}, status=400)
    post(wp, daemon, "scan", {"emails": [EMAIL] * 201}, status=400)


def test_an_unreadable_table_is_reported_unscanned(wp, daemon):
    p = wp.php("global $wpdb; echo $wpdb->prefix;")
    wp.sql(f"CREATE TABLE {p}rr_broken (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB; "
           f"INSERT INTO {p}rr_broken VALUES (1, '{EMAIL}'); ALTER TABLE {p}rr_broken DISCARD TABLESPACE;")
    try:
        _, unscanned, _ = scan(wp, daemon, [EMAIL])
        assert [u["table"] for u in unscanned] == [f"{p}rr_broken"]
        assert EMAIL not in json.dumps(unscanned)
    finally:
        wp.sql(f"DROP TABLE {p}rr_broken;")


def test_someone_else_cannot_scan(wp, wp_stack):
    anon = rest_session("", "")
    resp = anon.post(f"{wp.url}/?rest_route=/{NS}/scan", json={"emails": [EMAIL]}, timeout=60)
    assert resp.status_code in (401, 403)


@requires_woocommerce
def test_an_order_under_retention_is_retained_with_its_end_date(wp, daemon):
    order = int(wp.php(f"""$o = wc_create_order(); $o->set_billing_email({json.dumps(EMAIL)});
        $o->set_billing_first_name('Rhea'); $o->save(); echo $o->get_id();"""))
    until = wp.php(f"echo Wpprivsync_Retention::order_until(wc_get_order({order}));")
    found, _, _ = scan(wp, daemon, [EMAIL])
    kept = [f for f in found if f.get("retained")]
    assert kept and all(f["retained"]["clause"] == "orders" for f in kept)
    assert {f["retained"]["until"] for f in kept} == {until}
    assert not [f for f in found if not f.get("retained")]
    # an order past its retention period is a residue, not retained
    wp.php(f"wc_get_order({order})->delete(true);")
    wp.php(f"""$o = wc_create_order(); $o->set_billing_email({json.dumps(EMAIL)});
        $o->set_date_created('2001-03-04T10:00:00+00:00'); $o->save();""")
    found, _, _ = scan(wp, daemon, [EMAIL])
    assert found and not [f for f in found if f.get("retained")]


def test_the_request_record_is_retained_in_its_evidence_period(wp, daemon):
    rid = int(wp.php(f"echo (int) wp_create_user_request({json.dumps(EMAIL)}, 'remove_personal_data', [], 'confirmed');"))
    found, _, _ = scan(wp, daemon, [EMAIL], evidence_days=30)
    record = [f for f in found if f["key"] == str(rid) and f["table"].endswith("posts")]
    assert record and all(f["retained"]["clause"] == "requests" for f in record)
    # completed long ago and past the evidence period: a residue
    wp.php(f"update_post_meta({rid}, '_wp_user_request_completed_timestamp', time() - 90 * DAY_IN_SECONDS);")
    found, _, _ = scan(wp, daemon, [EMAIL], evidence_days=30)
    record = [f for f in found if f["key"] == str(rid) and f["table"].endswith("posts")]
    assert record and not any(f.get("retained") for f in record)


@requires_thrive
def test_thrive_locations_are_found(wp, daemon):
    thrive.seed_everywhere(wp, EMAIL, "Rhea Residue")
    found, _, _ = scan(wp, daemon, [EMAIL])
    p = wp.php("global $wpdb; echo $wpdb->prefix;")
    tables = {f["table"] for f in found}
    for t in ("tve_leads_contacts", "tcb_api_error_log", "tcm_logs", "tcm_email_hash", "comments", "postmeta"):
        assert f"{p}{t}" in tables, (t, sorted(tables))
