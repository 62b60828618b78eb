"""The daemon as people run it: ``wpprivsync run`` polls, works, sends heartbeats the admin page
shows, and stops cleanly on SIGTERM; its logs carry no plain email."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from wpprivsync.identity import email_hash


def wait_for(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def test_run_works_the_queue_heartbeats_and_stops_on_sigterm(system, tmp_path):
    email = "daemon.person@example.com"
    uid = system.create_user(email, consent=True)
    system.ac.add_contact(email, lists={system.list_id: 1})
    config = system.write_config(tmp_path / "wpprivsync.toml", poll_interval_s=0.2, heartbeat_interval_s=0.5,
                                 log_json=True, log_level="DEBUG")
    env = {**os.environ, "WPPRIVSYNC_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "wpprivsync.cli", "run"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; wp_delete_user({uid});")
        digest = email_hash("test-site-secret-0123456789", email)
        assert wait_for(lambda: system.app.store.is_suppressed("test", digest)), "erasure did not complete"
        assert system.ac.contact_view(email) is None

        def heartbeat():
            raw = system.php("echo wp_json_encode(get_option('wpprivsync_heartbeat'));")
            beat = json.loads(raw) if raw and raw != "false" else None
            return beat if beat and beat.get("requests") and all(
                r["status"] == "done" for r in beat["requests"]) else None

        beat = wait_for(heartbeat)
        assert beat and beat["queue"] == 0
        assert any(r["systems"].get("activecampaign") == "done" for r in beat["requests"])
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "daemon stopped" for line in lines)
    # one line a pass at INFO, with what it did
    assert any(line["msg"] == "steps done" and line["done"] >= 1 and "activecampaign" in line["by_system"]
               for line in lines)
    assert email not in out + err


def test_run_with_two_workers_shares_the_queue_and_stops_both(system, tmp_path):
    emails = [f"two.workers{i}@example.com" for i in range(6)]
    for email in emails:
        system.ac.add_contact(email, lists={system.list_id: 1})
    config = system.write_config(tmp_path / "wpprivsync.toml", poll_interval_s=0.2, workers=2, log_json=True)
    # started as the systemd unit starts it: the file given with --config, not in the environment
    env = {k: v for k, v in os.environ.items() if k != "WPPRIVSYNC_CONFIG"}
    proc = subprocess.Popen([sys.executable, "-m", "wpprivsync.cli", "--config", str(config), "run"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        from wpprivsync import services
        from wpprivsync.engine import plan

        ids = [services.queue_request(system.app, "test", plan.ERASE, e) for e in emails]
        assert wait_for(lambda: all(system.app.store.get_request(i).status == "done" for i in ids), timeout=60)
        children = subprocess.run(["pgrep", "-g", str(proc.pid), "-f", "worker-only"], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    assert all(system.ac.contact_view(e) is None for e in emails)
    counters = system.ac.counters()
    assert counters["contacts_deleted"] == len(emails)  # each contact deleted once
    # a step whose lease ran out on a loaded machine may repeat its DELETE by id (it answers 404)
    assert len(emails) <= counters["requests"].get("DELETE /contacts/{id}", 0) <= len(emails) + 2
    workers = {json.loads(line).get("worker_only") for line in err.splitlines()
               if line.startswith("{") and json.loads(line)["msg"] == "daemon started"}
    assert workers == {True, False}
    time.sleep(0.5)
    assert subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split() == []
