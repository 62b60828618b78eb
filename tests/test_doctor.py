"""``doctor``: each check against real servers — a real WordPress with the plugin (``wp``), the
local ActiveCampaign server (``ac_server``), a real SQLite store — and against broken setups,
each with its own clear reason."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from wpprivsync import doctor
from wpprivsync.cli.main import cli
from wpprivsync.settings import SiteSettings

SITE_SECRET = "doctor-site-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def not_wordpress():
    """A plain HTTP server that is not WordPress (answers HTML)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = b"<html><body>just a page</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def site_settings(wordpress_url: str, user: str = "svc", password: str = "xxxx xxxx xxxx xxxx",
                  ac_url: str = "http://127.0.0.1:9", token: str = "token-0123456789", lists=(1,)) -> SiteSettings:
    return SiteSettings(name="shop", wordpress_url=wordpress_url, wordpress_user=user,
                        wordpress_app_password=password, activecampaign_url=ac_url,
                        activecampaign_token=token, newsletter_list_ids=list(lists))


def wordpress_checks(site: SiteSettings) -> dict[str, doctor.CheckResult]:
    with requests.Session() as session:
        results = doctor.check_wordpress(site, doctor.default_wordpress(site, session, timeout=5))
    assert [r.name for r in results] == ["reachable", "credentials", "plugin", "capability"]
    assert all(r.site == "shop" and r.system == "wordpress" for r in results)
    return {r.name: r for r in results}


# -- WordPress: broken setups without a WordPress ---------------------------------------------


def test_wordpress_wrong_url_is_not_reachable():
    url = f"http://127.0.0.1:{free_port()}"
    checks = wordpress_checks(site_settings(url))
    assert checks["reachable"].status == doctor.FAIL
    assert checks["reachable"].detail.startswith("not reachable")
    assert url in checks["reachable"].detail and "wordpress_url" in checks["reachable"].detail
    for name in ("credentials", "plugin", "capability"):
        assert checks[name].status == doctor.SKIP
        assert checks[name].detail == "skipped: WordPress not reachable"


def test_wordpress_url_of_something_else_is_not_reachable(not_wordpress):
    checks = wordpress_checks(site_settings(not_wordpress))
    assert checks["reachable"].status == doctor.FAIL
    assert checks["reachable"].detail.startswith("not reachable")
    assert "WordPress site?" in checks["reachable"].detail
    assert checks["capability"].status == doctor.SKIP


# -- store ------------------------------------------------------------------------------------


def test_store_writable(tmp_path):
    url = f"sqlite:///{tmp_path}/state/wpprivsync.sqlite3"
    (tmp_path / "state").mkdir()
    [result] = doctor.check_store(url, doctor.default_store_opener)
    assert (result.site, result.system, result.name, result.status) == (None, "store", "writable", doctor.PASS)
    assert str(tmp_path) in result.detail


def test_store_not_writable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    [result] = doctor.check_store(f"sqlite:///{blocker}/wpprivsync.sqlite3", doctor.default_store_opener)
    assert result.status == doctor.FAIL and not result.ok
    assert str(blocker) in result.detail


def test_store_url_password_not_shown():
    def refuse(url: str):
        from wpprivsync.errors import StoreError

        raise StoreError("connection refused")

    [result] = doctor.check_store("postgresql+psycopg://wp:db-Secret-77@127.0.0.1:1/x", refuse)
    assert result.status == doctor.FAIL
    assert "db-Secret-77" not in result.detail and "connection refused" in result.detail


# -- WordPress: the real stack ----------------------------------------------------------------


def test_wordpress_all_checks_pass(wp):
    checks = wordpress_checks(site_settings(wp.url, wp.service_user, wp.service_app_password))
    for name, result in checks.items():
        assert result.status == doctor.PASS, (name, result.detail)
    assert wp.service_user in checks["credentials"].detail and "wpprivsync_daemon" in checks["credentials"].detail
    assert checks["plugin"].detail.startswith("plugin active, version ")
    from wpprivsync import __version__  # noqa: F401  (the plugin has its own version)

    version = checks["plugin"].detail.split("version ", 1)[1].split(",")[0]
    assert version and version != "unknown"
    assert "holds wpprivsync_sync" in checks["capability"].detail


def test_wordpress_wrong_password_is_authentication_failed(wp):
    checks = wordpress_checks(site_settings(wp.url, wp.service_user, "aaaa bbbb cccc dddd eeee ffff"))
    assert checks["reachable"].status == doctor.PASS
    assert checks["credentials"].status == doctor.FAIL
    assert checks["credentials"].detail.startswith("authentication failed")
    assert "wordpress_app_password" in checks["credentials"].detail
    assert "aaaa bbbb" not in checks["credentials"].detail
    assert checks["plugin"].status == doctor.PASS  # seen without signing in
    assert checks["capability"].status == doctor.SKIP


