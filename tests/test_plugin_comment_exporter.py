"""The plugin's export route pages core's comment exporter by comment id (issue 17.7), against a
real WordPress: the items are exactly core's (core's exporter run page after page, concatenated),
for a person whose comments are of every kind core exports or leaves out, among other people's;
every comment query it makes is bounded by the last id sent (no OFFSET); core's own Tools →
Export keeps core's exporter; and a cursor that does not fit is refused with a clear 400 that
loses nothing."""

from __future__ import annotations

import re

import pytest

from support.wordpress import rest_session

NS = "wpprivsync/v1"
EMAIL = "kim.keyset@example.test"
OTHER = "lee.other@example.test"

# 1,100 comments of the person's, one other person's comment after every fourth, and the kinds
# core's query keeps or leaves out: pending, a reply, a pingback and a trackback, one on
# another post, the email in capitals (MySQL's collation matches it), spam, trash and a block
# note (left out), one dated before all the others (WordPress before 6.2 exports by date). Meta on
# some, a URL and a user agent on others.
SEED = r"""
$e = '%(email)s'; $o = '%(other)s'; $post2 = wp_insert_post(['post_title' => 'Second', 'post_status' => 'publish']);
$mine = [];
foreach (range(1, 1100) as $i) {
  $c = ['comment_post_ID' => 1, 'comment_author' => "Kim $i", 'comment_author_email' => $e, 'comment_author_IP' => '10.1.0.' . ($i %% 250),
        'comment_content' => "comment <b>$i</b> & more", 'comment_approved' => 1, 'comment_date' => gmdate('Y-m-d H:i:s', 1700000000 + $i)];
  if ($i %% 7 === 0) { $c['comment_author_url'] = "https://kim.example.test/$i"; $c['comment_agent'] = 'Agent/1.0'; }
  if ($i %% 50 === 1) { $c['comment_approved'] = 0; }
  if ($i === 300) { $c['comment_parent'] = $mine[5]; }
  if ($i === 400) { $c['comment_type'] = 'pingback'; }
  if ($i === 401) { $c['comment_type'] = 'trackback'; }
  if ($i === 500) { $c['comment_post_ID'] = $post2; }
  if ($i === 600) { $c['comment_author_email'] = strtoupper($e); }
  if ($i === 700) { $c['comment_approved'] = 'spam'; }
  if ($i === 701) { $c['comment_approved'] = 'trash'; }
  if ($i === 702) { $c['comment_type'] = 'note'; }
  if ($i === 800) { $c['comment_date'] = gmdate('Y-m-d H:i:s', 1600000000); }  // older than its id says
  $mine[] = $id = wp_insert_comment($c);
  if ($i %% 9 === 0) { add_comment_meta($id, 'rating', (string) ($i %% 5)); }
  if ($i %% 4 === 0) { wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => $o, 'comment_content' => "other $i", 'comment_approved' => 1]); }
}
echo json_encode(['mine' => $mine]);
"""

# core's exporter, page after page as Tools → Export calls it
CORE = r"""
$items = []; $page = 1;
do { $r = wp_comments_personal_data_exporter('%(email)s', $page++); $items = array_merge($items, $r['data']); } while (!$r['done'] && $page < 100);
echo wp_json_encode(['items' => $items, 'pages' => $page - 1]);
"""

# the keyset pages, chained in one PHP request (one request also proves the comment-queries
# cache cannot answer a later page with an earlier one), with every comment query's SQL
KEYSET = r"""
$sql = []; add_filter('query', function ($q) use (&$sql) { if (false !== strpos($q, 'comment_author_email')) { $sql[] = $q; } return $q; });
$items = []; $after = 0; $pages = 0;
do { $r = Wpprivsync_Comment_Exporter::page('%(email)s', $after); $items = array_merge($items, $r['data']); $after = $r['after']; $pages++; } while (!$r['done'] && $pages < 100);
echo wp_json_encode(['items' => $items, 'pages' => $pages, 'sql' => $sql]);
"""


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def post_export(stack, session, body):
    return session.post(f"{stack.url}/?rest_route=/{NS}/export", json=body, timeout=120)


def walk(stack, session, email, cursor=None, page=1):
    pages = []
    while not pages or not pages[-1]["done"]:
        assert len(pages) < 50, "export never said done"
        body = {"email": email, "page": page + len(pages)}
        if pages or cursor:
            body["cursor"] = pages[-1]["next"] if pages else cursor
        resp = post_export(stack, session, body)
        assert resp.status_code == 200, resp.text
        pages.append(resp.json())
    return pages


def comment_items(pages):
    return [item for p in pages for item in (p["groups"] or {}).get("comments", {}).get("items", [])]


