"""WordPress-side erasure: the plugin's ``POST wpprivsync/v1/erase`` against WordPress core's own
admin-ajax flow, on the same site with the same data.

    .venv/bin/python bench/wp_erasure_vs_core.py [--people 50] [--comments 3] [--testimonials 3]

Starts a throw-away WordPress on the ``current`` profile (WordPress 7.1, WooCommerce 9.9.5 with
HPOS and the real Thrive Comments, Leads and Ovation), and seeds ``--people`` people, each with
an account, comments, testimonials (``tvo_create_testimonial``) and a Thrive Leads sign-up (an
event-log row and a contact row, as the plugin writes them). The database is snapshotted, then:

* **plugin**: one ``POST ?rest_route=/wpprivsync/v1/erase`` per person (Application Password of
  the service user), one after the other. The plugin creates the confirmed ``user_request``,
  runs every eraser page by page in that one HTTP request and completes the request.
* **core** (database restored first): what Tools → Erase Personal Data does in the browser
  (wp-admin/js/privacy-tools.js): an administrator logged in with a cookie, one confirmed
  ``user_request`` per person made beforehand (``wp_create_user_request``, not timed) with its
  nonce ``wp-privacy-erase-personal-data-<id>`` (not timed; the admin screen prints them), then
  per person ``POST wp-admin/admin-ajax.php`` action ``wp-privacy-erase-personal-data`` for
  eraser 1..N, paging each eraser until it answers ``done``. The script's 500 ms pause before
  it shows "done" is left out.

* **batch** (database restored again; ``--batch 25``, 0 skips it): ``POST /erase/batch`` with 25
  people a call, as the daemon sends erasures it claims together.

No run deletes accounts (``delete_account: false``): each does exactly core's work. Every run
is checked: afterwards no comment, testimonial or lead of the seeded people keeps their email. Target: the plugin is at least 5 times faster. Prints both wall times and HTTP
request counts, then one ``key=value`` line.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

import requests

from _common import last_line, print_machine, print_table, wordpress_stack

TARGET = 5.0

SEED = r"""
$n = %(people)d; $comments = %(comments)d; $testimonials = %(testimonials)d;
$post = wp_insert_post(['post_title' => 'Course news', 'post_status' => 'publish', 'post_content' => 'Hello']);
for ($i = 0; $i < $n; $i++) {
  $email = "person$i@example.test"; $name = "Person $i";
  $id = wp_insert_user(['user_login' => "person$i", 'user_email' => $email, 'display_name' => $name,
                        'user_pass' => 'x', 'role' => 'subscriber']);
  if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message()); exit(1); }
  for ($c = 0; $c < $comments; $c++) {
    $cid = wp_insert_comment(['comment_post_ID' => $post, 'user_id' => $id, 'comment_author' => $name,
      'comment_author_email' => $email, 'comment_author_IP' => '192.0.2.' . ($i %% 250),
      'comment_content' => "Comment $c by $name", 'comment_approved' => 1]);
    add_comment_meta($cid, 'tcm_rating', 5);
  }
  for ($t = 0; $t < $testimonials; $t++) {
    tvo_create_testimonial(['title' => "From $name", 'content' => 'Great course.', 'tags' => [], 'status' => -1,
                            'source' => '', 'name' => $name, 'email' => $email]);
  }
  global $tvedb;
  $log = $tvedb->insert_event(['event_type' => TVE_LEADS_CONVERSION, 'main_group_id' => 0, 'form_type_id' => 0,
                               'variation_key' => 0, 'user' => $email], 0, false);
  $tvedb->tve_leads_register_contact($log, $name, $email, ['phone' => '+48 600 000 000']);
}
echo $n;
"""

# What is left of the seeded people's data (0 everywhere after a complete erasure).
LEFT = r"""
global $wpdb;
$n = %(people)d; $left = ['comments' => 0, 'testimonials' => 0, 'leads' => 0];
for ($i = 0; $i < $n; $i++) {
  $email = "person$i@example.test";
  $left['comments'] += (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM {$wpdb->comments} WHERE comment_author_email = %%s", $email));
  $left['testimonials'] += (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM {$wpdb->postmeta} WHERE meta_key = '_tvo_testimonial_attributes' AND meta_value LIKE %%s", '%%' . $wpdb->esc_like('"' . $email . '"') . '%%'));
  $left['leads'] += (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM {$wpdb->prefix}tve_leads_contacts WHERE email = %%s", $email));
}
$left['completed_requests'] = (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->posts} WHERE post_type = 'user_request' AND post_status = 'request-completed'");
echo json_encode($left);
"""

# Confirmed requests and their nonces for the admin's session (the logged-in cookie carries
# the session token wp_create_nonce mixes in).
REQUESTS = r"""
$_COOKIE[LOGGED_IN_COOKIE] = %(cookie)s;
wp_set_current_user(%(admin)d);
$out = ['erasers' => count(apply_filters('wp_privacy_personal_data_erasers', [])), 'requests' => []];
for ($i = 0; $i < %(people)d; $i++) {
  $rid = wp_create_user_request("person$i@example.test", 'remove_personal_data', [], 'confirmed');
  if (is_wp_error($rid)) { fwrite(STDERR, $rid->get_error_message()); exit(1); }
  $out['requests'][] = [$rid, wp_create_nonce('wp-privacy-erase-personal-data-' . $rid)];
}
echo json_encode($out);
"""


def php_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_plugin(stack, people: int) -> tuple[float, int]:
    session = requests.Session()
    session.auth = (stack.service_user, stack.service_app_password)
    url = f"{stack.url}/?rest_route=/wpprivsync/v1/erase"
    calls = 0
    started = time.perf_counter()
    for i in range(people):
        resp = session.post(url, json={"email": f"person{i}@example.test", "dry_run": False, "exclude": [],
                                  "delete_account": False},
                            timeout=120)
        calls += 1
        resp.raise_for_status()
        if not resp.json().get("request_id"):
            raise SystemExit(f"plugin erase answered without a request id: {resp.text[:200]}")
    return time.perf_counter() - started, calls


def run_plugin_batch(stack, people: int, size: int) -> tuple[float, int]:
    session = requests.Session()
    session.auth = (stack.service_user, stack.service_app_password)
    url = f"{stack.url}/?rest_route=/wpprivsync/v1/erase/batch"
    emails = [f"person{i}@example.test" for i in range(people)]
    calls = 0
    started = time.perf_counter()
    for k in range(0, people, size):
        chunk = emails[k:k + size]
        resp = session.post(url, json={"emails": chunk, "exclude": [], "delete_account": False}, timeout=300)
        calls += 1
        resp.raise_for_status()
        results = resp.json().get("results", [])
        if len(results) != len(chunk) or any("error" in r or not r.get("request_id") for r in results):
            raise SystemExit(f"plugin erase/batch failed: {resp.text[:300]}")
    return time.perf_counter() - started, calls


def admin_session(stack) -> requests.Session:
    session = requests.Session()
    login = f"{stack.url}/wp-login.php"
    session.get(login, timeout=30)  # sets the test cookie
    session.cookies.set("wordpress_test_cookie", "WP Cookie check")
    resp = session.post(login, data={"log": stack.admin_user, "pwd": stack.admin_password, "wp-submit": "Log In",
                                     "redirect_to": f"{stack.url}/wp-admin/", "testcookie": "1"},
                        timeout=30, allow_redirects=False)
    if resp.status_code != 302 or not any(c.name.startswith("wordpress_logged_in_") for c in session.cookies):
        raise SystemExit(f"admin login failed (HTTP {resp.status_code})")
    return session


def run_core(stack, session: requests.Session, requests_: list[list], erasers: int) -> tuple[float, int, int]:
    url = f"{stack.url}/wp-admin/admin-ajax.php"
    calls = pages_max = 0
    started = time.perf_counter()
    for request_id, nonce in requests_:
        for eraser in range(1, erasers + 1):
            page = 1
            while True:
                resp = session.post(url, data={"action": "wp-privacy-erase-personal-data", "eraser": eraser,
                                               "id": request_id, "page": page, "security": nonce}, timeout=120)
                calls += 1
                body = resp.json()
                if not body.get("success"):
                    raise SystemExit(f"core erasure failed: {json.dumps(body)[:300]}")
                if body["data"].get("done"):
                    break
                page += 1
            pages_max = max(pages_max, page)
    return time.perf_counter() - started, calls, pages_max


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--comments", type=int, default=3, help="comments per person")
    parser.add_argument("--testimonials", type=int, default=3, help="testimonials per person")
    parser.add_argument("--batch", type=int, default=25,
                        help="also time POST /erase/batch with this many people a call (0: skip; plugin max 25)")
    args = parser.parse_args()
    print_machine()
    seed = {"people": args.people, "comments": args.comments, "testimonials": args.testimonials}
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-") as tmp:
        stack = wordpress_stack(Path(tmp) / "stack")
        try:
            stack.start()
            if not {"thrive-leads", "thrive-ovation"} <= set(stack.plugins):
                raise SystemExit("needs the real Thrive plugins: the current profile (../shared/thirdparty)")
            stack.php(SEED % seed, timeout=600)
            before = stack.php_json(LEFT % seed)
            # Warm both paths (opcode cache) without changing data: a dry-run erase, the admin's
            # log-in and the Erase Personal Data screen. The session survives the restore.
            warm = requests.post(f"{stack.url}/?rest_route=/wpprivsync/v1/erase", timeout=60,
                                 auth=(stack.service_user, stack.service_app_password),
                                 json={"email": "person0@example.test", "dry_run": True})
            warm.raise_for_status()
            session = admin_session(stack)
            session.get(f"{stack.url}/wp-admin/erase-personal-data.php", timeout=60).raise_for_status()
            stack.snapshot()

            plugin_s, plugin_calls = run_plugin(stack, args.people)
            after_plugin = stack.php_json(LEFT % seed)

            stack.restore()
            batch_s = batch_calls = None
            if args.batch:
                batch_s, batch_calls = run_plugin_batch(stack, args.people, args.batch)
                after_batch = stack.php_json(LEFT % seed)
                stack.restore()
            cookie = next(c.value for c in session.cookies if c.name.startswith("wordpress_logged_in_"))
            made = stack.php_json(REQUESTS % {"cookie": php_str(unquote(cookie)), "admin": stack.user_ids.get(stack.admin_user, 1),
                                              "people": args.people})
            core_s, core_calls, pages_max = run_core(stack, session, made["requests"], made["erasers"])
            after_core = stack.php_json(LEFT % seed)
        finally:
            stack.stop()

    checked = [("plugin", after_plugin), ("core", after_core)] + ([("batch", after_batch)] if args.batch else [])
    for name, left in checked:
        rest = {k: v for k, v in left.items() if k != "completed_requests"}
        if any(rest.values()) or left["completed_requests"] < args.people:
            raise SystemExit(f"the {name} run left data behind: {left}")
    speedup = core_s / plugin_s
    print(f"seeded: {args.people} people, each {args.comments} comments, {args.testimonials} testimonials, 1 lead "
          f"(before: {before}); erasers registered: {made['erasers']} (core flow), "
          f"{made['erasers'] - 1} (plugin: all but its own)")
    print()
    print_table(["run", "wall s", "HTTP requests", "ms per person", "requests per person"], [
        ["plugin POST /erase", plugin_s, plugin_calls, 1000 * plugin_s / args.people, plugin_calls / args.people],
        ["core admin-ajax", core_s, core_calls, 1000 * core_s / args.people, core_calls / args.people],
    ] + ([[f"plugin POST /erase/batch ({args.batch} a call)", batch_s, batch_calls, 1000 * batch_s / args.people,
           batch_calls / args.people]] if args.batch else []))
    print(f"\nspeed-up: {speedup:.1f}x (target >= {TARGET:g}x); core's longest eraser took {pages_max} pages")
    if args.batch:
        print(f"speed-up with POST /erase/batch: {core_s / batch_s:.1f}x")
    last_line({"people": args.people, "plugin_s": plugin_s, "plugin_requests": plugin_calls, "core_s": core_s,
               "core_requests": core_calls, "speedup": speedup, "target": TARGET, "erasers": made["erasers"],
               **({"batch_size": args.batch, "batch_s": batch_s, "batch_requests": batch_calls,
                   "batch_speedup": core_s / batch_s} if args.batch else {})})


if __name__ == "__main__":
    main()
