"""The development stack: a real WordPress with the plugin, per-test isolation, fault
injection on the database, and nothing left running afterwards."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from support.wordpress import PLUGIN_DIR, extra_plugin_dirs, requires_woocommerce, rest_session
from wpprivsync_devkit.devstack import MariaDB, StackError, WordPressStack
from wpprivsync_devkit.devstack import processes
from wpprivsync_devkit.devstack.ports import free_port, is_listening

REPO = Path(__file__).resolve().parents[1]


def test_rest_index_answers(wp):
    resp = requests.get(f"{wp.url}/wp-json/", timeout=30)
    assert resp.status_code == 200
    assert "wp/v2" in resp.json()["namespaces"]


def test_service_user_authenticates_with_its_application_password(wp):
    me = rest_session(wp.service_user, wp.service_app_password).get(
        f"{wp.url}/wp-json/wp/v2/users/me", params={"context": "edit"}, timeout=30)
    assert me.status_code == 200, me.text
    assert me.json()["username"] == wp.service_user
    assert me.json()["roles"] == [wp.service_role]


def test_wrong_application_password_is_refused(wp):
    resp = rest_session(wp.service_user, "aaaa bbbb cccc dddd eeee ffff").get(
        f"{wp.url}/wp-json/wp/v2/users/me", timeout=30)
    assert resp.status_code == 401


def test_subscriber_is_forbidden_what_needs_an_editor(wp):
    resp = rest_session(wp.subscriber_user, wp.subscriber_app_password).get(
        f"{wp.url}/wp-json/wp/v2/users", params={"context": "edit"}, timeout=30)
    assert resp.status_code == 403


def test_admin_can_log_in_with_the_browser_password(wp):
    session = requests.Session()
    session.cookies.set("wordpress_test_cookie", "WP Cookie check")
    resp = session.post(f"{wp.url}/wp-login.php", data={
        "log": wp.admin_user, "pwd": wp.admin_password, "wp-submit": "Log In", "testcookie": "1",
        "redirect_to": f"{wp.url}/wp-admin/"}, timeout=30)
    assert resp.status_code == 200
    assert resp.url.startswith(f"{wp.url}/wp-admin/")
    assert any(c.name.startswith("wordpress_logged_in_") for c in session.cookies)


def test_plugin_and_test_plugins_are_active(wp):
    active = wp.active_plugins()
    assert "wpprivsync/wpprivsync.php" in active
    for d in extra_plugin_dirs():
        assert wp.plugins[d.name] in active
    # linked, not copied: the site runs the working tree's plugin
    link = wp.site / "wp-content" / "plugins" / "wpprivsync"
    assert link.resolve() == PLUGIN_DIR.resolve()
    # WordPress maps the plugin's real path back to its basename (activation hooks rely on it)
    assert wp.php("echo plugin_basename(realpath(WP_PLUGIN_DIR . '/wpprivsync/wpprivsync.php'));") == \
        "wpprivsync/wpprivsync.php"


def test_deactivate_and_activate_plugin(wp):
    assert wp.deactivate_plugin("wpprivsync") == "wpprivsync/wpprivsync.php"
    assert "wpprivsync/wpprivsync.php" not in wp.active_plugins()
    assert wp.activate_plugin("wpprivsync") == "wpprivsync/wpprivsync.php"
    assert "wpprivsync/wpprivsync.php" in wp.active_plugins()


def test_activating_a_missing_plugin_is_a_clear_error(wp):
    with pytest.raises(StackError, match="no plugin in directory no-such-plugin"):
        wp.activate_plugin("no-such-plugin")


def test_php_returns_output_and_json(wp):
    assert wp.php("echo get_option('home');") == wp.url
    assert wp.php_json("echo json_encode(['users' => count_users()['total_users']]);") == {"users": 3}


def test_php_failure_raises_with_the_error(wp):
    with pytest.raises(StackError, match="boom from a snippet"):
        wp.php("throw new RuntimeException('boom from a snippet');")
    with pytest.raises(StackError, match="no JSON"):
        wp.php_json("echo 'not json';")


def test_snapshot_restore_isolates_users_options_and_new_tables(wp):
    wp.php("wp_insert_user(['user_login' => 'temp-user', 'user_pass' => wp_generate_password(),"
           " 'user_email' => 'temp-user@example.test']);"
           " update_option('blogname', 'Changed by a test');")
    wp.sql("CREATE TABLE wp_made_by_test (id INT PRIMARY KEY);")
    assert wp.php("echo username_exists('temp-user') ? 'yes' : 'no';") == "yes"

    wp.restore()

    assert wp.php("echo username_exists('temp-user') ? 'yes' : 'no';") == "no"
    assert wp.php("echo get_option('blogname');") == "wpprivsync test site"
    assert "wp_made_by_test" not in wp.sql("SHOW TABLES;").split()
    # the service user's Application Password still works after a restore
    me = rest_session(wp.service_user, wp.service_app_password).get(f"{wp.url}/wp-json/wp/v2/users/me", timeout=30)
    assert me.status_code == 200


def test_restore_recreates_dropped_and_altered_tables(wp):
    wp.sql("DROP TABLE wp_termmeta; ALTER TABLE wp_links ADD COLUMN extra INT;")
    wp.restore()
    tables = wp.sql("SHOW TABLES;").split()
    assert "wp_termmeta" in tables
    assert "extra" not in wp.sql("SHOW COLUMNS FROM wp_links;")


def test_restart_db_keeps_data(wp):
    post_id = int(wp.php("echo wp_insert_post(['post_title' => 'survives a restart', 'post_status' => 'publish']);"))
    pid_before = wp.db.pid
    wp.restart_db()
    assert wp.db.pid != pid_before
    resp = requests.get(f"{wp.url}/wp-json/wp/v2/posts/{post_id}", timeout=30)
    assert resp.status_code == 200
    assert resp.json()["title"]["rendered"] == "survives a restart"


def test_stopped_db_makes_the_site_fail_until_started(wp):
    wp.stop_db()
    try:
        down = requests.get(f"{wp.url}/wp-json/", timeout=30)
        assert down.status_code == 500
        assert not wp.db.running
    finally:
        wp.start_db()
    assert requests.get(f"{wp.url}/wp-json/", timeout=30).status_code == 200


def test_crashed_db_recovers_committed_data(wp):
    wp.php("update_option('wpprivsync_stack_probe', 'committed before the crash');")
    wp.stop_db(crash=True)
    wp.start_db()
    assert wp.php("echo get_option('wpprivsync_stack_probe');") == "committed before the crash"


def test_mail_is_caught_not_sent(wp):
    before = len(wp.sent_mail())
    assert wp.php("echo wp_mail('someone@example.test', 'Hello', 'Body') ? 'sent' : 'failed';") == "sent"
    mail = wp.sent_mail()[before:]
    assert [(m["to"], m["subject"]) for m in mail] == [(["someone@example.test"], "Hello")]


def test_env_names_the_connection(wp):
    env = wp.env()
    assert env["WPPRIVSYNC_WP_URL"] == wp.url
    assert env["WPPRIVSYNC_WP_USER"] == "wpprivsync-daemon"
    assert env["WPPRIVSYNC_WP_APP_PASSWORD"] == wp.service_app_password
    assert Path(env["WPPRIVSYNC_WP_DB_SOCKET"]).exists()


@requires_woocommerce
def test_woocommerce_is_active_and_takes_orders(wp):
    assert "woocommerce/woocommerce.php" in wp.active_plugins()
    tables = wp.sql("SHOW TABLES;").split()
    for table in ("wp_woocommerce_order_items", "wp_wc_customer_lookup", "wp_actionscheduler_actions"):
        assert table in tables
    order = wp.php_json(
        "$o = wc_create_order(); $o->set_billing_email('buyer@example.test'); $o->set_billing_first_name('Bea');"
        " $o->set_total('12.50'); $o->save();"
        " echo json_encode(['id' => $o->get_id(), 'email' => wc_get_order($o->get_id())->get_billing_email()]);")
    assert order["email"] == "buyer@example.test"
    resp = rest_session(wp.admin_user, wp.admin_app_password).get(
        f"{wp.url}/wp-json/wc/v3/orders/{order['id']}", timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.json()["billing"]["email"] == "buyer@example.test"


@requires_woocommerce
def test_woocommerce_can_be_switched_off_for_one_test(wp):
    wp.deactivate_plugin("woocommerce")
    assert "woocommerce/woocommerce.php" not in wp.active_plugins()
    assert wp.php("echo function_exists('wc_create_order') ? 'loaded' : 'absent';") == "absent"
    wp.restore()
    assert "woocommerce/woocommerce.php" in wp.active_plugins()


# -- stacks of their own -------------------------------------------------------------------

def test_bad_inputs_are_refused_before_anything_starts(tmp_path):
    with pytest.raises(StackError, match="plugin directory not found"):
        WordPressStack(tmp_path / "a", plugin_dirs=[tmp_path / "missing"]).start()
    with pytest.raises(StackError, match="holds no woocommerce.php"):
        WordPressStack(tmp_path / "b", plugin_dirs=[], woocommerce_dir=tmp_path).start()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "keep.txt").write_text("mine")
    with pytest.raises(StackError, match="not empty"):
        WordPressStack(tmp_path / "c", plugin_dirs=[]).start()
    assert (tmp_path / "c" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "a" / "mysql").exists()


@pytest.mark.filterwarnings("ignore:WordPress stack. role")
def test_ports_taken_meanwhile_are_replaced(tmp_path):
    taken = []
    for _ in range(2):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken.append(sock)
    offered = [s.getsockname()[1] for s in taken]  # web server first, then MariaDB

    def pick_port() -> int:
        return offered.pop(0) if offered else free_port()

    stack = WordPressStack(tmp_path / "stack", plugin_dirs=[], workers=1, pick_port=pick_port)
    try:
        stack.start()
        held = {s.getsockname()[1] for s in taken}
        assert stack.http_port not in held and stack.db.port not in held
        assert stack.php("echo home_url();") == stack.url
        assert requests.get(f"{stack.url}/wp-json/", timeout=30).status_code == 200
    finally:
        stack.stop()
        for sock in taken:
            sock.close()


def test_mariadb_data_directories_are_copied_from_one_template(tmp_path):
    cache = tmp_path / "cache"
    first = MariaDB(tmp_path / "one", port=free_port(), template_cache=cache)
    second = MariaDB(tmp_path / "two", port=free_port(), template_cache=cache)
    try:
        first.start()
        (template,) = [p for p in cache.iterdir() if not p.name.startswith(".")]
        built = template.stat().st_mtime_ns
        first.sql("CREATE DATABASE only_in_one; CREATE TABLE only_in_one.t (id INT);")
        second.start()
        assert template.stat().st_mtime_ns == built  # reused, not rebuilt
        assert "only_in_one" in first.sql("SHOW DATABASES;").split()
        assert "only_in_one" not in second.sql("SHOW DATABASES;").split()  # copies, not shared
        assert not list(cache.glob("*.building-*"))
    finally:
        first.cleanup()
        second.cleanup()


def test_stop_leaves_no_process(tmp_path):
    stack = WordPressStack(tmp_path / "stack", plugin_dirs=[PLUGIN_DIR], workers=2)
    stack.start()
    try:
        groups = stack.pgids()
        members = {pid for g in groups for pid in processes.group_members(g)}
        names = {Path(processes.cmdline(pid)[0]).name for pid in members}
        assert {"mariadbd", "php"} <= names
        assert len(members) >= 4  # mariadbd, php master and its two workers
    finally:
        stack.stop()
    for g in groups:
        assert not processes.group_alive(g)
    assert all(not processes.cmdline(pid) for pid in members)
    assert not is_listening(stack.http_port)
    assert not is_listening(stack.db.port)


def _wp_stack_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpprivsync_devkit.devstack", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "WPPRIVSYNC_WOOCOMMERCE_DIR"})


def test_detached_stack_up_env_status_down(tmp_path):
    where = ["--dir", str(tmp_path / "detached"), "--plugin", str(PLUGIN_DIR)]
    up = _wp_stack_cli("up", *where, cwd=tmp_path)
    try:
        assert up.returncode == 0, up.stderr
        assert "wpprivsync-daemon" in up.stdout
        again = _wp_stack_cli("up", *where, cwd=tmp_path)  # idempotent: same stack
        assert again.returncode == 0, again.stderr
        state = json.loads((tmp_path / "detached" / "state.json").read_text())

        env = _wp_stack_cli("env", *where, cwd=tmp_path)
        assert env.returncode == 0, env.stderr
        exported = dict(line.removeprefix("export ").split("=", 1) for line in env.stdout.splitlines())
        assert exported["WPPRIVSYNC_WP_URL"] == state["url"]
        assert state["url"] in again.stdout
        me = rest_session("wpprivsync-daemon", state["service_app_password"]).get(
            f"{state['url']}/wp-json/wp/v2/users/me", timeout=30)
        assert me.status_code == 200

        assert _wp_stack_cli("status", *where, cwd=tmp_path).returncode == 0

        attached = WordPressStack.attach(tmp_path / "detached")
        attached.php("wp_insert_user(['user_login' => 'made-by-hand', 'user_pass' => 'x',"
                     " 'user_email' => 'made-by-hand@example.test']);")
        reset = _wp_stack_cli("reset", *where, cwd=tmp_path)
        assert reset.returncode == 0, reset.stderr
        assert attached.php("echo username_exists('made-by-hand') ? 'yes' : 'no';") == "no"
    finally:
        down = _wp_stack_cli("down", *where, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    for key in ("server_pid", "db_pid"):
        assert not processes.group_alive(state[key])
    assert _wp_stack_cli("down", *where, cwd=tmp_path).returncode == 0  # idempotent
    assert _wp_stack_cli("status", *where, cwd=tmp_path).returncode == 3
    assert _wp_stack_cli("env", *where, cwd=tmp_path).returncode == 1


def test_stack_left_running_is_stopped_when_its_process_exits(tmp_path):
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from wpprivsync_devkit.devstack import WordPressStack\n"
        f"stack = WordPressStack(Path({str(tmp_path / 'stack')!r}), plugin_dirs=[], workers=2)\n"
        "stack.start()\n"
        "print(json.dumps(stack.pgids()))\n"
        "sys.exit(0)  # no stop(): the interpreter's exit must clean up\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    groups = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(groups) == 2
    assert not any(processes.group_alive(g) for g in groups)


def test_sigterm_to_a_test_session_stops_its_stack(tmp_path):
    pgids_file = tmp_path / "pgids.json"
    (tmp_path / "test_inner.py").write_text(
        "import json, pathlib, threading\n"
        "def test_hold(wp_stack):\n"
        f"    pathlib.Path({str(pgids_file)!r}).write_text(json.dumps(wp_stack.pgids()))\n"
        "    threading.Event().wait(120)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests"), WPPRIVSYNC_PROFILE="debian")
    env.pop("WPPRIVSYNC_WOOCOMMERCE_DIR", None)
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "support.wordpress", "-p", "no:cacheprovider",
         f"--rootdir={tmp_path}", "--basetemp", str(tmp_path / "base"), str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not pgids_file.exists() or not pgids_file.read_text():
            assert session.poll() is None, session.stdout.read()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        groups = json.loads(pgids_file.read_text())
        assert all(processes.group_alive(g) for g in groups)
        session.send_signal(signal.SIGTERM)
        session.wait(timeout=60)
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
    assert not any(processes.group_alive(g) for g in groups)
