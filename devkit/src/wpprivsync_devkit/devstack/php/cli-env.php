<?php
/**
 * Makes a command-line PHP run look like a request to the devstack site, so WordPress
 * builds the right URLs. Included first by install.php, setup.php and run.php.
 * Environment: WPPRIVSYNC_DEVSTACK_SITE (site directory), WPPRIVSYNC_DEVSTACK_URL (http://host:port).
 */

if ( PHP_SAPI !== 'cli' ) {
	exit( 1 );
}

$wpprivsync_devstack_site = getenv( 'WPPRIVSYNC_DEVSTACK_SITE' );
$wpprivsync_devstack_url  = getenv( 'WPPRIVSYNC_DEVSTACK_URL' );
if ( ! $wpprivsync_devstack_site || ! $wpprivsync_devstack_url ) {
	fwrite( STDERR, "WPPRIVSYNC_DEVSTACK_SITE and WPPRIVSYNC_DEVSTACK_URL must be set\n" );
	exit( 2 );
}

$wpprivsync_devstack_parts = parse_url( $wpprivsync_devstack_url );
$_SERVER['HTTP_HOST']      = $wpprivsync_devstack_parts['host'] . ( isset( $wpprivsync_devstack_parts['port'] ) ? ':' . $wpprivsync_devstack_parts['port'] : '' );
$_SERVER['SERVER_NAME']    = $wpprivsync_devstack_parts['host'];
$_SERVER['SERVER_PORT']    = (string) ( $wpprivsync_devstack_parts['port'] ?? 80 );
$_SERVER['REQUEST_URI']    = '/';
$_SERVER['SCRIPT_NAME']    = '/index.php';
$_SERVER['PHP_SELF']       = '/index.php';

/**
 * Reads the JSON object the caller wrote on standard input.
 */
function wpprivsync_devstack_input(): array {
	$data = json_decode( (string) stream_get_contents( STDIN ), true );
	if ( ! is_array( $data ) ) {
		fwrite( STDERR, "expected a JSON object on standard input\n" );
		exit( 2 );
	}
	return $data;
}

/**
 * Prints the JSON answer on standard output and ends the run.
 */
function wpprivsync_devstack_answer( array $data, int $status = 0 ): void {
	echo wp_json_encode( $data ), "\n";
	exit( $status );
}
