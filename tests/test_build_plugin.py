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


def test_translation_template_is_current(tmp_path):
    """The committed .pot is what scripts/make-pot (run by scripts/build-plugin) makes from the
    sources now: a string added, changed or removed without regenerating it fails here."""
    fresh = tmp_path / "fresh.pot"
    subprocess.run([str(ROOT / "scripts" / "make-pot"), str(fresh)], capture_output=True, text=True, check=True)
    committed = ROOT / "wp-plugin" / "wpprivsync" / "languages" / "wpprivsync.pot"
    assert fresh.read_text() == committed.read_text(), "stale translation template: run scripts/build-plugin"
    assert 'msgid "Find a person"' in committed.read_text()
    assert "POT-Creation-Date" not in committed.read_text()  # the same sources give the same file


def test_a_new_string_makes_the_template_stale(tmp_path):
    import shutil

    copy = tmp_path / "wpprivsync"
    shutil.copytree(ROOT / "wp-plugin" / "wpprivsync", copy)
    extra = copy / "includes" / "class-wpprivsync-admin.php"
    extra.write_text(extra.read_text() + "\n__( 'A string nobody extracted yet', 'wpprivsync' );\n")
    fresh = tmp_path / "fresh.pot"
    subprocess.run([str(ROOT / "scripts" / "make-pot"), str(fresh), str(copy)], capture_output=True, text=True, check=True)
    committed = (ROOT / "wp-plugin" / "wpprivsync" / "languages" / "wpprivsync.pot").read_text()
    assert fresh.read_text() != committed and 'msgid "A string nobody extracted yet"' in fresh.read_text()


def test_every_translated_string_names_the_text_domain():
    import re

    call = re.compile(r"\b(?:__|_e|esc_html__|esc_html_e|esc_attr__|esc_attr_e)\(\s*'((?:[^'\\]|\\.)*)'\s*(,\s*'([^']*)')?\s*\)")
    wrong = []
    for path in (ROOT / "wp-plugin" / "wpprivsync").rglob("*.php"):
        for m in call.finditer(path.read_text()):
            if m.group(3) != "wpprivsync":
                wrong.append(f"{path.name}: {m.group(1)[:40]!r}")
    assert wrong == []
