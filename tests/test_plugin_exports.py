"""POST /exports keeps the daemon's export archive for the admin page's download link."""

from __future__ import annotations

import base64
import html
import io
import re
import zipfile

import pytest
import requests

from support.wordpress import rest_session

NS = "wpprivsync/v1"


def a_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("export.json", '{"hello": "world"}')
    return buf.getvalue()


@pytest.fixture(scope="module")
def daemon(wp_stack):
    return rest_session(wp_stack.service_user, wp_stack.service_app_password)


def post(stack, session, body):
    return session.post(f"{stack.url}/?rest_route=/{NS}/exports", json=body, timeout=60)


def login(stack, user: str, password: str) -> requests.Session:
    s = requests.Session()
    s.cookies.set("wordpress_test_cookie", "WP Cookie check")
    resp = s.post(f"{stack.url}/wp-login.php", data={"log": user, "pwd": password, "wp-submit": "Log In",
                                                     "redirect_to": f"{stack.url}/wp-admin/", "testcookie": "1"},
                  timeout=60, allow_redirects=False)
    assert resp.status_code == 302, resp.text[:300]
    return s


def page_link(stack, session) -> str | None:
    body = session.get(f"{stack.url}/wp-admin/tools.php", params={"page": "wpprivsync"}, timeout=60).text
    m = re.search(r'class="wpprivsync-export-link" href="([^"]+)"', body)
    return html.unescape(m.group(1)) if m else None


def beat(stack, session, url) -> None:
    body = {"version": "t", "queue": 0, "requests": [{"id": 9, "action": "export", "status": "done",
                                                    "systems": {"wpprivsync": "done"}, "export_url": url}]}
    assert session.post(f"{stack.url}/?rest_route=/{NS}/heartbeat", json=body, timeout=30).status_code == 200


def test_archive_is_downloadable_only_by_a_logged_in_exporter_with_a_nonce(wp, daemon):
    archive = a_zip()
    resp = post(wp, daemon, {"content": base64.b64encode(archive).decode()})
    assert resp.status_code == 200, resp.text
    url, name = resp.json()["url"], resp.json()["name"]
    assert "admin-post.php" in url and "wp-personal-data-exports" not in url
    assert resp.json()["expires_at"].endswith("Z")
    beat(wp, daemon, url)
    admin = login(wp, wp.admin_user, wp.admin_password)
    link = page_link(wp, admin)
    assert link and link.startswith(wp.url + "/wp-admin/admin-post.php") and "_wpnonce=" in link
    got = admin.get(link, timeout=30)
    assert got.status_code == 200 and got.content == archive
    assert got.headers["Content-Disposition"].startswith("attachment")
    # anonymous, a subscriber, a missing or another file's nonce: refused, nothing of the archive
    anon = requests.get(link, timeout=30, allow_redirects=False)
    assert anon.status_code in (302, 400, 403) and archive not in anon.content
    sub = login(wp, wp.subscriber_user, wp.subscriber_password)
    assert sub.get(link, timeout=30).status_code == 403
    assert admin.get(url, timeout=30).status_code == 403  # no nonce
    other = post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()}).json()["name"]
    forged = link.replace(name, other)
    assert admin.get(forged, timeout=30).status_code == 403


def test_the_folder_refuses_direct_access(wp, daemon):
    post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()})
    folder = wp.php("echo wp_privacy_exports_dir() . 'wpprivsync/';")
    assert "Require all denied" in wp.php(f"echo file_get_contents('{folder}.htaccess');")
    assert "Deny from all" in wp.php(f"echo file_get_contents('{folder}.htaccess');")
    assert wp.php(f"echo file_exists('{folder}index.php') ? 1 : 0;") == "1"
    assert wp.php(f"echo decoct(fileperms(glob('{folder}wpprivsync-export-*.zip')[0]) & 0777);") == "600"


def test_an_expired_link_is_refused_and_the_archive_deleted(wp, daemon):
    stored = post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()}).json()
    beat(wp, daemon, stored["url"])
    admin = login(wp, wp.admin_user, wp.admin_password)
    link = page_link(wp, admin)
    wp.php(f"touch(wp_privacy_exports_dir() . 'wpprivsync/{stored['name']}', time() - 8 * DAY_IN_SECONDS);")
    assert page_link(wp, admin) is None  # the page no longer offers it
    assert admin.get(link, timeout=30).status_code == 410
    assert wp.php(f"echo file_exists(wp_privacy_exports_dir() . 'wpprivsync/{stored['name']}') ? 1 : 0;") == "0"


@pytest.mark.parametrize("evil", ["https://evil.example/steal?file={name}",
                                  "https://evil.example/wp-content/uploads/{name}",
                                  "javascript:alert(1)//{name}"])
def test_the_heartbeat_cannot_point_the_link_at_another_host(wp, daemon, evil):
    stored = post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()}).json()
    beat(wp, daemon, evil.format(name=stored["name"]))
    link = page_link(wp, login(wp, wp.admin_user, wp.admin_password))
    assert link is None or link.startswith(wp.url + "/wp-admin/admin-post.php"), link
    assert "evil.example" not in (link or "") and "javascript" not in (link or "")


@pytest.mark.parametrize("content", ["not base64 at all!!" * 3, base64.b64encode(b"plain text, not a zip" * 3).decode()])
def test_anything_but_a_zip_is_refused_and_nothing_written(wp, daemon, content):
    before = wp.php("echo count(glob(wp_privacy_exports_dir() . 'wpprivsync/wpprivsync-export-*'));")
    resp = post(wp, daemon, {"content": content})
    assert resp.status_code == 400 and resp.json()["code"] in ("wpprivsync_bad_archive", "rest_invalid_param")
    assert wp.php("echo count(glob(wp_privacy_exports_dir() . 'wpprivsync/wpprivsync-export-*'));") == before


def test_only_the_daemon_may_store_archives(wp):
    body = {"content": base64.b64encode(a_zip()).decode()}
    anon = requests.post(f"{wp.url}/?rest_route=/{NS}/exports", json=body, timeout=30)
    assert anon.status_code == 401
    sub = rest_session(wp.subscriber_user, wp.subscriber_app_password)
    assert post(wp, sub, body).status_code == 403


def test_old_archives_expire(wp, daemon):
    name = post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()}).json()["name"]
    wp.php(f"touch(wp_privacy_exports_dir() . 'wpprivsync/{name}', time() - 8 * DAY_IN_SECONDS);")
    post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()})
    assert wp.php(f"echo file_exists(wp_privacy_exports_dir() . 'wpprivsync/{name}') ? 1 : 0;") == "0"
