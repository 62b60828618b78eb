"""Settings: every source (TOML, environment, secret files, secrets directory) and every kind
of bad value, through ``load_settings`` and through the CLI (exit code 2, field named, secret
never shown)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from wpprivsync.cli.main import cli
from wpprivsync.errors import ConfigError
from wpprivsync.settings import Settings, load_settings, masked

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "config" / "wpprivsync.example.toml"

SITE_SECRET = "site-secret-Zq8w3r7t1y"
WP_PASSWORD = "Wp4s pAss w0rd Xy7Q"
AC_TOKEN = "ac-token-Kp9Lm2Nb5Vc8"
SECRETS = (SITE_SECRET, WP_PASSWORD, AC_TOKEN)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No WPPRIVSYNC_* from the machine running the tests; no secrets directory."""
    import os

    for key in list(os.environ):
        if key.startswith("WPPRIVSYNC_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("WPPRIVSYNC_SECRETS_DIR", str(tmp_path / "no-secrets-dir"))


def site_toml(name: str = "shop", **extra: str) -> str:
    fields = {
        "name": json.dumps(name),
        "wordpress_url": '"https://shop.example.com"',
        "wordpress_user": '"wpprivsync"',
        "wordpress_app_password": json.dumps(WP_PASSWORD),
        "activecampaign_url": '"https://acct.api-us1.com"',
        "activecampaign_token": json.dumps(AC_TOKEN),
        "newsletter_list_ids": "[3, 7]",
    }
    fields.update(extra)
    lines = ["[[sites]]"] + [f"{k} = {v}" for k, v in fields.items() if v is not None]
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "wpprivsync.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def good_toml(**site_extra: str) -> str:
    return f'site_secret = "{SITE_SECRET}"\n' + site_toml(**site_extra)


def run_cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


# -- good configurations -------------------------------------------------------------------


def test_toml_file_gives_every_field(tmp_path):
    s = load_settings(write(tmp_path, good_toml()))
    site = s.site(None)
    assert site.name == "shop"
    assert str(site.wordpress_url) == "https://shop.example.com/"
    assert site.wordpress_app_password.get_secret_value() == WP_PASSWORD
    assert site.activecampaign_token.get_secret_value() == AC_TOKEN
    assert site.newsletter_list_ids == [3, 7]
    assert s.secret == SITE_SECRET
    assert s.store_url.startswith("sqlite:///") and s.store_url.endswith("wpprivsync.sqlite3")


def test_several_sites_and_picking_one(tmp_path):
    text = good_toml() + site_toml("blog", wordpress_url='"http://blog.example.com"', newsletter_list_ids="[9]")
    s = load_settings(write(tmp_path, text))
    assert [x.name for x in s.sites] == ["shop", "blog"]
    assert s.site("blog").newsletter_list_ids == [9]
    with pytest.raises(ConfigError, match="--site"):
        s.site(None)
    with pytest.raises(ConfigError, match="no site named 'nope'"):
        s.site("nope")


def test_environment_overrides_file_and_gives_sites_as_json(tmp_path, monkeypatch):
    path = write(tmp_path, good_toml())
    monkeypatch.setenv("WPPRIVSYNC_STORE_URL", "sqlite:////tmp/elsewhere.sqlite3")
    monkeypatch.setenv("WPPRIVSYNC_LOG_LEVEL", "DEBUG")
    s = load_settings(path)
    assert s.store_url == "sqlite:////tmp/elsewhere.sqlite3"
    assert s.log_level == "DEBUG"
    assert s.sites[0].name == "shop"  # the rest still from the file

    empty = write(tmp_path, "", "empty.toml")
    monkeypatch.setenv("WPPRIVSYNC_SITE_SECRET", SITE_SECRET)
    monkeypatch.setenv("WPPRIVSYNC_SITES", json.dumps([{
        "name": "envsite", "wordpress_url": "http://127.0.0.1:8080", "wordpress_user": "svc",
        "wordpress_app_password": WP_PASSWORD, "activecampaign_url": "http://127.0.0.1:9090",
        "activecampaign_token": AC_TOKEN, "newsletter_list_ids": [1],
    }]))
    s = load_settings(empty)
    assert s.site(None).name == "envsite"
    assert s.secret == SITE_SECRET


def test_secrets_from_files(tmp_path):
    (tmp_path / "site_secret").write_text(SITE_SECRET + "\n")
    (tmp_path / "wp").write_text(WP_PASSWORD + "\n")
    (tmp_path / "ac").write_text(AC_TOKEN)
    text = f'site_secret_file = "{tmp_path / "site_secret"}"\n' + site_toml(
        wordpress_app_password=None, activecampaign_token=None,
        wordpress_app_password_file=json.dumps(str(tmp_path / "wp")),
        activecampaign_token_file=json.dumps(str(tmp_path / "ac")))
    s = load_settings(write(tmp_path, text))
    assert s.secret == SITE_SECRET  # trailing newline stripped
    assert s.sites[0].wordpress_app_password.get_secret_value() == WP_PASSWORD
    assert s.sites[0].activecampaign_token.get_secret_value() == AC_TOKEN


def test_secrets_directory(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "site_secret").write_text(SITE_SECRET + "\n")
    monkeypatch.setenv("WPPRIVSYNC_SECRETS_DIR", str(secrets))
    s = load_settings(write(tmp_path, site_toml()))
    assert s.secret == SITE_SECRET


def test_example_config_documents_every_key_and_loads(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    lines = text.splitlines()
    keys_seen: set[str] = set()
    for i, line in enumerate(lines):
        bare = line.lstrip("# ").strip()
        if "=" not in bare or bare.startswith(("[", "e.g.")) or " " in bare.split("=")[0].strip():
            continue
        key = bare.split("=")[0].strip()
        keys_seen.add(key)
        if not line.startswith("#"):
            # an active key: the line above is a comment (or a commented-out alternative)
            assert lines[i - 1].startswith("#"), f"key {key!r} has no comment above it"
    top = set(Settings.model_fields) - {"sites"}  # a [[sites]] table, checked below
    site = set(Settings.model_fields["sites"].annotation.__args__[0].model_fields)
    assert "[[sites]]" in text
    assert top - keys_seen == set(), "example config lacks these settings"
    assert site - keys_seen == set(), "example config lacks these site settings"

    # it loads once its secret files exist
    data = tomllib.loads(text)
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    for name in ("site_secret", "shop_wordpress_app_password", "shop_activecampaign_token"):
        (secret_dir / name).write_text(SITE_SECRET)
    assert data["site_secret_file"].startswith("/etc/wpprivsync/secrets/")
    local = write(tmp_path, text.replace("/etc/wpprivsync/secrets/", f"{secret_dir}/"))
    s = load_settings(local)
    assert s.sites[0].name == "shop" and s.secret == SITE_SECRET


# -- bad configurations: each names its field, exits 2, never shows a secret -----------------

BAD = {
    # case: (toml text, field named, words in the message)
    "bad url": (good_toml(wordpress_url='"not a url"'), "sites[0].wordpress_url", "URL"),
    "bad url scheme": (good_toml(activecampaign_url='"ftp://acct.example.com"'), "sites[0].activecampaign_url", "http"),
    "missing app password": (good_toml(wordpress_app_password=None), "sites[0].wordpress_app_password", "missing"),
    "missing token": (good_toml(activecampaign_token=None), "sites[0].activecampaign_token", "missing"),
    "missing user": (good_toml(wordpress_user=None), "sites[0].wordpress_user", "required"),
    "missing site secret": (site_toml(), "site_secret", "missing"),
    "short site secret": ('site_secret = "short"\n' + site_toml(), "site_secret", "16 characters"),
    "duplicate site names": (good_toml() + site_toml(), "sites", "duplicate site name 'shop'"),
    "unknown top-level key": (good_toml() .replace("[[sites]]", 'colour = "blue"\n[[sites]]'), "colour", "unknown setting"),
    "unknown site key": (good_toml(wordpres_url='"https://typo.example.com"'), "sites[0].wordpres_url", "unknown setting"),
    "list id not a number": (good_toml(newsletter_list_ids='["news"]'), "sites[0].newsletter_list_ids[0]", "whole number"),
    "list id negative": (good_toml(newsletter_list_ids="[-4]"), "sites[0].newsletter_list_ids", "positive"),
    "no list id": (good_toml(newsletter_list_ids="[]"), "sites[0].newsletter_list_ids", "at least 1"),
    "bad site name": (good_toml(name='"my shop"'), "sites[0].name", "letters, digits"),
    "bad store url": (good_toml().replace("[[sites]]", 'store_url = "mysql://x"\n[[sites]]'), "store_url", "sqlite"),
    "bad toml syntax": (good_toml().replace("[[sites]]", "[[sites]"), "config", "not valid TOML"),
    "bad toml around a secret": (f'site_secret = "{SITE_SECRET}\n' + site_toml(), "config", "not valid TOML"),
    "misspelt secret key": (good_toml(wordpress_app_password=None, wordpress_app_pasword=json.dumps(WP_PASSWORD)),
                            "sites[0].wordpress_app_pasword", "unknown setting"),
    "secret of the wrong type": (good_toml(activecampaign_token=f'["{AC_TOKEN}"]'), "sites[0].activecampaign_token",
                                 "valid string"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_value_names_field(tmp_path, case):
    text, field, words = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{field}: "), message
    assert words in message
    assert info.value.field == field
    for secret in SECRETS:
        assert secret not in message

    result = run_cli("--config", str(path), "config", "show")
    assert result.exit_code == 2, result.output
    assert f"error: {field}: " in result.output
    for secret in SECRETS:
        assert secret not in result.output


def _secret_file_case(tmp_path: Path, kind: str) -> Path:
    target = tmp_path / "wp-password"
    if kind == "empty":
        target.write_text("  \n")
    elif kind == "unreadable":
        target.mkdir()  # reading a directory fails like an unreadable file (we may run as root)
    text = good_toml(wordpress_app_password=None, wordpress_app_password_file=json.dumps(str(target)))
    return write(tmp_path, text)


@pytest.mark.parametrize("kind, words", [("missing", "No such file"), ("unreadable", "cannot read"),
                                         ("empty", "is empty")])
def test_bad_secret_file(tmp_path, kind, words):
    path = _secret_file_case(tmp_path, kind)
    with pytest.raises(ConfigError, match=words) as info:
        load_settings(path)
    assert info.value.field == "sites[0].wordpress_app_password_file"
    result = run_cli("--config", str(path), "config", "show")
    assert result.exit_code == 2
    assert "sites[0].wordpress_app_password_file" in result.output and words in result.output


def test_missing_config_file(tmp_path, monkeypatch):
    missing = tmp_path / "nope.toml"
    result = run_cli("--config", str(missing), "config", "show")
    assert result.exit_code == 2
    assert "error: config: file not found" in result.output and str(missing) in result.output
    monkeypatch.setenv("WPPRIVSYNC_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="file not found"):
        load_settings()


def test_bad_environment_json_is_a_clear_error(tmp_path):
    path = write(tmp_path, "")
    bad = '[{"name": "shop", "activecampaign_token": "' + AC_TOKEN + '"'  # cut short
    result = run_cli("--config", str(path), "config", "show", env={"WPPRIVSYNC_SITES": bad})
    assert result.exit_code == 2
    assert "error: sites: " in result.output and "WPPRIVSYNC_SITES" in result.output
    assert AC_TOKEN not in result.output


def test_bad_environment_value_names_field(tmp_path):
    path = write(tmp_path, good_toml())
    result = run_cli("--config", str(path), "config", "show", env={"WPPRIVSYNC_SITE_SECRET": "tiny-secret"})
    assert result.exit_code == 2
    assert "error: site_secret: too short" in result.output
    assert "tiny-secret" not in result.output


# -- secrets never shown ----------------------------------------------------------------


def test_config_show_masks_every_secret(tmp_path):
    store = "postgresql+psycopg://wp:db-Pa55word-Q@127.0.0.1/wpprivsync"
    text = good_toml().replace("[[sites]]", f'store_url = "{store}"\n[[sites]]')
    path = write(tmp_path, text)
    for args in (["config", "show"], ["--json", "config", "show"]):
        result = run_cli("--config", str(path), *args)
        assert result.exit_code == 0, result.output
        for secret in SECRETS + ("db-Pa55word-Q",):
            assert secret not in result.output
        assert "********" in result.output
    data = json.loads(run_cli("--config", str(path), "--json", "config", "show").output)
    assert data["site_secret"] == "********"
    assert data["sites"][0]["wordpress_app_password"] == "********"
    assert data["sites"][0]["activecampaign_token"] == "********"
    assert data["store_url"] == "postgresql+psycopg://wp:********@127.0.0.1/wpprivsync"
    assert data["sites"][0]["wordpress_user"] == "wpprivsync"  # not a secret: shown


def test_secrets_not_in_repr_or_help(tmp_path):
    s = load_settings(write(tmp_path, good_toml()))
    for text in (repr(s), str(s), repr(s.sites[0]), json.dumps(masked(s))):
        for secret in SECRETS:
            assert secret not in text
    env = {"WPPRIVSYNC_SITE_SECRET": SITE_SECRET, "WPPRIVSYNC_CONFIG": str(tmp_path / "wpprivsync.toml")}
    result = run_cli("--help", env=env)
    assert result.exit_code == 0
    for secret in SECRETS:
        assert secret not in result.output


def test_version():
    from wpprivsync import __version__

    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"wpprivsync, version {__version__}"


@pytest.mark.parametrize("line, field, hint", [
    ("workers = 0", "workers", "sensible values"),
    ("poll_interval_s = \"often\"", "poll_interval_s", "give a number"),
    ("log_level = \"LOUD\"", "log_level", "for the format"),
    ("metrics_port = 70000", "metrics_port", "sensible values"),
    ("sites = \"shop\"", "sites", "list"),
])
def test_every_message_says_how_to_fix(tmp_path, line, field, hint):
    text = good_toml() if not line.startswith("sites") else f'site_secret = "{SITE_SECRET}"\n'
    path = write(tmp_path, f"{line}\n{text}")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.field == field
    assert info.value.hint and hint in info.value.hint, str(info.value)


def test_webinarjam_needs_a_key_file_and_masks_it(tmp_path):
    from wpprivsync.settings import masked

    base = {"name": "shop", "wordpress_url": "https://shop.test", "wordpress_user": "sync",
            "wordpress_app_password": "p" * 24, "activecampaign_url": "https://ac.test/api/3",
            "activecampaign_token": "t" * 40, "newsletter_list_ids": [1]}
    with pytest.raises(ConfigError) as exc:
        load_settings(None, site_secret="s" * 32, sites=[{**base, "webinarjam_webinar_ids": [5]}])
    assert "webinarjam_api_key" in str(exc.value) and "webinarjam_api_key_file" in str(exc.value)
    key_file = tmp_path / "wj"
    key_file.write_text("K" * 64 + "\n")
    s = load_settings(None, site_secret="s" * 32,
                      sites=[{**base, "webinarjam_webinar_ids": [5], "webinarjam_api_key_file": str(key_file)}])
    assert s.sites[0].webinarjam and s.sites[0].webinarjam_api_key.get_secret_value() == "K" * 64
    assert "K" * 64 not in json.dumps(masked(s))
    with pytest.raises(ConfigError, match="positive"):
        load_settings(None, site_secret="s" * 32, sites=[{**base, "webinarjam_webinar_ids": [0],
                                                          "webinarjam_api_key_file": str(key_file)}])
