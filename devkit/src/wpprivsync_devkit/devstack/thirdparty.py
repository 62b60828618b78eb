"""Real third-party builds for the test stack, unpacked once into a cache.

The archives (WordPress 7.1, WooCommerce, the Thrive plugins) are kept outside the project, in
``../shared/thirdparty/`` beside the checkout (or ``$WPPRIVSYNC_THIRDPARTY_DIR``); they are test
fixtures and never part of the repository. Each archive is unpacked into
``<cache>/<archive stem>-<first 16 hex digits of its SHA-256>/`` and reused while its checksum is
unchanged, so a changed archive gets a new directory and a stale tree is never used.

    shelf = ThirdPartyShelf.beside(repo_root)
    if shelf.available:
        wordpress = shelf.tree("wordpress-7.1.0.tar.xz") / "wordpress-7.1.0"
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

from .processes import StackError

ENV_DIR = "WPPRIVSYNC_THIRDPARTY_DIR"
CACHE_DIR = Path(".stack") / "thirdparty"
_DIGITS = 16


class ThirdPartyShelf:
    """The folder of archives and the cache their trees are unpacked into."""

    def __init__(self, source: Path, cache: Path):
        self.source = Path(source).absolute()
        self.cache = Path(cache).absolute()

    @classmethod
    def beside(cls, repo_root: Path) -> ThirdPartyShelf:
        """``$WPPRIVSYNC_THIRDPARTY_DIR``, else ``../shared/thirdparty`` next to ``repo_root``;
        the cache is ``.stack/thirdparty`` in ``repo_root``."""
        root = Path(repo_root).absolute()
        override = os.environ.get(ENV_DIR, "").strip()
        source = Path(override) if override else root.parent / "shared" / "thirdparty"
        return cls(source, root / CACHE_DIR)

    @property
    def available(self) -> bool:
        return self.source.is_dir()

    def has(self, archive: str) -> bool:
        return (self.source / archive).is_file()

    def missing_reason(self, archive: str | None = None) -> str:
        """One sentence naming what is missing."""
        if not self.available:
            return f"needs the third-party archives folder {self.source} (not found)"
        return f"needs {archive} in {self.source} (not found)"

    def tree(self, archive: str) -> Path:
        """The directory ``archive`` is unpacked in (its top folders are inside), unpacking it
        first if this checksum has not been unpacked yet. Safe to call from several processes
        at once: one unpacks, the others wait for it."""
        path = self.source / archive
        if not path.is_file():
            raise StackError(self.missing_reason(archive))
        target = self.cache / f"{_stem(archive)}-{sha256(path)[:_DIGITS]}"
        if (target / ".complete").is_file():
            return target
        self.cache.mkdir(parents=True, exist_ok=True)
        with _locked(self.cache / f".{target.name}.lock"):
            if (target / ".complete").is_file():
                return target
            shutil.rmtree(target, ignore_errors=True)  # a half-done unpack from a killed run
            work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=self.cache))
            try:
                done = subprocess.run(["tar", "-xJf", str(path), "-C", str(work)], capture_output=True, text=True)
                if done.returncode != 0:
                    raise StackError(f"could not unpack {path}: {done.stderr.strip()[-400:]}")
                (work / ".complete").write_text(str(path) + "\n")
                work.rename(target)
            except BaseException:
                shutil.rmtree(work, ignore_errors=True)
                raise
            self._forget_older(archive, keep=target)
        return target

    def _forget_older(self, archive: str, *, keep: Path) -> None:
        """Trees of earlier versions of the same archive are removed."""
        tree = re.compile(re.escape(_stem(archive)) + rf"-[0-9a-f]{{{_DIGITS}}}")
        for old in self.cache.iterdir():
            if old != keep and old.is_dir() and tree.fullmatch(old.name):
                shutil.rmtree(old, ignore_errors=True)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stem(archive: str) -> str:
    for suffix in (".tar.xz", ".tar.gz", ".tgz", ".tar"):
        if archive.endswith(suffix):
            return archive[: -len(suffix)]
    return archive


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
