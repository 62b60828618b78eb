"""Erasure, export and comment removal through the plugin's API run WordPress's registered
erasers/exporters (core's, WooCommerce's and the real Thrive plugins') on the server."""

from __future__ import annotations

import pytest

from support import thrive
from support.wordpress import requires_thrive, rest_session

NS = "wpprivsync/v1"
EMAIL = "dana@example.test"


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def api(stack, session, route, body):
    resp = session.post(f"{stack.url}/?rest_route=/{NS}/{route}", json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.json()


def seed_person(stack, email=EMAIL) -> dict:
    """A user with comments (with meta) and, where Thrive runs, three testimonials and two
    Leads sign-ups made through the plugins' own functions."""
    ids = stack.php_json(f"""
        $e = '{email}';
        $uid = wp_insert_user(['user_login' => 'dana', 'user_email' => $e, 'display_name' => 'Dana D', 'user_pass' => wp_generate_password()]);
        $c = [];
        foreach (range(1, 3) as $i) {{
            $c[] = $id = wp_insert_comment(['comment_post_ID' => 1, 'comment_author' => 'Dana', 'comment_author_email' => $i === 2 ? strtoupper($e) : $e,
                                            'comment_author_IP' => '10.0.0.' . $i, 'comment_content' => "comment $i", 'comment_approved' => $i === 3 ? 'spam' : 1]);
            add_comment_meta($id, 'rating', (string) $i);
        }}
        add_comment_meta($c[0], 'thrive_upvotes', '4');
        $other = wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => 'other@example.test', 'comment_content' => 'keep me']);
        add_comment_meta($other, 'rating', '5');
        echo json_encode(['user' => $uid, 'comments' => $c, 'other_comment' => $other]);""")
    if thrive.active(stack):
        ids["testimonials"] = [thrive.add_testimonial(stack, email, "Dana") for _ in range(3)]
        ids["leads"] = [thrive.add_lead(stack, email, "Dana")["contact_id"] for _ in range(2)]
        thrive.add_lead(stack, "other@example.test", "Other")
    return ids


def state(stack, email=EMAIL) -> dict:
    counts = stack.php_json(f"""
        global $wpdb;
        $e = '{email}';
        echo json_encode([
          'comments_by_email' => (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM $wpdb->comments WHERE comment_author_email = %s", $e)),
          'comments' => (int) $wpdb->get_var("SELECT COUNT(*) FROM $wpdb->comments"),
          'commentmeta' => (int) $wpdb->get_var("SELECT COUNT(*) FROM $wpdb->commentmeta"),
          'requests' => (int) $wpdb->get_var("SELECT COUNT(*) FROM $wpdb->posts WHERE post_type = 'user_request'"),
          'outbox' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {{$wpdb->prefix}}wpprivsync_outbox"),
          'user' => (bool) get_user_by('email', $e),
        ]);""")
    if thrive.active(stack):
        mine, other = thrive.holdings(stack, email), thrive.holdings(stack, "other@example.test")
        counts.update(testimonials=mine["testimonials"], leads=mine["leads_contacts"], other_leads=other["leads_contacts"])
    return counts


@requires_thrive
def test_erase_runs_core_and_thrive_erasers(wp, daemon):
    seed_person(wp)
    answer = api(wp, daemon, "erase", {"email": "  Dana@Example.TEST "})
    erasers = {e["id"]: e for e in answer["erasers"]}
    assert {"wordpress-comments", "thrive-ovation", "thrive-leads"} <= set(erasers)
    assert "wpprivsync" not in erasers  # never our own eraser: no loop
    # the plugin's Thrive completion eraser runs first (every status, any case); Thrive's own run after it
    assert erasers["wpprivsync-thrive"]["items_removed"]
    assert erasers["thrive-ovation"]["pages"] >= 1 and erasers["thrive-leads"]["pages"] >= 1
    # the policy's comments rule is "delete": every comment goes, spam included, with its meta
    assert erasers["wpprivsync-comments"]["items_removed"] and erasers["wpprivsync-comments"]["comments"] == 3
    assert answer["items_removed"] is True and answer["dry_run"] is False
    assert len(answer["email_hash"]) == 64 and EMAIL not in str(answer)

    after = state(wp)
    assert after["testimonials"] == 0 and after["leads"] == 0
    assert after["other_leads"] == 1
    assert after["comments_by_email"] == 0
    assert wp.php("global $wpdb; echo $wpdb->get_var(\"SELECT COUNT(*) FROM $wpdb->commentmeta WHERE meta_key = 'thrive_upvotes'\");") == "0"

    request = wp.php_json(f"$r = wp_get_user_request({answer['request_id']});"
                          " echo json_encode(['status' => $r->status, 'action' => $r->action_name, 'email' => $r->email,"
                          " 'completed' => (int) $r->completed_timestamp]);")
    assert request == {"status": "request-completed", "action": "remove_personal_data", "email": EMAIL,
                       "completed": request["completed"]}
    assert request["completed"] > 0


@requires_thrive
def test_erase_excludes_named_erasers(wp, daemon):
    seed_person(wp)
    answer = api(wp, daemon, "erase", {"email": EMAIL, "exclude": ["thrive-leads", "wpprivsync-thrive"]})
    assert not {"thrive-leads", "wpprivsync-thrive"} & {e["id"] for e in answer["erasers"]}
    after = state(wp)
    assert after["leads"] == 2 and after["testimonials"] == 0


def test_erase_reuses_an_open_request(wp, daemon):
    seed_person(wp)
    rid = int(wp.php(f"echo wp_create_user_request('{EMAIL}', 'remove_personal_data');"))  # pending
    answer = api(wp, daemon, "erase", {"email": EMAIL})
    assert answer["request_id"] == rid
    assert wp.php(f"echo get_post_status({rid});") == "request-completed"


@requires_thrive
def test_dry_run_changes_nothing(wp, daemon):
    seed_person(wp)
    before = state(wp)
    answer = api(wp, daemon, "erase", {"email": EMAIL, "dry_run": True})
    assert answer["dry_run"] is True and answer["request_id"] == 0
    assert answer["would_touch"]["users"] == 1 and answer["would_touch"]["comments"] == 3
    assert {"thrive-ovation", "thrive-leads", "wordpress-comments"} <= {e["id"] for e in answer["erasers"]}
    assert state(wp) == before


@requires_thrive
def test_export_merges_every_exporter(wp, daemon):
    ids = seed_person(wp)
    answer = api(wp, daemon, "export", {"email": EMAIL})
    assert answer["done"] is True and answer["page"] == 1
    groups = answer["groups"]
    assert {"user", "comments", "tvo-user-privacy", "tve-leads-user-privacy"} <= set(groups)
    assert sorted(int(i["item_id"]) for i in groups["tvo-user-privacy"]["items"]) == sorted(ids["testimonials"])
    leads = groups["tve-leads-user-privacy"]["items"]
    assert len(leads) == 2 and all({"name": "Email", "value": EMAIL} in lead["data"] for lead in leads)
    assert groups["tvo-user-privacy"]["label"] == "Testimonials"
    assert len(groups["comments"]["items"]) == 2  # core's comment exporter leaves spam out


@requires_thrive
def test_export_pages_are_about_500_items(wp, daemon):
    wp.php(f"""global $tvedb; foreach (range(1, 620) as $i) {{
        $log = $tvedb->insert_event(['event_type' => TVE_LEADS_CONVERSION, 'main_group_id' => 0, 'form_type_id' => 0,
                                     'variation_key' => 0, 'user' => '{EMAIL}'], 0, false);
        $tvedb->tve_leads_register_contact($log, 'Dana', '{EMAIL}', []); }}""")
    pages = walk_export(wp, daemon, EMAIL)
    sizes = [sum(len(g["items"]) for g in p["groups"].values()) for p in pages]
    # 620 Leads contacts (Thrive's exporter) and 620 sign-up events (the plugin's Thrive completion)
    assert sum(sizes) == 1240 and all(n <= 500 for n in sizes[:-1]) and len(pages) >= 3
    for group in ("tve-leads-user-privacy", "wpprivsync-thrive-leads_event"):
        ids = [i["item_id"] for p in pages for i in p["groups"].get(group, {}).get("items", [])]
        assert len(ids) == len(set(ids)) == 620, group


def walk_export(stack, session, email, limit=100):
    pages = []
    while not pages or not pages[-1]["done"]:
        assert len(pages) < limit, "export never said done"
        body = {"email": email, "page": len(pages) + 1}
        if pages:
            body["cursor"] = pages[-1]["next"]
        pages.append(api(stack, session, "export", body))
    return pages


def test_export_pages_walk_every_item_once_in_linear_time(wp, daemon):
    """1,234 comments: core's exporter answers 500 a page, so export pages end in the middle
    of exporter pages; every comment is on exactly one page, and each page runs only the
    exporter pages after its cursor (counted by wrapping core's comment exporter)."""
    email = "paging@example.test"
    ids = wp.php_json(f"""$ids = []; foreach (range(1, 1234) as $i) {{
        $ids[] = wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => '{email}', 'comment_content' => "c $i", 'comment_approved' => 1]); }}
        echo json_encode($ids);""")
    try:
        pages = walk_export(wp, daemon, email)
        sizes = [sum(len(g["items"]) for g in p["groups"].values()) for p in pages]
        assert all(n == 500 for n in sizes[:-1]) and 0 < sizes[-1] <= 500
        got = [int(i["item_id"].removeprefix("comment-")) for p in pages for i in p["groups"].get("comments", {}).get("items", [])]
        assert sorted(got) == sorted(ids) and len(got) == len(set(got))
        assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
        assert pages[-1]["next"] is None and all(p["next"] for p in pages[:-1])
        # one page per 500 items, each exporter page run at most twice (once more when a page ends inside it)
        runs = wp.php_json(f"""$runs = 0; add_filter('wp_privacy_personal_data_exporters', function ($e) use (&$runs) {{
            $inner = $e['wordpress-comments']['callback'];
            $e['wordpress-comments']['callback'] = function ($m, $p) use ($inner, &$runs) {{ $runs++; return $inner($m, $p); }};
            return $e; }}, 99);
            $cursor = null; $n = 0;
            do {{ $r = Wpprivsync_Privacy::export('{email}', ++$n, $cursor); $cursor = $r['next']; }} while (!$r['done'] && $n < 50);
            echo json_encode(['runs' => $runs, 'pages' => $n]);""")
        assert runs["pages"] == len(pages) == 3 and runs["runs"] <= 3 + 2  # 3 exporter pages, 2 page ends inside one
    finally:
        wp.php(f"foreach ({ids!r} as $id) {{ wp_delete_comment($id, true); }}")


def test_export_refuses_a_cursor_that_names_no_exporter(wp, daemon):
    for cursor in ("1.0.no-such-exporter", "0.0.wordpress-comments", "garbage", "1.-1.wordpress-comments"):
        resp = daemon.post(f"{wp.url}/?rest_route=/{NS}/export", json={"email": EMAIL, "page": 2, "cursor": cursor}, timeout=60)
        assert resp.status_code == 400 and resp.json()["code"] == "wpprivsync_bad_cursor", (cursor, resp.text)


def test_export_of_an_unknown_email_is_empty(wp, daemon):
    answer = api(wp, daemon, "export", {"email": "ghost@example.test"})
    assert answer["done"] is True and answer["groups"] in ({}, [])


def test_comments_remove_deletes_comments_and_their_meta(wp, daemon):
    ids = seed_person(wp)
    before = state(wp)
    answer = api(wp, daemon, "comments/remove", {"email": EMAIL})
    assert answer["comments_deleted"] == 3  # any status, any case of the email
    assert answer["meta_deleted"] == 4
    after = state(wp)
    assert after["comments"] == before["comments"] - 3
    assert after["commentmeta"] == before["commentmeta"] - 4
    gone = wp.php_json(f"echo json_encode(array_map(fn($id) => (bool) get_comment($id), {ids['comments']!r}));")
    assert gone == [False, False, False]
    assert wp.php(f"echo get_comment({ids['other_comment']})->comment_content;") == "keep me"
    assert after["outbox"] == before["outbox"]  # the daemon asked: no comment.deleted events


def test_comments_remove_dry_run_changes_nothing(wp, daemon):
    seed_person(wp)
    before = state(wp)
    answer = api(wp, daemon, "comments/remove", {"email": EMAIL, "dry_run": True})
    assert answer["comments_deleted"] == 0 and answer["would_delete"] == {"comments": 3, "meta": 4}
    assert state(wp) == before
