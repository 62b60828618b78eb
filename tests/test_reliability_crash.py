"""Crash: the real daemon (``python -m wpprivsync.cli run``) is killed with SIGKILL at random
points, 20 times, while it works through a 2,000-event backlog; then it runs to the end. Every
event is done exactly once in effect: no event lost, no ActiveCampaign contact deleted twice,
one audit entry per step, no duplicate request.

The event mix: 200 account deletions (150 of those people have an ActiveCampaign contact), 100
comment-removal requests recorded the way the admin page records them, and 1,700 comments
deleted in WordPress (each a ``comment.deleted`` event whose effect is one audit entry). Every
erasure costs one or two ActiveCampaign calls, and the daemon's own budget holds it to 5 calls
per second (the real account's limit, fixed in the client), so a faster fake would not shorten
the run: the mix keeps the ActiveCampaign work at about 350 calls (~70 s) instead of 4,000
(~13 min), and the WordPress work at 300 requests. The shared ``system`` fixture's fake runs at
the real 5 req/s.
"""

from __future__ import annotations

import collections
import random
import time

import pytest

from support.reliability import DaemonProcess, all_audit, all_requests, outbox_counts, wait_until
from wpprivsync.engine import plan
from wpprivsync.store.api import DONE

pytestmark = pytest.mark.slow

USERS = 200
WITH_CONTACT = 150
COMMENT_REQUESTS = 100
DELETED_COMMENTS = 1700
KILLS = 20
EVENTS = USERS + COMMENT_REQUESTS + DELETED_COMMENTS  # 2,000


def seed_backlog(system) -> tuple[list[str], list[str]]:
    """Users, contacts and comments, then the 2,000 events, in two PHP runs."""
    users = [f"crash.user{i:04d}@example.com" for i in range(USERS)]
    commenters = [f"crash.commenter{i:04d}@example.org" for i in range(COMMENT_REQUESTS)]
    for email in users[:WITH_CONTACT]:
        system.ac.add_contact(email, lists={system.list_id: 1})
    system.wp.php(
        "$post = wp_insert_post(['post_title' => 'Crash', 'post_status' => 'publish']);"
        f"for ($i = 0; $i < {USERS}; $i++) {{ $e = sprintf('crash.user%04d@example.com', $i);"
        "  wp_insert_user(['user_login' => 'crashuser' . $i, 'user_email' => $e, 'user_pass' => 'x-' . $i,"
        "                  'role' => 'subscriber']); }"
        f"for ($i = 0; $i < {COMMENT_REQUESTS}; $i++) {{ $e = sprintf('crash.commenter%04d@example.org', $i);"
        "  wp_insert_comment(['comment_post_ID' => $post, 'comment_author' => 'C', 'comment_author_email' => $e,"
        "                     'comment_content' => 'hello ' . $i, 'comment_approved' => 1]); }"
        f"for ($i = 0; $i < {DELETED_COMMENTS}; $i++) {{ $e = sprintf('crash.gone%04d@example.net', $i);"
        "  wp_insert_comment(['comment_post_ID' => $post, 'comment_author' => 'G', 'comment_author_email' => $e,"
        "                     'comment_content' => 'bye ' . $i, 'comment_approved' => 1]); }", timeout=300)
    # The events, interleaved: a removal request, two account deletions, seventeen comment deletions.
    system.wp.php(
        "require_once ABSPATH . 'wp-admin/includes/user.php';"
        "global $wpdb; $gone = $wpdb->get_col(\"SELECT comment_ID FROM {$wpdb->comments} "
        "WHERE comment_author_email LIKE 'crash.gone%' ORDER BY comment_ID\");"
        f"for ($i = 0; $i < {COMMENT_REQUESTS}; $i++) {{"
        "  Wpprivsync_Outbox::record('comments.removal_requested', ['email' => "
        "      sprintf('crash.commenter%04d@example.org', $i), 'source' => 'admin-page']);"
        "  foreach ([2 * $i, 2 * $i + 1] as $u) { $user = get_user_by('email', sprintf('crash.user%04d@example.com', $u));"
        "    wp_delete_user($user->ID); }"
        "  foreach (array_slice($gone, 17 * $i, 17) as $c) { wp_delete_comment($c, true); } }", timeout=300)
    return users, commenters


