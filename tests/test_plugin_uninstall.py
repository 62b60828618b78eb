"""Uninstalling removes what the plugin created; activating again restores it."""

from __future__ import annotations

STATE = """
global $wpdb;
echo json_encode([
  'table' => (bool) $wpdb->get_var("SHOW TABLES LIKE '{$wpdb->prefix}wpprivsync_outbox'"),
  'mirror' => (bool) $wpdb->get_var("SHOW TABLES LIKE '{$wpdb->prefix}wpprivsync_requests'"),
  'options' => array_values(array_filter(['wpprivsync_db_version', 'wpprivsync_webhook_secret', 'wpprivsync_hash_key',
                'wpprivsync_heartbeat', 'wpprivsync_retention'], fn($o) => false !== get_option($o))),
  'role' => (bool) get_role('wpprivsync_daemon'),
  'admin_cap' => get_role('administrator')->has_cap('wpprivsync_sync'),
]);
"""


def test_uninstall_removes_table_options_role_and_capability(wp):
    wp.php("update_option('wpprivsync_heartbeat', ['at' => time()]); update_option('wpprivsync_retention', ['order_years' => 6]);")
    before = wp.php_json(STATE)
    assert before == {"table": True, "mirror": True, "role": True, "admin_cap": True,
                      "options": ["wpprivsync_db_version", "wpprivsync_webhook_secret", "wpprivsync_hash_key",
                                  "wpprivsync_heartbeat", "wpprivsync_retention"]}
    wp.deactivate_plugin("wpprivsync")
    wp.php("uninstall_plugin('wpprivsync/wpprivsync.php');")
    assert wp.php_json(STATE) == {"table": False, "mirror": False, "options": [], "role": False, "admin_cap": False}


def test_activation_is_idempotent_and_keeps_the_secret(wp):
    secret = wp.php("echo get_option('wpprivsync_webhook_secret');")
    wp.deactivate_plugin("wpprivsync")
    wp.activate_plugin("wpprivsync")
    assert wp.php("echo get_option('wpprivsync_webhook_secret');") == secret
    assert wp.php_json(STATE)["table"] is True
