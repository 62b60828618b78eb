"""explain and export with WebinarJam configured, over the real WordPress, the local
ActiveCampaign server and the local WebinarJam server (through the services the CLI uses)."""

from __future__ import annotations

import json
import time
import zipfile

from support.system import build_settings
from wpprivsync import services
from wpprivsync.app import App
from wpprivsync_devkit.wjfake import WebinarJamServer

KEY = "q" * 64


def test_explain_and_export_name_the_webinar_registrations(wp, ac_server, tmp_path):
    list_id = ac_server.add_list("Newsletter")
    with WebinarJamServer(api_key=KEY) as wj:
        (sid,) = wj.add_webinar(31, "Privacy for shop owners", ["2026-10-01 18:00"])
        wj.add_registrant(31, sid, "lia.webinar@example.com", "Lia", "Lane", "2026-09-20 10:00")
        base = build_settings(wp, ac_server, list_id, tmp_path)
        site = base.sites[0].model_dump() | {"webinarjam_url": wj.url, "webinarjam_api_key": KEY,
                                             "webinarjam_webinar_ids": [31]}
        for k in ("wordpress_app_password", "activecampaign_token"):
            site[k] = getattr(base.sites[0], k).get_secret_value()
        app = App(build_settings(wp, ac_server, list_id, tmp_path, sites=[site]), sleep=lambda s: time.sleep(0))
        try:
            why = services.explain(app, "test", "lia.webinar@example.com")
            (wjs,) = [s for s in why["systems"] if s["system"] == "webinarjam"]
            assert wjs["holds"]["registrations"] == [{"webinar_id": 31, "webinar": "Privacy for shop owners",
                                                      "signup_date": "2026-09-20 10:00"}]
            assert "manual task" in wjs["on_erasure"] and "30 days" in wjs["rule"]
            assert not any("webinar" in u.lower() for u in why["unmanaged"])
            out = services.export_now(app, "test", "lia.webinar@example.com", tmp_path / "lia.zip")
            assert out["summary"]["webinarjam_registrations"] == 1
            with zipfile.ZipFile(tmp_path / "lia.zip") as zf:
                data = json.loads(zf.read("export.json"))
            assert data["webinarjam"]["registrations"][0]["first_name"] == "Lia"
        finally:
            app.close()
