"""What the wpprivsync plugin's hooks add to deleting a WordPress user.

Starts a throw-away WordPress with the plugin, creates 2 x N users (each with a newsletter
consent flag and a comment, as a real member would have), then deletes them in one PHP process,
alternating: one deletion with the plugin's hooks in place, one with them removed. Each
deletion (``wp_delete_user``) is timed with ``hrtime``. WooCommerce joins when
WPPRIVSYNC_WOOCOMMERCE_DIR is set.

    .venv/bin/python bench/hook_overhead.py [--users N]

Prints median and p95 per deletion for both, side by side, then one line ``key=value ...``
(milliseconds). Target: the plugin adds less than 5 ms per deletion.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from wpprivsync_devkit.devstack import WordPressStack

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 5.0

# Runs inside WordPress. The plugin's hooks that a user deletion can reach are removed for
# the "without" rounds and put back for the "with" rounds.
PHP = r"""
$n = %(n)d;
$hooks = [
  ['delete_user', ['Wpprivsync_Hooks', 'on_delete_user'], 10, 3],
  ['wpmu_delete_user', ['Wpprivsync_Hooks', 'on_wpmu_delete_user'], 10, 2],
  ['deleted_user', ['Wpprivsync_Hooks', 'on_deleted_user'], 10, 1],
  ['delete_comment', ['Wpprivsync_Hooks', 'on_delete_comment'], 10, 2],
  ['added_user_meta', ['Wpprivsync_Consent', 'on_meta_written'], 10, 4],
  ['updated_user_meta', ['Wpprivsync_Consent', 'on_meta_written'], 10, 4],
  ['deleted_user_meta', ['Wpprivsync_Consent', 'on_meta_deleted'], 10, 4],
];
$set = function ($on) use ($hooks) {
  foreach ($hooks as [$hook, $cb, $prio, $args]) {
    $on ? add_action($hook, $cb, $prio, $args) : remove_action($hook, $cb, $prio);
  }
};
$ids = [];
for ($i = 0; $i < 2 * $n; $i++) {
  $id = wp_insert_user(['user_login' => "hook$i", 'user_email' => "hook$i@example.test", 'display_name' => "Hook $i",
                        'user_pass' => 'x', 'role' => 'subscriber']);
  update_user_meta($id, 'wpprivsync_newsletter', $i %% 2 ? '1' : '0');
  wp_insert_comment(['comment_post_ID' => 1, 'user_id' => $id, 'comment_author_email' => "hook$i@example.test", 'comment_content' => 'x']);
  $ids[] = $id;
}
// warm-up: one of each, not counted
$set(true);  wp_delete_user(array_pop($ids));
$set(false); wp_delete_user(array_pop($ids));
$with = []; $without = [];
foreach ($ids as $k => $id) {
  $on = $k %% 2 === 0;
  $set($on);
  $t = hrtime(true);
  wp_delete_user($id);
  $ms = (hrtime(true) - $t) / 1e6;
  if ($on) { $with[] = $ms; } else { $without[] = $ms; }
}
$set(true);
global $wpdb;
echo json_encode(['with' => $with, 'without' => $without,
  'events' => (int) $wpdb->get_var("SELECT COUNT(*) FROM {$wpdb->prefix}wpprivsync_outbox WHERE type = 'account.deleted'")]);
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200, help="deletions per side (default 200)")
    args = parser.parse_args()
    wc = os.environ.get("WPPRIVSYNC_WOOCOMMERCE_DIR") or None
    with tempfile.TemporaryDirectory(prefix="wpprivsync-bench-") as tmp:
        stack = WordPressStack(Path(tmp) / "stack", plugin_dirs=[REPO / "wp-plugin" / "wpprivsync"],
                               woocommerce_dir=Path(wc) if wc else None)
        stack.start()
        try:
            result = stack.php_json(PHP % {"n": args.users + 1}, timeout=900)
        finally:
            stack.stop()
    with_, without = result["with"], result["without"]
    rows = {
        "median_ms": (statistics.median(with_), statistics.median(without)),
        "p95_ms": (percentile(with_, 0.95), percentile(without, 0.95)),
        "mean_ms": (statistics.fmean(with_), statistics.fmean(without)),
    }
    print(f"wp_delete_user, {len(with_)} deletions with the plugin's hooks and {len(without)} without"
          f"{' (WooCommerce active)' if wc else ''}; {result['events']} account.deleted events recorded")
    print(f"{'':12}{'with hooks':>12}{'without':>12}{'added':>12}")
    for name, (a, b) in rows.items():
        print(f"{name:12}{a:12.3f}{b:12.3f}{a - b:12.3f}")
    added = rows["median_ms"][0] - rows["median_ms"][1]
    print(f"target: adds < {TARGET_MS:g} ms per deletion -> {'met' if added < TARGET_MS else 'NOT met'}")
    print(" ".join([
        f"deletions={len(with_)}",
        f"woocommerce={int(bool(wc))}",
        f"with_median_ms={rows['median_ms'][0]:.3f}",
        f"without_median_ms={rows['median_ms'][1]:.3f}",
        f"added_median_ms={added:.3f}",
        f"with_p95_ms={rows['p95_ms'][0]:.3f}",
        f"without_p95_ms={rows['p95_ms'][1]:.3f}",
        f"added_p95_ms={rows['p95_ms'][0] - rows['p95_ms'][1]:.3f}",
        f"target_ms={TARGET_MS:g}",
        f"target_met={int(added < TARGET_MS)}",
    ]))


if __name__ == "__main__":
    main()
