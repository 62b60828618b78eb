"""The plugin is a good WooCommerce citizen: it says which WordPress and WooCommerce it was
tested with, declares High-Performance Order Storage compatibility, and the stack's order storage
is the one its profile promises (HPOS with sync off on ``current``, posts on ``legacy``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.wordpress import PLUGIN_DIR, requires_woocommerce

HEADER = (PLUGIN_DIR / "wpprivsync.php").read_text()


def header(name: str, text: str = HEADER) -> str:
    found = re.search(rf"^\s*\*?\s*{re.escape(name)}:\s*(.+)$", text, re.M)
    assert found, f"no {name!r} line in the plugin header"
    return found.group(1).strip()


def test_header_names_the_tested_versions():
    assert header("Tested up to") == "7.1"
    assert header("WC requires at least") == "7.8"
    assert header("WC tested up to") == "9.9"
    readme = (PLUGIN_DIR / "readme.txt").read_text()
    assert header("Tested up to", readme) == "7.1" and header("WC tested up to", readme) == "9.9"


@requires_woocommerce
def test_woocommerce_sees_the_plugin_as_hpos_compatible(wp):
    answer = wp.php_json("""
        $c = wc_get_container()->get(\\Automattic\\WooCommerce\\Internal\\Features\\FeaturesController::class);
        echo json_encode($c->get_compatible_plugins_for_feature('custom_order_tables'));""")
    assert "wpprivsync/wpprivsync.php" in answer["compatible"]
    assert "wpprivsync/wpprivsync.php" not in answer["incompatible"] + answer.get("uncertain", [])


@requires_woocommerce
def test_order_storage_is_the_profiles(wp, wp_profile):
    facts = wp.php_json("""
        echo json_encode(['hpos' => \\Automattic\\WooCommerce\\Utilities\\OrderUtil::custom_orders_table_usage_is_enabled(),
                          'sync' => get_option('woocommerce_custom_orders_table_data_sync_enabled', 'no'),
                          'store' => WC_Data_Store::load('order')->get_current_class_name()]);""")
    assert facts["hpos"] is wp_profile.hpos
    assert wp.order_storage == ("hpos" if wp_profile.hpos else "posts")
    if wp_profile.hpos:
        assert facts["sync"] == "no" and facts["store"].endswith("OrdersTableDataStore")
    else:
        assert facts["store"] == "WC_Order_Data_Store_CPT"


@requires_woocommerce
def test_an_order_lands_in_the_profiles_tables(wp, wp_profile):
    ids = wp.php_json("""
        $o = wc_create_order(); $o->set_billing_email('storage@example.test'); $o->save();
        global $wpdb;
        echo json_encode(['id' => $o->get_id(),
          'hpos_rows' => (int) $wpdb->get_var($wpdb->prepare("SELECT COUNT(*) FROM {$wpdb->prefix}wc_orders WHERE id = %d", $o->get_id())),
          'post_type' => get_post_type($o->get_id())]);""")
    if wp_profile.hpos:
        assert ids["hpos_rows"] == 1 and ids["post_type"] in ("shop_order_placehold", False)
    else:
        assert ids["post_type"] == "shop_order"


def test_profile_header_helper_refuses_a_missing_line(tmp_path: Path):
    with pytest.raises(AssertionError, match="no 'Nope'"):
        header("Nope")
