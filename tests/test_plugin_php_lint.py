"""Every PHP file of the plugin, the test plugins and the devstack helpers passes ``php -l``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PHP_FILES = sorted([*(REPO / "wp-plugin").rglob("*.php"), *(REPO / "tests" / "wp-plugins").rglob("*.php"),
                    *(REPO / "devkit" / "src" / "wpprivsync_devkit" / "devstack" / "php").rglob("*.php")])


def test_there_is_php_to_lint():
    names = {p.name for p in PHP_FILES}
    assert {"wpprivsync.php", "uninstall.php", "class-wpprivsync-rest.php", "hpos.php", "setup.php"} <= names


@pytest.mark.skipif(shutil.which("php") is None, reason="needs php (scripts/install-system-deps)")
@pytest.mark.parametrize("path", PHP_FILES, ids=[str(p.relative_to(REPO)) for p in PHP_FILES])
def test_php_lint(path):
    done = subprocess.run(["php", "-l", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_class_file_declares_its_class():
    for path in (REPO / "wp-plugin" / "wpprivsync" / "includes").glob("class-wpprivsync-*.php"):
        concern = path.stem.removeprefix("class-wpprivsync-")
        expected = "Wpprivsync_" + "_".join(part.capitalize() for part in concern.split("-"))
        assert f"class {expected} " in path.read_text() or f"class {expected}\n" in path.read_text(), path.name
