"""Each hook of the plugin records exactly one outbox event, and the daemon's own changes none;
pulling and acknowledging events through the REST API scrubs their personal data."""

from __future__ import annotations

import hashlib
import json
import hmac

import pytest

from support.wordpress import rest_session

NS = "wpprivsync/v1"


def outbox(stack) -> list[dict]:
    return stack.php_json(
        "global $wpdb; $rows = $wpdb->get_results(\"SELECT * FROM {$wpdb->prefix}wpprivsync_outbox ORDER BY id\", ARRAY_A);"
        " foreach ($rows as &$r) { $r['payload'] = json_decode($r['payload'], true); } echo json_encode($rows);")


def of_type(rows: list[dict], kind: str) -> list[dict]:
    return [r for r in rows if r["type"] == kind]


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def api(stack, session, method, route, **kw):
    resp = session.request(method, f"{stack.url}/?rest_route=/{NS}/{route}", timeout=60, **kw)
    assert resp.status_code == 200, resp.text
    return resp.json()


def make_user(stack, login="ann", email="Ann@Example.test", consent=None) -> int:
    meta = "" if consent is None else f"update_user_meta($id, 'wpprivsync_newsletter', '{1 if consent else 0}');"
    return int(stack.php(f"$id = wp_insert_user(['user_login' => '{login}', 'user_email' => '{email}', "
                         f"'display_name' => 'Ann Example', 'user_pass' => wp_generate_password(), 'role' => 'subscriber']);"
                         f" {meta} echo $id;"))


def test_activation_created_the_table_empty(wp):
    assert outbox(wp) == []


def test_user_deletion_records_account_deleted_once(wp):
    uid = make_user(wp, consent=True)
    before = len(outbox(wp))
    wp.php(f"wp_delete_user({uid});")
    rows = outbox(wp)[before:]
    assert [r["type"] for r in rows] == ["account.deleted"]  # no consent.changed for the meta going away
    assert rows[0]["payload"] == {"user_id": uid, "email": "ann@example.test", "display_name": "Ann Example",
                                  "roles": ["subscriber"], "newsletter_consent": True}
    assert rows[0]["acked_at"] is None and rows[0]["dedupe_key"]


def test_bulk_deletion_records_one_event_per_user(wp):
    ids = [make_user(wp, login=f"b{i}", email=f"b{i}@example.test") for i in range(3)]
    before = len(outbox(wp))
    wp.php(f"foreach ({ids!r} as $id) {{ wp_delete_user($id); }}".replace("[", "array(").replace("]", ")"))
    rows = outbox(wp)[before:]
    assert sorted(r["payload"]["user_id"] for r in of_type(rows, "account.deleted")) == sorted(ids)
    assert len(rows) == 3


def test_user_deletion_through_the_core_rest_api(wp):
    uid = make_user(wp, consent=False)
    admin = rest_session(wp.admin_user, wp.admin_app_password)
    resp = admin.delete(f"{wp.url}/?rest_route=/wp/v2/users/{uid}", params={"force": "true", "reassign": "false"}, timeout=60)
    assert resp.status_code == 200, resp.text
    rows = of_type(outbox(wp), "account.deleted")
    assert len(rows) == 1 and rows[0]["payload"]["newsletter_consent"] is False


def test_comment_deletion_records_comment_deleted(wp):
    cid = int(wp.php("echo wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'Cat@Example.test', "
                     "'comment_content' => 'hello']);"))
    anon = int(wp.php("echo wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => '', 'comment_content' => 'x']);"))
    wp.php(f"wp_trash_comment({cid});")  # trashing is not deleting
    assert of_type(outbox(wp), "comment.deleted") == []
    wp.php(f"wp_delete_comment({cid}, true); wp_delete_comment({anon}, true);")
    rows = of_type(outbox(wp), "comment.deleted")
    assert [r["payload"] for r in rows] == [{"email": "cat@example.test", "comment_id": cid, "post_id": 1}]


