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
    assert any(line["msg"] == "step done" for line in lines)
    assert email not in out + err
