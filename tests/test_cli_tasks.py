"""``wpprivsync tasks`` / ``tasks done`` / ``tasks waive`` and ``status`` over a real store: the
listing, closing with an audit entry (twice is harmless), overdue tasks making both exit 1,
and clear errors for bad input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from wpprivsync.cli.main import cli
from wpprivsync.store import open_store
from wpprivsync.store.api import NewRequest, NewTask

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def env(tmp_path):
    store_url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
    config = tmp_path / "wpprivsync.toml"
    config.write_text("\n".join([
        f'store_url = "{store_url}"', f'site_secret = "{"s" * 32}"',
        f'policy_file = "{ROOT / "config" / "policy.toml"}"', f'export_dir = "{tmp_path / "exports"}"', "",
        "[[sites]]", 'name = "shop"', 'wordpress_url = "http://127.0.0.1:9"', 'wordpress_user = "sync"',
        'wordpress_app_password = "pppp pppp pppp pppp pppp pppp"', 'activecampaign_url = "http://127.0.0.1:9/api/3"',
        f'activecampaign_token = "{"t" * 40}"', "newsletter_list_ids = [1]"]) + "\n")
    store = open_store(store_url)

    def run(*args):
        return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)

    yield store, run
    store.close()


def _task(store, due, *, request_id=None, key="t1"):
    now = datetime.now(timezone.utc)
    return store.add_task(NewTask(site="shop", system="correspondence", rule="complaints",
                                  what="Remove the person's complaint letters from the mail archive",
                                  why="complaints: kept for the limitation period of claims", due_at=due,
                                  dedupe_key=key, request_id=request_id, email_hash="h" * 64), now)[0]


def test_list_close_and_close_again(env):
    store, run = env
    now = datetime.now(timezone.utc)
    req = store.add_request(NewRequest(site="shop", action="export", email="a@example.com", email_hash="h" * 64,
                                       source="cli", received_at=now, due_at=now + timedelta(days=30), steps=[]))
    tid = _task(store, now + timedelta(days=3), request_id=req)
    out = run("tasks")
    assert out.exit_code == 0, out.output
    assert f"task {tid} [open] correspondence due" in out.output and "limitation period" in out.output
    rows = json.loads(run("--json", "tasks").output)
    assert [r["id"] for r in rows] == [tid] and rows[0]["overdue"] is False

    done = run("tasks", "done", str(tid), "--note", "archive cleaned, told b@example.org")
    assert done.exit_code == 0 and f"task {tid} done" in done.output
    again = run("tasks", "done", str(tid), "--note", "again")
    assert again.exit_code == 0 and "already closed; nothing changed" in again.output
    assert "no open tasks" in run("tasks").output
    closed = json.loads(run("--json", "tasks", "--all").output)
    assert closed[0]["status"] == "done" and "b@example.org" not in closed[0]["note"]
    entries = [a for a in store.audit(site="shop") if a.action == "task_done"]
    assert len(entries) == 1 and entries[0].request_id == req
    assert store.get_request(req).status == "done"  # its only open item was the task


def test_overdue_task_makes_status_and_tasks_exit_1_and_waive_needs_a_reason(env):
    store, run = env
    tid = _task(store, datetime.now(timezone.utc) - timedelta(days=1))
    listing = run("tasks")
    assert listing.exit_code == 1 and "OVERDUE" in listing.output
    status = run("status")
    assert status.exit_code == 1 and f"task {tid} (correspondence) OVERDUE" in status.output
    assert run("tasks", "waive", str(tid)).exit_code == 2  # --note is required
    blank = run("tasks", "waive", str(tid), "--note", "  ")
    assert blank.exit_code == 2 and "a note is required" in blank.output
    missing = run("tasks", "done", "999", "--note", "x")
    assert missing.exit_code == 2 and "no task 999" in missing.output
    ok = run("tasks", "waive", str(tid), "--note", "no letters exist")
    assert ok.exit_code == 0 and "waived" in ok.output
    assert run("status").exit_code == 0