@pytest.mark.parametrize(("code", "consent"), [
    ("add_user_meta($u, 'wpprivsync_newsletter', '1');", True),
    ("update_user_meta($u, 'wpprivsync_newsletter', '0');", False),
    ("delete_user_meta($u, 'wpprivsync_newsletter');", False),
])
def test_consent_meta_changes_record_consent_changed(wp, code, consent):
    uid = make_user(wp, consent=None if "add_" in code else True)
    before = len(outbox(wp))
    wp.php(f"$u = {uid}; {code}")
    rows = outbox(wp)[before:]
    assert [r["type"] for r in rows] == ["consent.changed"]
    assert rows[0]["payload"] == {"user_id": uid, "email": "ann@example.test", "consent": consent, "source": "meta",
                                  "proof": "registration", "wording": "1"}


def test_writing_the_same_consent_again_records_nothing(wp):
    uid = make_user(wp, consent=True)
    before = len(outbox(wp))
    wp.php(f"update_user_meta({uid}, 'wpprivsync_newsletter', '1');")
    assert len(outbox(wp)) == before


def test_consent_set_by_the_daemon_does_not_loop_back(wp, daemon):
    uid = make_user(wp, consent=True)
    before = len(outbox(wp))
    body = api(wp, daemon, "POST", "consent", json={"email": " ANN@example.test", "subscribed": False})
    assert body == {"user_id": uid, "changed": True}
    assert api(wp, daemon, "POST", "consent", json={"email": "ann@example.test", "subscribed": False})["changed"] is False
    assert wp.php(f"echo get_user_meta({uid}, 'wpprivsync_newsletter', true);") == "0"
    assert len(outbox(wp)) == before


def test_privacy_tools_erasure_records_requested_and_completed(wp):
    """Tools → Erase Personal Data runs erasers one page per AJAX call; ours records the request."""
    make_user(wp)
    rid = int(wp.php("echo wp_create_user_request('ann@example.test', 'remove_personal_data', [], 'confirmed');"))
    erasers = wp.php_json("echo json_encode(array_keys(apply_filters('wp_privacy_personal_data_erasers', [])));")
    assert "wpprivsync" in erasers
    # Drive core's own page processor for every eraser, as admin-ajax does.
    wp.php(f"""
        $_POST['id'] = {rid};
        $erasers = apply_filters('wp_privacy_personal_data_erasers', []);
        $i = 0;
        foreach ($erasers as $key => $eraser) {{
            $i++; $page = 1;
            do {{
                $r = call_user_func($eraser['callback'], 'ann@example.test', $page);
                $r = apply_filters('wp_privacy_personal_data_erasure_page', $r, $i, 'ann@example.test', $page, {rid}, $key);
                $page++;
            }} while (empty($r['done']));
        }}""")
    rows = outbox(wp)
    requested = of_type(rows, "erasure.requested")
    completed = of_type(rows, "erasure.completed")
    assert [r["payload"] for r in requested] == [{"email": "ann@example.test", "request_id": rid, "source": "privacy-tools"}]
    assert [r["payload"] for r in completed] == [{"email": "ann@example.test", "request_id": rid}]
    # core's erasers are done, the other systems are not: the request waits for the daemon
    assert wp.php(f"echo get_post_status({rid});") == "request-confirmed"
    assert wp.php(f"echo get_post_meta({rid}, '_wpprivsync_waiting_since', true) ? 'waiting' : '';") == "waiting"
    assert wp.php("echo email_exists('ann@example.test') ? 'yes' : 'no';") == "no"  # the account went too


def test_running_the_eraser_twice_for_one_request_records_once(wp):
    rid = int(wp.php("echo wp_create_user_request('dup@example.test', 'remove_personal_data', [], 'confirmed');"))
    wp.php(f"$_POST['id'] = {rid}; Wpprivsync_Privacy::eraser('dup@example.test', 1); Wpprivsync_Privacy::eraser('dup@example.test', 1);")
    assert len(of_type(outbox(wp), "erasure.requested")) == 1


