"""The runtime as a server administrator installs it: the sdist and wheel are built from this
checkout, the wheel is installed in a fresh virtual environment (its dependencies from the
package index, nothing from the development venv), and the installed ``wpprivsync`` runs
``--help``, ``doctor``, ``sync`` against the real test stack and ``run`` for a few seconds. The
wheel holds no development kit and carries the default policy; the sdist carries the plugin,
the configuration examples and the documentation."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from wpprivsync import __version__

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    # from the sdist, as an index would build it: proves the sdist is complete
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                   check=True, capture_output=True, text=True, timeout=300)
    (sdist,) = out.glob("wpprivsync-*.tar.gz")
    (wheel,) = out.glob("wpprivsync-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def installed(dists, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and its declared dependencies only; returns its bin/."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                             str(dists["wheel"])], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return venv / "bin"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WPPRIVSYNC_", "PYTHON", "VIRTUAL_ENV"))}
    return {**env, "NO_COLOR": "1", **extra}


def test_wheel_holds_the_runtime_and_the_default_policy_and_no_development_kit(dists):
    names = zipfile.ZipFile(dists["wheel"]).namelist()
    assert "wpprivsync/policy/policy.toml" in names
    assert "wpprivsync/py.typed" in names
    packaged = zipfile.ZipFile(dists["wheel"]).read("wpprivsync/policy/policy.toml")
    assert packaged == (REPO / "config" / "policy.toml").read_bytes()
    kit = [n for n in names if n.startswith("wpprivsync_devkit/") or "/devstack/" in n or "/acfake/" in n
           or "/wjfake/" in n or n.endswith(("/sandbox.py", ".php"))]
    assert kit == []
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), names
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(dists["wheel"]).read(metadata).decode()
    assert f"Version: {__version__}\n" in text
    assert "License-Expression: GPL-2.0-or-later\n" in text
    assert "Classifier: Programming Language :: Python :: 3.11\n" in text
    assert "Project-URL: Source, " in text


def test_sdist_carries_the_plugin_configuration_and_docs(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for expected in ("LICENSE", "wp-plugin/wpprivsync/wpprivsync.php", "wp-plugin/wpprivsync/readme.txt",
                     "config/policy.toml", "config/wpprivsync.example.toml", "config/wpprivsync.service",
                     "docs/PROTOCOL.md", "src/wpprivsync/policy/policy.toml"):
        assert expected in names, expected
    assert not [n for n in names if n.startswith(("devkit/", "tests/"))]


def test_installed_wheel_help_has_no_sandbox(installed):
    result = subprocess.run([str(installed / "wpprivsync"), "--help"], capture_output=True, text=True,
                            env=clean_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert " doctor " in result.stdout and " sync " in result.stdout and " run " in result.stdout
    assert "sandbox" not in result.stdout  # the development kit is not installed
    missing = subprocess.run([str(installed / "python"), "-c", "import wpprivsync_devkit"], capture_output=True,
                             env=clean_env(), timeout=60)
    assert missing.returncode != 0


def test_installed_wheel_doctor_fails_without_a_site(installed, tmp_path):
    config = tmp_path / "wpprivsync.toml"
    config.write_text(f'store_url = "sqlite:///{tmp_path}/s.sqlite3"\nsite_secret = "wheel-site-secret-0123456789"\n')
    result = subprocess.run([str(installed / "wpprivsync"), "--config", str(config), "doctor"],
                            capture_output=True, text=True, env=clean_env(), timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "PASS policy rules — the default policy: " in result.stdout
    assert "FAIL config sites — no site configured" in result.stdout


def test_installed_wheel_doctor_sync_and_run_against_the_stack(installed, system, tmp_path):
    email = "wheel.person@example.com"
    system.create_user(email, consent=True)
    system.ac.add_contact(email, lists={system.list_id: 1})
    config = system.write_config(tmp_path / "wpprivsync.toml", poll_interval_s=0.2, heartbeat_interval_s=0.5)
    # the default policy from the wheel, not the checkout's file
    config.write_text("".join(line + "\n" for line in config.read_text().splitlines()
                              if not line.startswith("policy_file")))
    cli = [str(installed / "wpprivsync"), "--config", str(config)]

    doctor = subprocess.run([*cli, "doctor"], capture_output=True, text=True, env=clean_env(), timeout=120)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "PASS policy rules — the default policy: " in doctor.stdout
    assert doctor.stdout.splitlines()[-1].startswith("all ")

    system.php(f"require_once ABSPATH . 'wp-admin/includes/user.php'; "
               f"wp_delete_user(get_user_by('email', '{email}')->ID);")
    sync = subprocess.run([*cli, "--json", "sync"], capture_output=True, text=True, env=clean_env(), timeout=300)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert system.ac.contact_view(email) is None  # the account deletion reached ActiveCampaign
    assert email not in sync.stdout + sync.stderr

    system.php("delete_option('wpprivsync_heartbeat');")
    daemon = subprocess.Popen([*cli, "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=clean_env(), start_new_session=True)
    try:
        time.sleep(4)
        assert daemon.poll() is None, daemon.communicate()
        beat = system.php("echo get_option('wpprivsync_heartbeat') ? 'yes' : 'no';")
        os.killpg(daemon.pid, signal.SIGTERM)
        out, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    assert daemon.returncode == 0, err
    assert beat == "yes"
    assert email not in out + err
