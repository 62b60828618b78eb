"""Stack profiles and the third-party archives they are built from: unpacked once into a cache
keyed by checksum, found beside the checkout without any variable, and a clear reason when
absent (the suite's WooCommerce and Thrive tests then skip with it)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from wpprivsync_devkit.devstack import profiles
from wpprivsync_devkit.devstack.processes import StackError
from wpprivsync_devkit.devstack.thirdparty import ThirdPartyShelf

REPO = Path(__file__).resolve().parents[1]


def make_archive(folder: Path, name: str, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / ".src"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    path = folder / name
    with tarfile.open(path, "w:xz") as tar:
        for top in {rel.split("/")[0] for rel in files}:
            tar.add(src / top, arcname=top)
    return path


def test_an_archive_is_unpacked_once_per_checksum(tmp_path):
    make_archive(tmp_path / "shelf", "thing-1.0.tar.xz", {"thing/a.txt": "one"})
    shelf = ThirdPartyShelf(tmp_path / "shelf", tmp_path / "cache")
    first = shelf.tree("thing-1.0.tar.xz")
    assert (first / "thing" / "a.txt").read_text() == "one"
    (first / "thing" / "marker").write_text("kept")  # a second call must not unpack again
    assert shelf.tree("thing-1.0.tar.xz") == first and (first / "thing" / "marker").exists()

    make_archive(tmp_path / "shelf", "thing-1.0.tar.xz", {"thing/a.txt": "two"})  # same name, new content
    second = shelf.tree("thing-1.0.tar.xz")
    assert second != first and (second / "thing" / "a.txt").read_text() == "two"
    assert not first.exists()  # the stale tree is gone
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")) == [second.name]


def test_parallel_callers_share_one_unpack(tmp_path):
    make_archive(tmp_path / "shelf", "big.tar.xz", {f"big/f{i}.txt": "x" * 1000 for i in range(200)})
    shelf = ThirdPartyShelf(tmp_path / "shelf", tmp_path / "cache")
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(shelf.tree("big.tar.xz"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(list((results[0] / "big").iterdir())) == 200


def test_a_broken_archive_is_a_clear_error_and_leaves_no_tree(tmp_path):
    (tmp_path / "shelf").mkdir()
    (tmp_path / "shelf" / "bad.tar.xz").write_bytes(b"not an archive")
    shelf = ThirdPartyShelf(tmp_path / "shelf", tmp_path / "cache")
    with pytest.raises(StackError, match="could not unpack"):
        shelf.tree("bad.tar.xz")
    assert [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == []


def test_missing_folder_and_archive_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("WPPRIVSYNC_THIRDPARTY_DIR", raising=False)
    shelf = ThirdPartyShelf.beside(tmp_path / "checkout")
    assert shelf.source == tmp_path / "shared" / "thirdparty" and not shelf.available
    assert str(tmp_path / "shared" / "thirdparty") in shelf.missing_reason()
    with pytest.raises(profiles.ProfileUnavailable, match=str(tmp_path / "shared" / "thirdparty")):
        profiles.resolve("current", tmp_path / "checkout")
    assert profiles.default_name(tmp_path / "checkout") == "debian"
    assert profiles.resolve("debian", tmp_path / "checkout").plugin_dirs == ()
    with pytest.raises(profiles.ProfileUnavailable, match="unknown stack profile 'newest'"):
        profiles.resolve("newest", tmp_path / "checkout")
    (tmp_path / "shared" / "thirdparty").mkdir(parents=True)
    with pytest.raises(profiles.ProfileUnavailable, match="woocommerce-7.8.2.tar.xz"):
        profiles.resolve("legacy", tmp_path / "checkout")


def test_the_variable_points_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("WPPRIVSYNC_THIRDPARTY_DIR", str(tmp_path / "elsewhere"))
    assert ThirdPartyShelf.beside(REPO).source == tmp_path / "elsewhere"


def test_the_runs_profile_is_the_stack_it_built(wp, wp_profile):
    expected = {"current": "7.1", "legacy": "6.1.9", "debian": "6.1.9"}[wp_profile.name]
    if wp_profile.name != "debian" or not os.environ.get("WPPRIVSYNC_WORDPRESS_DIR"):
        assert wp.wp_version == expected
    assert wp.php("echo get_bloginfo('version');") == wp.wp_version
    assert bool(wp.wc_version) is wp_profile.has_woocommerce
    if wp_profile.has_thrive:
        assert {"thrive-comments", "thrive-leads", "thrive-ovation"} <= set(wp.plugins)
        # created only when an admin page is first viewed after activation
        tables = set(wp.sql("SHOW TABLES").split())
        assert {"wp_tcb_api_error_log", "wp_thrive_reporting_logs", "wp_tve_leads_contacts", "wp_tcm_logs"} <= tables


def test_without_the_archives_the_suite_skips_naming_the_folder(tmp_path):
    (tmp_path / "test_inner.py").write_text(
        "import pytest\n"
        "@pytest.mark.woocommerce\n"
        "def test_needs_shop(): pass\n"
        "@pytest.mark.thrive\n"
        "def test_needs_thrive(): pass\n"
        "def test_plain(): pass\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests"), WPPRIVSYNC_THIRDPARTY_DIR=str(tmp_path / "no-such-folder"))
    env.pop("WPPRIVSYNC_PROFILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-p", "support.wordpress", "-p", "no:cacheprovider",
         "-o", "markers=woocommerce\nthrive", f"--rootdir={tmp_path}", str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    assert done.stdout.count(f"needs the third-party archives folder {tmp_path / 'no-such-folder'} (not found)") == 2


def test_asking_for_an_absent_profile_is_a_usage_error(tmp_path):
    (tmp_path / "test_inner.py").write_text("def test_plain(): pass\n")
    env = dict(os.environ, PYTHONPATH=str(REPO / "tests"), WPPRIVSYNC_THIRDPARTY_DIR=str(tmp_path / "none"))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "support.wordpress", "-p", "no:cacheprovider", "--profile", "current",
         f"--rootdir={tmp_path}", str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage error: nothing ran
    assert f"the current profile needs the third-party archives folder {tmp_path / 'none'} (not found)" in done.stderr


def test_a_new_checksum_removes_only_its_own_older_tree(tmp_path):
    make_archive(tmp_path / "shelf", "thing.tar.xz", {"thing/a.txt": "one"})
    make_archive(tmp_path / "shelf", "thing-extra.tar.xz", {"extra/b.txt": "kept"})
    shelf = ThirdPartyShelf(tmp_path / "shelf", tmp_path / "cache")
    extra = shelf.tree("thing-extra.tar.xz")
    first = shelf.tree("thing.tar.xz")
    make_archive(tmp_path / "shelf", "thing.tar.xz", {"thing/a.txt": "two"})
    shelf.tree("thing.tar.xz")
    assert not first.exists() and (extra / "extra" / "b.txt").read_text() == "kept"