def test_erase_through_the_api_records_nothing(wp, daemon):
    make_user(wp, consent=True)
    wp.php("wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'ann@example.test', 'comment_content' => 'x']);")
    before = len(outbox(wp))
    api(wp, daemon, "POST", "erase", json={"email": "ann@example.test"})
    api(wp, daemon, "POST", "comments/remove", json={"email": "ann@example.test"})
    assert len(outbox(wp)) == before


def test_a_failing_outbox_never_fails_the_request(wp):
    uid = make_user(wp)
    wp.sql("RENAME TABLE wp_wpprivsync_outbox TO wp_wpprivsync_outbox_away")
    try:
        out = wp.php(f"var_export(wp_delete_user({uid}));")
    finally:
        wp.sql("RENAME TABLE wp_wpprivsync_outbox_away TO wp_wpprivsync_outbox")
    assert out == "true"
    assert wp.php(f"var_export((bool) get_userdata({uid}));") == "false"


def test_pull_and_ack_scrubs_personal_data(wp, daemon):
    uid = make_user(wp, consent=True)
    start = max(int(r["id"]) for r in outbox(wp))  # the consent.changed of make_user
    wp.php(f"wp_delete_user({uid});")
    wp.php("wp_delete_comment(wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'zed@example.test', 'comment_content' => 'x']), true);")
    body = api(wp, daemon, "GET", "events", params={"after": start, "limit": 1})
    assert [e["type"] for e in body["events"]] == ["account.deleted"]
    assert body["pending"] == 1 and body["last_id"] == body["events"][0]["id"]
    first = body["events"][0]["id"]
    rest = api(wp, daemon, "GET", "events", params={"after": first})
    assert [e["type"] for e in rest["events"]] == ["comment.deleted"]
    second = rest["events"][0]["id"]

    daemon_hash = "ab" * 32
    assert api(wp, daemon, "POST", "events/ack", json={"ids": [first, second], "hashes": {str(first): daemon_hash}}) == {"acked": 2}
    assert api(wp, daemon, "POST", "events/ack", json={"ids": [first]}) == {"acked": 0}  # again: harmless
    assert api(wp, daemon, "GET", "events", params={"after": start})["events"] == []
    assert [e["id"] for e in api(wp, daemon, "GET", "events", params={"after": 0})["events"]] == [start]

    rows = {int(r["id"]): r for r in outbox(wp)}
    a, c = rows[first], rows[second]
    assert a["acked_at"] and c["acked_at"]
    assert a["payload"] == {"user_id": uid, "email_hash": daemon_hash, "roles": ["subscriber"], "newsletter_consent": True}
    key = wp.php("echo get_option('wpprivsync_hash_key');")
    assert c["payload"]["email_hash"] == hmac.new(key.encode(), b"zed@example.test", hashlib.sha256).hexdigest()
    assert "email" not in c["payload"]


def seed_events(stack, n: int, tag: str) -> list[int]:
    return stack.php_json(f"""global $wpdb; $t = Wpprivsync_Outbox::table(); $ids = [];
        foreach (range(1, {n}) as $i) {{
            $wpdb->insert($t, ['type' => 'account.deleted', 'dedupe_key' => "{tag}-$i", 'created_at' => gmdate('Y-m-d H:i:s'),
                'payload' => wp_json_encode(['email' => "{tag}$i@example.test", 'display_name' => "N $i", 'user_id' => $i])]);
            $ids[] = $wpdb->insert_id; }}
        echo json_encode($ids);""")