def test_wordpress_unknown_user_is_authentication_failed(wp):
    checks = wordpress_checks(site_settings(wp.url, "nobody-here", wp.service_app_password))
    assert checks["credentials"].status == doctor.FAIL
    assert checks["credentials"].detail.startswith("authentication failed")


def test_wordpress_plugin_inactive(wp):
    wp.deactivate_plugin("wpprivsync")
    try:
        checks = wordpress_checks(site_settings(wp.url, wp.service_user, wp.service_app_password))
    finally:
        wp.activate_plugin("wpprivsync")
    assert checks["reachable"].status == doctor.PASS
    assert checks["credentials"].status == doctor.PASS
    assert checks["plugin"].status == doctor.FAIL
    assert checks["plugin"].detail.startswith("plugin not active")


def test_wordpress_user_without_capability(wp):
    checks = wordpress_checks(site_settings(wp.url, wp.subscriber_user, wp.subscriber_app_password))
    assert checks["credentials"].status == doctor.PASS
    assert checks["plugin"].status == doctor.PASS
    assert checks["capability"].status == doctor.FAIL
    assert checks["capability"].detail == (f"{wp.subscriber_user} lacks capability wpprivsync_sync "
                                           "(give it the role wpprivsync_daemon)")


# -- the command --------------------------------------------------------------------------


def write_config(tmp_path: Path, sites: list[SiteSettings], store_url: str | None = None) -> Path:
    """A TOML config for ``sites`` with the secrets in files, as in production."""
    secrets = tmp_path / "secrets"
    secrets.mkdir(exist_ok=True)
    (secrets / "site_secret").write_text(SITE_SECRET)
    (tmp_path / "state").mkdir(exist_ok=True)
    store_url = store_url or f"sqlite:///{tmp_path}/state/wpprivsync.sqlite3"
    lines = [f'store_url = "{store_url}"', f'site_secret_file = "{secrets / "site_secret"}"']
    for site in sites:
        wp_file = secrets / f"{site.name}-wp"
        wp_file.write_text(site.wordpress_app_password.get_secret_value())
        ac_file = secrets / f"{site.name}-ac"
        ac_file.write_text(site.activecampaign_token.get_secret_value())
        lines += ["", "[[sites]]", f'name = "{site.name}"', f'wordpress_url = "{site.wordpress_url}"',
                  f'wordpress_user = "{site.wordpress_user}"', f'wordpress_app_password_file = "{wp_file}"',
                  f'activecampaign_url = "{site.activecampaign_url}"', f'activecampaign_token_file = "{ac_file}"',
                  f"newsletter_list_ids = {json.dumps(site.newsletter_list_ids)}"]
    path = tmp_path / "wpprivsync.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_doctor(config: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False,
                              env={"WPPRIVSYNC_SECRETS_DIR": str(config.parent / "no-secrets-dir")})