@pytest.fixture
def seeded(wp):
    return wp.php_json(SEED % {"email": EMAIL, "other": OTHER}, timeout=600)


def test_keyset_pages_give_exactly_core_exporters_items(wp, daemon, seeded):
    core = wp.php_json(CORE % {"email": EMAIL}, timeout=300)
    mine = seeded["mine"]
    # spam and trash; block notes too from WordPress 6.9 on (the legacy profile's 6.1 exports them)
    notes_left_out = tuple(int(x) for x in wp.wp_version.split(".")[:2]) >= (6, 9)
    left_out = {mine[699], mine[700]} | ({mine[701]} if notes_left_out else set())
    core_ids = [int(i["item_id"].removeprefix("comment-")) for i in core["items"]]
    # what core exports, so the comparison covers each kind: all but the three, the capitals included
    by_id = [c for c in mine if c not in left_out]
    by_date = [mine[799]] + [c for c in by_id if c != mine[799]]  # older WordPress: the query's default order
    assert core_ids in (by_id, by_date) and mine[599] in core_ids
    assert core["pages"] == 3 and len(core_ids) == 1100 - len(left_out)

    keyset = wp.php_json(KEYSET % {"email": EMAIL}, timeout=300)
    assert keyset["items"] == core["items"]  # same groups, labels, item ids, fields and values, in order
    assert keyset["pages"] == 3
    queries = keyset["sql"]
    # the first page is core's own first page; every later one starts after the last comment sent
    assert len(queries) == 3 and all("comment_ID > " in q for q in queries[1:]), queries
    assert all(re.search(r"LIMIT\s+0,\s*500\s*$", q) for q in queries), queries  # never an offset

    # the route: 500 items a page, its comment cursors by comment id, the items core's
    pages = walk(wp, daemon, EMAIL)
    got = comment_items(pages)
    assert [{"item_id": i["item_id"], "data": i["data"]} for i in core["items"]] == got
    group = next(p["groups"]["comments"] for p in pages if "comments" in (p["groups"] or {}))
    assert (group["label"], group["description"]) == (core["items"][0]["group_label"], core["items"][0]["group_description"])
    comment_cursors = [p["next"] for p in pages if p["next"] and p["next"].endswith(".wordpress-comments")]
    assert comment_cursors and all(c.startswith("k") for c in comment_cursors), [p["next"] for p in pages]
    assert OTHER not in str(pages)

    # the route's walk in one PHP request: every comment query narrowed, each exporter page run
    # once, plus at most once more per export page that ends inside it
    walked = wp.php_json(f"""global $wpdb; $sql = []; add_filter('query', function ($q) use (&$sql, $wpdb) {{
        // WP_Comment_Query's pages by the person's email (another exporter reads all her comment ids itself)
        if (preg_match("/^\\s*SELECT\\s+$wpdb->comments\\.comment_ID\\s+FROM\\s+$wpdb->comments\\s/", $q) && false !== strpos($q, 'comment_author_email')) {{ $sql[] = $q; }}
        return $q; }});
        $cursor = null; $n = 0;
        do {{ $r = Wpprivsync_Privacy::export('{EMAIL}', ++$n, $cursor); $cursor = $r['next']; }} while (!$r['done'] && $n < 50);
        echo json_encode(['pages' => $n, 'sql' => $sql]);""", timeout=300)
    assert walked["pages"] == len(pages) == 3
    unnarrowed = [q for q in walked["sql"] if "comment_ID > " not in q]  # the first page (and its re-run)
    assert 3 <= len(walked["sql"]) <= 3 + 2 and 1 <= len(unnarrowed) <= 2, walked["sql"]

    # core's own Tools → Export still runs core's exporter
    registered = wp.php("$e = apply_filters('wp_privacy_personal_data_exporters', []); echo $e['wordpress-comments']['callback'];")
    assert registered == "wp_comments_personal_data_exporter"


def test_an_empty_person_and_a_person_of_exactly_one_page(wp, daemon):
    assert comment_items(walk(wp, daemon, "nobody.here@example.test")) == []
    ids = wp.php_json(f"""$ids = []; foreach (range(1, 500) as $i) {{
        $ids[] = wp_insert_comment(['comment_post_ID' => 1, 'comment_author_email' => '{EMAIL}', 'comment_content' => "c $i", 'comment_approved' => 1]); }}
        echo json_encode($ids);""", timeout=300)
    got = [int(i["item_id"].removeprefix("comment-")) for i in comment_items(walk(wp, daemon, EMAIL))]
    assert got == ids  # 500 exactly: core's page is full, the next (empty) one ends the exporter