def test_pull_acknowledges_the_recorded_page_and_answers_the_next(wp, daemon):
    """POST /events/pull: the page recorded is acknowledged (scrubbed, with the daemon's hashes)
    and the next page comes back in the same request; a backlog in pages of up to 5,000."""
    ids = seed_events(wp, 5200, "pull")
    before = ids[0] - 1
    first = api(wp, daemon, "POST", "events/pull", json={"after": before, "limit": 5000})
    assert [e["id"] for e in first["events"]] == ids[:5000]
    assert first["acked"] == 0 and first["pending"] == 200 and first["last_id"] == ids[4999]
    hashes = {str(i): f"{i:064x}" for i in ids[:5000]}
    second = api(wp, daemon, "POST", "events/pull",
                 json={"after": first["last_id"], "limit": 5000, "ids": ids[:5000], "hashes": hashes})
    assert second["acked"] == 5000 and [e["id"] for e in second["events"]] == ids[5000:]
    assert second["pending"] == 0
    # acknowledging the same page again (a daemon that crashed before it kept the answer) is harmless
    again = api(wp, daemon, "POST", "events/pull",
                json={"after": before, "limit": 10, "ids": ids[:5000], "hashes": hashes})
    assert again["acked"] == 0 and [e["id"] for e in again["events"]] == ids[5000:5010]
    stored = {int(r["id"]): r for r in outbox(wp)}
    assert stored[ids[0]]["acked_at"] and stored[ids[0]]["payload"] == {"email_hash": f"{ids[0]:064x}", "user_id": 1}
    assert not stored[ids[5000]]["acked_at"] and stored[ids[5000]]["payload"]["email"] == "pull5001@example.test"


def test_bad_pulls_and_acks_are_refused_and_change_nothing(wp, daemon):
    ids = seed_events(wp, 3, "bad")
    url = f"{wp.url}/?rest_route=/{NS}/events/pull"
    cases = [
        ({"after": -1}, "rest_invalid_param"),  # a cursor below 0
        ({"after": "later"}, "rest_invalid_param"),  # a cursor that is not an id
        ({"after": 0, "limit": 5001}, "rest_invalid_param"),  # a page larger than the plugin's most
        ({"after": 0, "ids": list(range(1, 5002))}, "rest_invalid_param"),  # an ack larger than a page
        ({"after": 0, "ids": [ids[0], ids[-1] + 1000]}, "wpprivsync_unknown_events"),  # an id never recorded
    ]
    for body, code in cases:
        resp = daemon.post(url, json=body, timeout=60)
        assert resp.status_code == 400, (body, resp.text)
        assert resp.json()["code"] == code, body
    resp = daemon.post(f"{wp.url}/?rest_route=/{NS}/events/ack", json={"ids": [ids[1], ids[-1] + 1]}, timeout=60)
    assert resp.status_code == 400 and resp.json()["code"] == "wpprivsync_unknown_events"
    assert str(ids[-1] + 1) in resp.json()["message"]
    # nothing was acknowledged: the three events are still there, plain, and come back
    rows = {int(r["id"]): r for r in outbox(wp)}
    assert all(rows[i]["acked_at"] is None and "email" in rows[i]["payload"] for i in ids)
    page = api(wp, daemon, "POST", "events/pull", json={"after": ids[0] - 1, "limit": 10})
    assert [e["id"] for e in page["events"]] == ids


