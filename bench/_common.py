"""Helpers shared by the benchmarks: the machine's description, percentiles, a throw-away
WordPress with the plugin (and the test plugins), settings for an ``App`` against it, and the
printout (a table of figures, then one ``key=value`` line)."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

PLUGIN_DIR = REPO / "wp-plugin" / "wpprivsync"
TEST_PLUGINS_DIR = REPO / "tests" / "wp-plugins"
AC_TOKEN = "bench-ac-token-0123456789abcdef"
SITE_SECRET = "bench-site-secret-0123456789"


# -- the machine ---------------------------------------------------------------------------
def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "absent"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr).strip() else "absent"


def machine() -> dict[str, str]:
    """nproc, memory, CPU model, Python/PHP/MariaDB versions, date (UTC)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        m = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        mem_kb = int(m.group(1)) if m else 0
    except OSError:
        pass
    php = _first_line(["php", "-r", "echo PHP_VERSION;"])
    mariadb = _first_line(["mariadbd", "--version"]) if _which("mariadbd") else _first_line(["mysqld", "--version"])
    m = re.search(r"Ver\s+(\S+)", mariadb)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "cpu": cpu,
        "python": platform.python_version(),
        "php": php,
        "mariadb": m.group(1) if m else mariadb,
    }


def _which(name: str) -> bool:
    from shutil import which

    return which(name) is not None or Path("/usr/sbin", name).exists()


def print_machine() -> None:
    m = machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in m.items()))


# -- figures -------------------------------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty collection."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    cells = [header] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    for k, r in enumerate(cells):
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def last_line(figures: dict[str, Any]) -> None:
    print(" ".join(f"{k}={fmt(v).replace(' ', '_')}" for k, v in figures.items()), flush=True)


# -- WordPress and the App -----------------------------------------------------------------
def test_plugin_dirs() -> list[Path]:
    if not TEST_PLUGINS_DIR.is_dir():
        return []
    return sorted(d for d in TEST_PLUGINS_DIR.iterdir() if d.is_dir() and not d.name.startswith((".", "_")))


def wordpress_stack(root: Path, *, test_plugins: bool = True, workers: int = 4, profile: str | None = None) -> Any:
    """A stack on ``profile`` ($WPPRIVSYNC_PROFILE; default ``current`` when the third-party
    archives are beside the checkout, else Debian's WordPress alone)."""
    from wpprivsync_devkit.devstack import WordPressStack, profiles

    chosen = profiles.resolve(profile or os.environ.get("WPPRIVSYNC_PROFILE") or profiles.default_name(REPO), REPO)
    options = chosen.stack_options()
    wc = os.environ.get("WPPRIVSYNC_WOOCOMMERCE_DIR") or None
    if wc:
        options["woocommerce_dir"] = Path(wc)
    dirs = [*chosen.plugin_dirs, PLUGIN_DIR] + (test_plugin_dirs() if test_plugins else [])
    print(f"WordPress stack profile: {chosen.name} ({chosen.description})", flush=True)
    return WordPressStack(root, plugin_dirs=dirs, workers=workers, **options)


def settings_for(wp_url: str, wp_user: str, wp_app_password: str, ac_url: str, list_id: int, tmp: Path,
                 **extra: Any) -> Any:
    """Default settings (poll interval, concurrency, lease, attempts) except the store, the
    export directory and the one site."""
    from wpprivsync.settings import Settings

    site = {"name": "bench", "wordpress_url": wp_url, "wordpress_user": wp_user,
            "wordpress_app_password": wp_app_password, "activecampaign_url": ac_url,
            "activecampaign_token": AC_TOKEN, "newsletter_list_ids": [list_id]}
    values: dict[str, Any] = {"store_url": f"sqlite:///{tmp / 'store.sqlite3'}", "site_secret": SITE_SECRET,
                              "policy_file": REPO / "config" / "policy.toml", "sites": [site],
                              "export_dir": tmp / "exports"}
    values.update(extra)
    return Settings(**values)


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now, in MB (from /proc)."""
    m = re.search(r"VmRSS:\s+(\d+)\s+kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")
