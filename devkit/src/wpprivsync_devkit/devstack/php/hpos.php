<?php
/**
 * Turns WooCommerce's High-Performance Order Storage on the way its settings page does,
 * with compatibility mode (sync to the posts tables) off. A shop installed by a script
 * starts on the posts storage.
 * Input (JSON on stdin): enable (bool).
 * Output (JSON): storage ("hpos" or "posts"), sync ("yes" or "no").
 */

require __DIR__ . '/cli-env.php';

$input = wpprivsync_devstack_input();

require $wpprivsync_devstack_site . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';

wp_set_current_user( 1 );

if ( ! function_exists( 'wc_get_container' ) ) {
	fwrite( STDERR, "WooCommerce is not active\n" );
	exit( 3 );
}

$wpprivsync_devstack_container = wc_get_container();
$wpprivsync_devstack_sync      = $wpprivsync_devstack_container->get( \Automattic\WooCommerce\Internal\DataStores\Orders\DataSynchronizer::class );
if ( ! $wpprivsync_devstack_sync->check_orders_table_exists() ) {
	$wpprivsync_devstack_sync->create_database_tables();
}
update_option( 'woocommerce_custom_orders_table_data_sync_enabled', 'no' );
$wpprivsync_devstack_done = $wpprivsync_devstack_container
	->get( \Automattic\WooCommerce\Internal\Features\FeaturesController::class )
	->change_feature_enable( 'custom_order_tables', (bool) $input['enable'] );
if ( ! $wpprivsync_devstack_done ) {
	fwrite( STDERR, "WooCommerce refused to change the order storage\n" );
	exit( 4 );
}
wp_cache_flush();

wpprivsync_devstack_answer(
	array(
		'storage' => \Automattic\WooCommerce\Utilities\OrderUtil::custom_orders_table_usage_is_enabled() ? 'hpos' : 'posts',
		'sync'    => get_option( 'woocommerce_custom_orders_table_data_sync_enabled' ),
	)
);
