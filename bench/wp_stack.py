"""Measures the development WordPress stack on each profile, side by side in one run: cold
start-up (and where it goes), snapshot, restore, a PHP snippet, an authenticated REST GET, a
database restart and stop.

    .venv/bin/python bench/wp_stack.py [--rounds N] [--profiles current,legacy,debian]

Profiles whose third-party archives are missing are left out with the reason. Prints a table,
then one line ``key=value ...`` (seconds, keys prefixed with the profile).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import last_line, print_machine, print_table, wordpress_stack  # noqa: E402

from wpprivsync_devkit.devstack.processes import StackError  # noqa: E402


def measure(profile: str, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-") as tmp:
        stack = wordpress_stack(Path(tmp) / "stack", profile=profile)
        stack.start()
        try:
            figures = {"startup_s": stack.startup_seconds}
            figures.update({f"startup_{k}_s": v for k, v in stack.phase_seconds.items()})
            figures["snapshot_s"] = _timed(stack.snapshot)
            unchanged, changed, snippet = [], [], []
            for i in range(rounds):
                unchanged.append(_timed(stack.restore))
                snippet.append(_timed(lambda: stack.php(
                    f"wp_insert_user(['user_login' => 'bench{i}', 'user_pass' => 'x', 'user_email' => 'bench{i}@example.test']);"
                    f" wp_insert_post(['post_title' => 'bench {i}', 'post_status' => 'publish']);")))
                changed.append(_timed(stack.restore))
            session = requests.Session()
            session.auth = (stack.service_user, stack.service_app_password)
            rest = [_timed(lambda: session.get(f"{stack.url}/wp-json/wp/v2/users/me", timeout=30).raise_for_status())
                    for _ in range(rounds * 2)]
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
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--profiles", default="current,legacy,debian")
    args = parser.parse_args()
    print_machine()
    results: dict[str, dict[str, float]] = {}
    for name in args.profiles.split(","):
        try:
            results[name] = measure(name, args.rounds)
        except StackError as exc:
            print(f"{name}: left out: {exc}")
    keys = sorted({k for r in results.values() for k in r}, key=lambda k: (not k.startswith("startup"), k))
    print_table(["figure (s)", *results], [[k, *(f"{r[k]:.3f}" if k in r else "-" for r in results.values())]
                                           for k in keys])
    last_line({f"{p}_{k}": round(v, 3) for p, r in results.items() for k, v in r.items()})


def _timed(fn) -> float:
    started = time.monotonic()
    fn()
    return time.monotonic() - started


if __name__ == "__main__":
    main()
