"""The whole system for end-to-end tests: the real WordPress of the test stack, the local
ActiveCampaign server, and an ``App`` wired to both over real HTTP, with its own SQLite store.

    system      function fixture: a ``System`` (see below), fresh database and fresh fake

The ActiveCampaign server is told to deliver webhooks to the plugin's intake URL, so an
unsubscribe clicked in ActiveCampaign travels: fake → plugin intake → outbox → daemon.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wpprivsync import services
from wpprivsync.app import App
from wpprivsync.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@dataclass
class System:
    wp: Any          # devstack.WordPressStack
    ac: Any          # acfake.ActiveCampaignServer
    app: App
    list_id: int
    tmp: Path

    # -- WordPress helpers ---------------------------------------------------------------
    def php(self, code: str) -> str:
        return self.wp.php(code)

    def create_user(self, email: str, *, consent: bool | None = None, name: str = "Test Person") -> int:
        meta = "" if consent is None else f"update_user_meta($id, 'wpprivsync_newsletter', '{int(consent)}');"
        login = email.split("@")[0] + secrets.token_hex(2)
        return int(self.php(
            f"$id = wp_insert_user(['user_login' => '{login}', 'user_email' => '{email}', "
            f"'user_pass' => wp_generate_password(), 'display_name' => '{name}', 'role' => 'customer']);"
            f"if (is_wp_error($id)) {{ $id = wp_insert_user(['user_login' => '{login}', 'user_email' => '{email}', "
            f"'user_pass' => wp_generate_password(), 'display_name' => '{name}']); }}"
            f"{meta} echo $id;"))

    def add_comment(self, email: str, text: str = "Nice post", *, with_meta: bool = True) -> int:
        post = int(self.php("echo (int) (get_posts(['numberposts' => 1, 'post_type' => 'post'])[0]->ID ?? "
                            "wp_insert_post(['post_title' => 'Hello', 'post_status' => 'publish']));"))
        meta = "add_comment_meta($c, 'tcm_rating', 5);" if with_meta else ""
        return int(self.php(
            f"$c = wp_insert_comment(['comment_post_ID' => {post}, 'comment_author' => 'Commenter', "
            f"'comment_author_email' => '{email}', 'comment_content' => '{text}', 'comment_approved' => 1]);"
            f"{meta} echo $c;"))

    def count_comments(self, email: str) -> int:
        return int(self.php(f"echo count(get_comments(['author_email' => '{email}', 'status' => 'all']));"))

    def consent(self, email: str) -> str | None:
        out = self.php(f"$u = get_user_by('email', '{email}'); "
                       f"echo $u ? var_export(get_user_meta($u->ID, 'wpprivsync_newsletter', true), true) : 'NOUSER';")
        return None if out == "NOUSER" else out.strip("'")

    def user_exists(self, email: str) -> bool:
        return self.php(f"echo get_user_by('email', '{email}') ? 1 : 0;") == "1"

    def write_config(self, path: Path, **extra: Any) -> Path:
        """The same settings as a TOML file, for runs of the real command in a subprocess."""
        st = self.app.settings
        site = st.sites[0]
        top: dict[str, Any] = {"store_url": st.store_url, "site_secret": st.secret, "policy_file": str(st.policy_file),
                               "export_dir": str(st.export_dir), "max_attempts": st.max_attempts,
                               "step_lease_s": st.step_lease_s, **extra}
        lines = [f"{k} = {json.dumps(v)}" for k, v in top.items()]
        lines += ["", "[[sites]]", f'name = "{site.name}"', f'wordpress_url = "{site.wordpress_url}"',
                  f'wordpress_user = "{site.wordpress_user}"',
                  f'wordpress_app_password = "{site.wordpress_app_password.get_secret_value()}"',
                  f'activecampaign_url = "{site.activecampaign_url}"',
                  f'activecampaign_token = "{site.activecampaign_token.get_secret_value()}"',
                  f"newsletter_list_ids = {list(site.newsletter_list_ids)}"]
        path.write_text("\n".join(lines) + "\n")
        return path

    # -- running ---------------------------------------------------------------------------
    def sync(self, *, rounds: int = 10, settle_s: float = 0.0) -> dict:
        """Sync until a pass finds nothing more to do."""
        last: dict = {}
        for _ in range(rounds):
            last = services.sync_once(self.app)
            steps = last["steps"]
            events = sum(s.get("events", 0) for s in last["sites"].values())
            if not events and not steps["done"] and not steps["retrying"] and not steps["dead"]:
                break
            if settle_s:
                time.sleep(settle_s)
        return last

    def wait_outbox(self, count: int, timeout: float = 10.0) -> int:
        """Wait until the plugin's outbox holds ``count`` pending events (webhooks arrive async)."""
        deadline = time.monotonic() + timeout
        pending = 0
        while time.monotonic() < deadline:
            pending = self.app.clients("test").wordpress.status()["outbox"]["pending"]
            if pending >= count:
                return pending
            time.sleep(0.05)
        return pending


def build_settings(wp: Any, ac: Any, list_id: int, tmp: Path, **extra: Any) -> Settings:
    site = {
        "name": "test",
        "wordpress_url": wp.url,
        "wordpress_user": wp.service_user,
        "wordpress_app_password": wp.service_app_password,
        "activecampaign_url": ac.url,
        "activecampaign_token": ac.token,
        "newsletter_list_ids": [list_id],
    }
    values: dict[str, Any] = {
        "store_url": f"sqlite:///{tmp / 'store.sqlite3'}",
        "site_secret": "test-site-secret-0123456789",
        "policy_file": REPO / "config" / "policy.toml",
        "sites": [site],
        "export_dir": tmp / "exports",
        "max_attempts": 3,
        "step_lease_s": 5,
    }
    values.update(extra)
    return Settings(**values)


@pytest.fixture
def system(wp, ac_server, tmp_path):
    list_id = ac_server.add_list("Newsletter")
    secret = wp.php("echo Wpprivsync_Webhook::secret();")
    intake = f"{wp.url}/?rest_route=/wpprivsync/v1/webhook/activecampaign/{secret}"
    settings = build_settings(wp, ac_server, list_id, tmp_path)
    app = App(settings, sleep=lambda s: time.sleep(min(s, 0.2)))
    # register the intake webhook as an operator would (through the API)
    app.clients("test").activecampaign.create_webhook("wpprivsync", intake, ["subscribe", "unsubscribe"],
                                                       ["public", "admin", "system"], list_id=list_id)
    sys_ = System(wp, ac_server, app, list_id, tmp_path)
    try:
        yield sys_
    finally:
        app.close()
