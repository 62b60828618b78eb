"""The stack profiles: which WordPress core and third-party plugins a test stack runs.

``legacy``   Debian's WordPress 6.1.9 + WooCommerce 7.8.2, orders on the posts storage,
             + Thrive Comments, Leads and Ovation.
``current``  WordPress 7.1 + WooCommerce 9.9.5 with High-Performance Order Storage on and
             compatibility sync off, + Thrive Comments, Leads and Ovation.
``debian``   Debian's WordPress 6.1.9 alone: what runs when the third-party archives are not
             beside the checkout (tests that need WooCommerce or Thrive then skip).

    profile = resolve("current", repo_root)     # raises ProfileUnavailable with the reason
    stack = WordPressStack(dir, **profile.stack_options(), plugin_dirs=[...])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .processes import StackError
from .thirdparty import ThirdPartyShelf
from .wordpress import SYSTEM_WORDPRESS, default_wordpress_dir


WORDPRESS_7 = "wordpress-7.1.0.tar.xz"
WOOCOMMERCE_9 = "woocommerce-9.9.5.tar.xz"
WOOCOMMERCE_7 = "woocommerce-7.8.2.tar.xz"
THRIVE = "thrive-2024-10.tar.xz"
THRIVE_PLUGINS = ("thrive-comments", "thrive-leads", "thrive-ovation")

NAMES = ("legacy", "current", "debian")
FULL = ("legacy", "current")  # the profiles built from the third-party archives


class ProfileUnavailable(StackError):
    """The profile's parts are not on this machine."""


@dataclass(frozen=True)
class Profile:
    name: str
    wordpress_dir: Path
    woocommerce_dir: Path | None = None
    plugin_dirs: tuple[Path, ...] = field(default=())  # third-party plugins, activated before ours
    hpos: bool = False
    description: str = ""

    @property
    def has_woocommerce(self) -> bool:
        return self.woocommerce_dir is not None

    @property
    def has_thrive(self) -> bool:
        return any(p.name == "thrive-leads" for p in self.plugin_dirs)

    def stack_options(self) -> dict[str, Any]:
        """Keyword arguments for :class:`WordPressStack` (plugin_dirs go first in the stack's list)."""
        return {"wordpress_dir": self.wordpress_dir, "woocommerce_dir": self.woocommerce_dir,
                "hpos": self.hpos, "profile": self.name}


def resolve(name: str, repo_root: Path, shelf: ThirdPartyShelf | None = None) -> Profile:
    """The profile ``name``, its third-party trees unpacked into the cache."""
    shelf = shelf or ThirdPartyShelf.beside(repo_root)
    if name == "debian":
        return Profile("debian", default_wordpress_dir(),
                       description="Debian's WordPress 6.1.9 (or $WPPRIVSYNC_WORDPRESS_DIR), no WooCommerce, no Thrive")
    if name not in FULL:
        raise ProfileUnavailable(f"unknown stack profile {name!r} (choose from {', '.join(NAMES)})")
    needed = [WOOCOMMERCE_7 if name == "legacy" else WOOCOMMERCE_9, THRIVE] + ([WORDPRESS_7] if name == "current" else [])
    for archive in needed:
        if not shelf.has(archive):
            raise ProfileUnavailable(f"the {name} profile {shelf.missing_reason(archive)}")
    thrive = shelf.tree(THRIVE)
    plugins = tuple(thrive / slug for slug in THRIVE_PLUGINS)
    if name == "legacy":
        return Profile("legacy", SYSTEM_WORDPRESS, shelf.tree(WOOCOMMERCE_7) / "woocommerce", plugins, hpos=False,
                       description="WordPress 6.1.9 (Debian) + WooCommerce 7.8.2 on posts storage + Thrive")
    return Profile("current", shelf.tree(WORDPRESS_7) / "wordpress-7.1.0", shelf.tree(WOOCOMMERCE_9) / "woocommerce",
                   plugins, hpos=True,
                   description="WordPress 7.1 + WooCommerce 9.9.5 with HPOS (sync off) + Thrive")


def default_name(repo_root: Path, shelf: ThirdPartyShelf | None = None) -> str:
    """``current`` when the archives are beside the checkout, else ``debian``."""
    shelf = shelf or ThirdPartyShelf.beside(repo_root)
    return "current" if shelf.available and all(shelf.has(a) for a in (WORDPRESS_7, WOOCOMMERCE_9, THRIVE)) else "debian"
