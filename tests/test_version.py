"""One version: ``wpprivsync.__version__`` is the source (pyproject reads it); the plugin's
header, its ``WPPRIVSYNC_VERSION`` constant, ``readme.txt``'s stable tag and the development
kit say the same. The plugin header carries ``Update URI`` so WordPress.org never offers an
unrelated plugin of the same name as an update."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import wpprivsync
import wpprivsync_devkit

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "wp-plugin" / "wpprivsync"


def _one(pattern: str, text: str) -> str:
    found = re.findall(pattern, text, flags=re.MULTILINE)
    assert len(found) == 1, (pattern, found)
    return found[0]


def test_every_place_says_the_same_version():
    main = (PLUGIN / "wpprivsync.php").read_text()
    readme = (PLUGIN / "readme.txt").read_text()
    versions = {
        "package": wpprivsync.__version__,
        "installed metadata": version("wpprivsync"),
        "plugin header": _one(r"^ \* Version:\s+(\S+)$", main),
        "WPPRIVSYNC_VERSION": _one(r"define\( 'WPPRIVSYNC_VERSION', '([^']+)' \);", main),
        "readme.txt stable tag": _one(r"^Stable tag:\s+(\S+)$", readme),
        "devkit": wpprivsync_devkit.__version__,
        "devkit metadata": version("wpprivsync-devkit"),
    }
    assert set(versions.values()) == {wpprivsync.__version__}, versions
    assert re.fullmatch(r"\d+\.\d+\.\d+", wpprivsync.__version__)


def test_pyproject_reads_the_version_from_the_package():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "wpprivsync.__version__"}


def test_plugin_header_has_update_uri():
    main = (PLUGIN / "wpprivsync.php").read_text()
    assert _one(r"^ \* Update URI:\s+(\S+)$", main) == "false"
