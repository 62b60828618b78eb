"""Faults: the real daemon works through a mixed backlog while ActiveCampaign answers 5xx,
drops connections and sends 429 bursts, WordPress answers 503 for a share of requests (a small
proxy in front of it), and MariaDB is restarted mid-run. Everything completes. Then a step that
keeps failing past the retry limit shows in ``wpprivsync status --json`` (exit code 1) and on
the admin page, and ``retry --all-failed`` finishes it once the fault is gone."""

from __future__ import annotations

import json
import re
import time

import pytest

from support.reliability import (DaemonProcess, FlakyProxy, admin_session, all_requests, cli, outbox_counts,
                                 wait_until)
from wpprivsync import services
from wpprivsync.engine import plan
from wpprivsync.store.api import DONE

pytestmark = pytest.mark.slow

ERASED = 20      # account deletions, each with a contact
UNSUBSCRIBED = 8  # unsubscribe clicks in ActiveCampaign
COMMENTERS = 8   # comment removals asked for on the admin page


def config_through(system, proxy: FlakyProxy, path, **extra):
    """The daemon's config, with WordPress reached through the proxy."""
    text = system.write_config(path, **extra).read_text()
    path.write_text(re.sub(r'(?m)^wordpress_url = ".*"$', f'wordpress_url = "{proxy.url}"', text))
    assert proxy.url in path.read_text()
    return path


@pytest.fixture
def proxy(system):
    p = FlakyProxy(system.wp.url, fail_rate=0.2, seed=5)
    yield p
    p.stop()


def test_everything_completes_under_faults_and_dead_letters_show(system, proxy, tmp_path):
    started = time.monotonic()
    erased = [f"fault.erase{i}@example.com" for i in range(ERASED)]
    unsubscribed = [f"fault.unsub{i}@example.com" for i in range(UNSUBSCRIBED)]
    commenters = [f"fault.comment{i}@example.org" for i in range(COMMENTERS)]
    for email in erased:
        system.ac.add_contact(email, lists={system.list_id: 1})
    for email in unsubscribed:
        system.create_user(email, consent=True)
        system.ac.add_contact(email, lists={system.list_id: 1})
    for email in commenters:
        system.add_comment(email, with_meta=False)
    system.wp.php(
        "require_once ABSPATH . 'wp-admin/includes/user.php';"
        f"foreach ({json.dumps(erased)} as $i => $e) {{ $id = wp_insert_user(['user_login' => 'faulterase' . $i,"
        "  'user_email' => $e, 'user_pass' => 'x' . $i]); wp_delete_user($id); }"
        f"foreach ({json.dumps(commenters)} as $e) {{ Wpprivsync_Outbox::record('comments.removal_requested',"
        "  ['email' => $e, 'source' => 'admin-page']); }")
    for email in unsubscribed:
        system.ac.unsubscribe_click(email, system.list_id)
    system.ac.wait_deliveries(UNSUBSCRIBED)
    # and one consent.changed (subscribed) for each user created with consent
    events = ERASED + COMMENTERS + 2 * UNSUBSCRIBED
    assert system.wait_outbox(events) == events

    # ActiveCampaign on a bad day: 15% 5xx, 5% dropped connections, and a 429 burst now and then
    system.ac.set_faults(error_rate=0.15, timeout_rate=0.05, hang_s=1.0, burst_429=6, retry_after=1, seed=3)
    config = config_through(system, proxy, tmp_path / "wpprivsync.toml", max_attempts=8, step_lease_s=30,
                            poll_interval_s=0.3, heartbeat_interval_s=1)
    log_path = tmp_path / "daemon.log"
    daemon = DaemonProcess(config, log_path)
    try:
        def done_count():
            return sum(r.status == DONE for r in all_requests(system.app.store, "test"))
        wait_until(lambda: done_count() >= 5, timeout=180, what="the first requests to finish")
        system.wp.restart_db()  # MariaDB goes away and comes back mid-run
        system.ac.set_faults(burst_429=8)
        wait_until(lambda: outbox_counts(system.wp)["pending"] == 0 and done_count() == events, timeout=300,
                   interval=1.0, what="every request to finish")
    finally:
        assert daemon.stop() == 0
    completed_s = time.monotonic() - started
    counters = system.ac.counters()
    system.ac.clear_faults()

    reqs = all_requests(system.app.store, "test")
    assert len(reqs) == events and all(r.status == DONE for r in reqs)
    assert not system.app.store.dead_steps("test")
    for email in erased + unsubscribed:
        assert system.ac.contact_view(email) is None, email
    for email in unsubscribed:
        assert system.consent(email) == "0"
    for email in commenters:
        assert system.count_comments(email) == 0
    # the faults did happen
    assert proxy.failed > 0 and counters["http429_injected"] >= 6
    assert re.search(r"wordpress: HTTP 503", log_path.read_text())  # the daemon met them and went on
    print(f"\nfaults: {events} requests done in {completed_s:.1f} s; WordPress proxy answered 503 to "
          f"{proxy.failed} of {proxy.served}; ActiveCampaign {counters['total']} calls, "
          f"{counters['http429_injected']} injected 429s")

    # -- past the retry limit: status and the admin page show it ------------------------------
    victim = "fault.dead@example.org"
    system.add_comment(victim, with_meta=False)
    proxy.fail_rate = 0.0
    proxy.always_fail = "comments/remove"
    config = config_through(system, proxy, tmp_path / "wpprivsync-dead.toml", max_attempts=2, step_lease_s=30,
                            poll_interval_s=0.3, heartbeat_interval_s=1)
    rid = services.queue_request(system.app, "test", plan.REMOVE_COMMENTS, victim)
    daemon = DaemonProcess(config, log_path)
    try:
        (dead,) = wait_until(lambda: system.app.store.dead_steps("test"), timeout=120, what="the dead step")
        assert dead.request_id == rid and dead.attempts == 2 and "503" in (dead.last_error or "")
        out = cli(config, "--json", "status")
        assert out.returncode == 1, out.stderr
        failed = json.loads(out.stdout)["failed"]
        assert [(f["step_id"], f["system"], f["action"]) for f in failed] == [(dead.id, "wordpress", "remove_comments")]
        admin = admin_session(system.wp)

        def page_lists_it():
            body = admin.get(f"{system.wp.url}/wp-admin/tools.php", params={"page": "wpprivsync"}, timeout=60).text
            block = re.search(r'id="wpprivsync-failed".*?</div>', body, re.S)
            return block and f'data-step-id="{dead.id}"' in block.group(0)
        wait_until(page_lists_it, timeout=30, interval=0.5, what="the admin page to list the failed step")
        assert victim not in log_path.read_text()

        proxy.always_fail = None
        again = cli(config, "retry", "--all-failed")
        assert again.returncode == 0, again.stderr
        wait_until(lambda: system.app.store.get_request(rid).status == DONE, timeout=60, what="the retried step")
    finally:
        assert daemon.stop() == 0
    assert system.count_comments(victim) == 0
    assert cli(config, "--json", "status").returncode == 0
