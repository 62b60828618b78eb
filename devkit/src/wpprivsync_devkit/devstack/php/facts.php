<?php
/**
 * What the site runs: WordPress and WooCommerce versions and the order storage in use.
 * Input (JSON on stdin): {}.
 * Output (JSON): wp_version, wc_version (or null), order_storage ("hpos", "posts" or null).
 */

require __DIR__ . '/cli-env.php';

wpprivsync_devstack_input();

require $wpprivsync_devstack_site . '/wp-load.php';

$wpprivsync_devstack_storage = null;
if ( class_exists( '\Automattic\WooCommerce\Utilities\OrderUtil' ) ) {
	$wpprivsync_devstack_storage = \Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled() ? 'hpos' : 'posts';
} elseif ( function_exists( 'WC' ) ) {
	$wpprivsync_devstack_storage = 'posts';
}

wpprivsync_devstack_answer(
	array(
		'wp_version'    => get_bloginfo( 'version' ),
		'wc_version'    => defined( 'WC_VERSION' ) ? WC_VERSION : null,
		'order_storage' => $wpprivsync_devstack_storage,
	)
);
