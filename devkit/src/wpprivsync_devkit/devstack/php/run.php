<?php
/**
 * Runs a PHP snippet inside the devstack site: WordPress and the admin includes are loaded,
 * then the file named by the first argument is included. Notices and warnings go to stderr.
 */

require __DIR__ . '/cli-env.php';

if ( ! isset( $argv[1] ) || ! is_readable( $argv[1] ) ) {
	fwrite( STDERR, "usage: php run.php SNIPPET-FILE\n" );
	exit( 2 );
}

require $wpprivsync_devstack_site . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
require_once __DIR__ . '/plugins.php';

ini_set( 'display_errors', 'stderr' );
ini_set( 'log_errors', '0' );
error_reporting( E_ALL & ~E_DEPRECATED & ~E_USER_DEPRECATED );

require $argv[1];
