"""POST /exports keeps the daemon's export archive for the admin page's download link."""

from __future__ import annotations

import base64
import io
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


def test_archive_is_kept_downloadable_and_listed_on_the_admin_page(wp, daemon):
    archive = a_zip()
    resp = post(wp, daemon, {"content": base64.b64encode(archive).decode()})
    assert resp.status_code == 200, resp.text
    url = resp.json()["url"]
    assert "/wp-personal-data-exports/wpprivsync-export-" in url and resp.json()["expires_at"].endswith("Z")
    assert requests.get(url, timeout=30).content == archive
    beat = {"version": "t", "queue": 0, "requests": [{"id": 9, "action": "export", "status": "done",
                                                    "systems": {"wpprivsync": "done"}, "export_url": url}]}
    assert daemon.post(f"{wp.url}/?rest_route=/{NS}/heartbeat", json=beat, timeout=30).status_code == 200
    page = wp.php("wp_set_current_user(1); set_current_screen('tools_page_wpprivsync'); ob_start();"
                  " Wpprivsync_Admin::render(); echo ob_get_clean();")
    assert "Download export" in page and url in page


@pytest.mark.parametrize("content", ["not base64 at all!!" * 3, base64.b64encode(b"plain text, not a zip" * 3).decode()])
def test_anything_but_a_zip_is_refused_and_nothing_written(wp, daemon, content):
    before = wp.php("echo count(glob(wp_privacy_exports_dir() . 'wpprivsync-export-*'));")
    resp = post(wp, daemon, {"content": content})
    assert resp.status_code == 400 and resp.json()["code"] in ("wpprivsync_bad_archive", "rest_invalid_param")
    assert wp.php("echo count(glob(wp_privacy_exports_dir() . 'wpprivsync-export-*'));") == before


def test_only_the_daemon_may_store_archives(wp):
    body = {"content": base64.b64encode(a_zip()).decode()}
    anon = requests.post(f"{wp.url}/?rest_route=/{NS}/exports", json=body, timeout=30)
    assert anon.status_code == 401
    sub = rest_session(wp.subscriber_user, wp.subscriber_app_password)
    assert post(wp, sub, body).status_code == 403


def test_old_archives_expire(wp, daemon):
    url = post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()}).json()["url"]
    name = url.rsplit("/", 1)[1]
    wp.php(f"touch(wp_privacy_exports_dir() . '{name}', time() - 8 * DAY_IN_SECONDS);")
    post(wp, daemon, {"content": base64.b64encode(a_zip()).decode()})
    assert wp.php(f"echo file_exists(wp_privacy_exports_dir() . '{name}') ? 1 : 0;") == "0"
