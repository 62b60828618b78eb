"""CLI conventions: ``NO_COLOR`` turns off the colour of every coloured line (click's and
rich's), ``--json`` prints errors as one JSON object, ``config show`` prints TOML that parses
back to the effective settings, and shell completion works as the README says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from wpprivsync.cli.main import cli
from wpprivsync.settings import load_settings, masked

COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3\d|9[0-7]|4\d)(?:;\d+)*m")  # a foreground or background colour
SECRET = "conventions-site-secret-0123456789"


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "wpprivsync.toml"
    path.write_text(f'store_url = "sqlite:///{tmp_path}/s.sqlite3"\nsite_secret = "{SECRET}"\n{extra}'
                    '\n[[sites]]\nname = "shop"\nwordpress_url = "http://127.0.0.1:9"\nwordpress_user = "svc"\n'
                    'wordpress_app_password = "xxxx xxxx xxxx xxxx"\n'
                    'activecampaign_url = "http://127.0.0.1:9/api/3"\nactivecampaign_token = "token-0123456789"\n'
                    "newsletter_list_ids = [1, 2]\n")
    return path


def invoke(args: list[str], **env: str):
    return CliRunner().invoke(cli, args, color=True, env={"NO_COLOR": None, "FORCE_COLOR": None, **env})


def test_no_color_turns_off_click_colours(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('site_secret = "short"\n')
    coloured = invoke(["--config", str(bad), "status"])
    assert coloured.exit_code == 2 and COLOUR.search(coloured.output), "the error line is red on a terminal"
    plain = invoke(["--config", str(bad), "status"], NO_COLOR="1")
    assert plain.exit_code == 2 and plain.output.startswith("error: site_secret")
    assert not COLOUR.search(plain.output)
    assert "\x1b[" not in plain.output


def test_no_color_turns_off_rich_colours(tmp_path):
    path = config(tmp_path)
    coloured = invoke(["--config", str(path), "doctor"], FORCE_COLOR="1")
    assert COLOUR.search(coloured.output), "doctor colours PASS/FAIL on a terminal"
    plain = invoke(["--config", str(path), "doctor"], FORCE_COLOR="1", NO_COLOR="1")
    assert "FAIL" in plain.output and not COLOUR.search(plain.output)


def test_json_errors_are_json(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('site_secret = "short"\n')
    result = invoke(["--json", "--config", str(bad), "status"])
    assert result.exit_code == 2
    body = json.loads(result.output)["error"]
    assert body["exit_code"] == 2 and body["type"] == "ConfigError" and body["field"] == "site_secret"
    assert body["message"].startswith("site_secret: too short")
    assert "short\"" not in result.output  # the bad value itself is not echoed
    # an error raised inside a command, after the settings loaded
    missing = invoke(["--json", "--config", str(config(tmp_path)), "--site", "nope", "doctor"])
    assert missing.exit_code == 2 and "no site named 'nope'" in json.loads(missing.output)["error"]["message"]


def test_config_show_prints_toml_that_parses_back(tmp_path):
    path = config(tmp_path, "poll_interval_s = 2.5\n")
    result = invoke(["--config", str(path), "config", "show"], NO_COLOR="1")
    assert result.exit_code == 0, result.output
    parsed = tomllib.loads(result.output)
    want = masked(load_settings(path))

    def without_none(d):
        return {k: ([without_none(i) for i in v] if k == "sites" else v) for k, v in d.items() if v is not None}

    assert parsed == without_none(want)
    assert parsed["poll_interval_s"] == 2.5 and parsed["sites"][0]["newsletter_list_ids"] == [1, 2]
    assert SECRET not in result.output and "xxxx xxxx" not in result.output
    assert "# site_secret_file (not set)" in result.output
    as_json = json.loads(invoke(["--json", "--config", str(path), "config", "show"]).output)
    assert as_json == want


def test_shell_completion_script_as_documented():
    """README: ``eval "$(_WPPRIVSYNC_COMPLETE=bash_source wpprivsync)"``."""
    env = {**os.environ, "_WPPRIVSYNC_COMPLETE": "bash_source"}
    script = subprocess.run([sys.executable, "-c", "from wpprivsync.cli.main import main; main()"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_wpprivsync_completion" in script.stdout
    words = subprocess.run([sys.executable, "-c", "from wpprivsync.cli.main import main; main()"],
                           env={**os.environ, "_WPPRIVSYNC_COMPLETE": "bash_complete", "COMP_WORDS": "wpprivsync do",
                                "COMP_CWORD": "1"}, capture_output=True, text=True, timeout=60)
    assert "doctor" in words.stdout
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert '_WPPRIVSYNC_COMPLETE=bash_source wpprivsync' in readme