def test_cli_prints_a_line_per_check_and_exits_1_on_failure(wp, tmp_path):
    ac_url = f"http://127.0.0.1:{free_port()}/api/3"
    site = site_settings(wp.url, wp.service_user, wp.service_app_password, ac_url=ac_url, token="ac-Tok-4242-x")
    config = write_config(tmp_path, [site])
    result = run_doctor(config, "doctor")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    for check in ("reachable", "credentials", "plugin", "capability"):
        assert any(line.startswith(f"PASS shop: wordpress {check} — ") for line in lines), result.output
    assert any(line.startswith("FAIL shop: activecampaign reachable — not reachable") for line in lines)
    assert "SKIP shop: activecampaign token — skipped: ActiveCampaign not reachable" in lines
    assert "SKIP shop: activecampaign list 1 — skipped: ActiveCampaign not reachable" in lines
    assert any(line.startswith("PASS store writable — ") for line in lines)
    assert lines[-1] == "1 failed, 2 skipped, 7 passed"
    for secret in (wp.service_app_password, "ac-Tok-4242-x", SITE_SECRET):
        assert secret not in result.output

    as_json = run_doctor(config, "doctor", "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.output)
    assert data["ok"] is False and data["summary"] == {"pass": 7, "fail": 1, "skip": 2}
    first = data["checks"][0]
    assert first == {"site": "shop", "system": "wordpress", "name": "reachable", "status": "pass",
                     "ok": True, "detail": first["detail"]}
    assert json.loads(run_doctor(config, "--json", "doctor").output) == data
    assert wp.service_app_password not in as_json.output and "ac-Tok-4242-x" not in as_json.output


def test_cli_several_sites_and_site_option(tmp_path):
    down = f"http://127.0.0.1:{free_port()}"
    a = site_settings(down, ac_url=down)
    b = a.model_copy(update={"name": "blog"})
    config = write_config(tmp_path, [a, b])
    data = json.loads(run_doctor(config, "--json", "doctor").output)
    assert [c["site"] for c in data["checks"]] == ["shop"] * 7 + ["blog"] * 7 + [None] * 3
    assert all(c["status"] in ("fail", "skip") for c in data["checks"][:-3])
    only = json.loads(run_doctor(config, "--site", "blog", "--json", "doctor").output)
    assert {c["site"] for c in only["checks"]} == {None, "blog"}
    unknown = run_doctor(config, "--site", "nope", "doctor")
    assert unknown.exit_code == 2 and "no site named 'nope'" in unknown.output


def test_cli_invalid_config_exits_2(tmp_path):
    config = tmp_path / "wpprivsync.toml"
    config.write_text('site_secret = "short"\n')
    result = run_doctor(config, "doctor")
    assert result.exit_code == 2
    assert result.output.startswith("error: site_secret: too short")
    assert "short\"" not in result.output


def test_cli_store_failure_fails(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    config = write_config(tmp_path, [], store_url=f"sqlite:///{blocker}/db.sqlite3")
    result = run_doctor(config, "doctor")
    assert result.exit_code == 1
    assert result.output.splitlines()[0].startswith("FAIL store writable — cannot open")


def test_cli_no_site_configured_fails_and_says_so(tmp_path):
    """The systemd unit runs doctor before the daemon: with no site it must not pass."""
    config = write_config(tmp_path, [])
    result = run_doctor(config, "doctor")
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("PASS store writable — ")
    assert lines[1].startswith("PASS policy rules — the default policy: ") and lines[1].endswith(" rules")
    assert lines[2] == ("FAIL config sites — no site configured: add a [[sites]] table to the configuration "
                        "file (see config/wpprivsync.example.toml)")
    assert lines[-1] == "1 failed, 0 skipped, 2 passed"
    data = json.loads(run_doctor(config, "--json", "doctor").output)
    assert data["ok"] is False and data["checks"][-1]["system"] == "config"


def test_cli_broken_policy_fails_naming_the_file(tmp_path):
    config = write_config(tmp_path, [])
    policy = tmp_path / "policy.toml"
    policy.write_text("[rules.orders]\nsystem = 'woocommerce'\n")
    config.write_text(config.read_text() + f'policy_file = "{policy}"\n')  # no [[sites]]: still top level
    result = run_doctor(config, "doctor")
    assert result.exit_code == 1
    policy_line = next(line for line in result.output.splitlines() if " policy rules " in line)
    assert policy_line.startswith(f"FAIL policy rules — {policy}: "), result.output


def test_policy_check_passes_on_the_shipped_policy_and_fails_on_a_missing_file(tmp_path):
    from wpprivsync.settings import default_policy_file

    assert doctor.check_policy(default_policy_file())[0].status == doctor.PASS
    missing = doctor.check_policy(tmp_path / "nope.toml")[0]
    assert missing.status == doctor.FAIL and "file not found" in missing.detail


# -- ActiveCampaign: the local server -----------------------------------------------------------


def activecampaign_checks(site: SiteSettings, tmp_path: Path) -> dict[str, doctor.CheckResult]:
    from wpprivsync.settings import Settings

    settings = Settings(store_url=f"sqlite:///{tmp_path}/wpprivsync.sqlite3", site_secret=SITE_SECRET, sites=[site])
    with requests.Session() as session:
        results = doctor.check_activecampaign(
            site, lambda: doctor.default_activecampaign(site, session, settings, timeout=5))
    assert all(r.site == "shop" and r.system == "activecampaign" for r in results)
    return {r.name: r for r in results}


def test_activecampaign_all_checks_pass(ac_server, tmp_path):
    news = ac_server.account().add_list("Newsletter")
    promo = ac_server.account().add_list("Offers")
    site = site_settings("http://127.0.0.1:9", ac_url=ac_server.url, token=ac_server.token, lists=(news, promo))
    checks = activecampaign_checks(site, tmp_path)
    assert list(checks) == ["reachable", "token", f"list {news}", f"list {promo}"]
    assert all(r.status == doctor.PASS for r in checks.values()), checks
    assert checks[f"list {news}"].detail == f"list {news} exists (Newsletter)"


def test_activecampaign_wrong_token(ac_server, tmp_path):
    news = ac_server.account().add_list("Newsletter")
    site = site_settings("http://127.0.0.1:9", ac_url=ac_server.url, token="wrong-token-000111", lists=(news,))
    checks = activecampaign_checks(site, tmp_path)
    assert checks["reachable"].status == doctor.PASS
    assert checks["token"].status == doctor.FAIL
    assert checks["token"].detail.startswith("token not accepted") and "activecampaign_token" in checks["token"].detail
    assert "wrong-token-000111" not in checks["token"].detail
    assert checks[f"list {news}"].status == doctor.SKIP
    assert checks[f"list {news}"].detail == "skipped: token not accepted"


def test_activecampaign_missing_list(ac_server, tmp_path):
    news = ac_server.account().add_list("Newsletter")
    site = site_settings("http://127.0.0.1:9", ac_url=ac_server.url, token=ac_server.token, lists=(news, 999))
    checks = activecampaign_checks(site, tmp_path)
    assert checks[f"list {news}"].status == doctor.PASS
    assert checks["list 999"].status == doctor.FAIL
    assert checks["list 999"].detail == "list 999 not found (check newsletter_list_ids)"


def test_activecampaign_url_without_api_path(ac_server, tmp_path):
    site = site_settings("http://127.0.0.1:9", ac_url=ac_server.root, token=ac_server.token)
    checks = activecampaign_checks(site, tmp_path)
    assert checks["reachable"].status == doctor.FAIL
    assert checks["reachable"].detail.startswith("not reachable")
    assert "/api/3" in checks["reachable"].detail
    assert checks["token"].status == doctor.SKIP


def test_activecampaign_unreachable(tmp_path):
    site = site_settings("http://127.0.0.1:9", ac_url=f"http://127.0.0.1:{free_port()}/api/3")
    checks = activecampaign_checks(site, tmp_path)
    assert checks["reachable"].status == doctor.FAIL
    assert checks["reachable"].detail.startswith("not reachable") and "activecampaign_url" in checks["reachable"].detail
    assert checks["token"].detail == "skipped: ActiveCampaign not reachable"


def test_cli_everything_passes_exits_0(wp, ac_server, tmp_path):
    news = ac_server.account().add_list("Newsletter")
    site = site_settings(wp.url, wp.service_user, wp.service_app_password, ac_url=ac_server.url,
                         token=ac_server.token, lists=(news,))
    config = write_config(tmp_path, [site])
    result = run_doctor(config, "doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 11 and all(line.startswith("PASS ") for line in lines[:-1]), result.output
    assert lines[-1] == "all 10 checks passed"
    data = json.loads(run_doctor(config, "doctor", "--json").output)
    assert data["ok"] is True and data["summary"] == {"pass": 10, "fail": 0, "skip": 0}
    for secret in (wp.service_app_password, ac_server.token, SITE_SECRET):
        assert secret not in result.output


# -- WebinarJam ------------------------------------------------------------------------------
def _wj_site(url: str, key: str, webinars=(7,)) -> SiteSettings:
    return site_settings("http://127.0.0.1:9").model_copy(update={
        "webinarjam_url": url, "webinarjam_api_key": __import__("pydantic").SecretStr(key),
        "webinarjam_webinar_ids": list(webinars)})


def _wj_checks(site: SiteSettings) -> dict[str, doctor.CheckResult]:
    with requests.Session() as session:
        return {r.name: r for r in doctor.check_webinarjam(site, doctor.default_webinarjam(site, session))}


def test_webinarjam_key_and_webinars():
    from wpprivsync_devkit.wjfake import WebinarJamServer

    key = "a" * 64
    with WebinarJamServer(api_key=key) as wj:
        wj.add_webinar(7, "Taxes", ["2026-11-01 18:00"])
        good = _wj_checks(_wj_site(wj.url, key, webinars=(7, 8)))
        assert good["reachable"].ok and good["api key"].ok and good["webinar 7"].ok
        assert good["webinar 8"].status == doctor.FAIL and "webinarjam_webinar_ids" in good["webinar 8"].detail
        revoked = "r" * 64
        bad = _wj_checks(_wj_site(wj.url, revoked))
        assert bad["api key"].status == doctor.FAIL
        assert "invalid or revoked" in bad["api key"].detail and "Invalid API key" in bad["api key"].detail
        assert revoked not in bad["api key"].detail and bad["webinar 7"].status == doctor.SKIP
    down = _wj_checks(_wj_site(f"http://127.0.0.1:{free_port()}/webinarjam", key))
    assert down["reachable"].status == doctor.FAIL and "webinarjam_url" in down["reachable"].detail
