"""scripts/build-plugin makes the zip that Plugins → Add New → Upload Plugin takes."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_build_plugin_makes_an_installable_zip(tmp_path):
    out = subprocess.run([str(ROOT / "scripts" / "build-plugin"), str(tmp_path)], capture_output=True, text=True,
                         check=True).stdout.strip()
    path = Path(out)
    assert path.parent == tmp_path and path.name.startswith("wpprivsync-") and path.suffix == ".zip"
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    assert {"wpprivsync/wpprivsync.php", "wpprivsync/uninstall.php", "wpprivsync/readme.txt"} <= names
    shipped = {p.relative_to(ROOT / "wp-plugin").as_posix() for p in (ROOT / "wp-plugin" / "wpprivsync").rglob("*")
               if p.is_file() and not p.name.startswith(".")}
    assert shipped == names
    assert all(n.startswith("wpprivsync/") for n in names)
