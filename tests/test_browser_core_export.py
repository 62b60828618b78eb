"""WordPress's own Tools → Export Personal Data, clicked through in headless Chromium to the
downloaded ZIP: core builds it with PHP's zip extension (installed by
scripts/install-system-deps), and it holds what the registered exporters return — core's,
WooCommerce's and, on a profile with them, the real Thrive plugins'."""

from __future__ import annotations

import io
import zipfile

import pytest

from support import thrive
from support.browser import run_daemon, wp_login

pytestmark = pytest.mark.browser

EMAIL = "ida.export@example.com"


def test_core_export_personal_data_downloads_a_zip_with_the_persons_data(browser_system, browser_page, shots):
    wp, page = browser_system.wp, browser_page
    wp.php(f"""$u = wp_insert_user(['user_login' => 'ida', 'user_email' => '{EMAIL}', 'user_pass' => wp_generate_password(),
                                  'display_name' => 'Ida Export']);
               wp_insert_comment(['comment_post_ID' => 1, 'comment_author' => 'Ida', 'comment_author_email' => '{EMAIL}',
                                  'comment_content' => 'A comment to export', 'comment_approved' => 1, 'user_id' => $u]);
               delete_transient('_wc_activation_redirect');""")
    if thrive.active(wp):
        thrive.add_testimonial(wp, EMAIL, "Ida Export", text="Ida's testimonial to export")
        thrive.add_lead(wp, EMAIL, "Ida Export", phone="+48 600 123 456")
    assert wp.php("echo class_exists('ZipArchive') ? 'yes' : 'no';") == "yes", "PHP's zip extension is missing"

    wp_login(page, wp, wp.admin_user, wp.admin_password)
    page.goto(f"{wp.url}/wp-admin/export-personal-data.php")
    page.fill("#username_or_email_for_privacy_request", EMAIL)
    page.uncheck("#send_confirmation_email")
    shots(page, "export request form")
    with page.expect_navigation():
        page.click("#submit")
    assert page.locator(".notice", has_text="Request added successfully").count() == 1
    row = page.locator("#the-list tr", has_text=EMAIL)
    assert row.count() == 1
    shots(page, "request added")

    row.hover()  # the row actions show on hover, as for a person with a mouse
    with run_daemon(browser_system.app.settings):  # wpprivsync's exporter asks the daemon for the other systems
        with page.expect_download(timeout=120_000) as download:
            row.get_by_role("button", name="Download personal data").click()
    shots(page, "export downloaded")
    assert all(f.is_hidden() for f in row.locator(".export-personal-data-failed").all())
    assert download.value.suggested_filename.endswith(".zip")
    data = download.value.path().read_bytes()

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert "index.html" in names and "export.json" in names
        html = zf.read("index.html").decode()
    assert EMAIL in html and "A comment to export" in html and "Ida Export" in html
    if thrive.active(wp):
        assert "Ida&#039;s testimonial to export" in html or "Ida's testimonial to export" in html
        assert "+48 600 123 456" in html

    page.reload()  # core completes an export request only when the link is emailed, not on download
    assert "Confirmed" in page.locator("#the-list tr", has_text=EMAIL).inner_text()
    shots(page, "after the download")