def test_ack_of_a_page_is_one_statement_and_scrubs_each_kind_of_payload(wp):
    """The daemon's page (a hash for every email): one UPDATE, whatever its size. The second
    pass (PHP hashing) only runs for an email without a hash, a payload that is not JSON, or an
    id that is not waiting; each kind comes out scrubbed and acknowledged."""
    rows = wp.php_json("""global $wpdb; $t = Wpprivsync_Outbox::table(); $ids = [];
        foreach (range(1, 300) as $i) {
            $wpdb->insert($t, ['type' => 'account.deleted', 'dedupe_key' => "ack-page-$i", 'created_at' => gmdate('Y-m-d H:i:s'),
                'payload' => wp_json_encode(['email' => "p$i@example.test", 'display_name' => "P \\u{00e9} $i", 'first_name' => 'P', 'user_id' => $i])]);
            $ids[] = $wpdb->insert_id; }
        $wpdb->insert($t, ['type' => 'comment.deleted', 'dedupe_key' => 'ack-nomail', 'created_at' => gmdate('Y-m-d H:i:s'),
            'payload' => wp_json_encode(['comment_id' => 7, 'name' => 'Zed'])]);
        $nomail = $wpdb->insert_id;
        $wpdb->insert($t, ['type' => 'account.deleted', 'dedupe_key' => 'ack-nohash', 'created_at' => gmdate('Y-m-d H:i:s'),
            'payload' => wp_json_encode(['email' => 'Odd@Example.test', 'last_name' => 'O'])]);
        $nohash = $wpdb->insert_id;
        $wpdb->insert($t, ['type' => 'account.deleted', 'dedupe_key' => 'ack-broken', 'created_at' => gmdate('Y-m-d H:i:s'),
            'payload' => '{not json']);
        $broken = $wpdb->insert_id;
        echo json_encode(['page' => $ids, 'nomail' => $nomail, 'nohash' => $nohash, 'broken' => $broken]);""")
    page, nomail, nohash, broken = rows["page"], rows["nomail"], rows["nohash"], rows["broken"]
    hashes = {str(i): f"{i:064x}" for i in page}
    counted = wp.php_json(f"""global $wpdb;
        $before = $wpdb->num_queries;
        $first = Wpprivsync_Outbox::ack({page + [nomail]!r}, json_decode('{json.dumps(hashes)}', true));
        $one = $wpdb->num_queries - $before;
        $before = $wpdb->num_queries;
        $second = Wpprivsync_Outbox::ack([{nohash}, {broken}, 99999999]);
        $more = $wpdb->num_queries - $before;
        echo json_encode(['first' => $first, 'one' => $one, 'second' => $second, 'more' => $more]);""")
    assert counted["first"] == 301 and counted["one"] == 1
    assert counted["second"] == 2 and counted["more"] >= 2  # the UPDATE, the SELECT, an UPDATE each
    stored = {int(r["id"]): r for r in outbox(wp)}
    for i, event_id in enumerate(page, start=1):
        assert stored[event_id]["acked_at"]
        assert stored[event_id]["payload"] == {"email_hash": f"{event_id:064x}", "user_id": i}
    assert stored[nomail]["payload"] == {"comment_id": 7} and stored[nomail]["acked_at"]
    key = wp.php("echo get_option('wpprivsync_hash_key');")
    assert stored[nohash]["payload"] == {"email_hash": hmac.new(key.encode(), b"odd@example.test", hashlib.sha256).hexdigest()}
    assert stored[broken]["payload"] in ([], {}) and stored[broken]["acked_at"]
    # acknowledging again changes nothing and costs one statement
    again = wp.php_json(f"""global $wpdb; $b = $wpdb->num_queries; $n = Wpprivsync_Outbox::ack({page[:5]!r});
        echo json_encode([$n, $wpdb->num_queries - $b]);""")
    assert again == [0, 2]  # the UPDATE matches nothing, so the SELECT confirms there is nothing left


def test_schema_upgrade_runs_on_plugins_loaded(wp):
    wp.sql("DROP TABLE wp_wpprivsync_outbox; DROP TABLE wp_wpprivsync_requests;"
           " UPDATE wp_options SET option_value = '0' WHERE option_name = 'wpprivsync_db_version';")
    # Any request loads plugins; the tables are back (version 3: the requests mirror, hashed dedupe keys).
    assert wp.php("echo get_option('wpprivsync_db_version');") == "3"
    assert outbox(wp) == []
    assert wp.php("global $wpdb; echo (int) $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->prefix}wpprivsync_requests\");") == "0"
