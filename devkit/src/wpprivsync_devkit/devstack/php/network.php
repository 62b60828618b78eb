<?php
/**
 * Turns the freshly installed single site into a multisite network (sub-directories), as
 * Tools → Network Setup does: the network tables, then the network with the administrator as
 * its super admin. wp-config.php gets MULTISITE afterwards (the devstack rewrites it).
 * Input (JSON on stdin): domain (host:port), email, title.
 * Output (JSON): network_id.
 */

require __DIR__ . '/cli-env.php';

define( 'WP_INSTALLING_NETWORK', true );
$input = wpprivsync_devstack_input();

require $wpprivsync_devstack_site . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

if ( is_multisite() ) {
	fwrite( STDERR, "this WordPress is already a network\n" );
	exit( 3 );
}

global $wpdb;
foreach ( $wpdb->tables( 'ms_global' ) as $wpprivsync_devstack_table => $wpprivsync_devstack_prefixed ) {
	$wpdb->$wpprivsync_devstack_table = $wpprivsync_devstack_prefixed;
}
install_network();
$wpprivsync_devstack_result = populate_network( 1, $input['domain'], $input['email'], $input['title'], '/', false );
if ( is_wp_error( $wpprivsync_devstack_result ) ) {
	fwrite( STDERR, 'cannot create the network: ' . implode( '; ', $wpprivsync_devstack_result->get_error_messages() ) . "\n" );
	exit( 4 );
}

wpprivsync_devstack_answer( array( 'network_id' => 1 ) );
