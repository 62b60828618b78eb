"""A crash in the middle of a step: the real ``wpprivsync sync`` is killed with SIGKILL while
an ActiveCampaign call is in flight, then run again. Nothing is lost and nothing harmful is
repeated: the request completes, the contact is deleted once, the audit log has one entry per
step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from wpprivsync import services
from wpprivsync.engine import plan
from wpprivsync.store.api import RUNNING


def run_cli(config, *args, **kw):
    env = {**os.environ, "WPPRIVSYNC_CONFIG": str(config)}
    return subprocess.Popen([sys.executable, "-m", "wpprivsync.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_sigkill_mid_step_then_restart_finishes_exactly_once(system, tmp_path):
    email = "crash.flow@example.com"
    system.create_user(email)
    system.ac.add_contact(email, lists={system.list_id: 1})
    system.sync()
    rid = services.queue_request(system.app, "test", plan.ERASE, email)
    config = system.write_config(tmp_path / "wpprivsync.toml", step_lease_s=2)
    system.ac.set_faults(latency_s=1.5)  # every ActiveCampaign call is slow: the kill lands mid-call

    proc = run_cli(config, "sync", start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running = [s for s in system.app.store.steps_of(rid) if s.status == RUNNING and s.system == "activecampaign"]
        if running:
            break
        time.sleep(0.05)
    assert running, "the step never started"
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert system.app.store.get_request(rid).status == "open"

    system.ac.clear_faults()
    time.sleep(2.2)  # the dead process's lease runs out
    again = run_cli(config, "sync")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err

    view = services.request_view(system.app, rid)
    assert view["status"] == "done", view
    assert system.ac.contact_view(email) is None
    deletes = system.ac.counters()["requests"].get("DELETE /contacts/{id}", 0)
    assert deletes <= 1
    entries = [a for a in services.audit_view(system.app, email) if a["request_id"] == rid]
    assert sorted(a["action"] for a in entries) == ["add", "delete_contact", "erase", "residue_scan"]
    assert email not in out + err