def test_a_cursor_that_does_not_fit_is_refused_and_loses_nothing(wp, daemon, seeded):
    pages = walk(wp, daemon, EMAIL)
    full = comment_items(pages)
    at = next(i for i, p in enumerate(pages) if p["next"] and p["next"].startswith("k") and p["next"].endswith(".wordpress-comments"))
    good = pages[at]["next"]
    position = good.split(".")[0][1:]
    for bad in (
        f"{position}.0.wordpress-comments",  # a page number where a comment id belongs
        "k3.0.wordpress-user",  # a comment id for an exporter paged by page number
        "k-1.0.wordpress-comments",
        "k01.0.wordpress-comments",
        "k" + "9" * 19 + ".0.wordpress-comments",
        "k5.x.wordpress-comments",
        "k5.0.no-such-exporter",
        "0.0.wordpress-user",
    ):
        resp = post_export(wp, daemon, {"email": EMAIL, "page": at + 2, "cursor": bad})
        assert resp.status_code == 400, (bad, resp.text)
        body = resp.json()
        assert body["code"] == "wpprivsync_bad_cursor" and "start the export again" in body["message"], (bad, body)
    # the refusals changed nothing: the good cursor goes on exactly where the walk went
    rest = walk(wp, daemon, EMAIL, cursor=good, page=at + 2)
    assert comment_items(pages[: at + 1]) + comment_items(rest) == full


def test_a_comment_query_that_ignores_the_position_is_a_clear_error_not_a_loop(wp, seeded):
    """A plugin that answers comment queries itself (comments_pre_query) and ignores the
    narrowing would hand back comments already sent: the page fails clearly instead."""
    first = seeded["mine"][0]
    out = wp.php_json(f"""
        add_filter('comments_pre_query', function ($data, $q) {{
            if (empty($q->query_vars['author_email'])) {{ return $data; }}
            global $wpdb;  // this plugin's own search: the person's comments, in id order
            return array_map('get_comment', $wpdb->get_col($wpdb->prepare(
                "SELECT comment_ID FROM $wpdb->comments WHERE comment_author_email = %s AND comment_approved IN ('0', '1') ORDER BY comment_ID LIMIT 500",
                $q->query_vars['author_email'])));
        }}, 10, 2);
        $r = Wpprivsync_Privacy::export('{EMAIL}', 2, 'k{first}.0.wordpress-comments');
        echo wp_json_encode(is_wp_error($r) ? ['code' => $r->get_error_code(), 'message' => $r->get_error_message(),
                                               'status' => $r->get_error_data()['status']] : $r);""", timeout=300)
    assert out["code"] == "wpprivsync_export_keyset" and out["status"] == 500, out
    assert "cannot page core's comment exporter by comment id" in out["message"]


def test_the_date_order_of_older_wordpress_pages_equal_and_a_lost_position_is_a_clear_409(wp, seeded):
    """Core's query as older WordPress versions run it (no valid orderby: the date order, which
    this WordPress is made to use here by a filter on core's query): the pages still equal
    core's, and when the last comment sent is deleted before the next page, that page says so."""
    out = wp.php_json(f"""
        add_action('pre_get_comments', function ($q) {{ if (!empty($q->query_vars['author_email'])) {{ $q->query_vars['orderby'] = ''; }} }}, 5);
        $core = []; $page = 1;
        do {{ $r = wp_comments_personal_data_exporter('{EMAIL}', $page++); $core = array_merge($core, $r['data']); }} while (!$r['done'] && $page < 100);
        $mine = []; $after = 0; $n = 0;
        do {{ $r = Wpprivsync_Comment_Exporter::page('{EMAIL}', $after); $mine = array_merge($mine, $r['data']); $after = $r['after']; $n++; }} while (!$r['done'] && $n < 100);
        $first = Wpprivsync_Comment_Exporter::page('{EMAIL}', 0);
        wp_delete_comment($first['after'], true);
        $lost = Wpprivsync_Comment_Exporter::page('{EMAIL}', $first['after']);
        echo wp_json_encode(['core' => $core, 'mine' => $mine, 'pages' => $n,
                             'lost' => is_wp_error($lost) ? [$lost->get_error_code(), $lost->get_error_data()['status'], $lost->get_error_message()] : $lost]);""",
        timeout=300)
    ids = [int(i["item_id"].removeprefix("comment-")) for i in out["core"]]
    assert ids[0] == seeded["mine"][799]  # the oldest by date, not by id: the date order ran
    assert out["mine"] == out["core"] and out["pages"] == 3
    code, status, message = out["lost"]
    assert (code, status) == ("wpprivsync_export_position_lost", 409) and "start the export again" in message