def test_sigkill_twenty_times_during_a_2000_event_backlog(system, tmp_path):
    started = time.monotonic()
    users, commenters = seed_backlog(system)
    counts = outbox_counts(system.wp)
    assert counts == {"total": EVENTS, "pending": EVENTS}
    seeded_s = time.monotonic() - started

    config = system.write_config(tmp_path / "wpprivsync.toml", step_lease_s=3, poll_interval_s=0.2,
                                 heartbeat_interval_s=5, step_concurrency=4)
    log_path = tmp_path / "daemon.log"
    rng = random.Random(20)
    progress = []
    for _ in range(KILLS):
        daemon = DaemonProcess(config, log_path)
        try:
            time.sleep(rng.uniform(0.8, 4.0))  # a random point: start-up, pulling, mid-step, mid-call
        finally:
            daemon.kill()
        progress.append(len([r for r in all_requests(system.app.store, "test") if r.status == DONE]))
    kills_s = time.monotonic() - started - seeded_s

    final = DaemonProcess(config, log_path)
    try:
        def finished():
            if outbox_counts(system.wp)["pending"]:  # not all pulled yet
                return False
            reqs = all_requests(system.app.store, "test")
            return len(reqs) >= USERS + COMMENT_REQUESTS and all(r.status == DONE for r in reqs)
        wait_until(finished, timeout=420, interval=1.0, what="the backlog to finish")
    finally:
        assert final.stop() == 0
    total_s = time.monotonic() - started
    print(f"\ncrash: seeded in {seeded_s:.1f} s; {KILLS} kills in {kills_s:.1f} s "
          f"(requests done after each kill: {progress}); all done after {total_s:.1f} s")

    # every event pulled and acknowledged, none twice
    assert outbox_counts(system.wp) == {"total": EVENTS, "pending": 0}
    store = system.app.store
    reqs = all_requests(store, "test")
    by_event = collections.Counter(r.event_id for r in reqs)
    assert len(reqs) == USERS + COMMENT_REQUESTS and max(by_event.values()) == 1 and None not in by_event
    assert collections.Counter(r.action for r in reqs) == {plan.ERASE: USERS, plan.REMOVE_COMMENTS: COMMENT_REQUESTS}
    assert len({(r.action, r.email_hash) for r in reqs}) == len(reqs)  # no duplicate request
    assert all(r.status == DONE for r in reqs)

    # ActiveCampaign: each contact deleted, by exactly one DELETE call (a repeat would 404)
    for email in users[:WITH_CONTACT]:
        assert system.ac.contact_view(email) is None
    calls = system.ac.counters()
    assert calls["requests"].get("DELETE /contacts/{id}", 0) == WITH_CONTACT, calls["requests"]
    assert calls["http429"] == 0

    # WordPress: every account and comment gone, every comment deleted by exactly one step
    left = system.php("global $wpdb; echo (int) $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->users} "
                      "WHERE user_email LIKE 'crash.user%'\") + (int) $wpdb->get_var(\"SELECT COUNT(*) FROM "
                      "{$wpdb->comments} WHERE comment_author_email LIKE 'crash.%'\");")
    assert left == "0"

    # audit: one entry per step (the entry is written in the same transaction as the finish)
    audit = all_audit(store)
    per_step = collections.Counter(a.step_id for a in audit if a.step_id is not None)
    steps = [s for r in reqs for s in store.steps_of(r.id)]
    assert all(s.status == "done" for s in steps)
    assert {s.id for s in steps} == set(per_step) and max(per_step.values()) == 1
    per_request = collections.defaultdict(collections.Counter)
    for a in audit:
        if a.request_id is not None:
            per_request[a.request_id][(a.system, a.action)] += 1
    removed_comments = 0
    for r in reqs:
        got = per_request[r.id]
        if r.action == plan.ERASE:
            assert got == {("wordpress", "erase"): 1, ("activecampaign", "delete_contact"): 1,
                           ("suppression", "add"): 1}, (r.id, got)
        else:
            assert got == {("wordpress", "remove_comments"): 1}, (r.id, got)
            (step,) = store.steps_of(r.id)
            removed_comments += step.result["comments_deleted"]
    # a step killed after WordPress answered runs again and finds nothing left: never more
    assert removed_comments <= COMMENT_REQUESTS
    # each deleted comment's event: exactly one audit entry (written with the cursor, atomically)
    gone = collections.Counter(a.detail.get("comment_id") for a in audit
                               if (a.system, a.action) == ("wordpress", "comment_deleted"))
    assert len(gone) == DELETED_COMMENTS and set(gone.values()) == {1}
    deleted_in_ac = sum(a.items_removed for a in audit if (a.system, a.action) == ("activecampaign", "delete_contact"))
    assert deleted_in_ac <= WITH_CONTACT
