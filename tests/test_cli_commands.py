"""The manual commands over the real WordPress and the local ActiveCampaign server, as a person
runs them: output, --json, exit codes, and clear errors for bad input."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from wpprivsync.cli.main import cli


@pytest.fixture
def run(system, tmp_path):
    config = system.write_config(tmp_path / "wpprivsync.toml")

    def invoke(*args):
        result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
        return result
    return invoke


def test_erase_dry_run_then_erase(system, run):
    email = "cli.erase@example.com"
    system.create_user(email)
    system.add_comment(email)
    system.ac.add_contact(email, lists={system.list_id: 1})
    dry = run("erase", email, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "nothing was changed" in dry.output and "delete the contact" in dry.output
    assert system.user_exists(email) and system.ac.contact_view(email)

    done = run("erase", email)
    assert done.exit_code == 0, done.output
    assert "done" in done.output and "activecampaign" in done.output
    assert not system.user_exists(email) and system.ac.contact_view(email) is None

    audit = run("--json", "audit", email)
    rows = json.loads(audit.output)
    assert {r["action"] for r in rows} >= {"erase", "delete_contact", "add"}
    assert email not in audit.output


def test_comments_unsubscribe_status_explain_export(system, run, tmp_path):
    email = "cli.person@example.com"
    system.create_user(email, consent=True)
    system.add_comment(email)
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["reader"])
    system.sync()

    why = run("explain", email)
    assert why.exit_code == 0, why.output
    assert "activecampaign" in why.output and "wordpress" in why.output
    data = json.loads(run("--json", "explain", email).output)
    ac = next(s for s in data["systems"] if s["system"] == "activecampaign")
    assert ac["holds"]["tags"] == ["reader"]

    out = run("export", email, "-o", str(tmp_path / "p.zip"))
    assert out.exit_code == 0, out.output
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert "export.html" in zf.namelist()

    assert run("comments", "remove", email).exit_code == 0
    assert system.count_comments(email) == 0
    assert run("unsubscribe", email).exit_code == 0
    assert system.ac.contact_view(email) is None

    st = run("--json", "status")
    assert st.exit_code == 0, st.output
    assert json.loads(st.output)["queue"] == 0


def test_failed_step_shows_in_status_and_retry_brings_it_back(system, run):
    email = "cli.fail@example.com"
    system.ac.add_contact(email, lists={system.list_id: 1})
    system.ac.set_faults(error_rate=1.0)
    result = run("unsubscribe", email)
    assert result.exit_code in (1, 3)  # never 0 with work left (issue 13)
    system.app.store.retry_all_dead(system.app.clock())  # nothing dead yet: retries are pending
    st = run("status")
    # with max_attempts=3 the step may still be waiting; force it to the dead-letter list
    from datetime import timedelta

    for _ in range(3):
        later = system.app.clock() + timedelta(hours=3)
        system.app.clock = (lambda t: (lambda: t))(later)
        from wpprivsync import services

        services.sync_once(system.app)
    st = run("status")
    assert st.exit_code == 1 and "failed steps" in st.output
    step_id = json.loads(run("--json", "status").output)["failed"][0]["step_id"]
    system.ac.clear_faults()
    again = run("retry", str(step_id))
    assert again.exit_code == 0 and "queued again" in again.output
    assert run("sync").exit_code == 0
    assert system.ac.contact_view(email) is None


@pytest.mark.parametrize("args,message", [
    (["erase", "not-an-email"], "not a valid email"),
    (["retry", "99999"], "not in the dead-letter list"),
    (["retry"], "give a step id or --all-failed"),
    (["cancel", "4242"], "is not open"),
])
def test_bad_input_gives_a_clear_error_and_exit_2(run, message, args):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_policy_is_refused_with_the_rule_named(system, tmp_path):
    bad = tmp_path / "policy.toml"
    bad.write_text("[rules.orders]\nkeep = \"forever-and-ever\"\n")
    config = system.write_config(tmp_path / "bad.toml", policy_file=str(bad))
    result = CliRunner().invoke(cli, ["--config", str(config), "sync"])
    assert result.exit_code == 2
    assert "orders" in result.output


def test_reconcile_and_retention_dry_runs(system, run):
    rec = run("reconcile", "--dry-run")
    assert rec.exit_code == 0, rec.output and "would unsubscribe" in rec.output
    ret = run("retention", "--dry-run")
    assert ret.exit_code == 0, ret.output
    assert "WooCommerce is not active" in ret.output or "past retention" in ret.output


@pytest.mark.parametrize("where", ["missing/dir/ann.zip", "locked/ann.zip"])  # a directory: click refuses it
def test_export_to_an_unwritable_path_is_one_line_and_asks_nobody(system, run, tmp_path, where):
    """Issue 13, point 6: one line, no traceback, and no system is asked before it fails."""
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "locked").mkdir(mode=0o500)
    calls = []
    original = system.app.clients
    system.app.clients = lambda name: calls.append(name) or original(name)
    try:
        result = run("export", "ann@example.com", "-o", str(tmp_path / where))
    finally:
        system.app.clients = original
        (tmp_path / "locked").chmod(0o700)
    import os
    if where.startswith("locked") and os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    assert result.exit_code != 0
    out = (result.output or "").strip()
    assert "Traceback" not in out and len(out.splitlines()) == 1 and "--output" in out, out


def test_erase_with_activecampaign_down_exits_3_and_says_what_is_pending(system, run):
    """Issue 13, point 6: work left queued for retry is not a success."""
    system.create_user("down.case@example.com")
    system.ac.set_faults(error_rate=1.0, seed=1)
    try:
        result = run("erase", "down.case@example.com")
    finally:
        system.ac.clear_faults()
    assert result.exit_code == 3, result.output
    assert "pending: activecampaign" in result.output


def test_erase_behind_a_dead_request_says_so_and_queues_nothing(system, run):
    """Issue 13, point 5: a new request of a person whose earlier one is dead would never run."""
    from wpprivsync import services

    email = "dead.before@example.com"
    first = services.queue_request(system.app, "test", "unsubscribe", email)
    now = system.app.clock()
    (step, *_) = system.app.store.claim_steps("t", now, limit=10, lease_s=60)
    assert system.app.store.fail_step(step.id, "t", now, error="boom", retry_at=None)
    before = system.app.store.count_requests()
    result = run("erase", email)
    assert result.exit_code == 1
    assert f"request {first}" in result.output and "retry" in result.output
    assert "Traceback" not in result.output
    assert system.app.store.count_requests() == before


def test_an_address_one_system_refuses_is_refused_before_anything_acts(system, run):
    email = "o'brien@example.ie"
    result = run("unsubscribe", email)
    assert result.exit_code == 2
    assert "ActiveCampaign does not accept an apostrophe" in result.output and "nothing was done" in result.output
    assert system.app.store.list_requests() == []
