<?php
/**
 * Removes what wpprivsync created: the outbox table, its options, the daemon role, the capability
 * and any export archive still waiting for download.
 *
 * @package wpprivsync
 */

defined( 'WP_UNINSTALL_PLUGIN' ) || exit;

require_once __DIR__ . '/includes/class-wpprivsync-plugin.php';
require_once __DIR__ . '/includes/class-wpprivsync-installer.php';
require_once __DIR__ . '/includes/class-wpprivsync-outbox.php';
require_once __DIR__ . '/includes/class-wpprivsync-requests-mirror.php';
require_once __DIR__ . '/includes/class-wpprivsync-exports.php';

if ( is_multisite() ) {
	$wpprivsync_sites = get_sites(
		array(
			'fields' => 'ids',
			'number' => 0,
		)
	);
	foreach ( $wpprivsync_sites as $wpprivsync_site ) {
		switch_to_blog( $wpprivsync_site );
		Wpprivsync_Installer::uninstall();
		restore_current_blog();
	}
} else {
	Wpprivsync_Installer::uninstall();
}
