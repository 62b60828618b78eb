<?php
/**
 * Installs WordPress into an empty database without a browser or wp-cli.
 * Input (JSON on stdin): title, admin_user, admin_email, admin_password.
 * Output (JSON): user_id of the administrator.
 */

require __DIR__ . '/cli-env.php';

define( 'WP_INSTALLING', true );
$input = wpprivsync_devstack_input();

require $wpprivsync_devstack_site . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

if ( is_blog_installed() ) {
	fwrite( STDERR, "WordPress is already installed in this database\n" );
	exit( 3 );
}

// wp_install() probes permalink structures with loopback HTTP requests unless one is set;
// the structure is chosen below, so the probe is skipped.
$wpprivsync_devstack_permalinks = static function () {
	return '/%postname%/';
};
add_filter( 'pre_option_permalink_structure', $wpprivsync_devstack_permalinks );

$result = wp_install(
	$input['title'],
	$input['admin_user'],
	$input['admin_email'],
	false,
	'',
	wp_slash( $input['admin_password'] ),
	'en_US'
);

remove_filter( 'pre_option_permalink_structure', $wpprivsync_devstack_permalinks );
update_option( 'permalink_structure', '/%postname%/' );
update_option( 'blog_public', '0' );
flush_rewrite_rules( false );

wpprivsync_devstack_answer( array( 'user_id' => (int) $result['user_id'] ) );
