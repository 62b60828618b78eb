"""PHP_CodeSniffer with the WordPress Coding Standards, from the third-party shelf.

``python -m wpprivsync_devkit.devstack.phpcs [PHPCS ARGS]`` unpacks
``php-codesniffer-wpcs.tar.xz`` (PHP_CodeSniffer 3.13.4, WPCS 3.1.0, PHPCSUtils, PHPCSExtra) from
``../shared/thirdparty`` into ``.stack/thirdparty`` (never into the repository) and runs
``phpcs`` with those standards installed, on the repository's ``phpcs.xml.dist`` unless other
arguments are given. Exits with phpcs's status (0: no errors), or ``SKIPPED`` (4) with one line
saying why when the archive is not beside the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from .thirdparty import ThirdPartyShelf

ARCHIVE = "php-codesniffer-wpcs.tar.xz"
SKIPPED = 4
REPO = Path(__file__).resolve().parents[4]


def command(repo_root: Path = REPO) -> list[str] | None:
    """The phpcs command line with WPCS, PHPCSUtils and PHPCSExtra installed, or None when the
    archive is not on the shelf."""
    shelf = ThirdPartyShelf.beside(repo_root)
    if not shelf.has(ARCHIVE):
        return None
    top = shelf.tree(ARCHIVE) / "php-codesniffer-wpcs"
    standards = ",".join(str(top / name) for name in ("wpcs", "phpcsutils", "phpcsextra"))
    return [shutil.which("php") or "php", str(top / "phpcs" / "bin" / "phpcs"),
            "--runtime-set", "installed_paths", standards]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    cmd = command()
    if cmd is None:
        shelf = ThirdPartyShelf.beside(REPO)
        print(f"phpcs skipped: {shelf.missing_reason(ARCHIVE)}", file=sys.stderr)
        return SKIPPED
    if not args:
        args = ["--standard=" + str(REPO / "phpcs.xml.dist"), "-q"]
    return subprocess.run([*cmd, *args], cwd=REPO).returncode


if __name__ == "__main__":
    sys.exit(main())
