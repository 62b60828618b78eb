"""Measures the development WordPress stack: cold start-up, snapshot, restore, a PHP snippet
and an authenticated REST GET. WooCommerce is included when WPPRIVSYNC_WOOCOMMERCE_DIR is set.

    .venv/bin/python bench/wp_stack.py [--rounds N]

Prints the figures, then one line ``key=value ...`` (seconds).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import requests

from wpprivsync.devstack import WordPressStack

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    wc = os.environ.get("WPPRIVSYNC_WOOCOMMERCE_DIR") or None
    plugins = [REPO / "wp-plugin" / "wpprivsync"]
    plugins += sorted(d for d in (REPO / "tests" / "wp-plugins").glob("*") if d.is_dir() and d.name[0] not in "._")
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-") as tmp:
        stack = WordPressStack(Path(tmp) / "stack", plugin_dirs=plugins, woocommerce_dir=Path(wc) if wc else None)
        stack.start()
        try:
            figures = {"woocommerce": int(bool(wc)), "startup_s": stack.startup_seconds}
            figures.update({f"startup_{k}_s": v for k, v in stack.phase_seconds.items()})
            figures["snapshot_s"] = _timed(stack.snapshot)
            unchanged, changed, snippet = [], [], []
            for i in range(args.rounds):
                unchanged.append(_timed(stack.restore))
                snippet.append(_timed(lambda: stack.php(
                    f"wp_insert_user(['user_login' => 'bench{i}', 'user_pass' => 'x', 'user_email' => 'bench{i}@example.test']);"
                    f" wp_insert_post(['post_title' => 'bench {i}', 'post_status' => 'publish']);")))
                changed.append(_timed(stack.restore))
            session = requests.Session()
            session.auth = (stack.service_user, stack.service_app_password)
            rest = [_timed(lambda: session.get(f"{stack.url}/wp-json/wp/v2/users/me", timeout=30).raise_for_status())
                    for _ in range(args.rounds * 2)]
            restart = _timed(stack.restart_db)
        finally:
            started = time.monotonic()
            stack.stop()
            stop = time.monotonic() - started
    figures.update({
        "restore_unchanged_s": statistics.median(unchanged),
        "restore_changed_s": statistics.median(changed),
        "php_snippet_s": statistics.median(snippet),
        "rest_get_s": statistics.median(rest),
        "restart_db_s": restart,
        "stop_s": stop,
    })
    for key, value in figures.items():
        print(f"{key:22} {value:.3f}" if isinstance(value, float) else f"{key:22} {value}")
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()))


def _timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


if __name__ == "__main__":
    main()
