"""WordPress's own Tools → Export Personal Data, clicked through in headless Chromium against the
real WordPress, the local ActiveCampaign server and the daemon: the downloaded archive holds
the ActiveCampaign contact, lists and tags (delivered by the daemon through the outbox), and
the daemon's answer is gone from WordPress once the file is built."""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import pytest

from support.browser import run_daemon, wp_login
from wpprivsync.engine import plan

pytestmark = pytest.mark.browser


def _php_has_zip() -> bool:
    php = shutil.which("php")
    if php is None:
        return False
    out = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=30).stdout
    return any(line.strip().lower() == "zip" for line in out.splitlines())


@pytest.mark.skipif(not _php_has_zip(), reason="core's export archive needs PHP's zip extension (php -m lacks "
                                                "zip; scripts/install-system-deps installs php-zip)")
def test_core_export_contains_activecampaign_data(browser_system, browser_page, shots, tmp_path):
    system, page = browser_system, browser_page
    email = "hana.export@example.com"
    system.ac.add_contact(email, lists={system.list_id: 1}, tags=["webinar-fan"])
    system.wp.php("delete_transient('_wc_activation_redirect');")
    wp_login(page, system.wp, system.wp.admin_user, system.wp.admin_password)

    page.goto(f"{system.wp.url}/wp-admin/export-personal-data.php")
    page.fill("#username_or_email_for_privacy_request", email)
    page.uncheck("#send_confirmation_email")
    with page.expect_navigation():
        page.click("#submit")
    row = page.locator("#the-list tr", has_text=email)
    assert row.count() == 1
    shots(page, "export request added")

    with run_daemon(system.app.settings):
        with page.expect_download(timeout=120_000) as download:
            row.hover()  # the row action shows on hover
            row.locator(".export-personal-data-handle", has_text="Download personal data").first.click()
    archive = tmp_path / "export.zip"
    download.value.save_as(archive)
    shots(page, "export downloaded")
    with zipfile.ZipFile(archive) as zf:
        html = next(zf.read(n).decode() for n in zf.namelist() if n.endswith(".html"))
    assert "Newsletter (ActiveCampaign)" in html
    assert "webinar-fan" in html and "Newsletter" in html and "subscribed" in html
    assert "did not answer" not in html

    left = system.wp.php("global $wpdb; echo (int) $wpdb->get_var(\"SELECT COUNT(*) FROM {$wpdb->options} "
                         "WHERE option_name LIKE 'wpprivsync\\\\_cx\\\\_%'\");")
    assert left.strip() == "0"  # the daemon's answer was deleted once the file was built
    (req,) = [r for r in system.app.store.list_requests(site="test") if r.action == plan.CORE_EXPORT]
    assert req.status == "done" and req.email is None
